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

#: PTO_BUILD_MODE_* values of the ``build_mode`` knob (aicpu_build_graph).
BUILD_MODES = {0: "sequential", 1: "concurrent"}

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
    """The knob's value in the library's text syntax (the environment variable's syntax). Only the
    spelling is decided here; the library checks the value."""
    if knob == "orch_to_sched" and isinstance(value, bool):
        return "true" if value else "false"
    if knob == "build_mode" and isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)  # not an integer to the library: rejected with its message
    if knob in RING_KNOBS and isinstance(value, (list, tuple)):
        return ",".join(_text(knob, v) for v in value)
    if hasattr(value, "__index__") and not isinstance(value, (str, bytes)):
        return str(value.__index__())  # type: ignore[union-attr]
    return str(value)


@dataclass(frozen=True)
class Resolved:
    """One effective value and where it came from (``default``, ``env``, ``env_per_ring``,
    ``explicit`` or ``explicit_per_ring``). ``runtime`` is ``None`` when no override is set
    (each callable runs on the variant its orchestration binary implements); ``build_mode`` is
    ``"sequential"`` or ``"concurrent"``."""

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


#: Knob names in schema order (the keywords and attributes of :class:`RuntimeConfig`).
KNOBS = ("ring_task_window", "ring_heap", "ring_dep_pool", "ready_queue_shards", "orch_to_sched",
         "build_mode", "scheduler_timeout_ms", "runtime")

#: Upstream's plural per-ring names (``RuntimeEnv.ring_*s``, ``pto_runtime_config_t.ring_*s``), accepted as
#: aliases of the knob names.
ALIASES = {"ring_task_windows": "ring_task_window", "ring_heaps": "ring_heap", "ring_dep_pools": "ring_dep_pool"}

_Value = Union[None, int, bool, str, List[int]]


def _knob(name: str) -> str:
    knob = ALIASES.get(name, name)
    if knob not in KNOBS:
        raise AttributeError(
            f"RuntimeConfig has no knob {name!r}: knobs are {', '.join(KNOBS)} (aliases {', '.join(ALIASES)})"
        )
    return knob


def _fresh() -> PtoRuntimeConfig:
    c = PtoRuntimeConfig()
    rc = library().pto_runtime_config_init(ctypes.byref(c))
    if rc != PTO_OK:
        raise_last(rc, "pto_runtime_config_init")
    return c


def _copy(c: PtoRuntimeConfig) -> PtoRuntimeConfig:
    out = PtoRuntimeConfig()
    ctypes.memmove(ctypes.byref(out), ctypes.byref(c), ctypes.sizeof(out))
    return out


def _set_text(c: PtoRuntimeConfig, knob: str, text: str, what: str) -> None:
    rc = library().pto_runtime_config_set(ctypes.byref(c), knob.encode("utf-8"), text.encode("utf-8"))
    if rc != PTO_OK:
        raise_last(rc, what)


def _assign(c: PtoRuntimeConfig, knob: str, value: object) -> None:
    """Replaces knob ``knob`` of ``c`` by ``value`` (None = unset), validated by the library."""
    what = f"RuntimeConfig({knob}={value!r})"
    _set_text(c, knob, "unset", what)
    if value is not None:
        _set_text(c, knob, _text(knob, value), what)


def _read(c: PtoRuntimeConfig, knob: str) -> _Value:
    """The explicit value of ``knob`` in ``c``: None (unset), an int (all rings), a list of 4 ints
    (per ring, 0 = unset), a bool or a runtime name."""
    if knob in RING_KNOBS:
        scalar = int(getattr(c, knob))
        per_ring = [int(v) for v in getattr(c, knob + "s")]
        if any(per_ring):
            return [v or scalar for v in per_ring]
        return scalar or None
    if knob == "orch_to_sched":
        return None if c.orch_to_sched < 0 else bool(c.orch_to_sched)
    if knob == "runtime":
        return RUNTIMES.get(int(c.runtime)) if c.runtime else None
    if knob == "build_mode":
        return BUILD_MODES.get(int(c.build_mode)) if c.build_mode >= 0 else None
    return int(getattr(c, knob)) or None


class RuntimeConfig:
    """Explicit runtime configuration, a value object: unset knobs (None) fall through to the
    environment, then the defaults.

    Ring knobs take an int (all rings) or a list of exactly four ints (ring 0..3); ``0`` means unset
    everywhere (a 0 entry leaves that ring unset). ``ring_task_windows``, ``ring_heaps`` and
    ``ring_dep_pools`` (upstream's plural names) are aliases. Every value is validated by the library,
    on construction and on assignment (``cfg.ring_heap = 4096``); an invalid value raises
    ``ValueError`` (``SimplerConfigError``) with the library's message and leaves the object unchanged.
    ``build_mode`` (aicpu_build_graph) takes ``"sequential"``/``0`` or ``"concurrent"``/``1`` and reads
    back as the name.
    Unknown attributes raise ``AttributeError``. Equal configurations compare and hash equal;
    ``repr`` is a constructor call.
    """

    __slots__ = ("_c",)

    def __init__(
        self,
        ring_task_window: Optional[RingValue] = None,
        ring_heap: Optional[RingValue] = None,
        ring_dep_pool: Optional[RingValue] = None,
        ready_queue_shards: Optional[int] = None,
        orch_to_sched: Optional[bool] = None,
        scheduler_timeout_ms: Optional[int] = None,
        runtime: Optional[str] = None,
        build_mode: Union[None, int, str] = None,
        *,
        ring_task_windows: Optional[RingValue] = None,
        ring_heaps: Optional[RingValue] = None,
        ring_dep_pools: Optional[RingValue] = None,
    ):
        values: Dict[str, object] = {
            "ring_task_window": ring_task_window,
            "ring_heap": ring_heap,
            "ring_dep_pool": ring_dep_pool,
            "ready_queue_shards": ready_queue_shards,
            "orch_to_sched": orch_to_sched,
            "scheduler_timeout_ms": scheduler_timeout_ms,
            "runtime": runtime,
            "build_mode": build_mode,
        }
        for alias, value in (("ring_task_windows", ring_task_windows), ("ring_heaps", ring_heaps),
                             ("ring_dep_pools", ring_dep_pools)):
            if value is not None:
                knob = ALIASES[alias]
                if values[knob] is not None:
                    raise TypeError(f"RuntimeConfig got both {knob} and its alias {alias}")
                values[knob] = value
        c = _fresh()
        for knob, value in values.items():
            if value is not None:
                _set_text(c, knob, _text(knob, value), f"RuntimeConfig({knob}={value!r})")
        _validate(c, "RuntimeConfig")
        object.__setattr__(self, "_c", c)

    # -- the value object --------------------------------------------------------------------------

    def __getattr__(self, name: str) -> _Value:
        if name.startswith("_"):
            raise AttributeError(name)
        return _read(self._c, _knob(name))

    def __setattr__(self, name: str, value: object) -> None:
        knob = _knob(name)
        c = _copy(self._c)
        _assign(c, knob, value)
        _validate(c, f"RuntimeConfig.{name}")
        object.__setattr__(self, "_c", c)

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def as_dict(self) -> Dict[str, _Value]:
        """The set knobs, by name, in schema order."""
        return {k: v for k in KNOBS if (v := _read(self._c, k)) is not None}

    def _key(self) -> tuple:
        return tuple(tuple(v) if isinstance(v, list) else v for v in (_read(self._c, k) for k in KNOBS))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RuntimeConfig):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items())
        return f"RuntimeConfig({inner})"

    def __reduce__(self):
        return (_from_dict, (self.as_dict(),))

    def __copy__(self) -> "RuntimeConfig":
        return _from_dict(self.as_dict())

    def __deepcopy__(self, memo: dict) -> "RuntimeConfig":
        return _from_dict(self.as_dict())

    # -- library calls -----------------------------------------------------------------------------

    def set(self, knob: str, value: object) -> "RuntimeConfig":
        """Replaces one knob (by name, alias or environment variable) with ``value`` (None = unset),
        through ``pto_runtime_config_set``; returns ``self``."""
        name = ALIASES.get(knob, knob)
        c = _copy(self._c)
        _assign(c, name, value)
        _validate(c, f"RuntimeConfig.set({knob!r})")
        object.__setattr__(self, "_c", c)
        return self

    def validate(self) -> None:
        """Checks every set value against its rule (``pto_runtime_config_validate``)."""
        _validate(self._c, "RuntimeConfig")

    def to_c(self) -> PtoRuntimeConfig:
        """A copy of the C struct (``pto_runtime_config_t``)."""
        return _copy(self._c)

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
            elif kind == "build_mode":
                value = BUILD_MODES.get(int(v.value), str(v.value))
            elif kind == "runtime":
                # 0 = no override: each callable's orchestration binary decides its variant.
                value = None if int(v.value) == 0 else RUNTIMES.get(int(v.value), str(v.value))
            return Resolved(value, SOURCES.get(int(v.source), str(v.source)))

        out: Dict[str, Union[Resolved, List[Resolved]]] = {}
        for knob in RING_KNOBS:
            out[knob] = [one(getattr(res, knob + "s")[r]) for r in range(RING_COUNT)]
        out["ready_queue_shards"] = one(res.ready_queue_shards)
        out["orch_to_sched"] = one(res.orch_to_sched, "bool")
        out["build_mode"] = one(res.build_mode, "build_mode")
        out["scheduler_timeout_ms"] = one(res.scheduler_timeout_ms)
        out["runtime"] = one(res.runtime, "runtime")
        return out

    @staticmethod
    def describe() -> List[KnobInfo]:
        """The configuration schema (see :func:`describe`)."""
        return describe()


def _validate(c: PtoRuntimeConfig, what: str) -> None:
    rc = library().pto_runtime_config_validate(ctypes.byref(c))
    if rc != PTO_OK:
        raise_last(rc, what)


def _from_dict(values: Dict[str, _Value]) -> RuntimeConfig:
    return RuntimeConfig(**values)  # type: ignore[arg-type]
