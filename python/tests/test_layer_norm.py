import numpy as np
import pytest

import simdnorm
from reference import assert_close, norm as ref_norm

try:
    import torch
except ImportError:  # the numpy-reference tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (python3-torch) not installed")


def data(rng, shape, loc=0.0, spread=1.0):
    return (rng.standard_normal(shape) * spread + loc).astype(np.float32)


@pytest.mark.parametrize("shape, axis", [((64, 256), -1), ((3, 5, 33), -1), ((7, 40, 6), 1),
                                         ((17, 9), 0), ((1, 1), -1), ((5, 0), -1), ((1000,), 0)])
@pytest.mark.parametrize("affine", [False, True])
def test_against_float64(every_isa, rng, shape, axis, affine):
    x = data(rng, shape, loc=3.0, spread=2.0)
    f = shape[axis]
    scale = data(rng, f) if affine else None
    bias = data(rng, f) if affine else None
    y = simdnorm.layer_norm(x, scale, bias, axis=axis, epsilon=1e-5)
    ref, _, _ = ref_norm(x, [axis % x.ndim], scale, bias, 1e-5, param_axes=[axis % x.ndim])
    assert y.dtype == np.float32 and y.shape == x.shape
    assert_close(y, ref, 1e-5, "layer_norm %s" % every_isa)


def test_far_from_zero(every_isa, rng):
    # The SPEC's accuracy bar: mean 1e4 with std 1e-2, mean 1e6 with std 1.
    for loc, spread in ((1e4, 1e-2), (1e6, 1.0)):
        x = data(rng, (16, 768), loc, spread)
        ref, _, _ = ref_norm(x, [1], epsilon=0.0)
        y = simdnorm.layer_norm(x, epsilon=0.0)
        assert_close(y, ref, 2e-6, "loc %g" % loc)


@needs_torch
@pytest.mark.parametrize("shape", [(32, 256), (4, 10, 768), (2, 3, 4, 65)])
def test_against_torch(every_isa, rng, shape):
    x = data(rng, shape, loc=1.0, spread=3.0)
    scale, bias = data(rng, shape[-1]), data(rng, shape[-1])
    y = simdnorm.layer_norm(x, scale, bias, epsilon=1e-5)
    t = torch.nn.functional.layer_norm(torch.from_numpy(x), (shape[-1],),
                                       torch.from_numpy(scale), torch.from_numpy(bias), 1e-5)
    ref, _, _ = ref_norm(x, [x.ndim - 1], scale, bias, 1e-5, param_axes=[x.ndim - 1])
    assert_close(y, t.numpy(), 1e-4, "vs torch")
    # simdnorm is at least as close to float64 as torch is (plus one float32 ulp).
    err_sn = np.abs(y - ref).max()
    err_torch = np.abs(t.numpy() - ref).max()
    assert err_sn <= err_torch + 1e-6


def test_strided_views(every_isa, rng):
    base = data(rng, (12, 20, 70))
    x = base[::2, 3:17, ::3]          # gaps on every axis
    out_base = np.full((6, 30, 50), np.nan, np.float32)
    out = out_base[:, 1:29:2, 10:34]  # a strided output
    scale, bias = data(rng, x.shape[-1]), data(rng, x.shape[-1])
    r = simdnorm.layer_norm(x, scale, bias, out=out)
    assert r is out
    ref, _, _ = ref_norm(x, [2], scale, bias, 1e-6, param_axes=[2])
    assert_close(out, ref, 1e-5, "strided")
    assert np.isnan(out_base[:, ::2]).all() and np.isnan(out_base[:, 29]).all()  # untouched
    # A transposed view, normalized along what is its first axis in memory.
    xt = base[0].T                     # [70, 20], strides (4, 280)
    assert_close(simdnorm.layer_norm(xt, axis=0), ref_norm(xt, [0])[0], 1e-5, "transposed")
    # A broadcast (stride 0) input.
    row = data(rng, 50)
    xb = np.broadcast_to(row, (4, 50))
    assert_close(simdnorm.layer_norm(xb), ref_norm(xb, [1])[0], 1e-5, "broadcast")


def test_in_place(every_isa, rng):
    x = data(rng, (33, 129))
    ref, _, _ = ref_norm(x, [1])
    view = x[:, 1:]                    # in place on a view, too
    ref_view, _, _ = ref_norm(view, [1])
    y = simdnorm.layer_norm(x, out=x)
    assert y is x
    assert_close(x, ref, 1e-5, "in place")
    z = data(rng, (33, 129))
    ref_z, _, _ = ref_norm(z[:, 1:], [1])
    simdnorm.layer_norm(z[:, 1:], out=z[:, 1:])
    assert_close(z[:, 1:], ref_z, 1e-5, "in place on a view")
    del ref_view


def test_identical_for_every_thread_count(rng):
    x = data(rng, (512, 1024), 5.0)
    simdnorm.set_num_threads(1)
    one = simdnorm.layer_norm(x)
    simdnorm.set_num_threads(2)
    two = simdnorm.layer_norm(x)
    assert np.array_equal(one, two)
