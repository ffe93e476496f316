"""Every ctypes declaration of the shim matches include/simpler.h (a stale one fails here)."""
from __future__ import annotations

import ctypes

import pytest
from header import STRUCTS, Header, check_function, check_struct, header_path

from pysimpler import _library, config


@pytest.fixture(scope="module")
def header():
    return Header(header_path().read_text())


@pytest.mark.parametrize("name", sorted(_library.CONFIG_FUNCTIONS))
def test_config_functions(header, name):
    restype, argtypes = _library.CONFIG_FUNCTIONS[name]
    assert check_function(header, name, restype, argtypes) == []


@pytest.mark.parametrize("name", sorted(_library.LOG_FUNCTIONS))
def test_log_functions(header, name):
    restype, argtypes = _library.LOG_FUNCTIONS[name]
    assert check_function(header, name, restype, argtypes) == []


def test_log_levels_and_stale_callback_type_fail(header):
    from pysimpler import _log

    for i, name in enumerate(_log.LEVEL_NAMES):
        assert header.enums[f"SIMPLER_LOG_{name.upper()}"] == i == getattr(_log, name.upper())
    assert "simpler_log_callback_t" in header.fnptrs
    restype, argtypes = _library.LOG_FUNCTIONS["simpler_log_set_callback"]
    wrong = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)  # a parameter lost
    assert check_function(header, "simpler_log_set_callback", restype, [wrong, argtypes[1]])
    assert check_function(header, "simpler_log_set_callback", restype, [ctypes.c_void_p, argtypes[1]])


@pytest.mark.host_api
@pytest.mark.parametrize("name", sorted(_library.HOST_FUNCTIONS))
def test_host_functions(header, name):
    restype, argtypes = _library.HOST_FUNCTIONS[name]
    assert check_function(header, name, restype, argtypes) == []


@pytest.mark.parametrize("cname", ["pto_runtime_config_t", "pto_resolved_value_t", "pto_resolved_config_t",
                                   "pto_knob_info_t"])
def test_config_structs(header, cname):
    assert check_struct(header, cname, STRUCTS[cname]) == []


@pytest.mark.host_api
def test_run_timing_struct(header):
    assert check_struct(header, "PtoRunTiming", STRUCTS["PtoRunTiming"]) == []


def test_constants(header):
    for name, value in [("PTO_OK", config.PTO_OK), ("PTO_ERR_INVALID_VALUE", config.PTO_ERR_INVALID_VALUE),
                        ("PTO_ERR_UNKNOWN_KNOB", config.PTO_ERR_UNKNOWN_KNOB), ("PTO_ERR_PARSE", config.PTO_ERR_PARSE)]:
        assert header.enums[name] == value, name
    sources = {v: k for k, v in config.SOURCES.items()}
    for name, py in [("PTO_SOURCE_DEFAULT", "default"), ("PTO_SOURCE_ENV", "env"),
                     ("PTO_SOURCE_ENV_PER_RING", "env_per_ring"), ("PTO_SOURCE_EXPLICIT", "explicit"),
                     ("PTO_SOURCE_EXPLICIT_PER_RING", "explicit_per_ring")]:
        assert header.enums[name] == sources[py], name
    runtimes = {v: k for k, v in config.RUNTIMES.items()}
    for name in config.RUNTIMES.values():
        assert header.defines[f"PTO_RUNTIME_{name.upper()}"] == runtimes[name]
    assert header.defines["PTO_RING_COUNT"] == 4


# -- the checker itself catches stale declarations -------------------------------------------------

def test_stale_function_declarations_fail(header):
    restype, argtypes = _library.CONFIG_FUNCTIONS["pto_runtime_config_set"]
    assert check_function(header, "pto_runtime_config_set", restype, argtypes[:2])  # wrong arity
    wrong = [argtypes[0], ctypes.c_char_p, ctypes.c_int32]
    assert check_function(header, "pto_runtime_config_set", restype, wrong)  # wrong type
    assert check_function(header, "pto_runtime_config_set", ctypes.c_size_t, argtypes)  # wrong restype
    assert check_function(header, "pto_runtime_config_sett", restype, argtypes)  # renamed


def test_stale_struct_declarations_fail(header):
    class Reordered(ctypes.Structure):
        _fields_ = [("value", ctypes.c_uint64), ("reserved", ctypes.c_uint32), ("source", ctypes.c_int32)]

    class Resized(ctypes.Structure):
        _fields_ = [("value", ctypes.c_uint64), ("source", ctypes.c_int64), ("reserved", ctypes.c_uint32)]

    assert check_struct(header, "pto_resolved_value_t", Reordered)
    assert check_struct(header, "pto_resolved_value_t", Resized)


def test_parser_reads_the_whole_header(header):
    assert {"pto_runtime_config_init", "pto_error_name", "simpler_version"} <= set(header.functions)
    assert header.structs["pto_runtime_config_t"][4] == ("uint64_t", "ring_task_windows", 4)
