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


def compile_shared(source: Path, out: Path) -> bytes:
    cc = os.environ.get("CC") or shutil.which("cc") or "cc"
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-fPIC", "-shared", str(source), "-o", str(out)],
        check=True, timeout=120,
    )
    return out.read_bytes()


@pytest.fixture(scope="session")
def hbg_callable(tmp_path_factory):
    """(orchestration SO bytes, kernel SO bytes) of the example: out = a + 2 b, scalar 0 = element count."""
    d = tmp_path_factory.mktemp("hbg")
    return compile_shared(HBG / "orch.c", d / "liborch.so"), compile_shared(HBG / "kernel_add.c", d / "libkernel.so")


def pytest_report_header(config):
    try:
        import pysimpler

        lib = pysimpler.library()
        state = "complete" if lib.has_host_api else f"missing {', '.join(lib.missing_host_functions)}"
        return f"pysimpler: {pysimpler.__file__}; libsimpler: {lib.path} (host API {state})"
    except Exception as e:  # noqa: BLE001 - report, never fail collection here
        return f"libsimpler: not loadable ({e})"
