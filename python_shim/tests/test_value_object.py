"""RuntimeConfig is a value object: readable attributes, validated assignment, equality, hashing,
an eval-able repr, upstream's plural names as aliases."""
from __future__ import annotations

import copy
import pickle

import pytest

import pysimpler
from pysimpler import RuntimeConfig, SimplerConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in ("PTO2_RING_TASK_WINDOW", "PTO2_RING_HEAP", "PTO2_RING_DEP_POOL", "PTO2_READY_QUEUE_SHARDS",
              "PTO2_ORCH_TO_SCHED", "PTO2_SCHEDULER_TIMEOUT_MS", "SIMPLER_RUNTIME"):
        monkeypatch.delenv(k, raising=False)


def test_attributes_read_back_the_validated_values():
    cfg = RuntimeConfig(ring_heap=2048, ring_task_window=[8, 16, 0, 64], orch_to_sched=True, runtime="hbg",
                        ready_queue_shards=2)
    assert cfg.ring_heap == 2048
    assert cfg.ring_task_window == [8, 16, 0, 64]
    assert cfg.ring_dep_pool is None
    assert cfg.orch_to_sched is True
    assert cfg.runtime == "host_build_graph"  # the library's canonical name
    assert cfg.ready_queue_shards == 2
    assert cfg.scheduler_timeout_ms is None
    assert RuntimeConfig().as_dict() == {}


def test_assignment_is_validated_by_the_library_and_atomic():
    cfg = RuntimeConfig(ring_heap=4096)
    with pytest.raises(SimplerConfigError) as e:
        cfg.ring_heap = 1
    assert "ring_heap" in str(e.value) and ">= 1024" in str(e.value)
    assert cfg.ring_heap == 4096  # unchanged
    with pytest.raises(ValueError, match="ring_task_window"):
        cfg.ring_task_window = [4, 8, 12, 16]
    with pytest.raises(ValueError, match="negative"):
        cfg.ready_queue_shards = -1
    cfg.ring_heap = [1024, 0, 0, 4096]
    assert cfg.ring_heap == [1024, 0, 0, 4096]
    cfg.ring_heap = 8192  # an int replaces the per-ring list
    assert cfg.ring_heap == 8192 and list(cfg.to_c().ring_heaps) == [0] * 4
    cfg.orch_to_sched = False
    assert cfg.orch_to_sched is False
    cfg.ring_heap = None
    del cfg.orch_to_sched
    assert cfg == RuntimeConfig()


def test_unknown_attributes_are_rejected():
    cfg = RuntimeConfig()
    with pytest.raises(AttributeError, match="no knob 'ring_heep'"):
        cfg.ring_heep = 4096
    with pytest.raises(AttributeError, match="no knob 'ring_heep'"):
        cfg.ring_heep  # noqa: B018
    with pytest.raises(TypeError):
        RuntimeConfig(ring_heep=4096)  # type: ignore[call-arg]


def test_equality_and_hash_follow_the_value():
    a = RuntimeConfig(ring_heap=2048, orch_to_sched=True)
    b = RuntimeConfig(orch_to_sched=True, ring_heap=2048)
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != RuntimeConfig(ring_heap=4096, orch_to_sched=True)
    assert a != "RuntimeConfig(ring_heap=2048)"
    # 0 means unset in every form, so these are all the empty configuration.
    empties = [RuntimeConfig(), RuntimeConfig(ring_heap=0), RuntimeConfig(ring_heap=[0, 0, 0, 0]),
               RuntimeConfig(ready_queue_shards=0)]
    assert all(e == RuntimeConfig() and hash(e) == hash(RuntimeConfig()) for e in empties)
    assert RuntimeConfig(runtime="trb") == RuntimeConfig(runtime="tensormap_and_ringbuffer")


@pytest.mark.parametrize("cfg", [
    RuntimeConfig(),
    RuntimeConfig(ring_heap=2048, ring_task_window=8, ring_dep_pool=8, ready_queue_shards=4, orch_to_sched=True),
    RuntimeConfig(ring_task_window=[64, 128, 0, 512], runtime="host_build_graph", scheduler_timeout_ms=5000),
    RuntimeConfig(orch_to_sched=False),
])
def test_repr_round_trips(cfg):
    text = repr(cfg)
    assert text.startswith("RuntimeConfig(")
    again = eval(text, {"RuntimeConfig": RuntimeConfig})  # noqa: S307 - the point of the test
    assert again == cfg and repr(again) == text
    assert pickle.loads(pickle.dumps(cfg)) == cfg
    assert copy.copy(cfg) == cfg and copy.deepcopy(cfg) == cfg


def test_upstream_plural_names_are_aliases():
    a = RuntimeConfig(ring_task_windows=[16, 16, 16, 16], ring_heaps=[1 << 20] * 4, ring_dep_pools=[64, 64, 64, 128])
    b = RuntimeConfig(ring_task_window=[16, 16, 16, 16], ring_heap=[1 << 20] * 4, ring_dep_pool=[64, 64, 64, 128])
    assert a == b
    assert a.ring_heaps == a.ring_heap == [1 << 20] * 4
    a.ring_dep_pools = 256
    assert a.ring_dep_pool == 256
    with pytest.raises(TypeError, match="both ring_heap and its alias ring_heaps"):
        RuntimeConfig(ring_heap=2048, ring_heaps=[2048] * 4)
    assert a.set("ring_task_windows", [32, 32, 32, 32]).ring_task_window == [32] * 4
    with pytest.raises(ValueError, match="ring_task_window"):
        RuntimeConfig(ring_task_windows=[3, 4, 8, 16])


def test_no_silent_conversions():
    with pytest.raises(ValueError):
        RuntimeConfig(ring_heap=True)  # a bool is not a size
    with pytest.raises(ValueError):
        RuntimeConfig(ring_heap=2048.0)
    with pytest.raises(ValueError):
        RuntimeConfig(ring_heap=[2048, 2048])
    with pytest.raises(ValueError):
        RuntimeConfig(ring_heap=(1 << 64) + 2048)


def test_library_version_and_py_typed():
    from pathlib import Path

    v = pysimpler.library_version()
    assert v.count(".") == 2 and all(p.isdigit() for p in v.split("."))
    assert (Path(pysimpler.__file__).parent / "py.typed").is_file()


def test_numpy_integers_are_integers():
    np = pytest.importorskip("numpy")
    assert RuntimeConfig(ring_heap=np.int64(2048), ring_task_window=[np.uint32(8)] * 4) == RuntimeConfig(
        ring_heap=2048, ring_task_window=[8, 8, 8, 8])
    from pysimpler import CallConfig

    cc = CallConfig(block_dim=np.int32(3))
    cc.runtime_env.ring_heap = np.uint64(4096)
    assert (cc.block_dim, cc.runtime_env.ring_heap) == (3, 4096)
    with pytest.raises(ValueError):
        cc.block_dim = np.int64(2**40)
