"""simdnorm: RETURNN's normalization layers (layer_norm, norm, batch_norm) on
numpy float32 arrays, computed by the SIMD kernels of libsimdnorm.

The package is a thin ctypes layer over the shared library: arrays are passed
to it without copies (any non-negative strides), the GIL is released during
each call, and every library error is raised as ValueError with the library's
message. See README.md in this directory.
"""
from . import _lib
from ._batch_norm import BatchNorm
from ._layers import NormPlan, layer_norm, norm
from ._runtime import get_num_threads, isa, set_isa, set_num_threads, supported_isas

__version__ = _lib.sn_version_string().decode()
library_path = _lib.library_path
"""The path (or name) of the shared library that was loaded."""

__all__ = ["__version__", "BatchNorm", "NormPlan", "get_num_threads", "isa", "layer_norm",
           "library_path", "norm", "set_isa", "set_num_threads", "supported_isas"]
