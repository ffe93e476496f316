"""ctypes mirrors of the C structures the shim exchanges with libsimpler.

``pto_*`` structures mirror ``include/simpler.h`` (checked by ``tests/test_header.py``); the ABI
structures (``Tensor``, ``ChipStorageTaskArgs``, ``CallConfig``, ``RuntimeEnv``) mirror upstream's
layouts (upstream task_interface headers @ c68d9bbe6; checked by ``tests/test_layouts.py``).
"""
from __future__ import annotations

import ctypes
import operator
from ctypes import c_char, c_char_p, c_int32, c_uint8, c_uint32, c_uint64
from typing import Any, Sequence, Tuple

RING_COUNT = 4
MAX_TENSOR_DIMS = 5
CHIP_MAX_TENSOR_ARGS = 128
CHIP_MAX_SCALAR_ARGS = 128


class PtoRuntimeConfig(ctypes.Structure):
    """``pto_runtime_config_t``."""

    _fields_ = [
        ("struct_size", c_uint64),
        ("ring_task_window", c_uint64),
        ("ring_heap", c_uint64),
        ("ring_dep_pool", c_uint64),
        ("ring_task_windows", c_uint64 * RING_COUNT),
        ("ring_heaps", c_uint64 * RING_COUNT),
        ("ring_dep_pools", c_uint64 * RING_COUNT),
        ("ready_queue_shards", c_uint64),
        ("scheduler_timeout_ms", c_uint64),
        ("orch_to_sched", c_int32),
        ("runtime", c_int32),
        ("build_mode", c_int32),
    ]


class PtoResolvedValue(ctypes.Structure):
    """``pto_resolved_value_t``."""

    _fields_ = [("value", c_uint64), ("source", c_int32), ("reserved", c_uint32)]


class PtoResolvedConfig(ctypes.Structure):
    """``pto_resolved_config_t``."""

    _fields_ = [
        ("struct_size", c_uint64),
        ("ring_task_windows", PtoResolvedValue * RING_COUNT),
        ("ring_heaps", PtoResolvedValue * RING_COUNT),
        ("ring_dep_pools", PtoResolvedValue * RING_COUNT),
        ("ready_queue_shards", PtoResolvedValue),
        ("orch_to_sched", PtoResolvedValue),
        ("scheduler_timeout_ms", PtoResolvedValue),
        ("runtime", PtoResolvedValue),
        ("build_mode", PtoResolvedValue),
    ]


class PtoKnobInfo(ctypes.Structure):
    """``pto_knob_info_t``."""

    _fields_ = [
        ("name", c_char_p),
        ("env", c_char_p),
        ("shape", c_char_p),
        ("rule", c_char_p),
        ("default_value", c_char_p),
        ("tier", c_char_p),
        ("unit", c_char_p),
        ("doc", c_char_p),
        ("per_ring", c_int32),
        ("per_device", c_int32),
    ]


class PtoRunTiming(ctypes.Structure):
    """``PtoRunTiming`` (upstream src/common/worker/pto_runtime_c_api.h @ c68d9bbe6): 16 bytes."""

    _fields_ = [("host_wall_ns", c_uint64), ("device_wall_ns", c_uint64)]


class Tensor(ctypes.Structure):
    """Upstream ``Tensor`` (src/common/task_interface/tensor.h @ c68d9bbe6): 128 bytes (64-aligned where the shim allocates it)."""

    _fields_ = [
        ("addr", c_uint64),
        ("size", c_uint64),
        ("owner_task_id", c_uint64),
        ("start_offset", c_uint64),
        ("version", c_int32),
        ("ndims", c_uint32),
        ("dtype", c_uint8),
        ("manual_dep", c_uint8),
        ("is_contiguous", c_uint8),
        ("child_memory", c_uint8),
        ("shapes", c_uint32 * MAX_TENSOR_DIMS),
        ("extent_elem_cache", c_uint64),
        ("strides", c_uint32 * MAX_TENSOR_DIMS),
        ("_pad_cl2", c_uint8 * 36),
    ]


class ChipStorageTaskArgs(ctypes.Structure):
    """Upstream ``ChipStorageTaskArgs`` (TaskArgsTpl<Tensor, uint64_t, 128, 128> @ c68d9bbe6): 17472 bytes."""

    _fields_ = [
        ("tensors", Tensor * CHIP_MAX_TENSOR_ARGS),
        ("scalars", c_uint64 * CHIP_MAX_SCALAR_ARGS),
        ("tensor_count", c_int32),
        ("scalar_count", c_int32),
        ("_tail", c_uint8 * 56),
    ]


#: Inclusive value range of the integer C types the shim writes.
_RANGES = {
    c_int32: (-(1 << 31), (1 << 31) - 1, "int32"),
    c_uint32: (0, (1 << 32) - 1, "uint32"),
    c_uint64: (0, (1 << 64) - 1, "uint64"),
}


def checked_int(owner: str, name: str, value: Any, ctype: Any) -> int:
    """``value`` as an int in the range of ``ctype``: ``TypeError`` for a non-integer, ``ValueError``
    for a value the C field cannot hold (ctypes would wrap it silently)."""
    try:
        v = operator.index(value)
    except TypeError:
        raise TypeError(f"{owner}.{name} must be an int, got {type(value).__name__} {value!r}") from None
    lo, hi, cname = _RANGES[ctype]
    if not lo <= v <= hi:
        raise ValueError(f"{owner}.{name} = {v} is out of range: it must fit {cname}, [{lo}, {hi}]")
    return v


def checked_ring_list(owner: str, name: str, value: Any) -> Tuple[int, ...]:
    """Exactly ``RING_COUNT`` uint64 values (upstream's message on a wrong length)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{owner}.{name} must be a sequence of {RING_COUNT} ints, got {type(value).__name__}")
    if len(value) != RING_COUNT:
        raise ValueError(f"{owner}.{name} must contain exactly {RING_COUNT} entries (got {len(value)})")
    return tuple(checked_int(owner, f"{name}[{i}]", v, c_uint64) for i, v in enumerate(value))


class RingArray:
    """A write-through view of one ``uint64_t[4]`` field whose item assignments are range-checked."""

    __slots__ = ("_owner", "_name", "_arr")

    def __init__(self, owner: str, name: str, arr: Any):
        self._owner, self._name, self._arr = owner, name, arr

    def __len__(self) -> int:
        return RING_COUNT

    def __getitem__(self, i: int) -> int:
        return int(self._arr[i])

    def __setitem__(self, i: int, value: Any) -> None:
        if not -RING_COUNT <= operator.index(i) < RING_COUNT:
            raise IndexError(f"{self._owner}.{self._name} index {i} is out of range [0, {RING_COUNT})")
        self._arr[i] = checked_int(self._owner, f"{self._name}[{i}]", value, c_uint64)

    def __iter__(self):
        return iter([int(v) for v in self._arr])

    def __eq__(self, other: object) -> bool:
        try:
            return list(self) == list(other)  # type: ignore[call-overload]
        except TypeError:
            return NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))


class RuntimeEnv(ctypes.Structure):
    """Upstream ``RuntimeEnv`` (call_config.h @ c68d9bbe6): 15 ``uint64_t``, packed, 120 bytes.

    Assignments are range- and name-checked: a negative or a value above 2^64-1 raises ``ValueError``
    (no silent wrap), an unknown name ``AttributeError``. ``ring_*s`` take exactly 4 ints; the scalar
    ``ring_*`` fields also take a list of 4, which sets the per-ring array (upstream's later
    int-or-list field). 0 = unset everywhere; the values' rules are checked by the library
    (``CallConfig.validate()``, run by ``Worker.run``).
    """

    _pack_ = 1
    _fields_ = [
        ("ring_task_window", c_uint64),
        ("ring_heap", c_uint64),
        ("ring_dep_pool", c_uint64),
        ("ring_task_windows", c_uint64 * RING_COUNT),
        ("ring_heaps", c_uint64 * RING_COUNT),
        ("ring_dep_pools", c_uint64 * RING_COUNT),
    ]

    _SCALARS = ("ring_task_window", "ring_heap", "ring_dep_pool")
    _ARRAYS = ("ring_task_windows", "ring_heaps", "ring_dep_pools")

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in RuntimeEnv._ARRAYS:
            return RingArray("RuntimeEnv", name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._SCALARS:
            if isinstance(value, (list, tuple)):
                super().__setattr__(name + "s", (c_uint64 * RING_COUNT)(*checked_ring_list("RuntimeEnv", name, value)))
                return
            super().__setattr__(name, checked_int("RuntimeEnv", name, value, c_uint64))
        elif name in ("ring_task_windows", "ring_heaps", "ring_dep_pools"):
            super().__setattr__(name, (c_uint64 * RING_COUNT)(*checked_ring_list("RuntimeEnv", name, value)))
        else:
            raise AttributeError(
                f"RuntimeEnv has no field {name!r}: fields are {', '.join(f[0] for f in self._fields_)}"
            )

    def __repr__(self) -> str:
        parts = [f"{n}={getattr(self, n)}" for n in self._SCALARS]
        for n in self._SCALARS:
            arr = list(getattr(self, n + "s"))
            if any(arr):
                parts.append(f"{n}s={arr}")
        return f"RuntimeEnv({', '.join(parts)})"


OUTPUT_PREFIX_SIZE = 1024


class CallConfigStruct(ctypes.Structure):
    """Raw upstream ``CallConfig`` (call_config.h @ c68d9bbe6): packed, 1172 bytes."""

    _pack_ = 1
    _fields_ = [
        ("block_dim", c_int32),
        ("aicpu_thread_num", c_int32),
        ("enable_l2_swimlane", c_int32),
        ("enable_dump_tensor", c_int32),
        ("enable_pmu", c_int32),
        ("enable_dep_gen", c_int32),
        ("enable_scope_stats", c_int32),
        ("runtime_env", RuntimeEnv),
        ("output_prefix", c_char * OUTPUT_PREFIX_SIZE),
    ]
