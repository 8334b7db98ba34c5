"""Bad input: the right exception with the library's message, nothing written,
nothing crashes."""
import numpy as np
import pytest

import simdnorm


@pytest.fixture
def x():
    return np.random.default_rng(5).standard_normal((4, 6, 8)).astype(np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.int64, bool, ">f4"])
def test_wrong_dtype_is_type_error(x, dtype):
    bad = x.astype(dtype)
    with pytest.raises(TypeError, match="float32"):
        simdnorm.layer_norm(bad)
    with pytest.raises(TypeError):
        simdnorm.norm(bad, "F", layout="BTF")
    with pytest.raises(TypeError):
        simdnorm.BatchNorm(8)(bad)
    with pytest.raises(TypeError):
        simdnorm.layer_norm(x, out=np.empty(x.shape, dtype))
    with pytest.raises(TypeError):
        simdnorm.layer_norm(x, scale=np.ones(8, dtype))
    with pytest.raises(TypeError):
        simdnorm.norm(x, "F", layout="BTF", bias=np.ones(8, dtype))


def test_lists_are_not_cast(x):
    with pytest.raises(TypeError):
        simdnorm.layer_norm([[1.0, 2.0]])
    with pytest.raises(TypeError):
        simdnorm.layer_norm(x, out=[0.0] * 8)


def test_read_only_output(x):
    out = np.zeros_like(x)
    out.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        simdnorm.layer_norm(x, out=out)
    with pytest.raises(ValueError, match="read-only"):
        simdnorm.norm(x, "F", layout="BTF", out=out)
    with pytest.raises(ValueError, match="read-only"):
        simdnorm.BatchNorm(8)(x, out=out)
    assert (out == 0).all()
    ro = x.copy()
    ro.setflags(write=False)
    simdnorm.layer_norm(ro)  # read-only input is fine
    with pytest.raises(ValueError):
        simdnorm.layer_norm(ro, out=ro)


def test_wrong_shapes(x):
    with pytest.raises(ValueError, match="shapes differ"):
        simdnorm.layer_norm(x, out=np.empty((4, 6, 7), np.float32))
    with pytest.raises(ValueError, match="elements"):
        simdnorm.layer_norm(x, scale=np.ones(7, np.float32))
    with pytest.raises(ValueError, match="elements"):
        simdnorm.layer_norm(x, bias=np.ones(9, np.float32))
    with pytest.raises(ValueError, match="elements"):
        simdnorm.norm(x, (1, 2), param_shape=(1, 2), scale=np.ones(8, np.float32))
    with pytest.raises(ValueError, match="elements"):
        simdnorm.norm(x, (1, 2), param_shape=(), scale=np.ones(8, np.float32))
    with pytest.raises(ValueError, match="input and output shapes differ"):
        simdnorm.BatchNorm(7)(x)
    with pytest.raises(ValueError, match="rank"):
        simdnorm.layer_norm(np.float32(3.0))
    with pytest.raises(ValueError, match="rank"):
        simdnorm.layer_norm(np.zeros((1,) * 9, np.float32))


def test_non_contiguous_params(x):
    scale = np.ones(16, np.float32)[::2]
    with pytest.raises(ValueError, match="contiguous"):
        simdnorm.layer_norm(x, scale=scale)
    with pytest.raises(ValueError, match="contiguous"):
        simdnorm.norm(x, "F", layout="BTF", bias=scale)


def test_bad_strides(x):
    with pytest.raises(ValueError, match="negative"):
        simdnorm.layer_norm(x[:, ::-1])
    with pytest.raises(ValueError, match="negative"):
        simdnorm.layer_norm(x, out=np.empty_like(x)[::-1])
    raw = np.zeros(4 * 6 * 8 * 4 + 2, np.uint8)
    unaligned = raw[1:-1].view(np.float32).reshape(4, 6, 8)
    with pytest.raises(ValueError, match="aligned"):
        simdnorm.layer_norm(unaligned)
    odd = np.lib.stride_tricks.as_strided(raw[:64].view(np.float32), (3, 5), (6, 8))
    with pytest.raises(ValueError):
        simdnorm.layer_norm(odd)


def test_aliasing(x):
    with pytest.raises(ValueError, match="overlaps"):
        simdnorm.layer_norm(x[:, :5], out=x[:, 1:])
    overlapping = np.lib.stride_tricks.as_strided(np.zeros(8, np.float32), x.shape, (0, 0, 4))
    with pytest.raises(ValueError, match="overlaps"):
        simdnorm.layer_norm(x, out=overlapping)


@pytest.mark.parametrize("kwargs, message", [
    (dict(axis=3), "axis"),
    (dict(axis=-4), "axis"),
    (dict(epsilon=-1.0), "epsilon"),
    (dict(epsilon=float("nan")), "epsilon"),
    (dict(epsilon=float("inf")), "epsilon"),
    (dict(epsilon=1e300), "epsilon"),
])
def test_layer_norm_bad_options(x, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simdnorm.layer_norm(x, **kwargs)


@pytest.mark.parametrize("args, kwargs, message", [
    (("nonsense",), dict(layout="BTF"), "nonsense"),
    (("F",), dict(layout="BT"), "layout"),
    (("F",), dict(layout="BTX"), "layout"),
    (("F",), dict(layout="BBF"), "more than one"),
    (("X",), {}, "is not an axis description"),
    (("B",), {}, "no 'B' axis"),
    (("dim:3",), dict(layout="BTF"), "need exactly one"),
    (("spatial:5",), dict(layout="BTF"), "spatial"),
    ((5,), {}, "axis"),
    (([0, 3],), {}, "axis"),
    (([],), {}, "no axis"),
    (("F",), dict(layout="BTF", param_shape=(2, 2), scale=np.ones(64, np.float32)), "twice"),
    (("F",), dict(layout="BTF", param_shape="F,F", scale=np.ones(8, np.float32)), "twice"),
    (("F",), dict(layout="BTF", param_shape="B", scale=np.ones(4, np.float32)), "batch"),
    (("F",), dict(layout="BTF", param_shape="F"), "param_shape"),
    (("F",), dict(layout="BTF", param_shape=()), "param_shape"),
    (("F",), dict(seq_lens=[6, 6, 6, 6]), "layout"),
    (("F",), dict(layout="SSF", seq_lens=[6, 6, 6, 6]), "B or T"),
    (("F",), dict(layout="BTF", seq_lens=[6, 6, 6]), "entries"),
    (("F",), dict(layout="BTF", seq_lens=[6, 7, 6, 6]), "seq_lens"),
    (("F",), dict(layout="BTF", seq_lens=[6, -1, 6, 6]), "between 0"),
    (("F",), dict(layout="BTF", seq_lens=[6, 2**40, 6, 6]), "between 0"),
    (("BF",), dict(layout="TBF", seq_lens=[4] * 6), "time axis reduced"),
    (("F",), dict(layout="BTF", seq_lens=[6, 6, 6, 6], mask_mode="bogus"), "mask_mode"),
    ((2,), dict(epsilon=-1), "epsilon"),
])
def test_norm_bad_input(x, args, kwargs, message):
    out = np.zeros_like(x)
    with pytest.raises(ValueError, match=message):
        simdnorm.norm(x, *args, out=out, **kwargs)
    assert (out == 0).all()


def test_norm_bad_types(x):
    with pytest.raises(TypeError):
        simdnorm.norm(x, 1.5)
    with pytest.raises(TypeError):
        simdnorm.norm(x, "F", layout="BTF", seq_lens=[6.0, 6.0, 6.0, 6.0])
    with pytest.raises(TypeError):
        simdnorm.norm(x, "F", layout=3)
    with pytest.raises(ValueError):
        simdnorm.norm(x, "F\0", layout="BTF")
    with pytest.raises(ValueError):
        simdnorm.norm(x, "F", layout="BT\u00e9")


def test_error_detail_is_not_stale(x):
    with pytest.raises(ValueError, match="nonsense"):
        simdnorm.norm(x, "nonsense", layout="BTF")
    with pytest.raises(ValueError) as info:
        simdnorm.norm(x, "F", layout="BTF", epsilon=-1)
    assert "nonsense" not in str(info.value)
    with pytest.raises(ValueError, match="nonsense"):  # the same error again keeps its detail
        simdnorm.norm(x, "nonsense", layout="BTF")
    with pytest.raises(ValueError, match="nonsense"):
        simdnorm.norm(x, "nonsense", layout="BTF")


@pytest.mark.parametrize("kwargs, message", [
    (dict(momentum=1.5), "momentum"),
    (dict(momentum=float("nan")), "momentum"),
    (dict(use_sample=-0.1), "use_sample"),
    (dict(epsilon=-1), "epsilon"),
    (dict(param_version=3), "param_version"),
    (dict(param_version=2**40), "C int"),
    (dict(gamma_init="bogus"), "bogus"),
    (dict(beta_init="1.5x"), "1.5x"),
    (dict(gamma_init=float("inf")), "not finite"),
    (dict(correction=-1), "correction"),
    (dict(preset="newest"), "preset"),
    (dict(num_features=-1), "num_features"),
])
def test_batch_norm_bad_options(kwargs, message):
    kwargs = dict(kwargs)
    features = kwargs.pop("num_features", 4)
    with pytest.raises(ValueError, match=message):
        simdnorm.BatchNorm(features, **kwargs)


def test_batch_norm_bad_types():
    with pytest.raises(TypeError):
        simdnorm.BatchNorm(4, use_shift="yes")
    with pytest.raises(TypeError):
        simdnorm.BatchNorm(4, momentum="0.1")
    with pytest.raises(TypeError):
        simdnorm.BatchNorm(4.0)


def test_batch_norm_bad_calls_leave_state_alone(x):
    bn = simdnorm.BatchNorm(8)
    bn.running_mean = np.arange(8)
    before = [a.copy() for a in (bn.running_mean, bn.running_var, bn.gamma, bn.beta)]
    out = np.zeros_like(x)
    bad_calls = [
        (dict(seq_lens=[6, 6, 6, 6]), "masked_time"),      # current preset: masked_time unset
        (dict(feature_axis=1), "shapes differ"),             # 6 features, not 8
        (dict(feature_axis=3), "axis"),
        (dict(seq_lens=[6, 6, 6]), "entries"),
        (dict(seq_lens=[6, 6, 6, 6], time_axis=2), "different"),
        (dict(layout="BTX"), "layout"),
        (dict(layout="BTS"), "no feature axis"),
    ]
    for kwargs, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            bn(x, True, out=out, **kwargs)
    masked = simdnorm.BatchNorm(8, masked_time=True)
    with pytest.raises(ValueError, match="seq_lens"):
        masked(x, True, seq_lens=[6, 9, 6, 6], out=out)
    assert (out == 0).all()
    for a, b in zip(before, (bn.running_mean, bn.running_var, bn.gamma, bn.beta)):
        assert np.array_equal(a, b)


def test_runtime_bad_input():
    with pytest.raises(ValueError, match="unknown ISA"):
        simdnorm.set_isa("sse9")
    with pytest.raises(ValueError, match="unknown ISA"):
        simdnorm.set_isa("avx\u00e9")
    unsupported = [i for i in ("scalar", "avx2", "avx512", "neon")
                   if i not in simdnorm.supported_isas()]
    for name in unsupported:
        with pytest.raises(ValueError, match="does not support"):
            simdnorm.set_isa(name)
    with pytest.raises(TypeError):
        simdnorm.set_isa(1)
    with pytest.raises(ValueError, match="thread count"):
        simdnorm.set_num_threads(-1)
    with pytest.raises(ValueError):
        simdnorm.set_num_threads(2**32 + 1)  # would be truncated to 1 by ctypes


def test_empty_arrays():
    x = np.zeros((0, 8), np.float32)
    assert simdnorm.layer_norm(x).shape == (0, 8)
    y, mean, rstd = simdnorm.norm(np.zeros((3, 0), np.float32), 1, return_stats=True)
    assert y.shape == (3, 0) and (mean == 0).all() and (rstd == 0).all()
    assert simdnorm.BatchNorm(8)(x).shape == (0, 8)
