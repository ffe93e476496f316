"""ChipCallable images (upstream callable.h @ c68d9bbe6), cross-checked against the C++ example's builder."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess

from conftest import REPO

from pysimpler import ArgDirection, build_chip_callable

A = ArgDirection


def u32(img, off):
    return struct.unpack_from("<I", img, off)[0]


def i32(img, off):
    return struct.unpack_from("<i", img, off)[0]


def test_layout():
    orch = bytes(range(100))
    img = build_chip_callable(orch, {2: (b"\xbb" * 70, [A.INOUT]), 0: b"\xaa" * 10}, [A.IN, A.IN, A.OUT, A.SCALAR],
                              "entry", "cfg")
    assert i32(img, 512) == 4 and u32(img, 516) == 100
    assert [i32(img, 4 * i) for i in range(4)] == [1, 1, 2, 0]
    assert img[520:525] == b"entry" and img[525] == 0 and u32(img, 584) == 5
    assert i32(img, 8780) == 2
    assert (i32(img, 588), i32(img, 592)) == (0, 2)  # ascending func_id
    off0, off1 = u32(img, 4684), u32(img, 4688)
    assert off0 == 128 and off1 == 128 + 192 + 64 and off1 % 64 == 0
    assert img[8784:8787] == b"cfg" and u32(img, 8848) == 3
    assert img[8864:8964] == orch
    c0, c1 = 8864 + off0, 8864 + off1
    assert i32(img, c0 + 128) == 0 and u32(img, c0 + 132) == 10 and img[c0 + 192:c0 + 202] == b"\xaa" * 10
    assert i32(img, c1) == 3 and i32(img, c1 + 128) == 1 and u32(img, c1 + 132) == 70
    assert struct.unpack_from("<Q", img, c1 + 136)[0] == 0
    assert len(img) == c1 + 192 + 70


def test_matches_the_cpp_builder(tmp_path):
    src = tmp_path / "dump.cpp"
    src.write_text(r'''
#include <cstdio>
#include "chip_image.hpp"
int main() {
    using example::ArgDirection;
    std::vector<uint8_t> orch(777);
    for (size_t i = 0; i < orch.size(); ++i) orch[i] = static_cast<uint8_t>(i * 13);
    std::vector<uint8_t> k0(33, 0x5a), k1(5, 0x11);
    auto img = example::build_chip_callable({ArgDirection::In, ArgDirection::Out}, "build_graph", "conf", orch,
        {example::Kernel{3, {ArgDirection::In}, k0}, example::Kernel{9, {}, k1}});
    fwrite(img.data(), 1, img.size(), stdout);
}
''')
    cxx = os.environ.get("CXX") or shutil.which("c++") or "c++"
    exe = tmp_path / "dump"
    subprocess.run([cxx, "-std=c++17", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "cmake" / "example"),
                    str(src), "-o", str(exe)], check=True, timeout=120)
    cpp = subprocess.run([str(exe)], check=True, capture_output=True, timeout=60).stdout
    orch = bytes((i * 13) & 0xFF for i in range(777))
    py = build_chip_callable(orch, {3: (b"\x5a" * 33, [A.IN]), 9: b"\x11" * 5}, [A.IN, A.OUT], "build_graph", "conf")
    assert py == cpp


def test_rejects_bad_input():
    import pytest

    with pytest.raises(ValueError):
        build_chip_callable(b"x", {1024: b""}, [], "f")
    with pytest.raises(ValueError):
        build_chip_callable(b"x", {}, [], "f" * 64)
    with pytest.raises(ValueError):
        build_chip_callable(b"x", {}, [A.IN] * 129, "f")
