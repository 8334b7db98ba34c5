"""Loading libsimdnorm and declaring its C API to ctypes.

Every function is called through a ``ctypes.CDLL`` handle. ctypes releases the
GIL for the duration of each foreign call made through a CDLL (only a PyDLL
keeps it), so other Python threads run while a layer computes; the library
itself is thread-safe (each call's state lives on its stack, error details are
thread-local).

The structures below mirror include/simdnorm.h field for field; the ABI test
(tests/test_abi.py) compiles the header and compares sizes and offsets.
"""
import ctypes
import ctypes.util
import os
import sys

SN_MAX_RANK = 8
SN_FLOAT32 = 0
SN_ISA_AUTO = -1
SN_AXES_DEFAULT = 0xFFFFFFFF
SN_UNSET = -1
SN_BATCH_NORM_CURRENT = 0
SN_BATCH_NORM_LEGACY = 1
SN_MASK_EXCLUDE, SN_MASK_ZERO, SN_MASK_IGNORE = 0, 1, 2

# sn_status values used by the wrapper's own checks (the order of the enum).
SN_OK = 0
SN_ERR_RANK = 2
SN_ERR_NEGATIVE_STRIDE = 4
SN_ERR_DTYPE = 6
SN_ERR_SHAPE_MISMATCH = 7
SN_ERR_AXIS = 8
SN_ERR_ISA_UNKNOWN = 11
SN_ERR_THREADS = 13
SN_ERR_LAYOUT = 15
SN_ERR_AXES_DESCRIPTION = 16
SN_ERR_PARAM_SHAPE = 18
SN_ERR_SEQ_LENS = 19
SN_ERR_MASK_LAYOUT = 20
SN_ERR_INIT_VALUE = 24

# Statuses that the library always reports with a detail (see error handling).
_ALWAYS_DETAILED = {SN_ERR_LAYOUT, SN_ERR_AXES_DESCRIPTION, SN_ERR_SEQ_LENS,
                    SN_ERR_MASK_LAYOUT, SN_ERR_INIT_VALUE}


class SnTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("dtype", ctypes.c_int),
        ("rank", ctypes.c_int),
        ("dims", ctypes.c_ssize_t * SN_MAX_RANK),
        ("strides", ctypes.c_ssize_t * SN_MAX_RANK),
    ]




class SnLayerNormOptions(ctypes.Structure):
    _fields_ = [
        ("axis", ctypes.c_int),
        ("epsilon", ctypes.c_float),
        ("scale", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("mean", ctypes.c_void_p),
        ("rstd", ctypes.c_void_p),
    ]


class SnNormOptions(ctypes.Structure):
    _fields_ = [
        ("axes", ctypes.c_uint),
        ("axes_text", ctypes.c_char_p),
        ("layout", ctypes.c_char_p),
        ("param_axes", ctypes.c_uint),
        ("param_text", ctypes.c_char_p),
        ("epsilon", ctypes.c_float),
        ("scale", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("mean", ctypes.c_void_p),
        ("rstd", ctypes.c_void_p),
        ("seq_lens", ctypes.c_void_p),
        ("mask_mode", ctypes.c_int),
    ]


class SnNormArrays(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_void_p),
        ("y", ctypes.c_void_p),
        ("scale", ctypes.c_void_p),
        ("bias", ctypes.c_void_p),
        ("mean", ctypes.c_void_p),
        ("rstd", ctypes.c_void_p),
        ("seq_lens", ctypes.c_void_p),
    ]


class SnBatchNormOptions(ctypes.Structure):
    _fields_ = [
        ("use_shift", ctypes.c_int),
        ("use_std", ctypes.c_int),
        ("use_sample", ctypes.c_float),
        ("force_sample", ctypes.c_int),
        ("momentum", ctypes.c_float),
        ("epsilon", ctypes.c_float),
        ("update_sample_only_in_training", ctypes.c_int),
        ("delay_sample_update", ctypes.c_int),
        ("param_version", ctypes.c_int),
        ("gamma_init", ctypes.c_float),
        ("beta_init", ctypes.c_float),
        ("gamma_init_text", ctypes.c_char_p),
        ("beta_init_text", ctypes.c_char_p),
        ("masked_time", ctypes.c_int),
        ("correction", ctypes.c_float),
        ("layout", ctypes.c_char_p),
        ("feature_axis", ctypes.c_int),
    ]


class SnBatchNormState(ctypes.Structure):
    _fields_ = [
        ("features", ctypes.c_ssize_t),
        ("running_mean", ctypes.c_void_p),
        ("running_var", ctypes.c_void_p),
        ("gamma", ctypes.c_void_p),
        ("beta", ctypes.c_void_p),
    ]


def _candidates():
    """Where to look for the library, in order (after SIMDNORM_LIBRARY)."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.platform == "darwin":
        names, versioned = ["libsimdnorm.dylib"], "libsimdnorm.0.dylib"
    else:
        names, versioned = ["libsimdnorm.so"], "libsimdnorm.so.0"
    paths = []
    # The build tree: python/build/ and the repository root's build/.
    for build in (os.path.join(here, os.pardir, "build"),
                  os.path.join(here, os.pardir, os.pardir, "build")):
        paths += [os.path.normpath(os.path.join(build, n)) for n in names]
    # An installed copy: bundled next to the package by `pip install`.
    paths += [os.path.join(here, versioned)] + [os.path.join(here, n) for n in names]
    found = [p for p in paths if os.path.exists(p)]
    # An installed prefix, through the linker's search (ldconfig, LD_LIBRARY_PATH).
    name = ctypes.util.find_library("simdnorm")
    if name:
        found.append(name)
    found.append(versioned)
    return found, paths


def _load():
    override = os.environ.get("SIMDNORM_LIBRARY")
    if override:
        try:
            return ctypes.CDLL(override), override
        except OSError as e:
            raise ImportError(
                "simdnorm: SIMDNORM_LIBRARY=%r could not be loaded: %s" % (override, e)) from None
    found, looked = _candidates()
    errors = []
    for path in found:
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise ImportError(
        "simdnorm: the shared library libsimdnorm was not found. Build it with\n"
        "  cmake -S <repo> -B <repo>/build && cmake --build <repo>/build --target simdnorm\n"
        "install it (cmake --install, then ldconfig), or point SIMDNORM_LIBRARY at it.\n"
        "Looked in: %s; the dynamic linker's path.%s"
        % (", ".join(looked), ("\nErrors: " + "; ".join(errors)) if errors else ""))


lib, library_path = _load()


def _declare(name, restype, *argtypes):
    try:
        f = getattr(lib, name)
    except AttributeError:
        raise ImportError("simdnorm: %s (%s) lacks %s(); it is older than this package"
                          % (library_path, _version_of(), name)) from None
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


def _version_of():
    try:
        f = lib.sn_version_string
        f.restype = ctypes.c_char_p
        return f().decode()
    except Exception:  # pragma: no cover - only for the message above
        return "unknown version"


_c_int, _c_uint, _c_char_p = ctypes.c_int, ctypes.c_uint, ctypes.c_char_p
_tensor_p = ctypes.POINTER(SnTensor)

sn_status_string = _declare("sn_status_string", _c_char_p, _c_int)
sn_last_error_detail = _declare("sn_last_error_detail", _c_char_p)
sn_version_string = _declare("sn_version_string", _c_char_p)
sn_version = _declare("sn_version", _c_int)
sn_get_isa = _declare("sn_get_isa", _c_int)
sn_set_isa = _declare("sn_set_isa", _c_int, _c_int)
sn_isa_supported = _declare("sn_isa_supported", _c_int, _c_int)
sn_isa_name = _declare("sn_isa_name", _c_char_p, _c_int)
sn_isa_from_name = _declare("sn_isa_from_name", _c_int, _c_char_p, ctypes.POINTER(_c_int))
sn_set_num_threads = _declare("sn_set_num_threads", _c_int, _c_int)
sn_get_num_threads = _declare("sn_get_num_threads", _c_int)
sn_layer_norm = _declare("sn_layer_norm", _c_int, _tensor_p, _tensor_p,
                         ctypes.POINTER(SnLayerNormOptions))
sn_axes_parse = _declare("sn_axes_parse", _c_int, _c_char_p, _c_char_p,
                         ctypes.POINTER(ctypes.c_ssize_t), ctypes.POINTER(_c_uint))
sn_norm = _declare("sn_norm", _c_int, _tensor_p, _tensor_p, ctypes.POINTER(SnNormOptions))
sn_norm_plan_create = _declare("sn_norm_plan_create", _c_int, _tensor_p, _tensor_p,
                               ctypes.POINTER(SnNormOptions), ctypes.POINTER(ctypes.c_void_p))
sn_norm_plan_execute = _declare("sn_norm_plan_execute", _c_int, ctypes.c_void_p,
                                ctypes.POINTER(SnNormArrays))
sn_norm_plan_destroy = _declare("sn_norm_plan_destroy", None, ctypes.c_void_p)
sn_batch_norm_defaults = _declare("sn_batch_norm_defaults", SnBatchNormOptions, _c_int)
sn_batch_norm_init = _declare("sn_batch_norm_init", _c_int, ctypes.POINTER(SnBatchNormState),
                              ctypes.POINTER(SnBatchNormOptions))
sn_batch_norm = _declare("sn_batch_norm", _c_int, _tensor_p, _tensor_p,
                         ctypes.POINTER(SnBatchNormState), ctypes.POINTER(SnBatchNormOptions),
                         _c_int, ctypes.c_void_p)


def status_message(status, detail=None):
    """The library's sentence for `status`, with the detail when there is one."""
    text = sn_status_string(status).decode("utf-8", "replace")
    if detail:
        text = text.replace(" (see sn_last_error_detail)", "") + ": " + detail
    return text


def error(status, detail=None):
    return ValueError(status_message(status, detail))


class Call:
    """Calls a library entry point and turns a nonzero status into ValueError.

    sn_last_error_detail() is thread-local but is not cleared by later calls,
    so a detail is attached only when it changed during this call (or the
    status is one the library always explains): a stale detail from an older
    error must not be blamed on this one.
    """

    @staticmethod
    def check(function, *args):
        before = sn_last_error_detail()
        status = function(*args)
        if status != SN_OK:
            after = sn_last_error_detail()
            detail = None
            if after and (after != before or status in _ALWAYS_DETAILED):
                detail = after.decode("utf-8", "replace")
            raise error(status, detail)
