"""pysimpler: Python bindings (ctypes) for libsimpler.

* :class:`RuntimeConfig`: typed, library-validated runtime configuration (``resolve()``,
  ``describe()``, ``to_c()``);
* :class:`CallConfig`: upstream's packed 1172-byte per-run CallConfig;
* :class:`Worker`: a device context that registers ChipCallables and runs them.
"""
from ._library import Library, find_library, library
from ._structs import ChipStorageTaskArgs, PtoRunTiming, PtoRuntimeConfig, RuntimeEnv
from ._structs import Tensor as TensorStruct
from .call_config import CallConfig
from .callable import ArgDirection, build_chip_callable
from .config import KnobInfo, Resolved, RuntimeConfig, describe
from .errors import LibraryNotFoundError, SimplerConfigError, SimplerError, SimplerHostApiError
from .worker import DataType, RunTiming, Tensor, Worker

__version__ = "0.1.0"

__all__ = [
    "ArgDirection",
    "CallConfig",
    "ChipStorageTaskArgs",
    "DataType",
    "KnobInfo",
    "Library",
    "LibraryNotFoundError",
    "PtoRunTiming",
    "PtoRuntimeConfig",
    "Resolved",
    "RunTiming",
    "RuntimeConfig",
    "RuntimeEnv",
    "SimplerConfigError",
    "SimplerError",
    "SimplerHostApiError",
    "Tensor",
    "TensorStruct",
    "Worker",
    "build_chip_callable",
    "describe",
    "find_library",
    "library",
]
