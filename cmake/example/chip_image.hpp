// Byte-exact builders for the data the host ABI takes (upstream task_interface headers @ c68d9bbe6): a ChipCallable image
// (prepare_callable), a ChipStorageTaskArgs block (run_prepared's args) and the packed 1172-byte
// CallConfig. Everything lives in namespace `example` so it can never clash with declarations
// that simpler.h may add.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace example {

enum class ArgDirection : int32_t { Scalar = 0, In = 1, Out = 2, InOut = 3 };

constexpr std::size_t kChipHeader = 8864;   // ChipCallable header; storage starts here
constexpr std::size_t kCoreBinaryOff = 192; // kernel binary inside a CoreCallable
constexpr std::size_t kNameMax = 64;        // func_name / config_name buffers

inline std::size_t align64(std::size_t v) { return (v + 63) / 64 * 64; }

inline void put_u32(std::vector<uint8_t> &img, std::size_t off, uint32_t v) { std::memcpy(&img[off], &v, 4); }
inline void put_i32(std::vector<uint8_t> &img, std::size_t off, int32_t v) { std::memcpy(&img[off], &v, 4); }

inline void put_name(std::vector<uint8_t> &img, std::size_t off, std::size_t len_off, const std::string &name) {
    if (name.size() >= kNameMax) throw std::invalid_argument("callable name longer than 63 bytes: " + name);
    std::memcpy(&img[off], name.data(), name.size());
    put_u32(img, len_off, static_cast<uint32_t>(name.size()));
}

struct Kernel {
    int32_t func_id;
    std::vector<ArgDirection> signature; // up to 32 entries
    std::vector<uint8_t> binary;         // the kernel shared object
};

// ChipCallable image (upstream callable.h @ c68d9bbe6): header, orchestration SO at storage offset 0, then each child
// CoreCallable (144-byte header padded to 192, then its binary) at a 64-aligned storage offset.
inline std::vector<uint8_t> build_chip_callable(const std::vector<ArgDirection> &signature,
                                                const std::string &func_name, const std::string &config_name,
                                                const std::vector<uint8_t> &orch_so,
                                                const std::vector<Kernel> &kernels) {
    if (signature.size() > 128 || kernels.size() > 1024) throw std::invalid_argument("callable too large");
    std::size_t end = orch_so.size();
    std::vector<std::size_t> offsets;
    for (const Kernel &k : kernels) {
        if (k.func_id < 0 || k.func_id >= 1024 || k.signature.size() > 32)
            throw std::invalid_argument("kernel func_id or signature out of range");
        std::size_t off = align64(end);
        offsets.push_back(off);
        end = off + kCoreBinaryOff + k.binary.size();
    }
    std::vector<uint8_t> img(kChipHeader + end, 0);
    for (std::size_t i = 0; i < signature.size(); ++i)
        put_i32(img, 4 * i, static_cast<int32_t>(signature[i]));
    put_i32(img, 512, static_cast<int32_t>(signature.size()));
    put_u32(img, 516, static_cast<uint32_t>(orch_so.size()));
    put_name(img, 520, 584, func_name);
    for (std::size_t i = 0; i < kernels.size(); ++i) {
        put_i32(img, 588 + 4 * i, kernels[i].func_id);
        put_u32(img, 4684 + 4 * i, static_cast<uint32_t>(offsets[i]));
    }
    put_i32(img, 8780, static_cast<int32_t>(kernels.size()));
    put_name(img, 8784, 8848, config_name);
    if (!orch_so.empty()) std::memcpy(&img[kChipHeader], orch_so.data(), orch_so.size());
    for (std::size_t i = 0; i < kernels.size(); ++i) {
        const Kernel &k = kernels[i];
        std::size_t base = kChipHeader + offsets[i];
        for (std::size_t s = 0; s < k.signature.size(); ++s)
            put_i32(img, base + 4 * s, static_cast<int32_t>(k.signature[s]));
        put_i32(img, base + 128, static_cast<int32_t>(k.signature.size()));
        put_u32(img, base + 132, static_cast<uint32_t>(k.binary.size()));
        // resolved_addr_ (base + 136) stays 0: the runtime fills it.
        if (!k.binary.empty()) std::memcpy(&img[base + kCoreBinaryOff], k.binary.data(), k.binary.size());
    }
    return img;
}

// Tensor (upstream src/common/task_interface/tensor.h @ c68d9bbe6): 128 bytes, 64-aligned.
struct alignas(64) Tensor {
    uint64_t addr;
    uint64_t size;
    uint64_t owner_task_id;
    uint64_t start_offset;
    int32_t version;
    uint32_t ndims;
    uint8_t dtype;
    uint8_t manual_dep;
    uint8_t is_contiguous;
    uint8_t child_memory;
    uint32_t shapes[5];
    uint64_t extent_elem_cache;
    uint32_t strides[5];
    uint8_t reserved[36];
};
static_assert(sizeof(Tensor) == 128, "Tensor is 128 bytes");
static_assert(offsetof(Tensor, owner_task_id) == 16 && offsetof(Tensor, ndims) == 36, "Tensor layout");
static_assert(offsetof(Tensor, dtype) == 40 && offsetof(Tensor, child_memory) == 43, "Tensor layout");
static_assert(offsetof(Tensor, shapes) == 44 && offsetof(Tensor, extent_elem_cache) == 64, "Tensor layout");
static_assert(offsetof(Tensor, strides) == 72, "Tensor layout");

constexpr uint8_t kFloat32 = 0;

// A contiguous 1-D float32 host tensor, as upstream's external-tensor factory makes it.
inline Tensor host_tensor_f32(float *data, uint32_t n) {
    Tensor t;
    std::memset(&t, 0, sizeof t);
    t.addr = reinterpret_cast<uintptr_t>(data);
    t.size = uint64_t{n} * sizeof(float);
    t.owner_task_id = UINT64_MAX;
    t.ndims = 1;
    t.dtype = kFloat32;
    t.is_contiguous = 1;
    t.shapes[0] = n;
    t.strides[0] = 1;
    t.extent_elem_cache = n;
    return t;
}

// ChipStorageTaskArgs (upstream TaskArgsTpl<Tensor, uint64_t, 128, 128> @ c68d9bbe6): 17472 bytes, 64-aligned.
struct alignas(64) ChipStorageTaskArgs {
    Tensor tensors[128];
    uint64_t scalars[128];
    int32_t tensor_count;
    int32_t scalar_count;
};
static_assert(sizeof(ChipStorageTaskArgs) == 17472, "ChipStorageTaskArgs is 17472 bytes");
static_assert(offsetof(ChipStorageTaskArgs, scalars) == 16384, "scalars at 16384");
static_assert(offsetof(ChipStorageTaskArgs, tensor_count) == 17408, "tensor_count at 17408");

// CallConfig (upstream call_config.h @ c68d9bbe6): packed, 1172 bytes.
#pragma pack(push, 1)
struct RuntimeEnv {
    uint64_t ring_task_window, ring_heap, ring_dep_pool;
    uint64_t ring_task_windows[4], ring_heaps[4], ring_dep_pools[4];
};
struct CallConfig {
    int32_t block_dim = 0;
    int32_t aicpu_thread_num = 3;
    int32_t enable_l2_swimlane = 0;
    int32_t enable_dump_tensor = 0;
    int32_t enable_pmu = 0;
    int32_t enable_dep_gen = 0;
    int32_t enable_scope_stats = 0;
    RuntimeEnv runtime_env{};
    char output_prefix[1024] = {};
};
#pragma pack(pop)
static_assert(sizeof(RuntimeEnv) == 120, "RuntimeEnv is 120 bytes");
static_assert(sizeof(CallConfig) == 1172, "CallConfig is 1172 bytes");
static_assert(offsetof(CallConfig, runtime_env) == 28 && offsetof(CallConfig, output_prefix) == 148, "CallConfig");

// PtoRunTiming (upstream src/common/worker/pto_runtime_c_api.h @ c68d9bbe6).
struct RunTiming {
    uint64_t host_wall_ns;
    uint64_t device_wall_ns;
};
static_assert(sizeof(RunTiming) == 16, "PtoRunTiming is 16 bytes");

} // namespace example
