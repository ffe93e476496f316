/*
 * pto_kernel_abi.h: the simulated-kernel argument ABI of the
 * tensormap_and_ringbuffer runtime, for kernels written in C or C++ (C99+ /
 * C++11+). It is also what pto_orchestration_api.h provides to C code.
 *
 *   void kernel_entry(int64_t *args);
 *   args[0..T)    pointers to the task's 128-byte Tensor copies (64-aligned)
 *   args[T..T+S)  raw scalar bit patterns
 *   args[48]      -> LocalContext {block_idx, block_num, ...}
 *   args[49]      -> GlobalContext {sub_block_id}
 */
#ifndef PTO_KERNEL_ABI_H
#define PTO_KERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#define PTO_KABI_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define PTO_KABI_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

typedef struct KernelTensor {
    uint64_t buffer_addr;
    uint64_t buffer_size;
    uint64_t owner_task_id;
    uint64_t start_offset; /* elements */
    int32_t version;
    uint32_t ndims;
    uint8_t dtype;
    uint8_t manual_dep;
    uint8_t is_contiguous;
    uint8_t child_memory;
    uint32_t shapes[5];
    uint64_t extent_elem_cache;
    uint32_t strides[5];
    uint8_t pad_cl2[36];
} __attribute__((aligned(64))) KernelTensor;

PTO_KABI_STATIC_ASSERT(sizeof(KernelTensor) == 128, "Tensor is 128 bytes");
PTO_KABI_STATIC_ASSERT(offsetof(KernelTensor, start_offset) == 24, "Tensor.start_offset @24");
PTO_KABI_STATIC_ASSERT(offsetof(KernelTensor, shapes) == 44, "Tensor.shapes @44");
PTO_KABI_STATIC_ASSERT(offsetof(KernelTensor, strides) == 72, "Tensor.strides @72");

typedef struct KernelLocalContext {
    int32_t block_idx;
    int32_t block_num;
    uint8_t async_ctx[40];
} KernelLocalContext;

typedef struct KernelGlobalContext {
    int32_t sub_block_id;
} KernelGlobalContext;

PTO_KABI_STATIC_ASSERT(sizeof(KernelLocalContext) == 48, "LocalContext is 48 bytes");

static inline const KernelTensor *kernel_tensor(const int64_t *args, int i) {
    return (const KernelTensor *)(uintptr_t)args[i];
}

static inline float *kernel_f32(const KernelTensor *t) {
    return (float *)(uintptr_t)t->buffer_addr + t->start_offset;
}

static inline uint64_t kernel_numel(const KernelTensor *t) {
    uint64_t n = 1;
    for (uint32_t d = 0; d < t->ndims && d < 5; ++d) {
        n *= t->shapes[d];
    }
    return n;
}

static inline float kernel_scalar_f32(const int64_t *args, int i) {
    uint32_t bits = (uint32_t)(uint64_t)args[i];
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline int32_t kernel_block_idx(const int64_t *args) {
    return ((const KernelLocalContext *)(uintptr_t)args[48])->block_idx;
}

static inline int32_t kernel_block_num(const int64_t *args) {
    return ((const KernelLocalContext *)(uintptr_t)args[48])->block_num;
}

static inline int32_t kernel_sub_block_id(const int64_t *args) {
    return ((const KernelGlobalContext *)(uintptr_t)args[49])->sub_block_id;
}

/* The [begin, end) element range of this SPMD block over n elements. */
static inline void kernel_block_range(const int64_t *args, uint64_t n, uint64_t *begin, uint64_t *end) {
    int32_t idx = kernel_block_idx(args);
    int32_t num = kernel_block_num(args);
    if (num < 1 || idx < 0 || idx >= num) {
        *begin = 0;
        *end = n;
        return;
    }
    *begin = n * (uint64_t)idx / (uint64_t)num;
    *end = n * (uint64_t)(idx + 1) / (uint64_t)num;
}

#endif /* PTO_KERNEL_ABI_H */
