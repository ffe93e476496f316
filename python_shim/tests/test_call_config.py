"""CallConfig and RuntimeEnv: assignments are name- and range-checked (ctypes would wrap silently)."""
from __future__ import annotations

import pytest

from pysimpler import CallConfig, RuntimeEnv


@pytest.mark.parametrize("field, value", [
    ("block_dim", 2**32 + 3), ("block_dim", 2**31), ("block_dim", -(2**31) - 1),
    ("aicpu_thread_num", 1 << 40), ("enable_pmu", -(2**63)), ("enable_scope_stats", 2**31),
])
def test_int_fields_refuse_values_int32_cannot_hold(field, value):
    cfg = CallConfig()
    before = getattr(cfg, field)
    with pytest.raises(ValueError, match=rf"CallConfig.{field} = {value} is out of range: it must fit int32"):
        setattr(cfg, field, value)
    assert getattr(cfg, field) == before
    with pytest.raises(ValueError):
        CallConfig(**{field: value})


def test_int_fields_accept_their_range_and_upstream_bools():
    cfg = CallConfig(block_dim=2**31 - 1, aicpu_thread_num=-(2**31))
    assert (cfg.block_dim, cfg.aicpu_thread_num) == (2**31 - 1, -(2**31))
    cfg.enable_l2_swimlane = True
    cfg.enable_dump_tensor = True
    cfg.enable_dep_gen = True
    assert (cfg.enable_l2_swimlane, cfg.enable_dump_tensor, cfg.enable_dep_gen) == (4, 1, 1)
    with pytest.raises(TypeError, match="CallConfig.block_dim must be an int"):
        cfg.block_dim = 2.5


@pytest.mark.parametrize("field", ["ring_task_window", "ring_heap", "ring_dep_pool"])
def test_runtime_env_refuses_negative_and_too_large(field):
    cfg = CallConfig()
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=rf"RuntimeEnv.{field} = {bad} is out of range: it must fit uint64"):
            setattr(cfg.runtime_env, field, bad)
    assert getattr(cfg.runtime_env, field) == 0
    setattr(cfg.runtime_env, field, 2**64 - 1)
    assert getattr(cfg.runtime_env, field) == 2**64 - 1


def test_runtime_env_per_ring_lists():
    env = CallConfig().runtime_env
    env.ring_heaps = [1024, 2048, 4096, 8192]
    assert list(env.ring_heaps) == [1024, 2048, 4096, 8192]
    with pytest.raises(ValueError, match="RuntimeEnv.ring_heaps must contain exactly 4 entries"):
        env.ring_heaps = [1024, 2048]
    with pytest.raises(ValueError, match=r"RuntimeEnv.ring_heaps\[2\] = -5 is out of range"):
        env.ring_heaps[2] = -5
    with pytest.raises(ValueError, match=r"ring_dep_pools\[1\]"):
        env.ring_dep_pools = [4, -4, 4, 4]
    assert list(env.ring_heaps) == [1024, 2048, 4096, 8192]  # unchanged by the failures
    env.ring_task_window = [16, 16, 16, 16]  # upstream's later int-or-list spelling: sets the per-ring array
    assert env.ring_task_windows == [16, 16, 16, 16] and env.ring_task_window == 0
    with pytest.raises(IndexError):
        env.ring_heaps[4] = 1


def test_writes_through_and_copies_on_assignment():
    cfg = CallConfig()
    cfg.runtime_env.ring_heap = 4096  # a reference into the config
    assert cfg.runtime_env.ring_heap == 4096
    other = RuntimeEnv()
    other.ring_dep_pool = 64
    cfg.runtime_env = other  # the setter copies
    other.ring_dep_pool = 128
    assert cfg.runtime_env.ring_dep_pool == 64 and cfg.runtime_env.ring_heap == 0
    with pytest.raises(TypeError):
        cfg.runtime_env = {"ring_heap": 1}


def test_unknown_names_are_rejected():
    cfg = CallConfig()
    with pytest.raises(AttributeError, match="CallConfig has no field 'blockdim'"):
        cfg.blockdim = 3
    with pytest.raises(AttributeError, match="RuntimeEnv has no field 'ring_heep'"):
        cfg.runtime_env.ring_heep = 3
    with pytest.raises(TypeError):
        CallConfig(blockdim=3)


def test_repr_shows_per_ring_lists_only_when_set():
    env = RuntimeEnv()
    assert repr(env) == "RuntimeEnv(ring_task_window=0, ring_heap=0, ring_dep_pool=0)"
    env.ring_heaps = [0, 2048, 0, 0]
    assert repr(env) == "RuntimeEnv(ring_task_window=0, ring_heap=0, ring_dep_pool=0, ring_heaps=[0, 2048, 0, 0])"
