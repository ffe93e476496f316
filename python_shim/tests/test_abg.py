"""aicpu_build_graph (original form) through pysimpler: the vector example (examples/abg_vector,
f = (a+b+1)*(a+b+2)) told from its binary, build_mode 0 and 1 observed by a probe plugin, two
workers with different build modes, a failing builder, and the runtime override routing an
unmarked plugin; the ring form (examples/abg_ring_vector, entry aicpu_orchestration_entry) told
from its binary, with orch_to_sched off and on, and a cycle failing with a numbered error. Needs libsimpler's host entries (marker ``host_api``)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from pysimpler import ArgDirection, CallConfig, RuntimeConfig, SimplerError, Worker

pytestmark = pytest.mark.host_api

IN, OUT, INOUT = ArgDirection.IN, ArgDirection.OUT, ArgDirection.INOUT
SIG = [IN, IN, OUT]


def register(w, abg_callable, marked=True, func_name="orchestration"):
    plugin, unmarked, (add, add_scalar, mul), _ = abg_callable
    kernels = {0: (add, SIG), 1: (add_scalar, [IN, OUT]), 2: (mul, SIG)}
    return w.register(plugin if marked else unmarked, kernels, SIG, func_name=func_name)


def register_probe(w, abg_callable, entry):
    _, _, (add, _, _), probe = abg_callable
    return w.register(probe, {0: (add, SIG)}, [OUT], func_name=entry)


def check_vector(w, cid, seed, **kw):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(4096).astype(np.float32)
    b = rng.standard_normal(4096).astype(np.float32)
    f = np.full(4096, np.nan, dtype=np.float32)
    w.run(cid, [a, b, f], **kw)
    c = a + b
    np.testing.assert_allclose(f, (c + np.float32(1)) * (c + np.float32(2)), rtol=1e-6)


def probe(w, cid, mode=None):
    out = np.full(2, -1.0, dtype=np.float32)
    w.run(cid, [out], config=None if mode is None else RuntimeConfig(build_mode=mode),
          call_config=CallConfig(block_dim=3, aicpu_thread_num=3))
    return int(out[0]), int(out[1])  # (build_mode seen by the builder, a task ran during the build)


def test_vector_example_in_both_build_modes(abg_callable, monkeypatch):
    monkeypatch.delenv("SIMPLER_RUNTIME", raising=False)
    monkeypatch.delenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", raising=False)
    with Worker() as w:
        cid = register(w, abg_callable)
        for i, (mode, threads) in enumerate([(0, 2), (1, 2), ("sequential", 4), ("concurrent", 4), (None, 3)]):
            cfg = None if mode is None else RuntimeConfig(build_mode=mode)
            check_vector(w, cid, i, config=cfg, call_config=CallConfig(block_dim=3, aicpu_thread_num=threads))


def test_build_mode_is_observed_by_the_builder(abg_callable, monkeypatch):
    monkeypatch.delenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", raising=False)
    with Worker() as w:
        cid = register_probe(w, abg_callable, "mode_probe")
        assert probe(w, cid, 0) == (0, 0)
        assert probe(w, cid, 1) == (1, 1)
        assert probe(w, cid) == (1, 1)  # default: concurrent
        monkeypatch.setenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", "sequential")
        assert probe(w, cid) == (0, 0)
        assert probe(w, cid, "concurrent") == (1, 1)  # explicit beats the environment
        with pytest.raises(ValueError, match="build_mode"):
            RuntimeConfig(build_mode=2)


def test_two_workers_with_different_build_modes(abg_callable):
    results, errors = {}, []

    def body(mode):
        try:
            with Worker() as w:
                cid = register_probe(w, abg_callable, "mode_probe")
                results[mode] = [probe(w, cid, mode) for _ in range(3)]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=body, args=(m,)) for m in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and results == {0: [(0, 0)] * 3, 1: [(1, 1)] * 3}


def test_failing_builder_is_a_numbered_error_and_the_worker_stays_usable(abg_callable):
    with Worker() as w:
        cycle = register_probe(w, abg_callable, "cycle_graph")
        with pytest.raises(SimplerError, match="can never become ready") as e:
            probe(w, cycle, 1)
        assert e.value.code == -1015  # PTO_ERR_USER_CODE
        fail = register_probe(w, abg_callable, "fail_rc")
        with pytest.raises(SimplerError, match="returned 7"):
            probe(w, fail, 0)
        check_vector(w, register(w, abg_callable), 5)


def test_override_routes_an_unmarked_plugin(abg_callable, monkeypatch):
    monkeypatch.delenv("SIMPLER_RUNTIME", raising=False)
    with Worker(config=RuntimeConfig(runtime="aicpu_build_graph")) as w:
        check_vector(w, register(w, abg_callable, marked=False), 6)
        check_vector(w, register(w, abg_callable, marked=False, func_name=""), 7)
    monkeypatch.setenv("SIMPLER_RUNTIME", "aicpu_build_graph")
    with Worker() as w:
        check_vector(w, register(w, abg_callable, marked=False), 8)
    monkeypatch.delenv("SIMPLER_RUNTIME")
    with Worker(config=RuntimeConfig(runtime="host_build_graph")) as w:
        with pytest.raises(SimplerError, match="runtime variant mismatch.*aicpu_build_graph"):
            register(w, abg_callable)


def register_ring(w, abg_ring_callable, cycle=False):
    orch, cycle_orch, (add, add_scalar, mul) = abg_ring_callable
    kernels = {0: (add, SIG), 1: (add_scalar, [IN, OUT]), 2: (mul, SIG)}
    return w.register(cycle_orch if cycle else orch, kernels, [IN, IN, INOUT],
                      func_name="aicpu_orchestration_entry",
                      config_name="" if cycle else "aicpu_orchestration_config")


def test_ring_form_vector_example(abg_ring_callable, monkeypatch):
    monkeypatch.delenv("SIMPLER_RUNTIME", raising=False)
    with Worker() as w:
        cid = register_ring(w, abg_ring_callable)
        for i, (o2s, threads) in enumerate([(False, 2), (True, 2), (False, 4), (True, 4)]):
            check_vector(w, cid, 20 + i, config=RuntimeConfig(orch_to_sched=o2s),
                         call_config=CallConfig(block_dim=3, aicpu_thread_num=threads))
        cycle = register_ring(w, abg_ring_callable, cycle=True)
        f = np.full(4096, np.nan, dtype=np.float32)
        ones = np.ones(4096, dtype=np.float32)
        with pytest.raises(SimplerError, match="cycle") as e:
            w.run(cycle, [ones, ones, f])
        assert e.value.code == -5  # the orchestrator's fatal INVALID_ARGS (5), negated
        assert np.isnan(f).all()  # nothing written back by a failed run
        check_vector(w, cid, 30)
    with Worker(config=RuntimeConfig(runtime="host_build_graph")) as w:
        with pytest.raises(SimplerError, match="runtime variant mismatch.*aicpu_build_graph"):
            register_ring(w, abg_ring_callable)
