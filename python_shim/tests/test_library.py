"""Library discovery order and errors."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import pysimpler
from pysimpler import _library


def test_simpler_library_wins(monkeypatch):
    real = pysimpler.library().path
    monkeypatch.setenv("SIMPLER_LIBRARY", str(real))
    monkeypatch.setenv("SIMPLER_PREFIX", "/nonexistent-prefix")
    assert _library.find_library() == Path(real)


def test_missing_simpler_library_is_an_error_naming_it(monkeypatch, tmp_path):
    bogus = tmp_path / "nope" / "libsimpler.so"
    monkeypatch.setenv("SIMPLER_LIBRARY", str(bogus))
    with pytest.raises(pysimpler.LibraryNotFoundError) as e:
        _library.find_library()
    assert str(bogus) in str(e.value)
    assert e.value.searched == [f"SIMPLER_LIBRARY={bogus} (not a file)"]


def test_search_order_prefix_then_sys_prefix_then_build_tree(monkeypatch, tmp_path):
    monkeypatch.delenv("SIMPLER_LIBRARY", raising=False)
    monkeypatch.setenv("SIMPLER_PREFIX", str(tmp_path))
    paths = _library.candidate_paths()
    assert paths[0] == tmp_path / "lib" / "libsimpler.so"
    assert paths[1] == tmp_path / "lib" / "libsimpler.so.0"
    assert paths[2] == Path(sys.prefix) / "lib" / "libsimpler.so"
    assert all("target" in p.parts for p in paths[4:])


def test_not_found_lists_every_place(monkeypatch, tmp_path):
    monkeypatch.delenv("SIMPLER_LIBRARY", raising=False)
    monkeypatch.setenv("SIMPLER_PREFIX", str(tmp_path))
    monkeypatch.setattr(_library, "candidate_paths", lambda: [tmp_path / "a.so", tmp_path / "b.so"])
    with pytest.raises(pysimpler.LibraryNotFoundError) as e:
        _library.find_library()
    assert e.value.searched == [str(tmp_path / "a.so"), str(tmp_path / "b.so")]
    assert str(tmp_path / "b.so") in str(e.value)


def test_prefix_lookup_finds_an_installed_library(monkeypatch, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "libsimpler.so").symlink_to(pysimpler.library().path.resolve())
    monkeypatch.delenv("SIMPLER_LIBRARY", raising=False)
    monkeypatch.setenv("SIMPLER_PREFIX", str(tmp_path))
    assert _library.find_library() == lib / "libsimpler.so"


def test_version_is_semver():
    parts = pysimpler.library().simpler_version().decode().split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)
