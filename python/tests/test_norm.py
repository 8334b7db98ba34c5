import numpy as np
import pytest

import simdnorm
from reference import assert_close, norm as ref_norm, valid_frames

try:
    import torch
except ImportError:  # the numpy-reference tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch (python3-torch) not installed")


def data(rng, shape, loc=0.0, spread=1.0):
    return (rng.standard_normal(shape) * spread + loc).astype(np.float32)


# (shape, layout, axes, reduced axes, param_shape, param axes)
CASES = [
    ((4, 9, 16), "BTF", "F", [2], None, [2]),
    ((4, 9, 16), "BTF", "TF", [1, 2], None, [2]),
    ((4, 9, 16), "BTF", "T", [1], None, [2]),
    ((4, 9, 16), "BTF", "except_batch", [1, 2], "F", [2]),
    ((4, 16, 9), "BFT", "T", [2], None, [1]),
    ((3, 5, 6, 8), "BSSF", "spatial", [1, 2], None, [3]),
    ((3, 8, 5, 6), "BFSS", "spatial", [2, 3], None, [1]),
    ((3, 8, 5, 6), None, (1, 2, 3), [1, 2, 3], 1, [1]),
    ((3, 8, 5, 6), None, [-1, -2], [2, 3], (), []),
    ((3, 8, 5, 6), None, 0, [0], (1, 2), [1, 2]),
    ((6, 7, 10), "BTF", "dim:7", [1], "dim:10", [2]),
    ((6, 7, 10), "BTF", "B,T", [0, 1], None, [2]),
    ((5, 12), "BF", "*", [0, 1], (), []),
]


@pytest.mark.parametrize("shape, layout, axes, reduced, param_shape, param_axes", CASES)
def test_against_float64(every_isa, rng, shape, layout, axes, reduced, param_shape, param_axes):
    x = data(rng, shape, loc=-2.0, spread=1.5)
    psize = int(np.prod([shape[i] for i in param_axes]))
    scale, bias = data(rng, psize), data(rng, psize)
    y, mean, rstd = simdnorm.norm(x, axes, layout=layout, param_shape=param_shape, scale=scale,
                                  bias=bias, epsilon=1e-4, return_stats=True)
    ref, ref_mean, ref_rstd = ref_norm(x, reduced, scale, bias, 1e-4, param_axes)
    assert_close(y, ref, 1e-5, "y")
    assert mean.shape == ref_mean.shape == rstd.shape
    assert_close(mean, ref_mean, 1e-6, "mean")
    assert_close(rstd, ref_rstd, 1e-5, "rstd")
    # Without the optional parts.
    plain = simdnorm.norm(x, axes, layout=layout, epsilon=1e-4)
    assert_close(plain, ref_norm(x, reduced, epsilon=1e-4)[0], 1e-5, "no params")


def test_scale_only_bias_only_and_param_shapes(rng):
    x = data(rng, (4, 6, 8))
    scale = data(rng, 8)
    y = simdnorm.norm(x, "F", layout="BTF", scale=scale)
    assert_close(y, ref_norm(x, [2], scale=scale, param_axes=[2])[0], 1e-5, "scale only")
    bias = data(rng, 6 * 8)
    y = simdnorm.norm(x, (0, 1), param_shape=(1, 2), bias=bias)
    assert_close(y, ref_norm(x, [0, 1], bias=bias, param_axes=[1, 2])[0], 1e-5, "bias [T,F]")
    # RETURNN's broadcast parameter shapes are accepted: only the element count matters.
    y2 = simdnorm.norm(x, (0, 1), param_shape=(1, 2), bias=bias.reshape(1, 6, 8))
    assert np.array_equal(y, y2)
    # A list of descriptions is their union, as in RETURNN.
    assert np.array_equal(simdnorm.norm(x, ["T", "F"], layout="BTF"),
                          simdnorm.norm(x, "TF", layout="BTF"))
    # Scalar scale and bias.
    y = simdnorm.norm(x, "TF", layout="BTF", param_shape=(), scale=np.float32(2.0),
                      bias=np.array([0.5], np.float32))
    assert_close(y, 2 * ref_norm(x, [1, 2])[0] + 0.5, 1e-5, "scalar params")


@pytest.mark.parametrize("axes, reduced", [("T", [1]), ("TF", [1, 2]), ("BT", [0, 1]),
                                           ("B,T,F", [0, 1, 2])])
@pytest.mark.parametrize("mask_mode", ["exclude", "zero", "ignore"])
def test_masked_sequences(every_isa, rng, axes, reduced, mask_mode):
    x = data(rng, (5, 11, 12), loc=1.0)
    seq_lens = np.array([11, 3, 0, 7, 1])
    x[1, 3:] = 1e9  # padded frames must not leak into the statistics (when excluded)
    scale, bias = data(rng, 12), data(rng, 12)
    valid = valid_frames(x.shape, 0, 1, seq_lens)
    y, mean, rstd = simdnorm.norm(x, axes, layout="BTF", scale=scale, bias=bias,
                                  seq_lens=seq_lens, mask_mode=mask_mode, return_stats=True)
    ref, ref_mean, ref_rstd = ref_norm(x, reduced, scale, bias, 1e-6, [2], valid, mask_mode)
    if mask_mode == "ignore":
        # Every frame counts, the 1e9 ones too: compare on their scale.
        assert_close(mean / 1e9, ref_mean / 1e9, 1e-6, "mean")
        assert_close(y, ref, 1e-3, "y")
        return
    assert_close(y, ref, 1e-5, "y")
    assert_close(mean, ref_mean, 1e-6, "mean")
    assert_close(rstd, ref_rstd, 1e-5, "rstd")
    if "B" not in axes and mask_mode == "exclude":
        # An empty sequence: mean 0 and rstd 0, its outputs are the bias.
        assert (mean[2] == 0).all() and (rstd[2] == 0).all()
        assert np.array_equal(y[2], np.broadcast_to(bias, (11, 12)))


def test_masked_channels_first(rng):
    x = data(rng, (3, 4, 10))  # BFT
    seq_lens = np.array([10, 4, 6], np.int64)
    y = simdnorm.norm(x, "T", layout="BFT", seq_lens=seq_lens)
    valid = valid_frames(x.shape, 0, 2, seq_lens)
    assert_close(y, ref_norm(x, [2], valid=valid)[0], 1e-5, "BFT")


def test_strided_and_in_place(every_isa, rng):
    base = data(rng, (6, 20, 3, 40))
    x = base[:, ::2, 1, 5:37]       # [6, 10, 32] with gaps
    x = x.transpose(0, 2, 1)        # [6, 32, 10] = BFT
    ref, _, _ = ref_norm(x, [2])
    y = simdnorm.norm(x, "T", layout="BFT")
    assert_close(y, ref, 1e-5, "strided")
    simdnorm.norm(x, "T", layout="BFT", out=x)
    assert_close(x, ref, 1e-5, "in place")
    assert_close(base[:, ::2, 1, 5:37].transpose(0, 2, 1), ref, 1e-5, "in place, seen in base")


@needs_torch
@pytest.mark.parametrize("shape", [(4, 6, 50), (2, 5, 7, 9)])
def test_group_norm_one_group_vs_torch(every_isa, rng, shape):
    x = data(rng, shape, loc=0.5, spread=2.0)
    c = shape[1]
    w, b = data(rng, c), data(rng, c)
    layout = "BF" + "S" * (len(shape) - 2)
    y = simdnorm.norm(x, "except_batch", layout=layout, scale=w, bias=b, epsilon=1e-5)
    t = torch.nn.functional.group_norm(torch.from_numpy(x), 1, torch.from_numpy(w),
                                       torch.from_numpy(b), 1e-5).numpy()
    ref, _, _ = ref_norm(x, range(1, len(shape)), w, b, 1e-5, [1])
    assert_close(y, ref, 1e-5, "vs float64")
    assert_close(y, t, 1e-4, "vs torch")


@needs_torch
@pytest.mark.parametrize("shape", [(4, 6, 50), (2, 5, 7, 9)])
def test_instance_norm_vs_torch(every_isa, rng, shape):
    x = data(rng, shape, loc=-1.0, spread=0.5)
    c = shape[1]
    w, b = data(rng, c), data(rng, c)
    layout = "BF" + "S" * (len(shape) - 2)
    y = simdnorm.norm(x, "spatial", layout=layout, scale=w, bias=b, epsilon=1e-5)
    t = torch.nn.functional.instance_norm(torch.from_numpy(x), weight=torch.from_numpy(w),
                                          bias=torch.from_numpy(b), eps=1e-5).numpy()
    ref, _, _ = ref_norm(x, range(2, len(shape)), w, b, 1e-5, [1])
    assert_close(y, ref, 1e-5, "vs float64")
    assert_close(y, t, 1e-4, "vs torch")


@needs_torch
def test_group_norm_many_groups_vs_torch(rng):
    # G groups through a reshape: [N, C, H, W] -> [N, G, C/G, H*W].
    x = data(rng, (2, 32, 6, 6))
    w, b = data(rng, 32), data(rng, 32)
    y = simdnorm.norm(x.reshape(2, 8, 4, 36), (2, 3), param_shape=(1, 2), scale=w, bias=b,
                      epsilon=1e-5).reshape(x.shape)
    t = torch.nn.functional.group_norm(torch.from_numpy(x), 8, torch.from_numpy(w),
                                       torch.from_numpy(b), 1e-5).numpy()
    assert_close(y, t, 1e-4, "group norm, 8 groups")


def test_nan_stays_in_its_group(rng):
    x = data(rng, (4, 16))
    x[2, 5] = np.nan
    y = simdnorm.norm(x, 1)
    assert np.isnan(y[2]).all()
    assert np.isfinite(np.delete(y, 2, axis=0)).all()
