"""BatchNorm: RETURNN's batch_norm layer with its state in numpy arrays."""
import ctypes

import numpy as np

from . import _arrays, _lib

_PRESETS = {"current": _lib.SN_BATCH_NORM_CURRENT, "legacy": _lib.SN_BATCH_NORM_LEGACY}
_FLAGS = ("use_shift", "use_std", "force_sample", "update_sample_only_in_training",
          "delay_sample_update")
_FLOATS = ("use_sample", "momentum", "epsilon", "correction")


class BatchNorm:
    """Batch normalization with running statistics (RETURNN ``batch_norm``).

    Options start from the preset ("current" = RETURNN behavior version >= 12,
    "legacy" = <= 11); every argument that is not None overrides the preset.
    gamma_init/beta_init take a number or a string ("zeros", "ones", "0.5").
    correction: the running variance is m2 / (n - correction); 0 is RETURNN's
    biased variance, 1 PyTorch's Bessel-corrected one.

    The state is four float32 arrays of shape [num_features]: running_mean
    (initially 0), running_var (1), gamma and beta (the inits). They are owned
    by the layer and updated in place; assigning to them copies the values in
    (for loading checkpoints; any shape with num_features elements, e.g.
    RETURNN's [1, 1, F] of param_version 0/1). A layer must not be called from
    two threads at once (the running statistics are shared).
    """

    def __init__(self, num_features, *, preset="current", use_shift=None, use_std=None,
                 use_sample=None, force_sample=None, momentum=None, epsilon=None,
                 update_sample_only_in_training=None, delay_sample_update=None,
                 param_version=None, gamma_init=None, beta_init=None, masked_time=None,
                 correction=0):
        features = _arrays.c_int(num_features, "num_features")
        if features < 0:
            raise ValueError("num_features must be >= 0, got %d" % features)
        try:
            preset_id = _PRESETS[preset]
        except (KeyError, TypeError):
            raise ValueError("preset must be 'current' or 'legacy', got %r" % (preset,)) from None
        self._preset = preset
        o = _lib.sn_batch_norm_defaults(preset_id)
        given = dict(use_shift=use_shift, use_std=use_std, force_sample=force_sample,
                     update_sample_only_in_training=update_sample_only_in_training,
                     delay_sample_update=delay_sample_update)
        for name in _FLAGS:
            if given[name] is not None:
                setattr(o, name, 1 if _flag(given[name], name) else 0)
        given = dict(use_sample=use_sample, momentum=momentum, epsilon=epsilon,
                     correction=correction)
        for name in _FLOATS:
            if given[name] is not None:
                setattr(o, name, _arrays.c_float(given[name], name))
        if param_version is not None:
            o.param_version = _arrays.c_int(param_version, "param_version")
        if masked_time is not None:
            o.masked_time = 1 if _flag(masked_time, "masked_time") else 0
        self._texts = []  # keeps the init strings alive while `o` points at them
        for name, value in (("gamma_init", gamma_init), ("beta_init", beta_init)):
            if value is None:
                continue
            if isinstance(value, str):
                text = _arrays.c_text(value, name)
                self._texts.append(text)
                setattr(o, name + "_text", text)
            else:
                setattr(o, name, _arrays.c_float(value, name))
        o.layout = None
        o.feature_axis = -1
        self._options = o

        self._running_mean = np.zeros(features, np.float32)
        self._running_var = np.ones(features, np.float32)
        self._gamma = np.ones(features, np.float32)
        self._beta = np.zeros(features, np.float32)
        self._state = _lib.SnBatchNormState(
            features, *(a.ctypes.data for a in
                        (self._running_mean, self._running_var, self._gamma, self._beta)))
        self.reset()

    def reset(self):
        """Back to the initial state (running mean 0, variance 1, gamma and beta
        from their inits)."""
        _lib.Call.check(_lib.sn_batch_norm_init, ctypes.byref(self._state),
                        ctypes.byref(self._options))

    @property
    def num_features(self):
        return self._state.features

    @property
    def preset(self):
        return self._preset

    @property
    def options(self):
        """The options in effect, as a dict (RETURNN's names)."""
        o = self._options
        d = {name: bool(getattr(o, name)) for name in _FLAGS}
        d.update({name: _short(getattr(o, name)) for name in _FLOATS})
        d["param_version"] = o.param_version
        d["gamma_init"] = o.gamma_init_text.decode() if o.gamma_init_text else _short(o.gamma_init)
        d["beta_init"] = o.beta_init_text.decode() if o.beta_init_text else _short(o.beta_init)
        d["masked_time"] = None if o.masked_time == _lib.SN_UNSET else bool(o.masked_time)
        return d

    def _set(self, array, value, name):
        value = np.asarray(value)
        if value.dtype.kind not in "fiu":
            raise TypeError("%s must be a real array, got %s" % (name, value.dtype))
        if value.size != array.size:
            raise ValueError("%s needs %d values, got shape %s" % (name, array.size, value.shape))
        np.copyto(array, value.reshape(array.shape), casting="unsafe")

    running_mean = property(lambda self: self._running_mean,
                            lambda self, v: self._set(self._running_mean, v, "running_mean"),
                            doc="float32 [F], initially 0; assignment copies into it")
    running_var = property(lambda self: self._running_var,
                           lambda self, v: self._set(self._running_var, v, "running_var"),
                           doc="float32 [F], initially 1; assignment copies into it")
    gamma = property(lambda self: self._gamma,
                     lambda self, v: self._set(self._gamma, v, "gamma"),
                     doc="float32 [F] scale (used with use_std); assignment copies into it")
    beta = property(lambda self: self._beta,
                    lambda self, v: self._set(self._beta, v, "beta"),
                    doc="float32 [F] shift (used with use_shift); assignment copies into it")

    def __call__(self, x, training=True, *, feature_axis=-1, seq_lens=None, batch_axis=0,
                 time_axis=1, out=None, layout=None):
        """Normalize x (float32, features along `feature_axis`) and, when
        RETURNN's rules say so, update the running statistics in place.

        seq_lens: int array [B] of valid lengths along `time_axis` for the
        sequences along `batch_axis` (either order: time-major data works); with masked_time the
        padded frames are left out of the batch statistics (the "current"
        preset needs masked_time given explicitly). All frames are normalized.
        layout: a role string such as "BTF" or "BFSS" instead of the three axes.
        Returns the output (`out` if given; it may be x).
        """
        x = _arrays.as_input(x)
        out = _arrays.new_output(x) if out is None else _arrays.check_output(out, x)
        o = _lib.SnBatchNormOptions.from_buffer_copy(self._options)
        rank = x.ndim
        lay = None
        if layout is not None:
            lay = o.layout = _arrays.layout_text(layout, rank)
            batch = layout.upper().find("B")
        elif seq_lens is not None:
            f = _arrays.axis_index(feature_axis, rank, "feature_axis")
            batch = _arrays.axis_index(batch_axis, rank, "batch_axis")
            t = _arrays.axis_index(time_axis, rank, "time_axis")
            if len({f, batch, t}) != 3:
                raise ValueError("feature_axis, batch_axis and time_axis must be three "
                                 "different axes, got %d, %d and %d" % (f, batch, t))
            roles = ["S"] * rank
            roles[f], roles[batch], roles[t] = "F", "B", "T"
            lay = "".join(roles).encode()
            o.layout = lay
        else:
            o.feature_axis = _arrays.axis_index(feature_axis, rank, "feature_axis")
        xt, yt = _arrays.tensor(x, "x"), _arrays.tensor(out, "out")
        seq_p = None
        if seq_lens is not None:
            seq_lens = _arrays.seq_lens_array(seq_lens, x.shape[batch] if batch >= 0 else None)
            seq_p = seq_lens.ctypes.data
        _lib.Call.check(_lib.sn_batch_norm, ctypes.byref(xt), ctypes.byref(yt),
                        ctypes.byref(self._state), ctypes.byref(o), 1 if training else 0, seq_p)
        return out

    def __repr__(self):
        o = self.options
        changed = ", ".join("%s=%r" % kv for kv in o.items())
        return "BatchNorm(%d, preset=%r, %s)" % (self.num_features, self._preset, changed)


def _flag(value, name):
    if isinstance(value, (bool, int, np.bool_, np.integer)):
        return bool(value)
    raise TypeError("%s must be a bool, got %r" % (name, value))


def _short(value):
    """A float32 option as the shortest float that rounds to it (0.1, not 0.100000001)."""
    return float(str(np.float32(value)))
