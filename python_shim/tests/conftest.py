"""Shared fixtures: the example host_build_graph callable (cmake/example/hbg), compiled once."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import sys

import pytest

REPO = Path(__file__).resolve().parents[2]

try:  # an installed pysimpler wins; in-tree runs fall back to the source next to these tests
    import pysimpler  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
HBG = REPO / "cmake" / "example" / "hbg"


def compile_shared(source: Path, out: Path, include: bool = False, cxx: bool = False) -> bytes:
    if cxx:
        cc, std = os.environ.get("CXX") or shutil.which("c++") or "c++", "-std=c++17"
    else:
        cc, std = os.environ.get("CC") or shutil.which("cc") or "cc", "-std=c11"
    flags = ["-I", str(REPO / "include")] if include else []
    subprocess.run(
        [cc, std, "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-shared", *flags, str(source), "-o", str(out)],
        check=True, timeout=120,
    )
    return out.read_bytes()


@pytest.fixture(scope="session")
def hbg_callable(tmp_path_factory):
    """(orchestration SO bytes, kernel SO bytes) of the example: out = a + 2 b, scalar 0 = element count."""
    d = tmp_path_factory.mktemp("hbg")
    return compile_shared(HBG / "orch.c", d / "liborch.so"), compile_shared(HBG / "kernel_add.c", d / "libkernel.so")


ABG = REPO / "examples" / "abg_vector"
ABG_FIXTURES = REPO / "c_tests" / "fixtures"


@pytest.fixture(scope="session")
def abg_callable(tmp_path_factory):
    """aicpu_build_graph vector example (examples/abg_vector): the marked plugin, the same plugin
    without the marker, and the kernels add, add_scalar, mul (bytes each)."""
    d = tmp_path_factory.mktemp("abg")
    plugin = compile_shared(ABG / "orchestration.c", d / "libabg.so", include=True)
    unmarked = compile_shared(ABG_FIXTURES / "abg_vector_unmarked" / "orchestration.c", d / "libabg_unmarked.so",
                              include=True)
    kernels = [compile_shared(ABG / f"kernel_{k}.c", d / f"libabg_{k}.so") for k in ("add", "add_scalar", "mul")]
    probe = compile_shared(ABG_FIXTURES / "abg_probe" / "orchestration.c", d / "libabg_probe.so", include=True)
    return plugin, unmarked, kernels, probe


@pytest.fixture(scope="session")
def abg_ring_callable(tmp_path_factory):
    """aicpu_build_graph ring form (examples/abg_ring_vector, C++): the vector orchestration, the
    cycle fixture (c_tests/fixtures/abg_ring_cycle) and the kernels add, add_scalar, mul of
    examples/kernels (bytes each)."""
    d = tmp_path_factory.mktemp("abg_ring")
    orch = compile_shared(REPO / "examples" / "abg_ring_vector" / "orchestration.cpp", d / "libring.so", True, True)
    cycle = compile_shared(ABG_FIXTURES / "abg_ring_cycle" / "orchestration.cpp", d / "libring_cycle.so", True, True)
    kernels = [compile_shared(REPO / "examples" / "kernels" / f"kernel_{k}.c", d / f"libring_{k}.so", True)
               for k in ("add", "add_scalar", "mul")]
    return orch, cycle, kernels


def pytest_report_header(config):
    try:
        import pysimpler

        lib = pysimpler.library()
        state = "complete" if lib.has_host_api else f"missing {', '.join(lib.missing_host_functions)}"
        return f"pysimpler: {pysimpler.__file__}; libsimpler: {lib.path} (host API {state})"
    except Exception as e:  # noqa: BLE001 - report, never fail collection here
        return f"libsimpler: not loadable ({e})"
