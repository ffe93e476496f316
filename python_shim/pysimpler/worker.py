"""``Worker``: a device context of libsimpler driven from Python (ChipWorker-style)."""
from __future__ import annotations

import ctypes
import enum
import math
import struct
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from ._library import Library, library
from ._structs import CHIP_MAX_SCALAR_ARGS, CHIP_MAX_TENSOR_ARGS, MAX_TENSOR_DIMS, ChipStorageTaskArgs, PtoRunTiming
from .call_config import CallConfig
from .callable import ArgDirection, KernelSpec, build_chip_callable
from .config import RuntimeConfig, raise_last
from .errors import SimplerError, SimplerHostApiError

MAX_REGISTERED_CALLABLE_IDS = 64
_ALIGN = 64
_INVALID_TASK_ID = (1 << 64) - 1


class DataType(enum.IntEnum):
    """Upstream ``DataType`` (uint8)."""

    FLOAT32 = 0
    FLOAT16 = 1
    INT32 = 2
    INT16 = 3
    INT8 = 4
    UINT8 = 5
    BFLOAT16 = 6
    INT64 = 7
    UINT64 = 8
    UINT16 = 9
    UINT32 = 10
    BOOL = 11

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return _ITEMSIZE[self]


_ITEMSIZE = {
    DataType.FLOAT32: 4, DataType.FLOAT16: 2, DataType.INT32: 4, DataType.INT16: 2, DataType.INT8: 1,
    DataType.UINT8: 1, DataType.BFLOAT16: 2, DataType.INT64: 8, DataType.UINT64: 8, DataType.UINT16: 2,
    DataType.UINT32: 4, DataType.BOOL: 1,
}

# struct-module format characters (as memoryview reports them) -> DataType, by (kind, itemsize).
_FORMATS = {
    ("f", 4): DataType.FLOAT32, ("e", 2): DataType.FLOAT16, ("?", 1): DataType.BOOL,
    ("b", 1): DataType.INT8, ("h", 2): DataType.INT16, ("i", 4): DataType.INT32, ("l", 4): DataType.INT32,
    ("l", 8): DataType.INT64, ("q", 8): DataType.INT64, ("B", 1): DataType.UINT8, ("c", 1): DataType.UINT8,
    ("H", 2): DataType.UINT16, ("I", 4): DataType.UINT32, ("L", 4): DataType.UINT32, ("L", 8): DataType.UINT64,
    ("Q", 8): DataType.UINT64,
}


def _dtype(value: Union[DataType, str, int, Any]) -> DataType:
    if isinstance(value, DataType):
        return value
    if isinstance(value, int):
        return DataType(value)
    name = str(getattr(value, "name", value)).upper()
    try:
        return DataType[name]
    except KeyError:
        raise ValueError(f"unsupported dtype {value!r}") from None


class Tensor:
    """A host buffer with an explicit shape and dtype (overrides what the buffer itself reports)."""

    def __init__(self, buffer: Any, shape: Sequence[int], dtype: Union[DataType, str, int, Any]):
        self.buffer = buffer
        self.shape = tuple(int(s) for s in shape)
        self.dtype = _dtype(dtype)
        if not 1 <= len(self.shape) <= MAX_TENSOR_DIMS or any(s < 0 or s >= 1 << 32 for s in self.shape):
            raise ValueError(f"Tensor shape {self.shape} must have 1..{MAX_TENSOR_DIMS} dims of uint32")

    @property
    def nbytes(self) -> int:
        """Bytes the view covers."""
        return math.prod(self.shape) * self.dtype.itemsize


def _describe(obj: Any) -> Tuple[Any, Tuple[int, ...], DataType]:
    """(buffer, shape, dtype) of a Tensor or of any buffer-protocol object."""
    if isinstance(obj, Tensor):
        return obj.buffer, obj.shape, obj.dtype
    mv = memoryview(obj)
    fmt = mv.format.lstrip("@=<")
    dtype = _FORMATS.get((fmt, mv.itemsize))
    if dtype is None:
        raise ValueError(f"unsupported buffer element format {mv.format!r} (itemsize {mv.itemsize}); wrap it in "
                         "pysimpler.Tensor(buffer, shape, dtype)")
    shape = tuple(mv.shape) if mv.ndim else (1,)
    if not 1 <= len(shape) <= MAX_TENSOR_DIMS:
        raise ValueError(f"buffer has {len(shape)} dims, max {MAX_TENSOR_DIMS}")
    return obj, shape, dtype


def _host_view(buffer: Any, need: int) -> ctypes.Array:
    """A ctypes view of a writable, C-contiguous buffer (keeps the buffer exported while alive)."""
    mv = memoryview(buffer)
    if mv.readonly:
        raise TypeError("tensor buffers must be writable")
    if not mv.c_contiguous:
        raise ValueError("tensor buffers must be C-contiguous")
    if mv.nbytes < need:
        raise ValueError(f"tensor buffer has {mv.nbytes} bytes, the view needs {need}")
    nbytes = mv.nbytes
    mv.release()
    return (ctypes.c_char * nbytes).from_buffer(buffer)


def _scalar_bits(v: Any) -> int:
    """Scalars travel as uint64: ints as two's complement, floats as IEEE-754 single bits (upstream)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        if not -(1 << 63) <= v < 1 << 64:
            raise OverflowError(f"scalar {v} does not fit 64 bits")
        return v & ((1 << 64) - 1)
    if isinstance(v, float):
        return struct.unpack("<I", struct.pack("<f", v))[0]
    if hasattr(v, "item"):
        return _scalar_bits(v.item())
    raise TypeError(f"scalar {v!r} must be an int or a float")


def _aligned(ctype: type, align: int = _ALIGN) -> Tuple[Any, ctypes.Array]:
    """An instance of ``ctype`` at an ``align``-aligned address, and the backing storage to keep alive."""
    raw = (ctypes.c_uint8 * (ctypes.sizeof(ctype) + align))()
    off = (-ctypes.addressof(raw)) % align
    return ctype.from_buffer(raw, off), raw


@dataclass(frozen=True)
class RunTiming:
    """Wall times of one run (``PtoRunTiming``)."""

    host_wall_ns: int
    device_wall_ns: int

    @property
    def host_wall_us(self) -> float:
        """Host wall time in microseconds."""
        return self.host_wall_ns / 1000.0

    @property
    def device_wall_us(self) -> float:
        """Device wall time in microseconds."""
        return self.device_wall_ns / 1000.0


class Worker:
    """One device context: ``create_device_context`` + ``simpler_init_with_config``.

    Use as a context manager (or call :meth:`close`). Each worker has its own configuration; several
    workers with different configurations coexist in one process.
    """

    def __init__(self, device_id: int = 0, config: Optional[RuntimeConfig] = None):
        self._lib: Library = library()
        self._ctx: Optional[int] = None
        if not self._lib.has_host_api:
            raise SimplerHostApiError(
                -1, f"{self._lib.path} lacks host entries: {', '.join(self._lib.missing_host_functions)}"
            )
        if device_id < 0:
            raise ValueError("Worker requires a non-negative device_id")
        self.device_id = device_id
        self.config = config
        ctx = self._lib.create_device_context()
        if not ctx:
            raise_last(-1, "create_device_context")
        cfg = ctypes.byref(config.to_c()) if config is not None else None
        rc = self._lib.simpler_init_with_config(ctx, device_id, None, 0, None, 0, None, 0, cfg)
        if rc != 0:
            try:
                raise_last(rc, "simpler_init_with_config")
            finally:
                self._lib.destroy_device_context(ctx)
        self._ctx = ctx
        self._runtime, self._runtime_raw = self._alloc_runtime(self._lib.get_runtime_size())
        self._registered: Dict[int, bytes] = {}

    @staticmethod
    def _alloc_runtime(size: int) -> Tuple[int, ctypes.Array]:
        raw = (ctypes.c_uint8 * (max(size, 1) + _ALIGN))()
        return ctypes.addressof(raw) + (-ctypes.addressof(raw)) % _ALIGN, raw

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def initialized(self) -> bool:
        """True until :meth:`close`."""
        return self._ctx is not None

    def _require(self) -> int:
        if self._ctx is None:
            raise SimplerError(-1, "Worker is closed")
        return self._ctx

    def close(self) -> None:
        """``finalize_device`` + ``destroy_device_context`` (idempotent)."""
        ctx, self._ctx = self._ctx, None
        if ctx is None:
            return
        rc = self._lib.finalize_device(ctx)
        self._lib.destroy_device_context(ctx)
        self._registered.clear()
        if rc != 0:
            raise_last(rc, "finalize_device")

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass

    # -- callables ---------------------------------------------------------------------------------

    def register(
        self,
        orchestration: bytes,
        kernels: Dict[int, KernelSpec],
        signature: Sequence[ArgDirection],
        func_name: str,
        config_name: str = "",
    ) -> int:
        """Builds a ChipCallable image and registers it under the lowest free id in [0, 64)."""
        ctx = self._require()
        image = build_chip_callable(orchestration, kernels, signature, func_name, config_name)
        free = [i for i in range(MAX_REGISTERED_CALLABLE_IDS) if i not in self._registered]
        if not free:
            raise SimplerError(-1, "callable capacity exhausted")
        cid = free[0]
        buf = ctypes.create_string_buffer(image, len(image))
        rc = self._lib.simpler_prepare_callable_sized(ctx, cid, buf, len(image))
        if rc != 0:
            raise_last(rc, "simpler_prepare_callable_sized")
        self._registered[cid] = image
        return cid

    def unregister(self, callable_id: int) -> None:
        """Drops a registered callable (``unregister_callable``)."""
        rc = self._lib.unregister_callable(self._require(), callable_id)
        if rc != 0:
            raise_last(rc, "unregister_callable")
        self._registered.pop(callable_id, None)

    # -- runs --------------------------------------------------------------------------------------

    def run(
        self,
        callable_id: int,
        tensors: Sequence[Any],
        scalars: Sequence[Union[int, float]] = (),
        *,
        config: Optional[RuntimeConfig] = None,
        call_config: Optional[CallConfig] = None,
    ) -> RunTiming:
        """Runs a registered callable. ``tensors`` are writable host buffers (NumPy arrays,
        bytearray, array.array, ...) or :class:`Tensor` wrappers, passed by host address; outputs
        are written back into them. ``config`` holds per-run knobs; ``call_config`` upstream's
        CallConfig (validated first)."""
        ctx = self._require()
        if call_config is not None:
            call_config.validate()
        if len(tensors) > CHIP_MAX_TENSOR_ARGS or len(scalars) > CHIP_MAX_SCALAR_ARGS:
            raise IndexError(f"at most {CHIP_MAX_TENSOR_ARGS} tensors and {CHIP_MAX_SCALAR_ARGS} scalars")
        args, args_raw = _aligned(ChipStorageTaskArgs)
        keep: List[Any] = [args_raw]
        for i, obj in enumerate(tensors):
            buffer, shape, dtype = _describe(obj)
            numel = math.prod(shape)
            view = _host_view(buffer, numel * dtype.itemsize)
            keep.append(view)
            t = args.tensors[i]
            t.addr = ctypes.addressof(view)
            t.size = numel * dtype.itemsize
            t.owner_task_id = _INVALID_TASK_ID
            t.ndims = len(shape)
            t.dtype = int(dtype)
            t.is_contiguous = 1
            stride = 1
            for d in reversed(range(len(shape))):
                t.shapes[d] = shape[d]
                t.strides[d] = stride
                stride *= shape[d]
            t.extent_elem_cache = numel
        for j, s in enumerate(scalars):
            args.scalars[j] = _scalar_bits(s)
        args.tensor_count = len(tensors)
        args.scalar_count = len(scalars)

        timing = PtoRunTiming()
        cc = ctypes.byref(call_config) if call_config is not None else None
        rc_cfg = config.to_c() if config is not None else None
        rc = self._lib.run_prepared_with_config(
            ctx, self._runtime, callable_id, ctypes.addressof(args), cc,
            ctypes.byref(rc_cfg) if rc_cfg is not None else None, ctypes.byref(timing),
        )
        del keep
        if rc != 0:
            raise_last(rc, f"run(callable_id={callable_id})")
        return RunTiming(int(timing.host_wall_ns), int(timing.device_wall_ns))

    def __repr__(self) -> str:
        state = "open" if self._ctx is not None else "closed"
        return f"Worker(device_id={self.device_id}, config={self.config!r}, {state})"
