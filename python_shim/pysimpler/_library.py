"""Locating and loading libsimpler, and the ctypes prototypes of every C function the shim calls.

The prototypes live in two declarative tables (``CONFIG_FUNCTIONS`` and ``HOST_FUNCTIONS``) so that
``tests/test_header.py`` can check each one against ``include/simpler.h``.
"""
from __future__ import annotations

import ctypes
import os
import sys
from ctypes import CFUNCTYPE, POINTER, c_char_p, c_int32, c_size_t, c_uint8, c_void_p
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ._structs import PtoKnobInfo, PtoResolvedConfig, PtoRunTiming, PtoRuntimeConfig
from .errors import LibraryNotFoundError

LIBRARY_NAMES = ("libsimpler.so", "libsimpler.so.0")

_Proto = Tuple[object, List[object]]

#: Configuration API (always exported).
CONFIG_FUNCTIONS: Dict[str, _Proto] = {
    "pto_runtime_config_init": (c_int32, [POINTER(PtoRuntimeConfig)]),
    "pto_runtime_config_set": (c_int32, [POINTER(PtoRuntimeConfig), c_char_p, c_char_p]),
    "pto_runtime_config_validate": (c_int32, [POINTER(PtoRuntimeConfig)]),
    "pto_runtime_config_resolve": (c_int32, [POINTER(PtoRuntimeConfig), POINTER(PtoResolvedConfig)]),
    "pto_runtime_config_knob_count": (c_size_t, []),
    "pto_runtime_config_describe": (c_int32, [c_size_t, POINTER(PtoKnobInfo)]),
    "pto_last_error_message": (c_char_p, []),
    "pto_last_error_code": (c_int32, []),
    "pto_error_name": (c_char_p, [c_int32]),
    "simpler_version": (c_char_p, []),
}

#: ``simpler_log_callback_t``: (level, component, message, userdata).
LOG_CALLBACK = CFUNCTYPE(None, c_int32, c_char_p, c_char_p, c_void_p)

#: Logging API (libsimpler >= 0.1 with logging; optional so an older library still loads).
LOG_FUNCTIONS: Dict[str, _Proto] = {
    "simpler_log_set_level": (c_int32, [c_int32]),
    "simpler_log_get_level": (c_int32, []),
    "simpler_log_set_callback": (c_int32, [LOG_CALLBACK, c_void_p]),
}

#: Host (device-context) API used by ``Worker``.
HOST_FUNCTIONS: Dict[str, _Proto] = {
    "create_device_context": (c_void_p, []),
    "destroy_device_context": (None, [c_void_p]),
    "get_runtime_size": (c_size_t, []),
    "simpler_init_with_config": (
        c_int32,
        [c_void_p, c_int32, POINTER(c_uint8), c_size_t, POINTER(c_uint8), c_size_t, POINTER(c_uint8), c_size_t,
         POINTER(PtoRuntimeConfig)],
    ),
    "simpler_prepare_callable_sized": (c_int32, [c_void_p, c_int32, c_void_p, c_size_t]),
    "run_prepared_with_config": (
        c_int32,
        [c_void_p, c_void_p, c_int32, c_void_p, c_void_p, POINTER(PtoRuntimeConfig), POINTER(PtoRunTiming)],
    ),
    "unregister_callable": (c_int32, [c_void_p, c_int32]),
    "finalize_device": (c_int32, [c_void_p]),
}

def candidate_paths() -> List[Path]:
    """Every place searched, in order (``SIMPLER_LIBRARY`` excluded: it is handled first)."""
    dirs: List[Path] = []
    prefix = os.environ.get("SIMPLER_PREFIX")
    if prefix:
        dirs.append(Path(prefix) / "lib")
    dirs.append(Path(sys.prefix) / "lib")
    here = Path(__file__).resolve().parent
    for parent in [here, *here.parents]:
        for profile in ("release", "debug"):
            d = parent / "target" / profile
            if (d / "libsimpler.so").exists():
                dirs.append(d)
    out: List[Path] = []
    for d in dirs:
        for name in LIBRARY_NAMES:
            out.append(d / name)
    return out


def find_library() -> Path:
    """Path of libsimpler per the documented search order, or ``LibraryNotFoundError``."""
    explicit = os.environ.get("SIMPLER_LIBRARY")
    if explicit:
        p = Path(explicit)
        if p.is_file():
            return p
        raise LibraryNotFoundError([f"SIMPLER_LIBRARY={explicit} (not a file)"])
    tried = candidate_paths()
    for p in tried:
        if p.is_file():
            return p
    raise LibraryNotFoundError([str(p) for p in tried])


def _declare(lib: ctypes.CDLL, table: Dict[str, _Proto], required: bool) -> List[str]:
    missing = []
    for name, (restype, argtypes) in table.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            if required:
                raise
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    return missing


class Library:
    """A loaded libsimpler with typed prototypes."""

    def __init__(self, path: Path):
        self.path = path
        self.cdll = ctypes.CDLL(str(path))
        _declare(self.cdll, CONFIG_FUNCTIONS, required=True)
        self.missing_host_functions = _declare(self.cdll, HOST_FUNCTIONS, required=False)
        self.missing_log_functions = _declare(self.cdll, LOG_FUNCTIONS, required=False)

    @property
    def has_host_api(self) -> bool:
        """Whether every host entry ``Worker`` needs is exported."""
        return not self.missing_host_functions

    def __getattr__(self, name: str):
        return getattr(self.cdll, name)

    def last_error(self) -> Tuple[int, str]:
        """(code, message) of the last failure on this thread."""
        msg = self.cdll.pto_last_error_message()
        return int(self.cdll.pto_last_error_code()), (msg or b"").decode("utf-8", "replace")


_LIBRARY: Optional[Library] = None


def library() -> Library:
    """The process-wide loaded library (loaded on first use)."""
    global _LIBRARY
    if _LIBRARY is None:
        lib = Library(find_library())
        _LIBRARY = lib
        from ._log import install_bridge

        install_bridge(lib)
    return _LIBRARY
