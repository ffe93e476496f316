"""A small parser for the C declarations of include/simpler.h, and a checker for ctypes mirrors."""
from __future__ import annotations

import ctypes
import os
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from conftest import REPO

from pysimpler import _structs

#: C struct name -> ctypes mirror.
STRUCTS = {
    "pto_runtime_config_t": _structs.PtoRuntimeConfig,
    "pto_resolved_value_t": _structs.PtoResolvedValue,
    "pto_resolved_config_t": _structs.PtoResolvedConfig,
    "pto_knob_info_t": _structs.PtoKnobInfo,
    "PtoRunTiming": _structs.PtoRunTiming,
}

_SCALARS = {
    "int": ctypes.c_int, "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64, "size_t": ctypes.c_size_t, "uintptr_t": ctypes.c_size_t, "uint8_t": ctypes.c_uint8,
    "int8_t": ctypes.c_int8, "bool": ctypes.c_bool, "char": ctypes.c_char, "double": ctypes.c_double,
    "float": ctypes.c_float,
}


def header_path() -> Path:
    if os.environ.get("SIMPLER_INCLUDE_DIR"):
        return Path(os.environ["SIMPLER_INCLUDE_DIR"]) / "simpler.h"
    prefix = os.environ.get("SIMPLER_PREFIX")
    if prefix and (Path(prefix) / "include" / "simpler.h").exists():
        return Path(prefix) / "include" / "simpler.h"
    return REPO / "include" / "simpler.h"


class Header:
    """Declarations of a C header: #define integers, enum constants, typedefs, structs, functions."""

    def __init__(self, text: str):
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        self.defines: Dict[str, int] = {
            m.group(1): int(m.group(2)) for m in re.finditer(r"#define\s+(\w+)\s+(-?\d+)\b", text)
        }
        self.enums: Dict[str, int] = {
            m.group(1): int(m.group(2)) for m in re.finditer(r"\b([A-Z][A-Z0-9_]+)\s*=\s*(-?\d+)\s*[,}\n]", text)
        }
        body = re.sub(r"#[^\n]*", " ", text)
        self.structs: Dict[str, List[Tuple[str, str, int]]] = {}
        for m in re.finditer(r"typedef\s+struct\s+(\w+)\s*\{(.*?)\}\s*(\w+)\s*;", body, flags=re.S):
            fields = []
            for decl in m.group(2).split(";"):
                decl = " ".join(decl.split())
                if not decl:
                    continue
                fm = re.fullmatch(r"(.+?)\s*\b(\w+)\s*(?:\[\s*(\w+)\s*\])?", decl)
                assert fm, f"cannot parse field {decl!r}"
                n = fm.group(3)
                count = 1 if n is None else (int(n) if n.isdigit() else self.defines[n])
                fields.append((self.norm(fm.group(1)), fm.group(2), count))
            self.structs[m.group(3)] = fields
        #: function-pointer typedefs: name -> (return type, parameter types)
        self.fnptrs: Dict[str, Tuple[str, List[str]]] = {}
        for m in re.finditer(r"typedef\s+([\w\s\*]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^()]*)\)\s*;", body):
            params = m.group(3).strip()
            self.fnptrs[m.group(2)] = (
                self.norm(m.group(1)), [] if params in ("", "void") else [self.param_type(p) for p in params.split(",")]
            )
        self.typedefs: Dict[str, str] = {
            m.group(2): self.norm(m.group(1)) for m in re.finditer(r"typedef\s+([\w\s\*]+?)\s*\b(\w+)\s*;", body)
            if not m.group(1).strip().startswith(("struct", "enum"))
        }
        self.functions: Dict[str, Tuple[str, List[str]]] = {}
        flat = re.sub(r'extern\s+"C"', " ", body)
        for stmt in re.split(r"[;{}]", flat):
            m = re.fullmatch(r"\s*([\w\s\*]+?)\b(\w+)\s*\(([^()]*)\)\s*", stmt)
            if not m or m.group(1).strip().startswith("typedef"):
                continue
            ret, name, params = m.group(1), m.group(2), m.group(3).strip()
            args = [] if params in ("", "void") else [self.param_type(p) for p in params.split(",")]
            self.functions[name] = (self.norm(ret), args)

    @staticmethod
    def norm(t: str) -> str:
        t = re.sub(r"\b(const|struct|enum|extern)\b", " ", t)
        t = t.replace("*", " * ")
        return " ".join(t.split()).replace(" *", "*")

    def param_type(self, p: str) -> str:
        p = " ".join(p.split())
        m = re.fullmatch(r"(.+?[\s\*])(\w+)", p)
        return self.norm(m.group(1) if m else p)

    def resolve_typedef(self, t: str) -> str:
        base, stars = t.rstrip("*"), len(t) - len(t.rstrip("*"))
        seen = 0
        while base in self.typedefs and seen < 10:
            target = self.typedefs[base]
            base, stars = target.rstrip("*"), stars + len(target) - len(target.rstrip("*"))
            seen += 1
        return base + "*" * stars

    def ctype(self, t: str) -> Optional[object]:
        """The ctypes type a prototype must use for C type ``t`` (None = void)."""
        t = self.resolve_typedef(t)
        if t == "void":
            return None
        if t == "char*":
            return ctypes.c_char_p
        if t == "void*":
            return ctypes.c_void_p
        if t.endswith("*"):
            inner = t[:-1]
            if inner in STRUCTS:
                return ctypes.POINTER(STRUCTS[inner])
            if inner in _SCALARS:
                return ctypes.POINTER(_SCALARS[inner])
            raise KeyError(f"no ctypes mapping for pointer type {t!r}")
        if t in _SCALARS:
            return _SCALARS[t]
        if t in self.enums or t.endswith("_t") and t in ("pto_error_code_t", "pto_config_source_t"):
            return ctypes.c_int32
        raise KeyError(f"no ctypes mapping for {t!r}")

    def sizeof(self, t: str) -> int:
        t = self.resolve_typedef(t)
        if t.endswith("*"):
            return ctypes.sizeof(ctypes.c_void_p)
        if t in STRUCTS:
            return ctypes.sizeof(STRUCTS[t])
        return ctypes.sizeof(_SCALARS[t])


def _is_cfunctype(py: object) -> bool:
    return isinstance(py, type) and issubclass(py, ctypes._CFuncPtr) and hasattr(py, "_argtypes_")  # type: ignore[attr-defined]


def check_function(h: Header, name: str, restype: object, argtypes: List[object]) -> List[str]:
    """Differences between a ctypes prototype and the header's declaration (empty = matches).
    A ``CFUNCTYPE`` argument is checked against the header's function-pointer typedef."""
    if name not in h.functions:
        return [f"{name}: not declared in the header"]
    ret, args = h.functions[name]
    errors = []
    for i, (c, py) in enumerate(zip(args, argtypes)):
        if c in h.fnptrs or _is_cfunctype(py):
            if c not in h.fnptrs or not _is_cfunctype(py):
                errors.append(f"{name}: parameter {i} is {c} in the header but {py} in the shim")
                continue
            fret, fargs = h.fnptrs[c]
            errors += check_function_types(h, f"{name} parameter {i} ({c})", fret, fargs, py._restype_, list(py._argtypes_))
    fn_params = {i for i, c in enumerate(args) if c in h.fnptrs}
    args = [c for i, c in enumerate(args) if i not in fn_params]
    argtypes = [p for i, p in enumerate(argtypes) if i not in fn_params and not _is_cfunctype(p)]
    if h.ctype(ret) is not restype:
        errors.append(f"{name}: restype {restype} but the header returns {ret}")
    if len(args) != len(argtypes):
        errors.append(f"{name}: {len(argtypes)} argtypes but the header has {len(args)} parameters")
    for i, (c, py) in enumerate(zip(args, argtypes)):
        if h.ctype(c) is not py:
            errors.append(f"{name}: parameter {i} is {c} in the header but {py} in the shim")
    return errors


def check_struct(h: Header, cname: str, cls: type) -> List[str]:
    """Differences between a ctypes Structure and the header's struct (names, order, sizes)."""
    if cname not in h.structs:
        return [f"{cname}: not declared in the header"]
    fields = h.structs[cname]
    ours = [(f[0], f[1]) for f in cls._fields_]
    errors = []
    if [f[1] for f in fields] != [f[0] for f in ours]:
        errors.append(f"{cname}: fields {[f[1] for f in fields]} but the shim has {[f[0] for f in ours]}")
        return errors
    for (ctype_name, fname, count), (_, pytype) in zip(fields, ours):
        want = h.sizeof(ctype_name) * count
        if ctypes.sizeof(pytype) != want:
            errors.append(f"{cname}.{fname}: {ctypes.sizeof(pytype)} bytes in the shim, {want} in the header")
    return errors


def check_function_types(h: Header, what: str, ret: str, args: List[str], restype: object,
                         argtypes: List[object]) -> List[str]:
    """Differences between C types (``ret``, ``args``) and ctypes (``restype``, ``argtypes``)."""
    errors = []
    if h.ctype(ret) is not restype:
        errors.append(f"{what}: restype {restype} but the header returns {ret}")
    if len(args) != len(argtypes):
        errors.append(f"{what}: {len(argtypes)} argtypes but the header has {len(args)} parameters")
    for i, (c, py) in enumerate(zip(args, argtypes)):
        if h.ctype(c) is not py:
            errors.append(f"{what}: parameter {i} is {c} in the header but {py} in the shim")
    return errors
