"""Upstream's per-run ``CallConfig`` (packed, 1172 bytes), with upstream's field names and defaults."""
from __future__ import annotations

import ctypes
from typing import Union

from ._library import library
from ._structs import OUTPUT_PREFIX_SIZE, RING_COUNT, CallConfigStruct, PtoRuntimeConfig, RuntimeEnv, checked_int
from .config import PTO_OK, raise_last

DIAGNOSTIC_FLAGS = ("enable_l2_swimlane", "enable_dump_tensor", "enable_pmu", "enable_dep_gen", "enable_scope_stats")

OUTPUT_PREFIX_MESSAGE = (
    "CallConfig: output_prefix must be set whenever any of enable_l2_swimlane / enable_dump_tensor / "
    "enable_pmu / enable_dep_gen / enable_scope_stats is enabled"
)


_INT_FIELDS = {f[0]: f[1] for f in CallConfigStruct._fields_[:7]}
#: Upstream's bool spelling of the diagnostic levels: True means this level.
_BOOL_LEVELS = {"enable_l2_swimlane": 4, "enable_dump_tensor": 1}


class CallConfig(CallConfigStruct):
    """``CallConfig`` (upstream call_config.h @ c68d9bbe6). Keyword arguments set fields; ``output_prefix`` takes ``str``
    or ``bytes``; ``runtime_env`` is the nested packed ``RuntimeEnv`` (assigning one copies it).

    Assignments are name- and range-checked: an unknown field raises ``AttributeError``, an int
    field (``block_dim``, ``aicpu_thread_num``, ``enable_*``) takes an int that fits int32 (else
    ``ValueError``; ctypes would wrap it), ``enable_l2_swimlane = True`` means 4 and
    ``enable_dump_tensor = True`` means 1 (upstream)."""

    def __init__(self, **kwargs: object):
        super().__init__()
        self.aicpu_thread_num = 3
        for name, value in kwargs.items():
            if name not in _INT_FIELDS and name not in ("runtime_env", "output_prefix"):
                raise TypeError(f"CallConfig has no field {name!r}")
            setattr(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        if name in _INT_FIELDS:
            if isinstance(value, bool) and name in _BOOL_LEVELS:
                value = _BOOL_LEVELS[name] if value else 0
            super().__setattr__(name, checked_int("CallConfig", name, value, _INT_FIELDS[name]))
        elif name == "runtime_env":
            if not isinstance(value, RuntimeEnv):
                raise TypeError(f"CallConfig.runtime_env must be a RuntimeEnv, got {type(value).__name__}")
            super().__setattr__(name, value)
        elif name == "output_prefix":
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]
            if len(raw) >= OUTPUT_PREFIX_SIZE:
                raise ValueError(f"CallConfig.output_prefix length {len(raw)} exceeds buffer (1023 bytes)")
            if b"\0" in raw:
                raise ValueError("CallConfig.output_prefix must not contain NUL bytes")
            super().__setattr__(name, raw)
        else:
            raise AttributeError(
                f"CallConfig has no field {name!r}: fields are {', '.join(f[0] for f in CallConfigStruct._fields_)}"
            )

    def set_output_prefix(self, prefix: Union[str, bytes]) -> None:
        """Sets ``output_prefix`` (NUL-terminated, at most 1023 bytes)."""
        self.output_prefix = prefix  # type: ignore[assignment]

    def validate(self) -> None:
        """Upstream's ``CallConfig::validate``: diagnostics need an output prefix; the ring values of
        ``runtime_env`` are checked by the library (``ValueError`` with its message)."""
        if any(getattr(self, f) != 0 for f in DIAGNOSTIC_FLAGS) and not self.output_prefix:
            raise ValueError(OUTPUT_PREFIX_MESSAGE)
        lib = library()
        c = PtoRuntimeConfig()
        rc = lib.pto_runtime_config_init(ctypes.byref(c))
        if rc != PTO_OK:
            raise_last(rc, "pto_runtime_config_init")
        env = self.runtime_env
        c.ring_task_window, c.ring_heap, c.ring_dep_pool = env.ring_task_window, env.ring_heap, env.ring_dep_pool
        for r in range(RING_COUNT):
            c.ring_task_windows[r] = env.ring_task_windows[r]
            c.ring_heaps[r] = env.ring_heaps[r]
            c.ring_dep_pools[r] = env.ring_dep_pools[r]
        rc = lib.pto_runtime_config_validate(ctypes.byref(c))
        if rc != PTO_OK:
            raise_last(rc, "CallConfig.runtime_env")

    def __repr__(self) -> str:
        ints = ", ".join(f"{f[0]}={getattr(self, f[0])}" for f in CallConfigStruct._fields_[:7])
        return f"CallConfig({ints}, output_prefix={self.output_prefix!r})"
