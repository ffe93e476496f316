"""ABI layouts of the ctypes mirrors (upstream tensor.h, TaskArgsTpl, call_config.h @ c68d9bbe6) and CallConfig semantics."""
from __future__ import annotations

import ctypes

import pytest

from pysimpler import CallConfig, ChipStorageTaskArgs, PtoRunTiming, RuntimeEnv, TensorStruct


def offsets(cls):
    return {name: getattr(cls, name).offset for name, *_ in cls._fields_}


def test_call_config_layout():
    assert ctypes.sizeof(CallConfig) == 1172
    assert ctypes.alignment(CallConfig) == 1
    assert offsets(CallConfig) == {
        "block_dim": 0, "aicpu_thread_num": 4, "enable_l2_swimlane": 8, "enable_dump_tensor": 12,
        "enable_pmu": 16, "enable_dep_gen": 20, "enable_scope_stats": 24, "runtime_env": 28, "output_prefix": 148,
    }
    assert ctypes.sizeof(RuntimeEnv) == 120
    assert offsets(RuntimeEnv) == {
        "ring_task_window": 0, "ring_heap": 8, "ring_dep_pool": 16, "ring_task_windows": 24, "ring_heaps": 56,
        "ring_dep_pools": 88,
    }


def test_call_config_matches_upstream_struct_format():
    import struct

    cfg = CallConfig(block_dim=2, enable_dep_gen=1, output_prefix="/tmp/out")
    cfg.runtime_env.ring_heap = 4096
    cfg.runtime_env.ring_dep_pools[3] = 77
    fields = struct.unpack("=iiiiiii" + "Q" * 15 + "1024s", bytes(cfg))
    assert fields[:7] == (2, 3, 0, 0, 0, 1, 0)
    assert fields[7:10] == (0, 4096, 0)
    assert fields[21] == 77
    assert fields[22].rstrip(b"\0") == b"/tmp/out"


def test_other_layouts():
    assert ctypes.sizeof(TensorStruct) == 128
    assert offsets(TensorStruct) == {
        "addr": 0, "size": 8, "owner_task_id": 16, "start_offset": 24, "version": 32, "ndims": 36, "dtype": 40,
        "manual_dep": 41, "is_contiguous": 42, "child_memory": 43, "shapes": 44, "extent_elem_cache": 64,
        "strides": 72, "_pad_cl2": 92,
    }
    assert ctypes.sizeof(ChipStorageTaskArgs) == 17472
    assert offsets(ChipStorageTaskArgs)["scalars"] == 16384
    assert offsets(ChipStorageTaskArgs)["tensor_count"] == 17408
    assert offsets(ChipStorageTaskArgs)["scalar_count"] == 17412
    assert ctypes.sizeof(PtoRunTiming) == 16


def test_defaults():
    cfg = CallConfig()
    assert (cfg.block_dim, cfg.aicpu_thread_num) == (0, 3)
    assert bytes(cfg)[8:] == bytes(1164)
    cfg.validate()


@pytest.mark.parametrize("flag", ["enable_l2_swimlane", "enable_dump_tensor", "enable_pmu", "enable_dep_gen",
                                  "enable_scope_stats"])
def test_diagnostics_need_an_output_prefix(flag):
    cfg = CallConfig(**{flag: 1})
    with pytest.raises(ValueError) as e:
        cfg.validate()
    assert str(e.value) == (
        "CallConfig: output_prefix must be set whenever any of enable_l2_swimlane / enable_dump_tensor / "
        "enable_pmu / enable_dep_gen / enable_scope_stats is enabled")
    cfg.set_output_prefix("/tmp/diag")
    cfg.validate()


def test_output_prefix_limit():
    cfg = CallConfig()
    cfg.set_output_prefix("x" * 1023)
    with pytest.raises(ValueError, match=r"CallConfig.output_prefix length 1024 exceeds buffer \(1023 bytes\)"):
        cfg.set_output_prefix("x" * 1024)


def test_runtime_env_values_are_checked_by_the_library():
    cfg = CallConfig()
    cfg.runtime_env.ring_task_windows[2] = 12
    with pytest.raises(ValueError, match="ring_task_window"):
        cfg.validate()
    cfg.runtime_env.ring_task_windows[2] = 16
    cfg.runtime_env.ring_heap = 512
    with pytest.raises(ValueError, match="ring_heap"):
        cfg.validate()


def test_unknown_field_is_rejected():
    with pytest.raises(TypeError):
        CallConfig(block_dimm=1)
