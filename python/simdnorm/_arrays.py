"""numpy arrays to sn_tensor views (no copies) and the checks that keep the
library from ever reading or writing outside an array."""
import operator

import numpy as np

from . import _lib

_F32 = np.dtype(np.float32)
_ITEM = _F32.itemsize
_INT32_MAX = 2 ** 31 - 1


def _dtype_error(name, dtype):
    return TypeError("%s must be a float32 array (native byte order), got %s; "
                     "simdnorm does not cast, convert with .astype(np.float32)" % (name, dtype))


def as_input(x, name="x"):
    """x as an ndarray of float32, without copying; TypeError for any other dtype."""
    x = np.asarray(x)
    if x.dtype != _F32:
        raise _dtype_error(name, x.dtype)
    return x


def check_output(out, x, name="out"):
    if not isinstance(out, np.ndarray):
        raise TypeError("%s must be a numpy array, got %s" % (name, type(out).__name__))
    if out.dtype != _F32:
        raise _dtype_error(name, out.dtype)
    if out.shape != x.shape:
        raise ValueError("%s: %s has shape %s, x has shape %s"
                         % (_lib.status_message(_lib.SN_ERR_SHAPE_MISMATCH), name,
                            out.shape, x.shape))
    if not out.flags.writeable:
        raise ValueError("%s is read-only" % name)
    return out


def new_output(x):
    """An output array with x's shape and axis order (dense)."""
    return np.empty_like(x, dtype=_F32, order="K")


def check_aligned(a, name):
    if not a.flags.aligned:
        raise ValueError("%s is not aligned to 4 bytes; copy it first" % name)


def tensor(a, name):
    """An sn_tensor viewing `a` (float32 ndarray) in place."""
    rank = a.ndim
    if rank < 1 or rank > _lib.SN_MAX_RANK:
        raise ValueError("%s: %s has %d dimensions"
                         % (_lib.status_message(_lib.SN_ERR_RANK), name, rank))
    check_aligned(a, name)
    shape, byte_strides = a.shape, a.strides
    strides = [s >> 2 for s in byte_strides]
    if any(s < 0 or s & 3 for s in byte_strides):
        strides = [_element_stride(d, s, name, a) for d, s in zip(shape, byte_strides)]
    t = _lib.SnTensor()
    t.data = a.ctypes.data
    t.dtype = _lib.SN_FLOAT32
    t.rank = rank
    t.dims[:rank] = shape
    t.strides[:rank] = strides
    return t


def _element_stride(dim, stride, name, a):
    if dim <= 1:
        # The stride of an axis of size 0 or 1 is never used to address memory.
        return stride // _ITEM if stride >= 0 and stride % _ITEM == 0 else 0
    if stride < 0:
        raise ValueError("%s: %s has strides %s (use np.ascontiguousarray or flip the view)"
                         % (_lib.status_message(_lib.SN_ERR_NEGATIVE_STRIDE), name, a.strides))
    if stride % _ITEM:
        raise ValueError("%s has byte strides %s that are not multiples of 4" % (name, a.strides))
    return stride // _ITEM


def param(p, size, name):
    """A scale or bias: None, or a C-contiguous float32 array of `size` elements
    (any shape, e.g. [F] or RETURNN's broadcast [1,1,F]). Returns (array, pointer)."""
    if p is None:
        return None, None
    p = np.asarray(p)
    if p.dtype != _F32:
        raise _dtype_error(name, p.dtype)
    if not p.flags.c_contiguous or not p.flags.aligned:
        raise ValueError("%s must be C-contiguous (use np.ascontiguousarray)" % name)
    if p.size != size:
        raise ValueError("%s has %d elements (shape %s), the parameter shape needs %d"
                         % (name, p.size, p.shape, size))
    return p, p.ctypes.data


def seq_lens_array(seq_lens, batch):
    """Sequence lengths as a contiguous int32 copy; `batch` is the expected
    length (None when the layout has no batch axis, the library then rejects them)."""
    s = np.asarray(seq_lens)
    if s.dtype.kind not in "iu":
        raise TypeError("seq_lens must be an integer array, got %s" % s.dtype)
    if s.ndim != 1:
        raise ValueError("seq_lens must be one-dimensional [B], got shape %s" % (s.shape,))
    if batch is not None and s.shape[0] != batch:
        raise ValueError("seq_lens has %d entries, the batch axis has %d" % (s.shape[0], batch))
    if s.size and (s.min() < 0 or s.max() > _INT32_MAX):
        raise ValueError("%s: got %d..%d" % (_lib.status_message(_lib.SN_ERR_SEQ_LENS),
                                             s.min(), s.max()))
    return np.ascontiguousarray(s, dtype=np.int32)


def layout_text(layout, rank):
    """A layout string as the library takes it: one letter per axis."""
    lay = c_text(layout, "layout")
    if len(lay) != rank:
        raise ValueError("%s: layout %r has %d letters for a tensor of rank %d"
                         % (_lib.status_message(_lib.SN_ERR_LAYOUT), layout, len(lay), rank))
    return lay


def axis_index(axis, rank, name="axis"):
    """A normalized axis index; ValueError when out of range."""
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError("%s must be an int, got %s" % (name, type(axis).__name__)) from None
    if isinstance(axis, bool):
        raise TypeError("%s must be an int, got bool" % name)
    if not -rank <= a < rank:
        raise ValueError("%s: %s=%d for a tensor of rank %d"
                         % (_lib.status_message(_lib.SN_ERR_AXIS), name, a, rank))
    return a + rank if a < 0 else a


def c_int(value, name):
    """A Python int that fits a C int (ctypes would silently truncate it)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError("%s must be an int, got %s" % (name, type(value).__name__)) from None
    if not -_INT32_MAX - 1 <= v <= _INT32_MAX:
        raise ValueError("%s=%d does not fit a C int" % (name, v))
    return v


def c_float(value, name):
    """A real number for a float option (NaN/inf are passed on: the library rejects them)."""
    if isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise TypeError("%s must be a number, got %r" % (name, value))
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError("%s must be a number, got %r" % (name, value)) from None


def c_text(value, name):
    """A str as NUL-free ASCII bytes for the library."""
    if not isinstance(value, str):
        raise TypeError("%s must be a str, got %s" % (name, type(value).__name__))
    if "\0" in value:
        raise ValueError("%s contains a NUL character" % name)
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("%s must be ASCII, got %r" % (name, value)) from None
