"""Exceptions raised by pysimpler."""
from __future__ import annotations

from typing import List


class LibraryNotFoundError(OSError):
    """libsimpler could not be found; ``searched`` lists every place that was tried, in order."""

    def __init__(self, searched: List[str]):
        self.searched = list(searched)
        lines = "\n  ".join(self.searched)
        super().__init__(
            "libsimpler not found. Set SIMPLER_LIBRARY to the library file, or SIMPLER_PREFIX to its install "
            f"prefix. Searched, in order:\n  {lines}"
        )


class SimplerError(RuntimeError):
    """A libsimpler call failed: ``code`` is the library's return value / error code, ``message`` its text."""

    def __init__(self, code: int, message: str):
        self.code = int(code)
        self.message = message
        super().__init__(f"[{self.code}] {message}")


class SimplerConfigError(SimplerError, ValueError):
    """An invalid configuration value (raised by the library's validation, with its message)."""


class SimplerHostApiError(SimplerError):
    """The loaded libsimpler does not export the host entries ``Worker`` needs."""
