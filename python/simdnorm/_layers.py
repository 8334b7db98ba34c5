"""layer_norm and the generic norm (RETURNN's layer_norm and norm layers)."""
import ctypes

import numpy as np

from . import _arrays, _lib

_MASK_MODES = {"exclude": _lib.SN_MASK_EXCLUDE, "zero": _lib.SN_MASK_ZERO,
               "ignore": _lib.SN_MASK_IGNORE}


def layer_norm(x, scale=None, bias=None, *, axis=-1, epsilon=1e-6, out=None):
    """Layer normalization over one axis of a float32 array.

    y = (x - mean) / sqrt(var + epsilon) * scale + bias, with mean and biased
    variance over `axis` (any axis; default the last), scale and bias of shape
    [x.shape[axis]] (None: ones and zeros). `x` may have any non-negative
    strides and is not copied; `out` (float32, x's shape, writable) receives the
    result and may be `x` itself. Returns the output array.
    """
    x = _arrays.as_input(x)
    out = _arrays.new_output(x) if out is None else _arrays.check_output(out, x)
    xt, yt = _arrays.tensor(x, "x"), _arrays.tensor(out, "out")
    a = _arrays.axis_index(axis, x.ndim)
    scale, scale_p = _arrays.param(scale, x.shape[a], "scale")
    bias, bias_p = _arrays.param(bias, x.shape[a], "bias")
    o = _lib.SnLayerNormOptions(a, _arrays.c_float(epsilon, "epsilon"), scale_p, bias_p,
                                None, None)
    _lib.Call.check(_lib.sn_layer_norm, ctypes.byref(xt), ctypes.byref(yt), ctypes.byref(o))
    return out


def _parse(description, layout, x, name):
    """Bitmask of a RETURNN axis description (the library's parser; without a
    layout every axis is S, as sn_norm does)."""
    text = _arrays.c_text(description, name)
    lay = layout if layout is not None else b"S" * x.ndim
    dims = (ctypes.c_ssize_t * max(x.ndim, 1))(*x.shape)
    mask = ctypes.c_uint(0)
    _lib.Call.check(_lib.sn_axes_parse, text, lay, dims, ctypes.byref(mask))
    return mask.value


def _int_mask(axes, rank, name, duplicates_ok):
    """Bitmask of an int or a sequence of ints (negative from the end)."""
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        return 1 << _arrays.axis_index(axes, rank, name)
    try:
        items = list(axes)
    except TypeError:
        raise TypeError("%s must be an int, a sequence of ints or a str, got %s"
                        % (name, type(axes).__name__)) from None
    mask = 0
    for item in items:
        bit = 1 << _arrays.axis_index(item, rank, name)
        if mask & bit and not duplicates_ok:
            raise ValueError("%s: %s=%r names axis %d twice"
                             % (_lib.status_message(_lib.SN_ERR_PARAM_SHAPE), name,
                                tuple(items), bit.bit_length() - 1))
        mask |= bit
    return mask


def _joined(axes):
    """RETURNN also takes a list of descriptions (their union): join them with commas."""
    if isinstance(axes, (list, tuple)) and axes and all(isinstance(a, str) for a in axes):
        return ",".join(axes)
    return axes


def _bits(mask, rank):
    return [i for i in range(rank) if mask >> i & 1]


class _NormCall:
    """norm()'s arguments as the library takes them: the views of x and out,
    the options, and the arrays they point into (kept alive with the call)."""

    def __init__(self, x, axes, layout, param_shape, scale, bias, epsilon, seq_lens,
                 return_stats, out, mask_mode):
        x = _arrays.as_input(x)
        out = _arrays.new_output(x) if out is None else _arrays.check_output(out, x)
        self.x, self.out = x, out
        self.xt, self.yt = _arrays.tensor(x, "x"), _arrays.tensor(out, "out")
        rank = x.ndim
        o = self.o = _lib.SnNormOptions()
        o.param_axes = _lib.SN_AXES_DEFAULT
        o.epsilon = _arrays.c_float(epsilon, "epsilon")
        try:
            o.mask_mode = _MASK_MODES[mask_mode]
        except (KeyError, TypeError):
            raise ValueError("mask_mode must be one of %s, got %r"
                             % (", ".join(map(repr, _MASK_MODES)), mask_mode)) from None

        lay = None
        if layout is not None:
            lay = o.layout = _arrays.layout_text(layout, rank)
        roles = layout.upper() if layout is not None else ""

        axes, param_shape = _joined(axes), _joined(param_shape)
        # Reduced axes.
        if isinstance(axes, str):
            o.axes_text = _arrays.c_text(axes, "axes")
            # The reduced axes are needed here only for the shape of mean and rstd.
            reduce = _parse(axes, lay, x, "axes") if return_stats else None
        else:
            reduce = o.axes = _int_mask(axes, rank, "axes", duplicates_ok=True)

        # Parameter axes: only needed here to check the size of scale and bias.
        has_params = scale is not None or bias is not None
        if param_shape is None:
            params = 1 << (roles.find("F") if "F" in roles else rank - 1)
        elif isinstance(param_shape, str):
            o.param_text = _arrays.c_text(param_shape, "param_shape")
            params = _parse(param_shape, lay, x, "param_shape") if has_params else 0
        else:
            params = o.param_axes = _int_mask(param_shape, rank, "param_shape",
                                              duplicates_ok=False)
        if has_params and param_shape is not None:
            for role in "BT":
                if role in roles and params >> roles.find(role) & 1:
                    raise ValueError("%s: param_shape %r includes the %s axis of layout %r"
                                     % (_lib.status_message(_lib.SN_ERR_PARAM_SHAPE),
                                        param_shape, "batch" if role == "B" else "time",
                                        layout))
        self.param_size = 1
        for i in _bits(params, rank):
            self.param_size *= x.shape[i]
        self.scale, o.scale = _arrays.param(scale, self.param_size, "scale")
        self.bias, o.bias = _arrays.param(bias, self.param_size, "bias")

        self.batch = x.shape[roles.find("B")] if "B" in roles else None
        self.seq_lens = None
        if seq_lens is not None:
            self.seq_lens = _arrays.seq_lens_array(seq_lens, self.batch)
            o.seq_lens = self.seq_lens.ctypes.data

        self.stats_shape = self.mean = self.rstd = None
        if return_stats:
            self.stats_shape = tuple(1 if reduce >> i & 1 else d for i, d in enumerate(x.shape))
            self.mean = np.empty(self.stats_shape, np.float32)
            self.rstd = np.empty(self.stats_shape, np.float32)
            o.mean = self.mean.ctypes.data
            o.rstd = self.rstd.ctypes.data

    def result(self):
        if self.stats_shape is not None:
            return self.out, self.mean, self.rstd
        return self.out


def norm(x, axes, *, layout=None, param_shape=None, scale=None, bias=None, epsilon=1e-6,
         seq_lens=None, return_stats=False, out=None, mask_mode="exclude"):
    """Generic normalization (RETURNN ``norm``) over any set of axes.

    axes, param_shape: an int, a sequence of ints, or a RETURNN axis
    description string (or a list of them) ("F", "TF", "T", "except_batch", "spatial", "dim:64",
    ...; `layout` such as "BTF" gives each axis its role). param_shape is the
    set of axes scale and bias vary along: default the feature axis ("F" in the
    layout, else the last axis); () for scalar scale/bias. scale and bias are
    C-contiguous float32 arrays with as many elements as the param axes hold
    (dense row-major over them in tensor order, e.g. shape [F]).
    seq_lens: int array [B] of valid lengths along T (needs B and T in the
    layout); padded frames are left out of the statistics and normalized with
    them (mask_mode="exclude", RETURNN), set to 0 ("zero") or counted like any
    frame ("ignore", RETURNN's older TF layer).
    return_stats=True returns (y, mean, rstd), mean and rstd float32 shaped like
    x with the reduced axes of size 1 (rstd = 1/sqrt(var + epsilon)).
    """
    c = _NormCall(x, axes, layout, param_shape, scale, bias, epsilon, seq_lens, return_stats,
                  out, mask_mode)
    _lib.Call.check(_lib.sn_norm, ctypes.byref(c.xt), ctypes.byref(c.yt), ctypes.byref(c.o))
    return c.result()


def _layout(a):
    """An array's shape and the strides that address memory (those of axes
    longer than 1)."""
    return a.shape, tuple(s if d > 1 else 0 for d, s in zip(a.shape, a.strides))


class NormPlan:
    """norm() planned once, for arrays of one shape and memory layout.

    NormPlan(x, axes, **options) takes norm()'s arguments. x and out (if given)
    are examples: their shape and strides are planned, not their contents.
    Of scale, bias and seq_lens only whether each is given is planned, and every
    call passes exactly those. A call, plan(x, scale, bias, seq_lens=..., out=...),
    returns what norm() with the planned options would (bit for bit), skipping
    the parsing, checks and planning that do not depend on the arrays; x and out
    must be laid out as planned (an out of None is allocated like the planned
    one). Several threads may call one plan at once.
    """

    def __init__(self, x, axes, *, layout=None, param_shape=None, scale=None, bias=None,
                 epsilon=1e-6, seq_lens=None, return_stats=False, out=None,
                 mask_mode="exclude"):
        self._plan = None
        c = _NormCall(x, axes, layout, param_shape, scale, bias, epsilon, seq_lens,
                      return_stats, out, mask_mode)
        plan = ctypes.c_void_p()
        _lib.Call.check(_lib.sn_norm_plan_create, ctypes.byref(c.xt), ctypes.byref(c.yt),
                        ctypes.byref(c.o), ctypes.byref(plan))
        self._plan = plan
        self._x_layout, self._out_layout = _layout(c.x), _layout(c.out)
        self._param_size, self._batch = c.param_size, c.batch
        self._stats_shape = c.stats_shape

    @property
    def shape(self):
        """The shape of the arrays the plan serves."""
        return self._x_layout[0]

    def _check(self, a, planned, name):
        if _layout(a) != planned:
            raise ValueError("%s has shape %s and strides %s; the plan was made for shape %s "
                             "and strides %s (axes of size 1 aside)"
                             % (name, a.shape, a.strides, planned[0], planned[1]))
        _arrays.check_aligned(a, name)

    def __call__(self, x, scale=None, bias=None, *, seq_lens=None, out=None):
        x = _arrays.as_input(x)
        self._check(x, self._x_layout, "x")
        out = _arrays.new_output(x) if out is None else _arrays.check_output(out, x)
        self._check(out, self._out_layout, "out")
        scale, scale_p = _arrays.param(scale, self._param_size, "scale")
        bias, bias_p = _arrays.param(bias, self._param_size, "bias")
        seq_p = None
        if seq_lens is not None:
            seq_lens = _arrays.seq_lens_array(seq_lens, self._batch)
            seq_p = seq_lens.ctypes.data
        mean = rstd = None
        if self._stats_shape is not None:
            mean = np.empty(self._stats_shape, np.float32)
            rstd = np.empty(self._stats_shape, np.float32)
        arrays = _lib.SnNormArrays(x.ctypes.data, out.ctypes.data, scale_p, bias_p,
                                   None if mean is None else mean.ctypes.data,
                                   None if rstd is None else rstd.ctypes.data, seq_p)
        _lib.Call.check(_lib.sn_norm_plan_execute, self._plan, ctypes.byref(arrays))
        if self._stats_shape is not None:
            return out, mean, rstd
        return out

    def __del__(self):
        plan, self._plan = getattr(self, "_plan", None), None
        if plan and _lib is not None:  # (None at interpreter shutdown)
            _lib.sn_norm_plan_destroy(plan)
