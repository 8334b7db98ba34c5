"""Instruction set and thread count (process-wide settings of the library)."""
import ctypes

from . import _arrays, _lib

_ISAS = (0, 1, 2, 3)  # SN_ISA_SCALAR, SN_ISA_AVX2, SN_ISA_AVX512, SN_ISA_NEON


def isa():
    """The ISA whose kernels run now: "scalar", "avx2", "avx512" or "neon"."""
    return _lib.sn_isa_name(_lib.sn_get_isa()).decode()


def supported_isas():
    """The ISAs this CPU and build can run, narrowest first."""
    return [_lib.sn_isa_name(i).decode() for i in _ISAS if _lib.sn_isa_supported(i)]


def set_isa(name):
    """Cap the ISA for every later call in the process (e.g. "scalar" to compare
    kernels). None restores the default: the best the CPU has, capped by the
    SIMDNORM_ISA environment variable if set. ValueError if the name is unknown
    or this CPU/build cannot run it (nothing changes then)."""
    if name is None:
        _lib.Call.check(_lib.sn_set_isa, _lib.SN_ISA_AUTO)
        return
    if not isinstance(name, str):
        raise TypeError("set_isa takes a name or None, got %r" % (name,))
    value = ctypes.c_int(0)
    status = _lib.sn_isa_from_name(_arrays.c_text(name, "isa") if name.isascii() else b"?",
                                   ctypes.byref(value))
    if status != _lib.SN_OK:
        raise ValueError("%s: %r" % (_lib.status_message(status), name))
    status = _lib.sn_set_isa(value.value)
    if status != _lib.SN_OK:
        raise ValueError("%s: %r (supported: %s)"
                         % (_lib.status_message(status), name, ", ".join(supported_isas())))


def get_num_threads():
    """The number of threads a large problem uses now."""
    return _lib.sn_get_num_threads()


def set_num_threads(n):
    """Use n threads (n > 0), or follow OpenMP's setting (OMP_NUM_THREADS) with 0."""
    n = _arrays.c_int(n, "n")
    _lib.Call.check(_lib.sn_set_num_threads, n)
