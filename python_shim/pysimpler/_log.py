"""Routes libsimpler's messages into Python: warnings about the environment (component ``env``:
ignored, look-alike and misspelled variables) become :class:`SimplerEnvWarning` warnings, everything
else goes to the ``logging`` logger ``"pysimpler"``.

The bridge is installed when the library is loaded (``simpler_log_set_callback``). The library's own
threshold still filters first: :func:`set_log_level` changes it (``SIMPLER_LOG_LEVEL`` sets it before
the first message).
"""
from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Optional, Union

if TYPE_CHECKING:
    from ._library import Library

logger = logging.getLogger("pysimpler")

#: simpler_log_level_t values.
OFF, ERROR, WARN, INFO, DEBUG, TRACE = range(6)
LEVEL_NAMES = ("off", "error", "warn", "info", "debug", "trace")
#: Python logging level of each library level (trace is below DEBUG).
TRACE_LOGGING_LEVEL = 5
_TO_LOGGING = {ERROR: logging.ERROR, WARN: logging.WARNING, INFO: logging.INFO, DEBUG: logging.DEBUG,
               TRACE: TRACE_LOGGING_LEVEL}


class SimplerEnvWarning(UserWarning):
    """libsimpler ignored an environment variable, read one differently than its text suggests, or
    found one that looks misspelled."""


_callback = None  # the ctypes callback object: must stay alive while installed


def _on_message(level: int, component: Optional[bytes], message: Optional[bytes], _userdata: object) -> None:
    try:
        comp = (component or b"").decode("utf-8", "replace")
        text = (message or b"").decode("utf-8", "replace")
        if comp == "env" and level == WARN:
            try:
                warnings.warn(text, SimplerEnvWarning, stacklevel=2)
                return
            except Exception:  # noqa: BLE001 - warnings configured as errors: still log it
                pass
        logger.log(_TO_LOGGING.get(level, logging.WARNING), "%s: %s", comp, text)
    except Exception:  # noqa: BLE001 - never raise into the C caller
        pass


def install_bridge(lib: "Library") -> bool:
    """Routes the library's messages into Python (idempotent). False if the library lacks the API."""
    global _callback
    if lib.missing_log_functions:
        return False
    from ._library import LOG_CALLBACK

    if _callback is None:
        _callback = LOG_CALLBACK(_on_message)
    return lib.cdll.simpler_log_set_callback(_callback, None) == 0


def remove_bridge() -> None:
    """Restores the library's stderr output."""
    from ._library import library

    from ._library import LOG_CALLBACK

    lib = library()
    if not lib.missing_log_functions:
        lib.cdll.simpler_log_set_callback(LOG_CALLBACK(), None)  # a NULL function pointer


def _level_value(level: Union[str, int]) -> int:
    if isinstance(level, str):
        name = level.strip().lower()
        name = "warn" if name == "warning" else name
        if name not in LEVEL_NAMES:
            raise ValueError(f"log level {level!r} is invalid: must be one of {', '.join(LEVEL_NAMES)} (any case)")
        return LEVEL_NAMES.index(name)
    if isinstance(level, bool) or not isinstance(level, int):
        raise TypeError(f"log level must be a name or a logging level int, got {type(level).__name__}")
    # A Python logging level: the most verbose library level it lets through.
    for lib_level, py_level in ((TRACE, TRACE_LOGGING_LEVEL), (DEBUG, logging.DEBUG), (INFO, logging.INFO),
                                (WARN, logging.WARNING), (ERROR, logging.CRITICAL)):
        if level <= py_level:
            return lib_level
    return OFF


def set_log_level(level: Union[str, int]) -> None:
    """Sets libsimpler's threshold: a name (``off``, ``error``, ``warn``, ``info``, ``debug``,
    ``trace``; any case) or a ``logging`` level (``logging.DEBUG`` -> debug, ...)."""
    from ._library import library
    from .config import raise_last

    lib = library()
    rc = lib.cdll.simpler_log_set_level(_level_value(level))
    if rc != 0:
        raise_last(rc, "simpler_log_set_level")


def get_log_level() -> str:
    """libsimpler's current threshold, by name."""
    from ._library import library

    return LEVEL_NAMES[int(library().cdll.simpler_log_get_level())]
