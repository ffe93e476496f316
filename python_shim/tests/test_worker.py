"""Worker: register and run the example host_build_graph callable on the simulated device.

The callable (cmake/example/hbg) computes out = a + 2 b in two dependent tasks; scalar 0 is the
element count. Needs libsimpler's host entries (marker ``host_api``).
"""
from __future__ import annotations

import array

import numpy as np
import pytest

from pysimpler import (ArgDirection, CallConfig, DataType, RunTiming, RuntimeConfig, SimplerError, Tensor, Worker)

pytestmark = pytest.mark.host_api

SIG = [ArgDirection.IN, ArgDirection.IN, ArgDirection.OUT]
HBG = RuntimeConfig(runtime="host_build_graph")


def register(worker, hbg_callable):
    orch, kernel = hbg_callable
    return worker.register(orch, {0: (kernel, SIG)}, SIG, func_name="build_graph")


def inputs(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    return a, b, np.full(n, np.nan, dtype=np.float32)


def expected(a, b):
    return (a + b) + b  # the kernels' float order


def test_numpy_run(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        assert cid == 0
        a, b, out = inputs(4096, 1)
        timing = w.run(cid, [a, b, out], [a.size])
        assert isinstance(timing, RunTiming) and timing.host_wall_ns > 0
        np.testing.assert_array_equal(out, expected(a, b))


def test_variant_inferred_without_any_config(hbg_callable, monkeypatch):
    """No runtime knob, no SIMPLER_RUNTIME: the HBG binary decides; an override naming TRB fails at register."""
    monkeypatch.delenv("SIMPLER_RUNTIME", raising=False)
    with Worker() as w:
        cid = register(w, hbg_callable)
        a, b, out = inputs(1000, 7)
        w.run(cid, [a, b, out], [a.size])
        np.testing.assert_array_equal(out, expected(a, b))
    with Worker(config=RuntimeConfig(runtime="tensormap_and_ringbuffer")) as w:
        with pytest.raises(SimplerError, match="runtime variant mismatch.*host_build_graph"):
            register(w, hbg_callable)


def test_other_buffer_types(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        n = 300
        a = array.array("f", [float(i) for i in range(n)])
        b = array.array("f", [0.25 * i for i in range(n)])
        out = bytearray(4 * n)
        w.run(cid, [a, b, Tensor(out, [n], DataType.FLOAT32)], [n])
        got = np.frombuffer(out, dtype=np.float32)
        np.testing.assert_array_equal(got, expected(np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)))


def test_two_dimensional_numpy_and_per_run_configs(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        a, b, out = (x.reshape(16, 32) for x in inputs(512, 2))
        cfg = RuntimeConfig(ring_heap=1 << 20, ready_queue_shards=2, orch_to_sched=True)
        call = CallConfig(block_dim=2, aicpu_thread_num=2)
        w.run(cid, [a, b, out], [512], config=cfg, call_config=call)
        np.testing.assert_array_equal(out, expected(a, b))


def test_invalid_call_config_is_rejected_before_running(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        a, b, out = inputs(64, 3)
        with pytest.raises(ValueError, match="output_prefix must be set"):
            w.run(cid, [a, b, out], [64], call_config=CallConfig(enable_dep_gen=1))
        assert np.isnan(out).all()


def test_invalid_run_config_raises_value_error(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        bad = RuntimeConfig(ring_heap=4096)
        bad._c.ring_heaps[1] = 5  # a direct field write the library must catch at run time
        a, b, out = inputs(64, 4)
        with pytest.raises(ValueError, match="ring_heap"):
            w.run(cid, [a, b, out], [64], config=bad)
        assert np.isnan(out).all()


def test_two_workers_with_different_configurations(hbg_callable):
    cfg_a = RuntimeConfig(runtime="host_build_graph", scheduler_timeout_ms=15000, ring_task_window=64)
    cfg_b = RuntimeConfig(runtime="host_build_graph", scheduler_timeout_ms=30000, ring_heap=[4096, 8192, 16384, 32768],
                          ready_queue_shards=1)
    assert cfg_a.resolve()["scheduler_timeout_ms"].value == 15000
    assert cfg_b.resolve()["scheduler_timeout_ms"].value == 30000
    with Worker(device_id=0, config=cfg_a) as wa, Worker(device_id=1, config=cfg_b) as wb:
        ca, cb = register(wa, hbg_callable), register(wb, hbg_callable)
        for i in range(3):  # interleaved runs on both contexts
            a1, b1, o1 = inputs(1000 + i, 10 + i)
            a2, b2, o2 = inputs(2000 + i, 20 + i)
            wa.run(ca, [a1, b1, o1], [a1.size])
            wb.run(cb, [a2, b2, o2], [a2.size], config=RuntimeConfig(ring_dep_pool=[8, 16, 32, 64]))
            np.testing.assert_array_equal(o1, expected(a1, b1))
            np.testing.assert_array_equal(o2, expected(a2, b2))


def test_ids_unregister_and_close(hbg_callable):
    w = Worker(config=HBG)
    ids = [register(w, hbg_callable) for _ in range(3)]
    assert ids == [0, 1, 2]
    w.unregister(1)
    assert register(w, hbg_callable) == 1  # lowest free id
    a, b, out = inputs(128, 5)
    w.run(2, [a, b, out], [128])
    np.testing.assert_array_equal(out, expected(a, b))
    with pytest.raises(SimplerError):
        w.run(9, [a, b, out], [128])  # never registered
    w.close()
    assert not w.initialized
    w.close()  # idempotent
    with pytest.raises(SimplerError, match="closed"):
        w.run(0, [a, b, out], [128])


def test_orchestration_failure_is_a_simpler_error(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        a, b, out = inputs(64, 6)
        with pytest.raises(SimplerError) as e:
            w.run(cid, [a, b, out], [65])  # the orchestration rejects a size mismatch (returns 11)
        assert e.value.code != 0
        assert np.isnan(out).all()


def test_read_only_buffers_are_rejected(hbg_callable):
    with Worker(config=HBG) as w:
        cid = register(w, hbg_callable)
        with pytest.raises(TypeError):
            w.run(cid, [bytes(16), bytearray(16), bytearray(16)], [4])
