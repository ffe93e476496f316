"""ctypes mirrors of the C structures the shim exchanges with libsimpler.

``pto_*`` structures mirror ``include/simpler.h`` (checked by ``tests/test_header.py``); the ABI
structures (``Tensor``, ``ChipStorageTaskArgs``, ``CallConfig``, ``RuntimeEnv``) mirror upstream's
layouts (abi.md §5; checked by ``tests/test_layouts.py``).
"""
from __future__ import annotations

import ctypes
from ctypes import c_char, c_char_p, c_int32, c_uint8, c_uint32, c_uint64

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
    ]


class PtoResolvedValue(ctypes.Structure):
    """``pto_resolved_value_t``."""

    _fields_ = [("value", c_uint64), ("source", c_int32), ("reserved", c_uint32)]


class PtoResolvedConfig(ctypes.Structure):
    """``pto_resolved_config_t``."""

    _fields_ = [
        ("struct_size", c_uint64),
        ("ring_task_window", PtoResolvedValue * RING_COUNT),
        ("ring_heap", PtoResolvedValue * RING_COUNT),
        ("ring_dep_pool", PtoResolvedValue * RING_COUNT),
        ("ready_queue_shards", PtoResolvedValue),
        ("orch_to_sched", PtoResolvedValue),
        ("scheduler_timeout_ms", PtoResolvedValue),
        ("runtime", PtoResolvedValue),
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
    """``PtoRunTiming`` (abi.md §2.1): 16 bytes."""

    _fields_ = [("host_wall_ns", c_uint64), ("device_wall_ns", c_uint64)]


class Tensor(ctypes.Structure):
    """Upstream ``Tensor`` (abi.md §5.3): 128 bytes (64-aligned where the shim allocates it)."""

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
    """Upstream ``ChipStorageTaskArgs`` (abi.md §5.4): 17472 bytes."""

    _fields_ = [
        ("tensors", Tensor * CHIP_MAX_TENSOR_ARGS),
        ("scalars", c_uint64 * CHIP_MAX_SCALAR_ARGS),
        ("tensor_count", c_int32),
        ("scalar_count", c_int32),
        ("_tail", c_uint8 * 56),
    ]


class RuntimeEnv(ctypes.Structure):
    """Upstream ``RuntimeEnv`` (abi.md §5.7): 15 ``uint64_t``, packed, 120 bytes."""

    _pack_ = 1
    _fields_ = [
        ("ring_task_window", c_uint64),
        ("ring_heap", c_uint64),
        ("ring_dep_pool", c_uint64),
        ("ring_task_windows", c_uint64 * RING_COUNT),
        ("ring_heaps", c_uint64 * RING_COUNT),
        ("ring_dep_pools", c_uint64 * RING_COUNT),
    ]


OUTPUT_PREFIX_SIZE = 1024


class CallConfigStruct(ctypes.Structure):
    """Raw upstream ``CallConfig`` (abi.md §5.7): packed, 1172 bytes."""

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
