"""RuntimeConfig: values validated by the library, resolution with sources, the schema."""
from __future__ import annotations

import pytest

import pysimpler
from pysimpler import RuntimeConfig, SimplerConfigError, SimplerError

RING_ENV = ("PTO2_RING_TASK_WINDOW", "PTO2_RING_HEAP", "PTO2_RING_DEP_POOL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for k in ("PTO2_RING_TASK_WINDOW", "PTO2_RING_HEAP", "PTO2_RING_DEP_POOL", "PTO2_READY_QUEUE_SHARDS",
              "PTO2_ORCH_TO_SCHED", "PTO2_SCHEDULER_TIMEOUT_MS", "SIMPLER_RUNTIME"):
        monkeypatch.delenv(k, raising=False)


def test_the_seed_call_works():
    cfg = RuntimeConfig(ring_heap=2048, ring_task_window=8, ring_dep_pool=8, ready_queue_shards=4, orch_to_sched=True)
    r = cfg.resolve()
    assert [v.value for v in r["ring_heap"]] == [2048] * 4
    assert [v.value for v in r["ring_task_window"]] == [8] * 4
    assert all(v.source == "explicit" for v in r["ring_dep_pool"])
    assert r["ready_queue_shards"] == pysimpler.Resolved(4, "explicit")
    assert r["orch_to_sched"] == pysimpler.Resolved(True, "explicit")


def test_int_broadcasts_and_list_sets_per_ring():
    c = RuntimeConfig(ring_task_window=[64, 128, 256, 512], ring_heap=1 << 20).to_c()
    assert list(c.ring_task_windows) == [64, 128, 256, 512]
    assert c.ring_task_window == 0
    assert c.ring_heap == 1 << 20
    assert c.struct_size == 160


def test_list_zero_entry_falls_through_to_scalar_env(monkeypatch):
    monkeypatch.setenv("PTO2_RING_DEP_POOL", "32")
    r = RuntimeConfig(ring_dep_pool=[0, 64, 0, 128]).resolve()["ring_dep_pool"]
    assert [(v.value, v.source) for v in r] == [(32, "env"), (64, "explicit_per_ring"), (32, "env"),
                                                (128, "explicit_per_ring")]


@pytest.mark.parametrize(
    "kwargs, knob",
    [
        ({"ring_task_window": 100}, "ring_task_window"),
        ({"ring_task_window": [4, 8, 12, 16]}, "ring_task_window"),
        ({"ring_heap": 1000}, "ring_heap"),
        ({"ring_heap": [2048, 2048, 2048]}, "ring_heap"),
        ({"ring_dep_pool": -4}, "ring_dep_pool"),
        ({"ready_queue_shards": 9}, "ready_queue_shards"),
        ({"scheduler_timeout_ms": 1 << 31}, "scheduler_timeout_ms"),
        ({"runtime": "bogus"}, "runtime"),
    ],
)
def test_invalid_values_raise_value_error_with_the_library_message(kwargs, knob):
    with pytest.raises(ValueError) as e:
        RuntimeConfig(**kwargs)
    assert isinstance(e.value, SimplerError) and isinstance(e.value, SimplerConfigError)
    assert knob in str(e.value)
    # The text is the library's own, not restated in Python.
    assert e.value.message.endswith(pysimpler.library().last_error()[1])


def test_message_is_the_library_message():
    with pytest.raises(ValueError) as e:
        RuntimeConfig(ring_task_window=100)
    code, message = pysimpler.library().last_error()
    assert code == -1002 == e.value.code
    assert message and message in str(e.value)


def test_unknown_knob_via_set():
    cfg = RuntimeConfig()
    with pytest.raises(ValueError, match="no_such_knob"):
        cfg.set("no_such_knob", 1)


def test_env_and_default_sources(monkeypatch):
    monkeypatch.setenv("PTO2_RING_HEAP", "4096,8192,16384,32768")
    r = RuntimeConfig(ring_task_window=16).resolve()
    assert [(v.value, v.source) for v in r["ring_heap"]] == [
        (4096, "env_per_ring"), (8192, "env_per_ring"), (16384, "env_per_ring"), (32768, "env_per_ring")]
    assert r["ring_task_window"][0] == pysimpler.Resolved(16, "explicit")
    assert r["runtime"] == pysimpler.Resolved(None, "default")  # no override: inferred per callable
    assert r["orch_to_sched"] == pysimpler.Resolved(False, "default")


def test_explicit_beats_env(monkeypatch):
    monkeypatch.setenv("SIMPLER_RUNTIME", "host_build_graph")
    assert RuntimeConfig().resolve()["runtime"] == pysimpler.Resolved("host_build_graph", "env")
    r = RuntimeConfig(runtime="tensormap_and_ringbuffer").resolve()["runtime"]
    assert r == pysimpler.Resolved("tensormap_and_ringbuffer", "explicit")


def test_describe_is_the_library_schema():
    knobs = RuntimeConfig.describe()
    lib = pysimpler.library()
    assert len(knobs) == lib.pto_runtime_config_knob_count()
    by_name = {k.name: k for k in knobs}
    for name in ("ring_task_window", "ring_heap", "ring_dep_pool", "ready_queue_shards", "orch_to_sched",
                 "build_mode", "scheduler_timeout_ms", "runtime"):
        assert name in by_name, name
        assert by_name[name].rule and by_name[name].doc and by_name[name].env
    assert by_name["ring_heap"].env == "PTO2_RING_HEAP" and by_name["ring_heap"].per_ring
    assert by_name["runtime"].per_device and not by_name["runtime"].per_ring
    assert by_name["ring_task_window"].default == "16384"


def test_every_described_knob_is_a_keyword():
    import inspect

    params = set(inspect.signature(RuntimeConfig.__init__).parameters) - {"self"}
    aliases = {"ring_task_windows", "ring_heaps", "ring_dep_pools"}
    assert {k.name for k in pysimpler.describe()} == params - aliases


def test_to_c_is_a_copy():
    cfg = RuntimeConfig(ring_heap=4096)
    c = cfg.to_c()
    c.ring_heap = 1
    assert cfg.to_c().ring_heap == 4096


def test_build_mode_knob(monkeypatch):
    monkeypatch.delenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", raising=False)
    assert RuntimeConfig().resolve()["build_mode"] == pysimpler.Resolved("concurrent", "default")
    cfg = RuntimeConfig(build_mode="sequential")
    assert cfg.build_mode == "sequential" and cfg.to_c().build_mode == 0
    assert cfg.resolve()["build_mode"] == pysimpler.Resolved("sequential", "explicit")
    cfg.build_mode = 1
    assert cfg.build_mode == "concurrent"
    del cfg.build_mode
    assert cfg.build_mode is None and cfg.to_c().build_mode == -1
    with pytest.raises(ValueError, match="build_mode"):
        RuntimeConfig(build_mode=2)
    monkeypatch.setenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", "sequential")
    assert RuntimeConfig().resolve()["build_mode"] == pysimpler.Resolved("sequential", "env")
    monkeypatch.setenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", "7")
    assert RuntimeConfig().resolve()["build_mode"] == pysimpler.Resolved("concurrent", "env")
