"""pysimpler: Python bindings (ctypes) for libsimpler.

* :class:`RuntimeConfig`: typed, library-validated runtime configuration (``resolve()``,
  ``describe()``, ``to_c()``);
* :class:`CallConfig`: upstream's packed 1172-byte per-run CallConfig;
* :class:`Worker`: a device context that registers ChipCallables and runs them;
* library messages go to the ``logging`` logger ``"pysimpler"``; warnings about environment
  variables are :class:`SimplerEnvWarning` warnings (:func:`set_log_level` sets the library's threshold).
"""
from ._library import Library, find_library, library
from ._log import SimplerEnvWarning, get_log_level, set_log_level
from ._structs import ChipStorageTaskArgs, PtoRunTiming, PtoRuntimeConfig, RuntimeEnv
from ._structs import Tensor as TensorStruct
from .call_config import CallConfig
from .callable import ArgDirection, build_chip_callable
from .config import KnobInfo, Resolved, RuntimeConfig, describe
from .errors import LibraryNotFoundError, SimplerConfigError, SimplerError, SimplerHostApiError
from .worker import DataType, RunTiming, Tensor, Worker

__version__ = "0.1.0"


def library_version() -> str:
    """Version of the loaded libsimpler (``simpler_version()``, "MAJOR.MINOR.PATCH")."""
    return (library().simpler_version() or b"").decode("utf-8", "replace")


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
    "SimplerEnvWarning",
    "SimplerError",
    "SimplerHostApiError",
    "Tensor",
    "TensorStruct",
    "Worker",
    "build_chip_callable",
    "describe",
    "find_library",
    "get_log_level",
    "library",
    "library_version",
    "set_log_level",
]
