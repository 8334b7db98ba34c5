"""float64 references: the generic norm (with masking) and RETURNN's batch
norm, as SPEC.md sections 2 and 3 state them."""
import numpy as np


def valid_frames(shape, batch_axis, time_axis, seq_lens):
    """Boolean array broadcastable to `shape`: t < seq_lens[b]."""
    t = np.arange(shape[time_axis])
    valid = t[None, :] < np.asarray(seq_lens)[:, None]  # [B, T]
    if batch_axis > time_axis:
        valid = valid.T
    view = [1] * len(shape)
    view[batch_axis], view[time_axis] = shape[batch_axis], shape[time_axis]
    return valid.reshape(view)


def moments(x, axes, valid=None):
    """mean, biased variance and count over `axes` (keepdims), float64."""
    x = np.asarray(x, np.float64)
    w = np.ones_like(x) if valid is None else np.broadcast_to(valid, x.shape).astype(np.float64)
    n = w.sum(axis=axes, keepdims=True)
    safe = np.where(n > 0, n, 1.0)
    mean = (w * x).sum(axis=axes, keepdims=True) / safe
    m2 = (w * (x - mean) ** 2).sum(axis=axes, keepdims=True)
    return np.where(n > 0, mean, 0.0), m2, n


def param_view(p, shape, param_axes):
    """scale/bias (dense over the param axes) reshaped to broadcast against x."""
    view = [shape[i] if i in param_axes else 1 for i in range(len(shape))]
    return np.asarray(p, np.float64).reshape(view)


def norm(x, axes, scale=None, bias=None, epsilon=1e-6, param_axes=(), valid=None,
         mask_mode="exclude"):
    """Returns (y, mean, rstd), mean/rstd keepdims; float64."""
    axes = tuple(axes)
    x64 = np.asarray(x, np.float64)
    stats_valid = None if mask_mode == "ignore" else valid
    mean, m2, n = moments(x64, axes, stats_valid)
    var = np.where(n > 0, m2 / np.where(n > 0, n, 1.0), 0.0)
    rstd = np.where(n > 0, 1.0 / np.sqrt(var + np.float64(np.float32(epsilon))), 0.0)
    y = (x64 - mean) * rstd
    if scale is not None:
        y = y * param_view(scale, x.shape, param_axes)
    if bias is not None:
        y = y + param_view(bias, x.shape, param_axes)
    if mask_mode == "zero" and valid is not None:
        y = np.where(np.broadcast_to(valid, x.shape), y, 0.0)
    return y, mean, rstd


def f64(v):
    """A float32 option as the library sees it (rounded to float32)."""
    return float(np.float32(v))


class RefBatchNorm:
    """RETURNN's batch_norm, five steps, float64 arithmetic, state stored as
    float32 between calls like the library's."""

    def __init__(self, features, *, use_shift=True, use_std=True, use_sample=0.0,
                 force_sample=False, momentum=0.1, epsilon=1e-3,
                 update_sample_only_in_training=True, delay_sample_update=True,
                 gamma_init=1.0, beta_init=0.0, masked_time=True, correction=0.0):
        self.o = dict(use_shift=use_shift, use_std=use_std, use_sample=f64(use_sample),
                      force_sample=force_sample, momentum=f64(momentum), epsilon=f64(epsilon),
                      update_sample_only_in_training=update_sample_only_in_training,
                      delay_sample_update=delay_sample_update, masked_time=masked_time,
                      correction=f64(correction))
        self.running_mean = np.zeros(features, np.float32)
        self.running_var = np.ones(features, np.float32)
        self.gamma = np.full(features, gamma_init, np.float32)
        self.beta = np.full(features, beta_init, np.float32)

    def __call__(self, x, training, feature_axis, valid=None):
        o = self.o
        x64 = np.asarray(x, np.float64)
        f = feature_axis % x.ndim
        axes = tuple(i for i in range(x.ndim) if i != f)
        view = [1] * x.ndim
        view[f] = x.shape[f]
        # 1. update?
        update = training or not o["update_sample_only_in_training"]
        sampling = training or o["force_sample"]
        # 2. batch statistics
        mean_b, m2, n = moments(x64, axes, valid if o["masked_time"] else None)
        mean_b, m2, n = mean_b.reshape(-1), m2.reshape(-1), n.reshape(-1)
        var_b = np.where(n > 0, m2 / np.where(n > 0, n, 1.0), 0.0)
        # 3. running statistics
        old_mean = self.running_mean.astype(np.float64)
        old_var = self.running_var.astype(np.float64)
        new_mean, new_var = old_mean.copy(), old_var.copy()
        if update:
            dof = n - o["correction"]
            upd_var = np.where(dof > 0, m2 / np.where(dof > 0, dof, 1.0), var_b)
            has = n > 0
            new_mean = np.where(has, old_mean + (mean_b - old_mean) * o["momentum"], old_mean)
            new_var = np.where(has, old_var + (upd_var - old_var) * o["momentum"], old_var)
        use_mean, use_var = ((old_mean, old_var) if o["delay_sample_update"]
                             else (new_mean, new_var))
        # 4. statistics used
        if sampling and o["use_sample"] != 1.0:
            w = o["use_sample"]
            use_mean = (1 - w) * mean_b + w * use_mean
            use_var = (1 - w) * var_b + w * use_var
        # 5. normalize every frame
        y = (x64 - use_mean.reshape(view)) / np.sqrt(use_var.reshape(view) + o["epsilon"])
        if o["use_std"]:
            y = y * self.gamma.astype(np.float64).reshape(view)
        if o["use_shift"]:
            y = y + self.beta.astype(np.float64).reshape(view)
        if update:
            self.running_mean = new_mean.astype(np.float32)
            self.running_var = new_var.astype(np.float32)
        return y


def assert_close(actual, expected, tol=2e-5, what=""):
    """|a - e| <= tol * max(1, |e|) everywhere (NaN must match NaN)."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))
    worst = np.nanmax(err) if err.size else 0.0
    assert np.array_equal(np.isnan(actual), np.isnan(expected)), what + ": NaN pattern differs"
    assert worst <= tol, "%s: max relative error %.3g > %.3g" % (what, worst, tol)
