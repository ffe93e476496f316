// pto_orchestration_api.h — orchestration and sim-kernel API for the simpler
// runtime (libsimpler.so), binary compatible with the TRB ("PTO2") interface
// of upstream hw-native-sys/simpler at c68d9bbe6 with PTO2_PROFILING=1.
//
// Written from the published ABI facts (sizes, offsets, call sequences);
// every layout is pinned by static_asserts below. C++17.
//
// An orchestration SO built from this header:
//   * defines `extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &)`
//     and optionally `extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &)`;
//   * gets `framework_bind_runtime` exported automatically (weak definition
//     below, one per SO);
//   * reaches the runtime only through the ops table of the bound runtime
//     object — no link-time dependency on any runtime library.
// Build: g++ -std=c++17 -shared -fPIC -fno-gnu-unique -O2 orchestration.cpp
//
// Sim kernels (C++) can use the kernel-side helpers at the end of the file
// (get_block_idx(args), get_block_num(args), get_sub_block_id(args)).
#ifndef PTO_ORCHESTRATION_API_H
#define PTO_ORCHESTRATION_API_H

#ifndef __cplusplus
/* The orchestration API is C++17. Included from C, this header provides the
 * kernel-side argument ABI only (pto_kernel_abi.h). */
#include "pto_kernel_abi.h"
#else
#if __cplusplus < 201703L
#error "pto_orchestration_api.h requires C++17"
#endif

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <type_traits>

// ---------------------------------------------------------------------------
// Constants

constexpr int32_t INVALID_KERNEL_ID = -1;
constexpr int MAX_TENSOR_ARGS = 32;
constexpr int MAX_SCALAR_ARGS = 16;
constexpr int CORE_MAX_TENSOR_ARGS = MAX_TENSOR_ARGS;
constexpr int CORE_MAX_SCALAR_ARGS = MAX_SCALAR_ARGS;
constexpr int CHIP_MAX_TENSOR_ARGS = 128;
constexpr int CHIP_MAX_SCALAR_ARGS = 128;
constexpr int MAX_TENSOR_DIMS = 5;
constexpr int PTO2_MAX_RING_DEPTH = 4;
constexpr int PTO2_MAX_SCOPE_DEPTH = 64;
constexpr int PTO2_PACKED_OUTPUT_ALIGN = 1024;
constexpr int SPMD_LOCAL_CONTEXT_INDEX = 48;
constexpr int SPMD_GLOBAL_CONTEXT_INDEX = 49;
constexpr int MAX_COMPLETIONS_PER_TASK = 64;

constexpr int32_t PTO2_ERROR_NONE = 0;
constexpr int32_t PTO2_ERROR_SCOPE_DEADLOCK = 1;
constexpr int32_t PTO2_ERROR_HEAP_RING_DEADLOCK = 2;
constexpr int32_t PTO2_ERROR_FLOW_CONTROL_DEADLOCK = 3;
constexpr int32_t PTO2_ERROR_DEP_POOL_OVERFLOW = 4;
constexpr int32_t PTO2_ERROR_INVALID_ARGS = 5;
constexpr int32_t PTO2_ERROR_DEPENDENCY_OVERFLOW = 6;
constexpr int32_t PTO2_ERROR_REQUIRE_SYNC_START_INVALID = 7;
constexpr int32_t PTO2_ERROR_TENSOR_WAIT_TIMEOUT = 8;
constexpr int32_t PTO2_ERROR_EXPLICIT_ORCH_FATAL = 9;
constexpr int32_t PTO2_ERROR_SCOPE_TASKS_OVERFLOW = 10;

enum class DataType : uint8_t {
    FLOAT32 = 0,
    FLOAT16 = 1,
    INT32 = 2,
    INT16 = 3,
    INT8 = 4,
    UINT8 = 5,
    BFLOAT16 = 6,
    INT64 = 7,
    UINT64 = 8,
    UINT16 = 9,
    UINT32 = 10,
    BOOL = 11,
    DATA_TYPE_NUM = 12,
};

// Bytes per element (0 for an invalid type).
constexpr uint32_t get_element_size(DataType dt) {
    switch (dt) {
    case DataType::FLOAT32:
    case DataType::INT32:
    case DataType::UINT32:
        return 4;
    case DataType::FLOAT16:
    case DataType::INT16:
    case DataType::BFLOAT16:
    case DataType::UINT16:
        return 2;
    case DataType::INT8:
    case DataType::UINT8:
    case DataType::BOOL:
        return 1;
    case DataType::INT64:
    case DataType::UINT64:
        return 8;
    default:
        return 0;
    }
}

enum class CoreType : int32_t { AIC = 0, AIV = 1 };

// Argument tags of a task (`Arg::tags_`).
enum class TensorArgType : int32_t {
    INPUT = 0,            // read
    OUTPUT = 1,           // runtime-allocated; slot holds a TensorCreateInfo*
    INOUT = 2,            // read and written
    OUTPUT_EXISTING = 3,  // written into an existing tensor
    NO_DEP = 4,           // creator retention only
};

enum class PTO2ScopeMode : uint8_t { AUTO = 0, MANUAL = 1 };

// ---------------------------------------------------------------------------
// Scalar bit patterns: the low sizeof(T) bytes of a zeroed uint64_t.

template <typename T>
inline uint64_t to_u64(T value) {
    static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "scalar must be <= 8 trivially copyable bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &value, sizeof(T));
    return bits;
}

template <typename T>
inline T from_u64(uint64_t bits) {
    static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "scalar must be <= 8 trivially copyable bytes");
    T value;
    std::memcpy(&value, &bits, sizeof(T));
    return value;
}

// ---------------------------------------------------------------------------
// Failed checks: logged through the runtime (when bound) and thrown as
// AssertionError (a std::runtime_error), like upstream's always_assert. The
// runtime calls the entry through a C++ trampoline that catches it.

struct AssertionError : std::runtime_error {
    explicit AssertionError(const char *what) : std::runtime_error(what) {}
};

namespace pto_detail {
[[noreturn]] void fail(const char *func, const char *message);
}  // namespace pto_detail

#define PTO_CHECK(cond, msg)                        \
    do {                                            \
        if (!(cond)) {                              \
            ::pto_detail::fail(__FUNCTION__, (msg)); \
        }                                           \
    } while (0)

// ---------------------------------------------------------------------------
// PTO2TaskId (8 B): (ring << 32) | local; invalid = UINT64_MAX.

struct PTO2TaskId {
    uint64_t raw = UINT64_MAX;

    static constexpr PTO2TaskId invalid() { return PTO2TaskId{UINT64_MAX}; }
    static constexpr PTO2TaskId make(uint32_t ring, uint32_t local) {
        return PTO2TaskId{(static_cast<uint64_t>(ring) << 32) | local};
    }
    constexpr bool is_valid() const { return raw != UINT64_MAX; }
    constexpr uint32_t ring() const { return static_cast<uint32_t>(raw >> 32); }
    constexpr uint32_t local() const { return static_cast<uint32_t>(raw); }
    constexpr bool operator==(const PTO2TaskId &o) const { return raw == o.raw; }
    constexpr bool operator!=(const PTO2TaskId &o) const { return raw != o.raw; }
};
static_assert(sizeof(PTO2TaskId) == 8, "PTO2TaskId is 8 bytes");

// ---------------------------------------------------------------------------
// Tensor (128 B, align 64)

struct TensorBuffer {
    uint64_t addr;  // byte address of the allocation
    uint64_t size;  // allocation bytes
};

struct alignas(64) Tensor {
    TensorBuffer buffer;
    PTO2TaskId owner_task_id;    // creator task; invalid for external tensors
    uint64_t start_offset;       // view origin, in elements
    int32_t version;
    uint32_t ndims;              // 1..5
    DataType dtype;
    bool manual_dep;             // skip TensorMap tracking
    bool is_contiguous;          // strides are row-major of shapes
    uint8_t child_memory;
    uint32_t shapes[MAX_TENSOR_DIMS];
    uint64_t extent_elem_cache;  // 1 + sum((shape - 1) * stride)
    uint32_t strides[MAX_TENSOR_DIMS];
    uint8_t pad_cl2_[36];

    uint64_t numel() const {
        uint64_t n = 1;
        for (uint32_t d = 0; d < ndims && d < static_cast<uint32_t>(MAX_TENSOR_DIMS); ++d) {
            n *= shapes[d];
        }
        return n;
    }
    uint32_t element_size() const { return get_element_size(dtype); }
    uint64_t nbytes() const { return numel() * element_size(); }
    // Element offset (from buffer.addr) of `indices` (first ndims used).
    uint64_t element_offset(const uint32_t indices[]) const {
        uint64_t off = start_offset;
        for (uint32_t d = 0; d < ndims && d < static_cast<uint32_t>(MAX_TENSOR_DIMS); ++d) {
            off += static_cast<uint64_t>(indices[d]) * strides[d];
        }
        return off;
    }
    // Pointer to the view's first element.
    template <typename T>
    T *data() const {
        return reinterpret_cast<T *>(static_cast<uintptr_t>(buffer.addr)) + start_offset;
    }
    // Row-major strides, is_contiguous and extent from the shapes.
    void set_row_major() {
        uint32_t stride = 1;
        for (int d = static_cast<int>(ndims) - 1; d >= 0; --d) {
            strides[d] = stride;
            stride *= shapes[d] == 0 ? 1 : shapes[d];
        }
        for (uint32_t d = ndims; d < static_cast<uint32_t>(MAX_TENSOR_DIMS); ++d) {
            strides[d] = 0;
        }
        is_contiguous = true;
        extent_elem_cache = numel();
    }
};
static_assert(sizeof(Tensor) == 128 && alignof(Tensor) == 64, "Tensor is 128 bytes, 64-aligned");
static_assert(offsetof(Tensor, buffer) == 0, "Tensor.buffer.addr @0");
static_assert(offsetof(Tensor, buffer) + offsetof(TensorBuffer, size) == 8, "Tensor.buffer.size @8");
static_assert(offsetof(Tensor, owner_task_id) == 16, "Tensor.owner_task_id @16");
static_assert(offsetof(Tensor, start_offset) == 24, "Tensor.start_offset @24");
static_assert(offsetof(Tensor, version) == 32, "Tensor.version @32");
static_assert(offsetof(Tensor, ndims) == 36, "Tensor.ndims @36");
static_assert(offsetof(Tensor, dtype) == 40, "Tensor.dtype @40");
static_assert(offsetof(Tensor, manual_dep) == 41, "Tensor.manual_dep @41");
static_assert(offsetof(Tensor, is_contiguous) == 42, "Tensor.is_contiguous @42");
static_assert(offsetof(Tensor, child_memory) == 43, "Tensor.child_memory @43");
static_assert(offsetof(Tensor, shapes) == 44, "Tensor.shapes @44");
static_assert(offsetof(Tensor, extent_elem_cache) == 64, "Tensor.extent_elem_cache @64");
static_assert(offsetof(Tensor, strides) == 72, "Tensor.strides @72");
static_assert(offsetof(Tensor, pad_cl2_) == 92, "Tensor._pad_cl2 @92");
static_assert(std::is_trivially_copyable<Tensor>::value, "Tensor is trivially copyable");

// A copy of an entry tensor for use in task arguments (version 0, tracked).
inline Tensor from_tensor_arg(const Tensor &arg) {
    Tensor t = arg;
    t.version = 0;
    t.manual_dep = false;
    return t;
}

// An external, contiguous tensor over `addr` (no owner task).
inline Tensor make_tensor_external(void *addr, const uint32_t shapes[], uint32_t ndims,
                                   DataType dtype = DataType::FLOAT32, bool manual_dep = false,
                                   int32_t version = 0) {
    PTO_CHECK(ndims >= 1 && ndims <= static_cast<uint32_t>(MAX_TENSOR_DIMS), "make_tensor_external: ndims must be 1..5");
    Tensor t;
    std::memset(static_cast<void *>(&t), 0, sizeof t);
    t.buffer.addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(addr));
    t.owner_task_id = PTO2TaskId::invalid();
    t.version = version;
    t.ndims = ndims;
    t.dtype = dtype;
    t.manual_dep = manual_dep;
    for (uint32_t d = 0; d < ndims; ++d) {
        t.shapes[d] = shapes[d];
    }
    t.set_row_major();
    t.buffer.size = t.nbytes();
    return t;
}

// ---------------------------------------------------------------------------
// TensorCreateInfo (64 B, align 64): an OUTPUT the runtime allocates.

struct alignas(64) TensorCreateInfo {
    uint64_t initial_value = 0;
    bool has_initial_value = false;
    uint8_t pad1_[7] = {};
    uint64_t pad2_ = 0;       // Tensor.owner_task_id slot
    uint64_t start_offset = 0;
    int32_t version = 0;
    uint32_t ndims = 0;
    DataType dtype = DataType::FLOAT32;
    bool manual_dep = false;
    bool is_contiguous = true;
    uint8_t pad_flags_ = 0;   // Tensor.child_memory slot
    uint32_t shapes[MAX_TENSOR_DIMS] = {};

    TensorCreateInfo(const uint32_t in_shapes[], uint32_t in_ndims, DataType in_dtype = DataType::FLOAT32,
                     bool in_manual_dep = false)
        : ndims(in_ndims), dtype(in_dtype), manual_dep(in_manual_dep) {
        PTO_CHECK(in_ndims >= 1 && in_ndims <= static_cast<uint32_t>(MAX_TENSOR_DIMS),
                  "TensorCreateInfo: ndims must be 1..5");
        for (uint32_t d = 0; d < in_ndims; ++d) {
            shapes[d] = in_shapes[d];
        }
    }

    // Fill the whole buffer with `value` (its low element-size bytes).
    template <typename T>
    TensorCreateInfo &set_initial_value(T value) {
        initial_value = to_u64(value);
        has_initial_value = true;
        return *this;
    }
};
static_assert(sizeof(TensorCreateInfo) == 64 && alignof(TensorCreateInfo) == 64, "TensorCreateInfo is 64 bytes, 64-aligned");
static_assert(offsetof(TensorCreateInfo, initial_value) == 0, "TensorCreateInfo.initial_value @0");
static_assert(offsetof(TensorCreateInfo, has_initial_value) == 8, "TensorCreateInfo.has_initial_value @8");
static_assert(offsetof(TensorCreateInfo, pad2_) == 16, "TensorCreateInfo.__pad2__ @16");
static_assert(offsetof(TensorCreateInfo, start_offset) == 24, "TensorCreateInfo.start_offset @24");
static_assert(offsetof(TensorCreateInfo, version) == 32, "TensorCreateInfo.version @32");
static_assert(offsetof(TensorCreateInfo, ndims) == 36, "TensorCreateInfo.ndims @36");
static_assert(offsetof(TensorCreateInfo, dtype) == 40, "TensorCreateInfo.dtype @40");
static_assert(offsetof(TensorCreateInfo, manual_dep) == 41, "TensorCreateInfo.manual_dep @41");
static_assert(offsetof(TensorCreateInfo, is_contiguous) == 42, "TensorCreateInfo.is_contiguous @42");
static_assert(offsetof(TensorCreateInfo, pad_flags_) == 43, "TensorCreateInfo.__pad_flags__ @43");
static_assert(offsetof(TensorCreateInfo, shapes) == 44, "TensorCreateInfo.shapes @44");

// ---------------------------------------------------------------------------
// ChipStorageTaskArgs (17472 B, align 64): the entry/config argument.

struct alignas(64) ChipStorageTaskArgs {
    Tensor tensors_[CHIP_MAX_TENSOR_ARGS];
    uint64_t scalars_[CHIP_MAX_SCALAR_ARGS];
    int32_t tensor_count_;
    int32_t scalar_count_;

    int32_t tensor_count() const { return tensor_count_; }
    int32_t scalar_count() const { return scalar_count_; }
    const Tensor &tensor(int32_t i) const {
        PTO_CHECK(i >= 0 && i < tensor_count_, "ChipStorageTaskArgs::tensor: index out of range");
        return tensors_[i];
    }
    uint64_t scalar(int32_t i) const {
        PTO_CHECK(i >= 0 && i < scalar_count_, "ChipStorageTaskArgs::scalar: index out of range");
        return scalars_[i];
    }
    template <typename T>
    T scalar_as(int32_t i) const {
        return from_u64<T>(scalar(i));
    }
};
static_assert(sizeof(ChipStorageTaskArgs) == 17472 && alignof(ChipStorageTaskArgs) == 64, "ChipStorageTaskArgs is 17472 bytes");
static_assert(offsetof(ChipStorageTaskArgs, tensors_) == 0, "ChipStorageTaskArgs.tensors_ @0");
static_assert(offsetof(ChipStorageTaskArgs, scalars_) == 16384, "ChipStorageTaskArgs.scalars_ @16384");
static_assert(offsetof(ChipStorageTaskArgs, tensor_count_) == 17408, "ChipStorageTaskArgs.tensor_count_ @17408");
static_assert(offsetof(ChipStorageTaskArgs, scalar_count_) == 17412, "ChipStorageTaskArgs.scalar_count_ @17412");

// ---------------------------------------------------------------------------
// Arg (alias L0TaskArgs), 720 B: the arguments of one task. Every pointer
// inside is read only during the ops call; the runtime copies what it keeps.

struct PTO2LaunchSpec {
    int16_t block_num_ = 1;
    bool require_sync_start_ = false;

    void set_block_num(int16_t n) { block_num_ = n; }
    int16_t block_num() const { return block_num_; }
    void set_require_sync_start(bool v) { require_sync_start_ = v; }
    bool require_sync_start() const { return require_sync_start_; }
};
static_assert(sizeof(PTO2LaunchSpec) == 4 && alignof(PTO2LaunchSpec) == 2, "PTO2LaunchSpec is 4 bytes");
static_assert(offsetof(PTO2LaunchSpec, require_sync_start_) == 2, "PTO2LaunchSpec.require_sync_start @2");

// The arrays are read only for the args the masks select, so a new
// selection leaves them unwritten (see Arg).
struct DumpArgSelection {
    uint64_t dump_arg_mask_ = 0;
    uint64_t dump_arg_index_ambiguous_mask_ = 0;
    uintptr_t scalar_source_ptrs_[MAX_SCALAR_ARGS];
    uint8_t scalar_dtypes_[MAX_SCALAR_ARGS];
};
static_assert(sizeof(DumpArgSelection) == 160, "DumpArgSelection is 160 bytes");
static_assert(offsetof(DumpArgSelection, scalar_source_ptrs_) == 16, "DumpArgSelection.scalar_source_ptrs_ @16");
static_assert(offsetof(DumpArgSelection, scalar_dtypes_) == 144, "DumpArgSelection.scalar_dtypes_ @144");

union TensorRef {
    const Tensor *ptr;
    const TensorCreateInfo *create_info;
};
static_assert(sizeof(TensorRef) == 8, "TensorRef is 8 bytes");

// A new Arg sets its counts and flags only: the runtime reads the first
// tensor_count_ tags and refs and the first scalar_count_ scalars, which the
// add_* calls write. Not zeroing the three arrays (and the dump selection's)
// saves a 720-byte clear per task, a sizeable part of a small task's submit.
struct Arg {
    TensorArgType tags_[MAX_TENSOR_ARGS];
    TensorRef tensors_[MAX_TENSOR_ARGS];
    uint64_t scalars_[MAX_SCALAR_ARGS];
    int32_t tensor_count_ = 0;
    int32_t scalar_count_ = 0;
    bool has_error = false;
    const char *error_msg = nullptr;
    PTO2LaunchSpec launch_spec;
    bool allow_early_resolve_ = false;
    DumpArgSelection dump_arg_selection_;
    const PTO2TaskId *explicit_deps_ = nullptr;
    uint32_t explicit_dep_count_ = 0;

    // Records the first builder error (surfaced as fatal 5 at submit).
    void set_error(const char *msg) {
        if (!has_error) {
            has_error = true;
            error_msg = msg;
        }
    }

    void add_input(const Tensor &t) { add_tensor(TensorArgType::INPUT, &t); }
    // OUTPUT: the runtime allocates a new tensor described by `ci`.
    void add_output(const TensorCreateInfo &ci) {
        if (!tensor_slot_ok()) {
            return;
        }
        tags_[tensor_count_] = TensorArgType::OUTPUT;
        tensors_[tensor_count_].create_info = &ci;
        ++tensor_count_;
    }
    // OUTPUT_EXISTING: write into an existing tensor.
    void add_output(const Tensor &t) { add_tensor(TensorArgType::OUTPUT_EXISTING, &t); }
    void add_inout(const Tensor &t) { add_tensor(TensorArgType::INOUT, &t); }
    void add_no_dep(const Tensor &t) { add_tensor(TensorArgType::NO_DEP, &t); }

    template <typename T>
    void add_scalar(T value) {
        if (scalar_count_ >= MAX_SCALAR_ARGS) {
            set_error("Too many scalar args (max 16)");
            return;
        }
        scalars_[scalar_count_++] = to_u64(value);
    }
    void add_scalars(const uint64_t *values, int32_t count) {
        for (int32_t i = 0; i < count; ++i) {
            add_scalar(values[i]);
        }
    }
    // Zero-extends each int32_t (bit pattern, not sign extension).
    void add_scalars_i32(const int32_t *values, int32_t count) {
        for (int32_t i = 0; i < count; ++i) {
            add_scalar(static_cast<uint64_t>(static_cast<uint32_t>(values[i])));
        }
    }
    // Appends scalars [first, first + count) of the entry arguments
    // (count < 0: all from `first`).
    void copy_scalars_from(const ChipStorageTaskArgs &src, int32_t first = 0, int32_t count = -1) {
        int32_t end = count < 0 ? src.scalar_count() : first + count;
        for (int32_t i = first; i < end; ++i) {
            add_scalar(src.scalar(i));
        }
    }
    // Explicit dependencies (the array must live until the submit returns).
    void set_dependencies(const PTO2TaskId *deps, uint32_t count) {
        if (count == 0) {
            return;
        }
        if (deps == nullptr) {
            set_error("set_dependencies: NULL deps with count > 0");
            return;
        }
        if (explicit_dep_count_ != 0) {
            set_error("set_dependencies: dependencies already set");
            return;
        }
        explicit_deps_ = deps;
        explicit_dep_count_ = count;
    }
    void set_allow_early_resolve(bool v) { allow_early_resolve_ = v; }

    int32_t tensor_count() const { return tensor_count_; }
    int32_t scalar_count() const { return scalar_count_; }
    TensorArgType tag(int32_t i) const { return tags_[i]; }
    uint64_t scalar(int32_t i) const { return scalars_[i]; }

private:
    bool tensor_slot_ok() {
        if (scalar_count_ > 0) {
            set_error("Tensor args must be added before scalar args");
            return false;
        }
        if (tensor_count_ >= MAX_TENSOR_ARGS) {
            set_error("Too many tensor args (max 32)");
            return false;
        }
        return true;
    }
    void add_tensor(TensorArgType tag, const Tensor *t) {
        if (!tensor_slot_ok()) {
            return;
        }
        tags_[tensor_count_] = tag;
        tensors_[tensor_count_].ptr = t;
        ++tensor_count_;
    }
};
using L0TaskArgs = Arg;
static_assert(sizeof(Arg) == 720 && alignof(Arg) == 8, "Arg is 720 bytes (PTO2_PROFILING=1 layout)");
static_assert(std::is_standard_layout<Arg>::value, "Arg is standard layout");
static_assert(offsetof(Arg, tags_) == 0, "Arg.tags_ @0");
static_assert(offsetof(Arg, tensors_) == 128, "Arg.tensors_ @128");
static_assert(offsetof(Arg, scalars_) == 384, "Arg.scalars_ @384");
static_assert(offsetof(Arg, tensor_count_) == 512, "Arg.tensor_count_ @512");
static_assert(offsetof(Arg, scalar_count_) == 516, "Arg.scalar_count_ @516");
static_assert(offsetof(Arg, has_error) == 520, "Arg.has_error @520");
static_assert(offsetof(Arg, error_msg) == 528, "Arg.error_msg @528");
static_assert(offsetof(Arg, launch_spec) == 536, "Arg.launch_spec @536");
static_assert(offsetof(Arg, allow_early_resolve_) == 540, "Arg.allow_early_resolve_ @540");
static_assert(offsetof(Arg, dump_arg_selection_) == 544, "Arg.dump_arg_selection_ @544");
static_assert(offsetof(Arg, explicit_deps_) == 704, "Arg.explicit_deps_ @704");
static_assert(offsetof(Arg, explicit_dep_count_) == 712, "Arg.explicit_dep_count_ @712");

// ---------------------------------------------------------------------------
// MixedKernels (12 B) and TaskOutputTensors (272 B)

struct MixedKernels {
    int32_t aic_kernel_id = INVALID_KERNEL_ID;
    int32_t aiv0_kernel_id = INVALID_KERNEL_ID;
    int32_t aiv1_kernel_id = INVALID_KERNEL_ID;
};
static_assert(sizeof(MixedKernels) == 12 && alignof(MixedKernels) == 4, "MixedKernels is 12 bytes");
static_assert(offsetof(MixedKernels, aiv0_kernel_id) == 4 && offsetof(MixedKernels, aiv1_kernel_id) == 8,
              "MixedKernels lanes @0/4/8");

struct TaskOutputTensors {
    PTO2TaskId task_id_ = PTO2TaskId::invalid();
    uint32_t output_count_ = 0;
    const Tensor *tensors_[MAX_TENSOR_ARGS] = {};

    PTO2TaskId task_id() const { return task_id_; }
    uint32_t size() const { return output_count_; }
    bool empty() const { return output_count_ == 0; }
    // The i-th OUTPUT (in add order); valid until the creating scope ends.
    const Tensor &get_ref(uint32_t i) const {
        PTO_CHECK(i < output_count_, "TaskOutputTensors::get_ref: index out of range");
        return *tensors_[i];
    }
};
static_assert(sizeof(TaskOutputTensors) == 272 && alignof(TaskOutputTensors) == 8, "TaskOutputTensors is 272 bytes");
static_assert(offsetof(TaskOutputTensors, output_count_) == 8, "TaskOutputTensors.output_count_ @8");
static_assert(offsetof(TaskOutputTensors, tensors_) == 16, "TaskOutputTensors.tensors_ @16");
static_assert(std::is_trivially_copyable<TaskOutputTensors>::value && std::is_trivially_destructible<TaskOutputTensors>::value,
              "TaskOutputTensors must be returned through the hidden result pointer");

#ifndef PTO_ORCHESTRATION_TYPES_ONLY
// (PTO_ORCHESTRATION_TYPES_ONLY: the shared argument types above and the kernel side
// below only, for the aicpu_build_graph ring-form header pto_aicpu_build_graph_ring.h.)
// ---------------------------------------------------------------------------
// The runtime object and its ops table (15 entries, 120 B).

struct PTO2RuntimeOps;

struct PTO2Runtime {
    const PTO2RuntimeOps *ops;
    PTO2ScopeMode pending_scope_mode;  // written right before ops->scope_begin
};
static_assert(sizeof(PTO2Runtime) == 16 && offsetof(PTO2Runtime, pending_scope_mode) == 8, "PTO2Runtime head layout");

struct PTO2RuntimeOps {
    TaskOutputTensors (*submit_task)(PTO2Runtime *rt, const MixedKernels &mixed_kernels, const Arg &args);
    void (*scope_begin)(PTO2Runtime *rt);
    void (*scope_end)(PTO2Runtime *rt);
    void (*orchestration_done)(PTO2Runtime *rt);
    bool (*is_fatal)(PTO2Runtime *rt);
    void (*report_fatal)(PTO2Runtime *rt, int32_t error_code, const char *func, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
    void (*log_error)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_warn)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_debug)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_info_v)(const char *func, int v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
    uint64_t (*get_tensor_data)(PTO2Runtime *rt, const Tensor &tensor, uint32_t ndims, const uint32_t indices[]);
    void (*set_tensor_data)(PTO2Runtime *rt, const Tensor &tensor, uint32_t ndims, const uint32_t indices[],
                            uint64_t value);
    TaskOutputTensors (*alloc_tensors)(PTO2Runtime *rt, const Arg &args);
    TaskOutputTensors (*submit_dummy_task)(PTO2Runtime *rt, const Arg &args);
    void (*scope_set_site)(const char *file, int line);  // may be NULL
};
static_assert(sizeof(PTO2RuntimeOps) == 120, "PTO2RuntimeOps has 15 entries");
static_assert(offsetof(PTO2RuntimeOps, scope_begin) == 8, "ops.scope_begin @8");
static_assert(offsetof(PTO2RuntimeOps, scope_end) == 16, "ops.scope_end @16");
static_assert(offsetof(PTO2RuntimeOps, orchestration_done) == 24, "ops.orchestration_done @24");
static_assert(offsetof(PTO2RuntimeOps, is_fatal) == 32, "ops.is_fatal @32");
static_assert(offsetof(PTO2RuntimeOps, report_fatal) == 40, "ops.report_fatal @40");
static_assert(offsetof(PTO2RuntimeOps, log_error) == 48, "ops.log_error @48");
static_assert(offsetof(PTO2RuntimeOps, log_warn) == 56, "ops.log_warn @56");
static_assert(offsetof(PTO2RuntimeOps, log_debug) == 64, "ops.log_debug @64");
static_assert(offsetof(PTO2RuntimeOps, log_info_v) == 72, "ops.log_info_v @72");
static_assert(offsetof(PTO2RuntimeOps, get_tensor_data) == 80, "ops.get_tensor_data @80");
static_assert(offsetof(PTO2RuntimeOps, set_tensor_data) == 88, "ops.set_tensor_data @88");
static_assert(offsetof(PTO2RuntimeOps, alloc_tensors) == 96, "ops.alloc_tensors @96");
static_assert(offsetof(PTO2RuntimeOps, submit_dummy_task) == 104, "ops.submit_dummy_task @104");
static_assert(offsetof(PTO2RuntimeOps, scope_set_site) == 112, "ops.scope_set_site @112");

#endif  // PTO_ORCHESTRATION_TYPES_ONLY

struct PTO2OrchestrationConfig {
    int expected_arg_count;
};
static_assert(sizeof(PTO2OrchestrationConfig) == 4, "PTO2OrchestrationConfig is 4 bytes");

#ifndef PTO_ORCHESTRATION_TYPES_ONLY
// ---------------------------------------------------------------------------
// Runtime binding. Each orchestration SO has its own bound-runtime pointer:
// hidden visibility keeps it private to the SO (and out of STB_GNU_UNIQUE),
// and framework_bind_runtime is a weak, exported definition so that an SO
// built from any number of translation units exports exactly one.

namespace pto_detail {
__attribute__((visibility("hidden"))) inline PTO2Runtime *g_bound_runtime = nullptr;

inline PTO2Runtime *require_runtime(const char *func) {
    PTO2Runtime *rt = g_bound_runtime;
    if (rt == nullptr) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "%s: no runtime is bound (runtime API used outside the entry?)", func);
        throw AssertionError(msg);
    }
    return rt;
}

[[noreturn]] inline void fail(const char *func, const char *message) {
    PTO2Runtime *rt = g_bound_runtime;
    if (rt != nullptr && rt->ops != nullptr && rt->ops->log_error != nullptr) {
        rt->ops->log_error(func, "assertion failed: %s", message);
    }
    throw AssertionError(message);
}
}  // namespace pto_detail

extern "C" __attribute__((weak, visibility("default"))) void framework_bind_runtime(PTO2Runtime *rt) {
    pto_detail::g_bound_runtime = rt;
}

// The runtime bound to this SO (NULL outside the entry).
inline PTO2Runtime *framework_current_runtime() { return pto_detail::g_bound_runtime; }

// ---------------------------------------------------------------------------
// Orchestration API. Every wrapper except rt_orchestration_done first asks
// is_fatal and returns empty/zero without calling the runtime once fatal.

inline bool rt_is_fatal() {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_is_fatal");
    return rt->ops->is_fatal(rt);
}

inline TaskOutputTensors rt_submit_task(const MixedKernels &mixed_kernels, const Arg &args) {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_submit_task");
    if (rt->ops->is_fatal(rt)) {
        return TaskOutputTensors{};
    }
    return rt->ops->submit_task(rt, mixed_kernels, args);
}

inline TaskOutputTensors rt_submit_aic_task(int32_t kernel_id, const Arg &args) {
    MixedKernels mk;
    mk.aic_kernel_id = kernel_id;
    return rt_submit_task(mk, args);
}

inline TaskOutputTensors rt_submit_aiv_task(int32_t kernel_id, const Arg &args) {
    MixedKernels mk;
    mk.aiv0_kernel_id = kernel_id;
    return rt_submit_task(mk, args);
}

inline TaskOutputTensors rt_submit_dummy_task(const Arg &args) {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_submit_dummy_task");
    if (rt->ops->is_fatal(rt)) {
        return TaskOutputTensors{};
    }
    return rt->ops->submit_dummy_task(rt, args);
}

// Allocates the OUTPUT tensors of `args` (all tags OUTPUT, no scalars).
inline TaskOutputTensors alloc_tensors(const Arg &args) {
    PTO2Runtime *rt = pto_detail::require_runtime("alloc_tensors");
    if (rt->ops->is_fatal(rt)) {
        return TaskOutputTensors{};
    }
    return rt->ops->alloc_tensors(rt, args);
}

// Allocates one tensor per create info.
inline TaskOutputTensors alloc_tensors(const TensorCreateInfo *const *infos, int32_t count) {
    PTO2Runtime *rt = pto_detail::require_runtime("alloc_tensors");
    if (rt->ops->is_fatal(rt)) {
        return TaskOutputTensors{};
    }
    Arg args;
    for (int32_t i = 0; i < count; ++i) {
        args.add_output(*infos[i]);
    }
    if (args.has_error) {
        rt->ops->report_fatal(rt, PTO2_ERROR_INVALID_ARGS, "alloc_tensors", "%s", args.error_msg);
        return TaskOutputTensors{};
    }
    if (rt->ops->is_fatal(rt)) {
        return TaskOutputTensors{};
    }
    return rt->ops->alloc_tensors(rt, args);
}

inline TaskOutputTensors alloc_tensors(const TensorCreateInfo infos[], int32_t count) {
    const TensorCreateInfo *ptrs[MAX_TENSOR_ARGS + 1];
    int32_t n = count > MAX_TENSOR_ARGS + 1 ? MAX_TENSOR_ARGS + 1 : count;
    for (int32_t i = 0; i < n; ++i) {
        ptrs[i] = &infos[i];
    }
    return alloc_tensors(ptrs, n);
}

template <typename... Rest>
inline TaskOutputTensors alloc_tensors(const TensorCreateInfo &first, const Rest &...rest) {
    static_assert((std::is_same<Rest, TensorCreateInfo>::value && ...), "alloc_tensors takes TensorCreateInfo values");
    const TensorCreateInfo *ptrs[] = {&first, &rest...};
    return alloc_tensors(ptrs, static_cast<int32_t>(sizeof...(Rest) + 1));
}

inline void rt_scope_begin(PTO2ScopeMode mode = PTO2ScopeMode::AUTO) {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_scope_begin");
    if (rt->ops->is_fatal(rt)) {
        return;
    }
    rt->pending_scope_mode = mode;
    rt->ops->scope_begin(rt);
}

inline void rt_scope_end() {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_scope_end");
    if (rt->ops->is_fatal(rt)) {
        return;
    }
    rt->ops->scope_end(rt);
}

inline void rt_orchestration_done() {
    PTO2Runtime *rt = pto_detail::require_runtime("rt_orchestration_done");
    rt->ops->orchestration_done(rt);
}

// Reads one element (waits for its producers); T's bytes come from the low
// bytes of the returned bit pattern.
template <typename T>
inline T get_tensor_data(const Tensor &tensor, uint32_t ndims, const uint32_t indices[]) {
    PTO2Runtime *rt = pto_detail::require_runtime("get_tensor_data");
    if (rt->ops->is_fatal(rt)) {
        return T{};
    }
    return from_u64<T>(rt->ops->get_tensor_data(rt, tensor, ndims, indices));
}

// Writes one element (waits for its producers and their consumers).
template <typename T>
inline void set_tensor_data(const Tensor &tensor, uint32_t ndims, const uint32_t indices[], T value) {
    PTO2Runtime *rt = pto_detail::require_runtime("set_tensor_data");
    if (rt->ops->is_fatal(rt)) {
        return;
    }
    rt->ops->set_tensor_data(rt, tensor, ndims, indices, to_u64(value));
}

// RAII scope: opens a scope (recording the call site) and closes it on exit.
class PTO2ScopeGuard {
public:
    explicit PTO2ScopeGuard(PTO2ScopeMode mode = PTO2ScopeMode::AUTO, const char *file = __builtin_FILE(),
                            int line = __builtin_LINE())
        : rt_(pto_detail::require_runtime("PTO2_SCOPE")) {
        if (rt_->ops->is_fatal(rt_)) {
            return;
        }
        rt_->pending_scope_mode = mode;
        if (rt_->ops->scope_set_site != nullptr) {
            rt_->ops->scope_set_site(file, line);
        }
        rt_->ops->scope_begin(rt_);
    }
    ~PTO2ScopeGuard() {
        if (!rt_->ops->is_fatal(rt_)) {
            rt_->ops->scope_end(rt_);
        }
    }
    PTO2ScopeGuard(const PTO2ScopeGuard &) = delete;
    PTO2ScopeGuard &operator=(const PTO2ScopeGuard &) = delete;

private:
    PTO2Runtime *rt_;
};

#define PTO2_CONCAT_INNER_(a, b) a##b
#define PTO2_CONCAT_(a, b) PTO2_CONCAT_INNER_(a, b)
// `PTO2_SCOPE() { ... }` or `PTO2_SCOPE(PTO2ScopeMode::MANUAL) { ... }`
#define PTO2_SCOPE(...) if (PTO2ScopeGuard pto2_scope_guard_{__VA_ARGS__}; true)
// A scope lasting until the end of the enclosing block.
#define PTO2_SCOPE_GUARD(...) PTO2ScopeGuard PTO2_CONCAT_(pto2_scope_guard_, __LINE__){__VA_ARGS__}

// rt_report_fatal(code, fmt, ...): latch a fatal error (use
// PTO2_ERROR_EXPLICIT_ORCH_FATAL for deliberate aborts).
#define rt_report_fatal(code, fmt, ...)                                                              \
    do {                                                                                             \
        PTO2Runtime *pto2_rt_ = ::pto_detail::require_runtime("rt_report_fatal");                   \
        pto2_rt_->ops->report_fatal(pto2_rt_, (code), __FUNCTION__, fmt, ##__VA_ARGS__);             \
    } while (0)

// Logging through the runtime; falls back to stderr when no runtime is bound
// (e.g. inside the config function, which runs before binding).
#define PTO2_LOG_(entry, tag, fmt, ...)                                                              \
    do {                                                                                             \
        PTO2Runtime *pto2_rt_ = ::framework_current_runtime();                                       \
        if (pto2_rt_ != nullptr) {                                                                   \
            pto2_rt_->ops->entry(__FUNCTION__, fmt, ##__VA_ARGS__);                                  \
        } else {                                                                                     \
            std::fprintf(stderr, "[" tag "] %s: ", __FUNCTION__);                                   \
            std::fprintf(stderr, fmt, ##__VA_ARGS__);                                                \
            std::fprintf(stderr, "\n");                                                              \
        }                                                                                            \
    } while (0)
#define LOG_ERROR(fmt, ...) PTO2_LOG_(log_error, "ERROR", fmt, ##__VA_ARGS__)
#define LOG_WARN(fmt, ...) PTO2_LOG_(log_warn, "WARN", fmt, ##__VA_ARGS__)
#define LOG_DEBUG(fmt, ...) PTO2_LOG_(log_debug, "DEBUG", fmt, ##__VA_ARGS__)

#define PTO2_LOG_INFO_V_(v, fmt, ...)                                                                \
    do {                                                                                             \
        PTO2Runtime *pto2_rt_ = ::framework_current_runtime();                                       \
        if (pto2_rt_ != nullptr) {                                                                   \
            pto2_rt_->ops->log_info_v(__FUNCTION__, (v), fmt, ##__VA_ARGS__);                        \
        } else {                                                                                     \
            std::fprintf(stderr, "[INFO] %s: ", __FUNCTION__);                                       \
            std::fprintf(stderr, fmt, ##__VA_ARGS__);                                                \
            std::fprintf(stderr, "\n");                                                              \
        }                                                                                            \
    } while (0)
#define LOG_INFO_V0(fmt, ...) PTO2_LOG_INFO_V_(0, fmt, ##__VA_ARGS__)
#define LOG_INFO_V1(fmt, ...) PTO2_LOG_INFO_V_(1, fmt, ##__VA_ARGS__)
#define LOG_INFO_V2(fmt, ...) PTO2_LOG_INFO_V_(2, fmt, ##__VA_ARGS__)
#define LOG_INFO_V3(fmt, ...) PTO2_LOG_INFO_V_(3, fmt, ##__VA_ARGS__)
#define LOG_INFO_V4(fmt, ...) PTO2_LOG_INFO_V_(4, fmt, ##__VA_ARGS__)
#define LOG_INFO_V5(fmt, ...) PTO2_LOG_INFO_V_(5, fmt, ##__VA_ARGS__)
#define LOG_INFO_V6(fmt, ...) PTO2_LOG_INFO_V_(6, fmt, ##__VA_ARGS__)
#define LOG_INFO_V7(fmt, ...) PTO2_LOG_INFO_V_(7, fmt, ##__VA_ARGS__)
#define LOG_INFO_V8(fmt, ...) PTO2_LOG_INFO_V_(8, fmt, ##__VA_ARGS__)
#define LOG_INFO_V9(fmt, ...) PTO2_LOG_INFO_V_(9, fmt, ##__VA_ARGS__)

#endif  // PTO_ORCHESTRATION_TYPES_ONLY

// ---------------------------------------------------------------------------
// Kernel side (sim): `extern "C" void kernel_entry(int64_t *args)`.
// args[0..T) point to the task's Tensor copies, args[T..T+S) are scalars,
// args[48] -> LocalContext, args[49] -> GlobalContext.

struct AsyncCtx {
    volatile uint32_t *completion_count;
    volatile int32_t *completion_error_code;
    volatile void *completion_entries;
    uint32_t completion_capacity;
    PTO2TaskId task_token;
};
static_assert(sizeof(AsyncCtx) == 40 && offsetof(AsyncCtx, completion_capacity) == 24 && offsetof(AsyncCtx, task_token) == 32,
              "AsyncCtx layout");

struct LocalContext {
    int32_t block_idx;
    int32_t block_num;
    AsyncCtx async_ctx;
};
static_assert(sizeof(LocalContext) == 48 && offsetof(LocalContext, block_num) == 4 && offsetof(LocalContext, async_ctx) == 8,
              "LocalContext layout");

struct GlobalContext {
    int32_t sub_block_id;
};
static_assert(sizeof(GlobalContext) == 4, "GlobalContext layout");

struct alignas(64) PTO2DispatchPayload {
    uint64_t function_bin_addr;
    uint64_t args[50];
    LocalContext local_context;
    GlobalContext global_context;
    volatile uint32_t not_ready;
    uint32_t reserved;
};
static_assert(sizeof(PTO2DispatchPayload) == 512 && alignof(PTO2DispatchPayload) == 64, "PTO2DispatchPayload is 512 bytes");
static_assert(offsetof(PTO2DispatchPayload, args) == 8, "PTO2DispatchPayload.args @8");
static_assert(offsetof(PTO2DispatchPayload, local_context) == 408, "PTO2DispatchPayload.local_context @408");
static_assert(offsetof(PTO2DispatchPayload, global_context) == 456, "PTO2DispatchPayload.global_context @456");
static_assert(offsetof(PTO2DispatchPayload, not_ready) == 460, "PTO2DispatchPayload.not_ready @460");

inline const LocalContext *get_local_context(const int64_t *args) {
    return reinterpret_cast<const LocalContext *>(static_cast<uintptr_t>(args[SPMD_LOCAL_CONTEXT_INDEX]));
}
inline int32_t get_block_idx(const int64_t *args) { return get_local_context(args)->block_idx; }
inline int32_t get_block_num(const int64_t *args) { return get_local_context(args)->block_num; }
inline int32_t get_sub_block_id(const int64_t *args) {
    return reinterpret_cast<const GlobalContext *>(static_cast<uintptr_t>(args[SPMD_GLOBAL_CONTEXT_INDEX]))->sub_block_id;
}
inline AsyncCtx get_async_ctx(const int64_t *args) { return get_local_context(args)->async_ctx; }
// The i-th tensor argument of a kernel.
inline const Tensor *get_tensor_arg(const int64_t *args, int i) {
    return reinterpret_cast<const Tensor *>(static_cast<uintptr_t>(args[i]));
}

#endif  // __cplusplus

#endif  // PTO_ORCHESTRATION_API_H
