"""Library messages reach Python: environment warnings as SimplerEnvWarning, the rest through the
logging logger "pysimpler"."""
from __future__ import annotations

import logging
import warnings

import pytest

import pysimpler
from pysimpler import RuntimeConfig, SimplerEnvWarning, _log


@pytest.fixture(autouse=True)
def warn_threshold(monkeypatch):
    for k in ("PTO2_RING_TASK_WINDOW", "PTO2_RING_HEAP", "PTO2_RING_DEP_POOL", "PTO2_ORCH_TO_SCHED"):
        monkeypatch.delenv(k, raising=False)
    before = pysimpler.get_log_level()
    pysimpler.set_log_level("warn")
    yield
    pysimpler.set_log_level(before)


def test_ignored_variable_becomes_a_python_warning(monkeypatch):
    monkeypatch.setenv("PTO2_RING_HEAP", "-1")
    with pytest.warns(SimplerEnvWarning, match=r'ignoring PTO2_RING_HEAP="-1": value 1 \'-1\' is negative'):
        r = RuntimeConfig().resolve()
    assert r["ring_heap"][0].source == "default"


def test_orch_to_sched_lookalike_warns_and_keeps_upstreams_reading(monkeypatch):
    monkeypatch.setenv("PTO2_ORCH_TO_SCHED", "yes")
    with pytest.warns(SimplerEnvWarning, match='PTO2_ORCH_TO_SCHED="yes" reads as false'):
        r = RuntimeConfig().resolve()
    assert r["orch_to_sched"] == pysimpler.Resolved(False, "env")


def test_misspelled_variable_names_the_closest_known_one(monkeypatch):
    monkeypatch.setenv("PTO2_RING_HEAPS", "1024")
    with pytest.warns(SimplerEnvWarning) as rec:
        RuntimeConfig().resolve()
    texts = [str(w.message) for w in rec]
    assert "PTO2_RING_HEAPS is not a known variable; did you mean PTO2_RING_HEAP?" in texts
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RuntimeConfig().resolve()  # once per process per name


def test_threshold_filters_before_python(monkeypatch):
    monkeypatch.setenv("PTO2_RING_HEAP", "12K")
    pysimpler.set_log_level("error")
    assert pysimpler.get_log_level() == "error"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RuntimeConfig().resolve()


def test_set_log_level_takes_names_and_logging_levels():
    for given, want in [("DEBUG", "debug"), ("Warning", "warn"), ("off", "off"), (logging.INFO, "info"),
                        (logging.DEBUG, "debug"), (5, "trace"), (logging.ERROR, "error"),
                        (logging.CRITICAL, "error"), (logging.CRITICAL + 1, "off")]:
        pysimpler.set_log_level(given)
        assert pysimpler.get_log_level() == want, given
    with pytest.raises(ValueError, match="log level 'loud' is invalid"):
        pysimpler.set_log_level("loud")
    with pytest.raises(TypeError):
        pysimpler.set_log_level(2.0)  # type: ignore[arg-type]


def test_removing_the_bridge_restores_stderr(monkeypatch, capfd):
    monkeypatch.setenv("PTO2_RING_HEAP", "1,2")
    _log.remove_bridge()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            RuntimeConfig().resolve()
    finally:
        assert _log.install_bridge(pysimpler.library())
    err = capfd.readouterr().err
    assert '][WARN] env: ignoring PTO2_RING_HEAP="1,2"' in err
    with pytest.warns(SimplerEnvWarning):
        RuntimeConfig().resolve()


@pytest.mark.host_api
def test_lifecycle_reaches_logging_at_debug(hbg_callable, caplog):
    from pysimpler import ArgDirection, Worker

    orch, kernel = hbg_callable
    pysimpler.set_log_level("debug")
    with caplog.at_level(logging.DEBUG, logger="pysimpler"):
        with Worker(config=RuntimeConfig(runtime="host_build_graph")) as w:
            cid = w.register(orch, {0: kernel}, [ArgDirection.IN, ArgDirection.IN, ArgDirection.OUT],
                             func_name="build_graph")
            import array

            a, b, out = array.array("f", [1.0] * 4), array.array("f", [2.0] * 4), array.array("f", [0.0] * 4)
            w.run(cid, [a, b, out], [4])
    assert list(out) == [5.0] * 4
    msgs = [r.getMessage() for r in caplog.records if r.name == "pysimpler" and r.levelno == logging.DEBUG]
    joined = "\n".join(msgs)
    assert "device: context initialised: device 0, runtime host_build_graph" in joined
    assert f"device: callable {cid} registered for runtime host_build_graph: orchestration 'build_graph'" in joined
    assert f"device: run of callable {cid} on device 0 (host_build_graph" in joined
    assert f"device: run of callable {cid} done: host " in joined
