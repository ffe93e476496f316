"""Byte-exact ChipCallable images (upstream callable.h @ c68d9bbe6), the ``callable`` of ``prepare_callable``."""
from __future__ import annotations

import enum
import struct
from typing import Dict, Iterable, List, Sequence, Tuple, Union

CHIP_HEADER_SIZE = 8864
CORE_HEADER_SIZE = 144
CORE_BINARY_OFFSET = 192
CALLABLE_ALIGN = 64
NAME_MAX = 64
CHIP_MAX_SIG = 128
CORE_MAX_SIG = 32
CHIP_MAX_CHILDREN = 1024
MAX_FUNC_ID = 1024


class ArgDirection(enum.IntEnum):
    """Upstream ``ArgDirection`` (int32)."""

    SCALAR = 0
    IN = 1
    OUT = 2
    INOUT = 3


KernelSpec = Union[bytes, Tuple[bytes, Sequence[ArgDirection]]]


def _align64(v: int) -> int:
    return (v + CALLABLE_ALIGN - 1) // CALLABLE_ALIGN * CALLABLE_ALIGN


def _name(what: str, name: str) -> bytes:
    raw = name.encode("utf-8")
    if len(raw) >= NAME_MAX or b"\0" in raw:
        raise ValueError(f"{what} must be at most {NAME_MAX - 1} bytes without NUL: {name!r}")
    return raw


def _signature(what: str, sig: Iterable[ArgDirection], cap: int) -> List[int]:
    vals = [int(ArgDirection(d)) for d in sig]
    if len(vals) > cap:
        raise ValueError(f"{what} has {len(vals)} entries, max {cap}")
    return vals


def build_chip_callable(
    orchestration: bytes,
    kernels: Dict[int, KernelSpec],
    signature: Sequence[ArgDirection],
    func_name: str,
    config_name: str = "",
) -> bytes:
    """Builds a ChipCallable image: the orchestration SO at storage offset 0, then one CoreCallable
    per kernel (``func_id -> bytes`` or ``func_id -> (bytes, signature)``), in ascending func_id,
    each at a 64-aligned storage offset."""
    sig = _signature("signature", signature, CHIP_MAX_SIG)
    fname, cname = _name("func_name", func_name), _name("config_name", config_name)
    if len(kernels) > CHIP_MAX_CHILDREN:
        raise ValueError(f"{len(kernels)} kernels, max {CHIP_MAX_CHILDREN}")
    children = []
    end = len(orchestration)
    for func_id in sorted(kernels):
        spec = kernels[func_id]
        binary, ksig = (spec, ()) if isinstance(spec, (bytes, bytearray, memoryview)) else spec
        if not 0 <= func_id < MAX_FUNC_ID:
            raise ValueError(f"func_id {func_id} out of range [0, {MAX_FUNC_ID})")
        off = _align64(end)
        children.append((func_id, off, _signature(f"kernel {func_id} signature", ksig, CORE_MAX_SIG), bytes(binary)))
        end = off + CORE_BINARY_OFFSET + len(binary)

    img = bytearray(CHIP_HEADER_SIZE + end)
    struct.pack_into(f"<{len(sig)}i", img, 0, *sig)
    struct.pack_into("<iI", img, 512, len(sig), len(orchestration))
    img[520:520 + len(fname)] = fname
    struct.pack_into("<I", img, 584, len(fname))
    for i, (func_id, off, _, _) in enumerate(children):
        struct.pack_into("<i", img, 588 + 4 * i, func_id)
        struct.pack_into("<I", img, 4684 + 4 * i, off)
    struct.pack_into("<i", img, 8780, len(children))
    img[8784:8784 + len(cname)] = cname
    struct.pack_into("<I", img, 8848, len(cname))
    img[CHIP_HEADER_SIZE:CHIP_HEADER_SIZE + len(orchestration)] = orchestration
    for _, off, ksig, binary in children:
        base = CHIP_HEADER_SIZE + off
        struct.pack_into(f"<{len(ksig)}i", img, base, *ksig)
        struct.pack_into("<iIQ", img, base + 128, len(ksig), len(binary), 0)
        img[base + CORE_BINARY_OFFSET:base + CORE_BINARY_OFFSET + len(binary)] = binary
    return bytes(img)
