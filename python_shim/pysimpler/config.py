"""Typed runtime configuration, validated by libsimpler itself.

Every value goes through ``pto_runtime_config_set`` / ``pto_runtime_config_validate``: the rules
(ranges, powers of two, ring counts) live only in the library, and its error message is the one
raised here.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

from ._library import library
from ._structs import RING_COUNT, PtoKnobInfo, PtoResolvedConfig, PtoRuntimeConfig
from .errors import SimplerConfigError, SimplerError

#: ``PTO_*`` codes of pto_error_code_t that mean "this configuration value is wrong".
PTO_OK = 0
PTO_ERR_INVALID_VALUE = -1002
PTO_ERR_UNKNOWN_KNOB = -1003
PTO_ERR_PARSE = -1004
CONFIG_VALUE_ERRORS = (PTO_ERR_INVALID_VALUE, PTO_ERR_UNKNOWN_KNOB, PTO_ERR_PARSE)

#: pto_config_source_t values, by name.
SOURCES = {0: "default", 1: "env", 2: "env_per_ring", 3: "explicit", 4: "explicit_per_ring"}

#: PTO_RUNTIME_* values of the ``runtime`` knob.
RUNTIMES = {1: "tensormap_and_ringbuffer", 2: "host_build_graph", 3: "aicpu_build_graph"}

RING_KNOBS = ("ring_task_window", "ring_heap", "ring_dep_pool")
SCALAR_KNOBS = ("ready_queue_shards", "scheduler_timeout_ms")

RingValue = Union[int, Sequence[int]]


def raise_last(rc: int, what: str) -> None:
    """Raises the library's last error for a failed call (``rc`` != 0)."""
    code, message = library().last_error()
    code = code or rc
    text = f"{what}: {message}" if message else f"{what} failed with code {rc}"
    if code in CONFIG_VALUE_ERRORS or rc in CONFIG_VALUE_ERRORS:
        raise SimplerConfigError(rc, text)
    raise SimplerError(rc, text)


def _text(knob: str, value: object) -> str:
    """The knob's value in the library's text syntax (the environment variable's syntax)."""
    if knob == "orch_to_sched" and isinstance(value, bool):
        return "true" if value else "false"
    if knob in RING_KNOBS and isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Resolved:
    """One effective value and where it came from (``default``, ``env``, ``env_per_ring``,
    ``explicit`` or ``explicit_per_ring``). ``runtime`` is ``None`` when no override is set
    (each callable runs on the variant its orchestration binary implements)."""

    value: Union[int, bool, str, None]
    source: str


@dataclass(frozen=True)
class KnobInfo:
    """Schema entry of one knob (from ``pto_runtime_config_describe``)."""

    name: str
    env: str
    shape: str
    rule: str
    default: str
    tier: str
    unit: str
    doc: str
    per_ring: bool
    per_device: bool


def describe() -> List[KnobInfo]:
    """The configuration schema, as the library declares it."""
    lib = library()
    out = []
    for i in range(lib.pto_runtime_config_knob_count()):
        info = PtoKnobInfo()
        rc = lib.pto_runtime_config_describe(i, ctypes.byref(info))
        if rc != PTO_OK:
            raise_last(rc, "pto_runtime_config_describe")

        def s(b: Optional[bytes]) -> str:
            return (b or b"").decode("utf-8", "replace")

        out.append(
            KnobInfo(
                name=s(info.name), env=s(info.env), shape=s(info.shape), rule=s(info.rule),
                default=s(info.default_value), tier=s(info.tier), unit=s(info.unit), doc=s(info.doc),
                per_ring=bool(info.per_ring), per_device=bool(info.per_device),
            )
        )
    return out


class RuntimeConfig:
    """Explicit runtime configuration; unset knobs fall through to the environment, then defaults.

    Ring knobs take an int (all rings) or a list of exactly four ints (ring 0..3, 0 = unset).
    Invalid values raise ``ValueError`` (``SimplerConfigError``) with the library's message.
    """

    def __init__(
        self,
        ring_task_window: Optional[RingValue] = None,
        ring_heap: Optional[RingValue] = None,
        ring_dep_pool: Optional[RingValue] = None,
        ready_queue_shards: Optional[int] = None,
        orch_to_sched: Optional[bool] = None,
        scheduler_timeout_ms: Optional[int] = None,
        runtime: Optional[str] = None,
    ):
        lib = library()
        self._c = PtoRuntimeConfig()
        rc = lib.pto_runtime_config_init(ctypes.byref(self._c))
        if rc != PTO_OK:
            raise_last(rc, "pto_runtime_config_init")
        values = {
            "ring_task_window": ring_task_window,
            "ring_heap": ring_heap,
            "ring_dep_pool": ring_dep_pool,
            "ready_queue_shards": ready_queue_shards,
            "orch_to_sched": orch_to_sched,
            "scheduler_timeout_ms": scheduler_timeout_ms,
            "runtime": runtime,
        }
        self._given = {k: v for k, v in values.items() if v is not None}
        for knob, value in self._given.items():
            self.set(knob, value)
        self.validate()

    def set(self, knob: str, value: object) -> "RuntimeConfig":
        """Sets one knob (by name or environment variable) through ``pto_runtime_config_set``."""
        rc = library().pto_runtime_config_set(
            ctypes.byref(self._c), knob.encode("utf-8"), _text(knob, value).encode("utf-8")
        )
        if rc != PTO_OK:
            raise_last(rc, f"RuntimeConfig({knob}={value!r})")
        self._given[knob] = value
        return self

    def validate(self) -> None:
        """Checks every set value against its rule (``pto_runtime_config_validate``)."""
        rc = library().pto_runtime_config_validate(ctypes.byref(self._c))
        if rc != PTO_OK:
            raise_last(rc, "RuntimeConfig")

    def to_c(self) -> PtoRuntimeConfig:
        """A copy of the C struct (``pto_runtime_config_t``)."""
        out = PtoRuntimeConfig()
        ctypes.memmove(ctypes.byref(out), ctypes.byref(self._c), ctypes.sizeof(out))
        return out

    def resolve(self) -> Dict[str, Union[Resolved, List[Resolved]]]:
        """Effective value and source of every knob (per ring for ring knobs), against the current
        process environment."""
        res = PtoResolvedConfig()
        res.struct_size = ctypes.sizeof(res)
        rc = library().pto_runtime_config_resolve(ctypes.byref(self._c), ctypes.byref(res))
        if rc != PTO_OK:
            raise_last(rc, "pto_runtime_config_resolve")

        def one(v, kind: str = "int") -> Resolved:
            value: Union[int, bool, str, None] = int(v.value)
            if kind == "bool":
                value = bool(v.value)
            elif kind == "runtime":
                # 0 = no override: each callable's orchestration binary decides its variant.
                value = None if int(v.value) == 0 else RUNTIMES.get(int(v.value), str(v.value))
            return Resolved(value, SOURCES.get(int(v.source), str(v.source)))

        out: Dict[str, Union[Resolved, List[Resolved]]] = {}
        for knob in RING_KNOBS:
            out[knob] = [one(getattr(res, knob)[r]) for r in range(RING_COUNT)]
        out["ready_queue_shards"] = one(res.ready_queue_shards)
        out["orch_to_sched"] = one(res.orch_to_sched, "bool")
        out["scheduler_timeout_ms"] = one(res.scheduler_timeout_ms)
        out["runtime"] = one(res.runtime, "runtime")
        return out

    @staticmethod
    def describe() -> List[KnobInfo]:
        """The configuration schema (see :func:`describe`)."""
        return describe()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._given.items())
        return f"RuntimeConfig({inner})"
