import numpy as np
import pytest

import simdnorm
from reference import RefBatchNorm, assert_close, valid_frames

try:
    import torch
except ImportError:  # the numpy-reference tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (python3-torch) not installed")

CURRENT = dict(use_shift=True, use_std=True, use_sample=0.0, force_sample=False, momentum=0.1,
               epsilon=1e-3, update_sample_only_in_training=True, delay_sample_update=True,
               gamma_init=1.0, beta_init=0.0, masked_time=None)
LEGACY = dict(CURRENT, momentum=0.99, update_sample_only_in_training=False,
              delay_sample_update=False, masked_time=True)


def data(rng, shape, loc=0.0, spread=1.0):
    return (rng.standard_normal(shape) * spread + loc).astype(np.float32)


def test_presets():
    for preset, expected, version in (("current", CURRENT, 2), ("legacy", LEGACY, 0)):
        bn = simdnorm.BatchNorm(3, preset=preset)
        o = bn.options
        for k, v in expected.items():
            assert o[k] == v, (preset, k)
        assert o["param_version"] == version and o["correction"] == 0.0
        assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]
        assert bn.gamma.tolist() == [1, 1, 1] and bn.beta.tolist() == [0, 0, 0]
        assert all(a.dtype == np.float32 for a in (bn.running_mean, bn.running_var, bn.gamma,
                                                   bn.beta))


# Each option away from its preset default (RETURNN's names). The numeric
# *_init values come back as strings or numbers as given.
OPTION_CASES = [
    ("current", {}),
    ("legacy", {}),
    ("current", dict(use_shift=False)),
    ("current", dict(use_std=False, use_shift=False)),
    ("current", dict(use_sample=0.3)),
    ("current", dict(use_sample=1.0)),
    ("current", dict(use_sample=0.5, force_sample=True)),
    ("current", dict(force_sample=True)),
    ("current", dict(momentum=0.0)),
    ("current", dict(momentum=1.0)),
    ("legacy", dict(momentum=0.3)),
    ("current", dict(epsilon=0.25)),
    ("current", dict(update_sample_only_in_training=False)),
    ("current", dict(delay_sample_update=False)),
    ("current", dict(delay_sample_update=False, use_sample=0.25, force_sample=True)),
    ("legacy", dict(delay_sample_update=True, use_sample=0.5)),
    ("current", dict(param_version=0)),
    ("current", dict(param_version=1)),
    ("current", dict(gamma_init=0.5, beta_init=-2)),
    ("current", dict(gamma_init="ones", beta_init="zeros")),
    ("current", dict(gamma_init="2.5", beta_init="0.25")),
    ("current", dict(correction=1)),
    ("legacy", dict(correction=1, momentum=0.1)),
]
TRAINING = [True, True, False, True, False, False]  # several consecutive calls


def init_number(v):
    if isinstance(v, str):
        return {"ones": 1.0, "zeros": 0.0}[v] if v in ("ones", "zeros") else float(v)
    return v


def reference_for(preset, kwargs, features):
    base = dict(CURRENT if preset == "current" else LEGACY)
    base.update({k: v for k, v in kwargs.items() if k != "param_version"})
    base["gamma_init"] = init_number(base["gamma_init"])
    base["beta_init"] = init_number(base["beta_init"])
    if base["masked_time"] is None:
        base["masked_time"] = False
    return RefBatchNorm(features, **base)


@pytest.mark.parametrize("preset, kwargs", OPTION_CASES,
                         ids=["%s-%s" % (p, "-".join("%s=%s" % kv for kv in k.items()) or "defaults")
                              for p, k in OPTION_CASES])
@pytest.mark.parametrize("layout", ["BTF", "NCHW"])
def test_options_over_consecutive_calls(every_isa, rng, preset, kwargs, layout):
    shape, axis = ((4, 7, 6), -1) if layout == "BTF" else ((3, 5, 4, 3), 1)
    features = shape[axis]
    bn = simdnorm.BatchNorm(features, preset=preset, **kwargs)
    ref = reference_for(preset, kwargs, features)
    assert bn.gamma.tolist() == ref.gamma.tolist() and bn.beta.tolist() == ref.beta.tolist()
    if "param_version" in kwargs:
        assert bn.options["param_version"] == kwargs["param_version"]
    for step, training in enumerate(TRAINING):
        x = data(rng, shape, loc=step - 2.0, spread=1.0 + step)
        y = bn(x, training, feature_axis=axis)
        expected = ref(x, training, axis)
        what = "call %d (training=%s)" % (step, training)
        assert_close(y, expected, 2e-5, what + ": y")
        assert_close(bn.running_mean, ref.running_mean, 1e-6, what + ": running_mean")
        assert_close(bn.running_var, ref.running_var, 1e-6, what + ": running_var")


@pytest.mark.parametrize("masked_time", [True, False])
@pytest.mark.parametrize("preset", ["current", "legacy"])
def test_masked_time(every_isa, rng, masked_time, preset):
    bn = simdnorm.BatchNorm(5, preset=preset, masked_time=masked_time, momentum=0.5,
                            update_sample_only_in_training=False)
    ref = reference_for(preset, dict(masked_time=masked_time, momentum=0.5,
                                     update_sample_only_in_training=False), 5)
    for step, training in enumerate(TRAINING):
        x = data(rng, (4, 9, 5), loc=1.0)
        seq_lens = np.array([9, 2, 0, 5 - step % 3])
        x[1, 2:] = 1e3  # padding, left out of the statistics with masked_time
        y = bn(x, training, seq_lens=seq_lens)
        expected = ref(x, training, -1, valid_frames(x.shape, 0, 1, seq_lens))
        assert_close(y, expected, 5e-5, "step %d" % step)
        assert_close(bn.running_mean, ref.running_mean, 1e-6, "running_mean")
        assert_close(bn.running_var, ref.running_var, 1e-6, "running_var")


def test_masked_time_other_axes(rng):
    # Features in the middle and time last ([B, F, T]), by axes and by layout.
    x = data(rng, (3, 4, 8))  # B F T
    seq_lens = [8, 3, 5]
    bn = simdnorm.BatchNorm(4, masked_time=True)
    ref = reference_for("current", dict(masked_time=True), 4)
    y = bn(x, True, feature_axis=1, batch_axis=0, time_axis=2, seq_lens=seq_lens)
    assert_close(y, ref(x, True, 1, valid_frames(x.shape, 0, 2, seq_lens)), 2e-5, "BFT")
    y2 = simdnorm.BatchNorm(4, masked_time=True)(x, True, layout="BFT", seq_lens=seq_lens)
    assert np.array_equal(y, y2)


def test_masked_time_major(rng):
    # [T, B, F] (RETURNN's time-major data): the same as the batch-major view.
    x = data(rng, (9, 4, 5))
    seq_lens = [9, 2, 0, 5]
    a = simdnorm.BatchNorm(5, masked_time=True)
    y = a(x, True, batch_axis=1, time_axis=0, seq_lens=seq_lens)
    ref = reference_for("current", dict(masked_time=True), 5)
    assert_close(y, ref(x, True, -1, valid_frames(x.shape, 1, 0, seq_lens)), 2e-5, "TBF")
    b = simdnorm.BatchNorm(5, masked_time=True)
    yb = b(np.ascontiguousarray(x.swapaxes(0, 1)), True, seq_lens=seq_lens)
    assert_close(y, yb.swapaxes(0, 1), 1e-6, "TBF vs BTF")
    assert_close(a.running_var, b.running_var, 1e-6, "running_var")


def test_all_padding_keeps_running_stats(rng):
    bn = simdnorm.BatchNorm(3, masked_time=True)
    bn(data(rng, (2, 4, 3)), True, seq_lens=[0, 0])
    assert bn.running_mean.tolist() == [0, 0, 0] and bn.running_var.tolist() == [1, 1, 1]


@needs_torch
@pytest.mark.parametrize("shape", [(16, 6), (4, 6, 9), (3, 6, 5, 7)])
def test_against_torch(every_isa, rng, shape):
    c = shape[1]
    momentum, eps = 0.2, 1e-5
    bn = simdnorm.BatchNorm(c, momentum=momentum, epsilon=eps, correction=1)
    bn.gamma, bn.beta = data(rng, c), data(rng, c)
    rm, rv = torch.zeros(c), torch.ones(c)
    w, b = torch.from_numpy(bn.gamma.copy()), torch.from_numpy(bn.beta.copy())
    for step, training in enumerate(TRAINING):
        x = data(rng, shape, loc=step, spread=1.0 + step)
        y = bn(x, training, feature_axis=1)
        t = torch.nn.functional.batch_norm(torch.from_numpy(x), rm, rv, w, b, training,
                                           momentum, eps).numpy()
        assert_close(y, t, 1e-4, "step %d: y" % step)
        assert_close(bn.running_mean, rm.numpy(), 1e-5, "step %d: running_mean" % step)
        assert_close(bn.running_var, rv.numpy(), 1e-5, "step %d: running_var" % step)


def test_strided_in_place_and_views(every_isa, rng):
    base = data(rng, (8, 12, 20))
    x = base[::2, 1:11, ::2]               # [4, 10, 10] with gaps
    ref = reference_for("current", {}, 10)
    expected = ref(x.copy(), True, -1)
    bn = simdnorm.BatchNorm(10)
    y = bn(x, True, out=x)                 # in place on a strided view
    assert y is x
    assert_close(x, expected, 2e-5, "in place strided")
    # channels-first, transposed view of channels-last data
    xc = data(rng, (3, 5, 5, 6)).transpose(0, 3, 1, 2)  # N C H W view of N H W C
    bn2 = simdnorm.BatchNorm(6)
    assert_close(bn2(xc, True, feature_axis=1), reference_for("current", {}, 6)(xc, True, 1),
                 2e-5, "transposed")


def test_state_is_shared_and_assignable(rng):
    bn = simdnorm.BatchNorm(4)
    rm = bn.running_mean
    bn.running_mean = np.arange(4, dtype=np.float64)     # cast on assignment
    assert bn.running_mean is rm and rm.tolist() == [0, 1, 2, 3]
    bn.running_var = np.full((1, 1, 4), 2.0, np.float32)  # RETURNN's param_version 0 shape
    bn.gamma = [1, 2, 3, 4]
    bn.beta[:] = 0.5                                      # edits in place reach the library
    x = data(rng, (10, 4))
    y = bn(x, training=False)
    expected = (x - np.arange(4)) / np.sqrt(2.0 + np.float32(1e-3)) * np.arange(1, 5) + 0.5
    assert_close(y, expected, 1e-5, "inference with loaded state")
    with pytest.raises(ValueError):
        bn.gamma = np.ones(5, np.float32)
    with pytest.raises(TypeError):
        bn.gamma = np.array(["a"] * 4)
    bn.reset()
    assert bn.running_mean.tolist() == [0] * 4 and bn.gamma.tolist() == [1] * 4


def test_inference_folds_to_one_pass(rng):
    # Frozen statistics: y = (x - mean) * a + b; check against float64 on data far from zero.
    bn = simdnorm.BatchNorm(8)
    bn.running_mean = np.full(8, 1e4, np.float32)
    bn.running_var = np.full(8, 1e-4, np.float32)
    x = data(rng, (64, 8), loc=1e4, spread=1e-2)
    y = bn(x, training=False)
    expected = (x.astype(np.float64) - 1e4) / np.sqrt(1e-4 + np.float64(np.float32(1e-3)))
    assert_close(y, expected, 1e-5, "frozen")
