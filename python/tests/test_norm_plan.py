"""NormPlan: norm() planned once, called on many arrays. Every call must give
norm()'s bits on the same arrays; arrays laid out otherwise, and scale, bias
or seq_lens given where the plan has none (or the other way round), are
errors that leave the outputs alone. (Threads sharing a plan: test_threads.py.)"""
import numpy as np
import pytest

import simdnorm
from test_norm import CASES, data


@pytest.mark.parametrize("shape, layout, axes, reduced, param_shape, param_axes", CASES)
def test_calls_equal_norm(every_isa, rng, shape, layout, axes, reduced, param_shape, param_axes):
    psize = int(np.prod([shape[i] for i in param_axes]))
    scale, bias = data(rng, psize), data(rng, psize)
    options = dict(layout=layout, param_shape=param_shape, epsilon=1e-4)
    plan = simdnorm.NormPlan(data(rng, shape), axes, scale=scale, bias=bias, return_stats=True,
                             **options)
    assert plan.shape == shape
    for loc in (0.0, -2.0, 1e4):  # several inputs, one far from zero
        x = data(rng, shape, loc=loc)
        want = simdnorm.norm(x, axes, scale=scale, bias=bias, return_stats=True, **options)
        got = plan(x, scale, bias)
        for g, w, name in zip(got, want, ("y", "mean", "rstd")):
            assert np.array_equal(g, w), (name, loc)
    # Without the optional parts.
    plain = simdnorm.NormPlan(np.empty(shape, np.float32), axes, layout=layout)
    x = data(rng, shape)
    assert np.array_equal(plain(x), simdnorm.norm(x, axes, layout=layout))


@pytest.mark.parametrize("mask_mode", ["exclude", "zero", "ignore"])
def test_masked(every_isa, rng, mask_mode):
    x = data(rng, (5, 11, 12), loc=1.0)
    scale, bias = data(rng, 12), data(rng, 12)
    plan = simdnorm.NormPlan(x, "T", layout="BTF", scale=scale, bias=bias, mask_mode=mask_mode,
                             seq_lens=np.full(5, 11))
    for seq_lens in (np.array([11, 3, 0, 7, 1]), np.array([2, 2, 11, 0, 5])):
        want = simdnorm.norm(x, "T", layout="BTF", scale=scale, bias=bias, mask_mode=mask_mode,
                             seq_lens=seq_lens)
        assert np.array_equal(plan(x, scale, bias, seq_lens=seq_lens), want)


def test_strided_out_and_in_place(every_isa, rng):
    base = data(rng, (6, 20, 3, 40))
    x = base[:, ::2, 1, 5:37].transpose(0, 2, 1)  # [6, 32, 10] BFT, with gaps
    out = np.empty((6, 32, 10), np.float32)  # row-major, unlike x's axis order
    plan = simdnorm.NormPlan(x, "T", layout="BFT", out=out)
    # (The output's layout is part of a call: it may pick another loop nest.)
    want = simdnorm.norm(x, "T", layout="BFT", out=np.empty_like(out))
    assert plan(x, out=out) is out
    assert np.array_equal(out, want)
    with pytest.raises(ValueError, match="plan was made for"):
        plan(x)  # a new output follows x's axis order, not the planned one
    twin = base.copy()[:, ::2, 1, 5:37].transpose(0, 2, 1)  # x's layout, in place
    simdnorm.norm(twin, "T", layout="BFT", out=twin)
    in_place = simdnorm.NormPlan(x, "T", layout="BFT", out=x)
    assert in_place(x, out=x) is x
    assert np.array_equal(x, twin)


def test_errors_leave_outputs_alone(rng):
    x = data(rng, (4, 6, 8))
    scale, bias = data(rng, 8), data(rng, 8)
    plan = simdnorm.NormPlan(x, "TF", layout="BTF", scale=scale, bias=bias,
                             seq_lens=np.full(4, 6))
    lens = np.array([6, 1, 0, 6])
    out = np.full(x.shape, 7.0, np.float32)
    bad = [
        (dict(scale=None, bias=bias, seq_lens=lens), "scale planned but not given"),
        (dict(scale=scale, bias=None, seq_lens=lens), "bias planned but not given"),
        (dict(scale=scale, bias=bias, seq_lens=None), "seq_lens planned but not given"),
        (dict(scale=data(rng, 9), bias=bias, seq_lens=lens), "scale has 9 elements"),
        (dict(scale=scale, bias=bias, seq_lens=np.array([6, 7, 0, 6])), "seq_lens"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            plan(x, kwargs["scale"], kwargs["bias"], seq_lens=kwargs["seq_lens"], out=out)
        assert (out == 7.0).all(), message
    for other in (data(rng, (4, 6, 9)), data(rng, (4, 8, 6)).transpose(0, 2, 1),
                  data(rng, (4, 6, 16))[:, :, ::2]):
        with pytest.raises(ValueError, match="plan was made for"):
            plan(other, scale, bias, seq_lens=lens)
    with pytest.raises(TypeError, match="float32"):
        plan(x.astype(np.float64), scale, bias, seq_lens=lens)
    unplanned = simdnorm.NormPlan(x, "TF", layout="BTF")
    with pytest.raises(ValueError, match="scale given but not planned"):
        unplanned(x, scale, None)
    with pytest.raises(ValueError, match="seq_lens given but not planned"):
        unplanned(x, seq_lens=lens)
    # The plan's own arguments are checked as norm() checks them.
    with pytest.raises(ValueError, match="axis description"):
        simdnorm.NormPlan(x, "Q", layout="BTF")

