/*
 * chip_callable_builder.h - header-only helpers (C99 and C++17) that produce the
 * byte images simpler's C ABI consumes, exactly as upstream's Python/C++ builders do:
 *
 *   - ChipCallable image (upstream callable.h @ c68d9bbe6): 8864-byte header, orchestration SO at
 *     storage offset 0, each child a CoreCallable (192-byte header + kernel binary) at a
 *     64-aligned storage offset starting at align64(orchestration size);
 *     image size = 8864 + end of the last child (or of the orchestration SO).
 *   - ChipStorageTaskArgs (upstream tensor.h, TaskArgsTpl @ c68d9bbe6): 17472 bytes, 128 Tensor records of
 *     128 bytes, then 128 uint64 scalars, then tensor_count / scalar_count.
 *   - read_file(): whole-file read into a malloc'd buffer.
 *
 * All multi-byte fields are written little-endian through memcpy (the ABI is LP64
 * little-endian), so the buffers need no particular alignment for the writers; the
 * task-args buffer is nevertheless allocated 64-aligned, like ChipWorker's stack object.
 */
#ifndef SIMPLER_CTESTS_CHIP_CALLABLE_BUILDER_H
#define SIMPLER_CTESTS_CHIP_CALLABLE_BUILDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- constants (upstream arg_direction.h, callable_protocol.h @ c68d9bbe6) ------------------------------------------------------ */
enum {
    CCB_ARG_SCALAR = 0,
    CCB_ARG_IN = 1,
    CCB_ARG_OUT = 2,
    CCB_ARG_INOUT = 3
};
enum { CCB_CORE_AIC = 0, CCB_CORE_AIV = 1 };
enum { CCB_DT_FLOAT32 = 0, CCB_DT_FLOAT16 = 1, CCB_DT_INT32 = 2, CCB_DT_INT16 = 3, CCB_DT_INT8 = 4,
       CCB_DT_UINT8 = 5, CCB_DT_BFLOAT16 = 6, CCB_DT_INT64 = 7, CCB_DT_UINT64 = 8, CCB_DT_UINT16 = 9,
       CCB_DT_UINT32 = 10, CCB_DT_BOOL = 11 };

#define CCB_ALIGN 64u
#define CCB_NAME_MAX 64u
#define CCB_CHIP_MAX_SIG 128
#define CCB_CORE_MAX_SIG 32
#define CCB_MAX_CHILDREN 1024
#define CCB_MAX_FUNC_ID 1024

/* ChipCallable header (8864 bytes) */
#define CCB_CHIP_OFF_SIGNATURE 0u
#define CCB_CHIP_OFF_SIG_COUNT 512u
#define CCB_CHIP_OFF_BINARY_SIZE 516u
#define CCB_CHIP_OFF_FUNC_NAME 520u
#define CCB_CHIP_OFF_FUNC_NAME_LEN 584u
#define CCB_CHIP_OFF_CHILD_FUNC_IDS 588u
#define CCB_CHIP_OFF_CHILD_OFFSETS 4684u
#define CCB_CHIP_OFF_CHILD_COUNT 8780u
#define CCB_CHIP_OFF_CONFIG_NAME 8784u
#define CCB_CHIP_OFF_CONFIG_NAME_LEN 8848u
#define CCB_CHIP_HEADER_SIZE 8864u

/* CoreCallable header (144 bytes, binary at 192) */
#define CCB_CORE_OFF_SIGNATURE 0u
#define CCB_CORE_OFF_SIG_COUNT 128u
#define CCB_CORE_OFF_BINARY_SIZE 132u
#define CCB_CORE_OFF_RESOLVED_ADDR 136u
#define CCB_CORE_HEADER_SIZE 144u
#define CCB_CORE_BINARY_OFFSET 192u

/* Tensor record (128 bytes) */
#define CCB_TENSOR_SIZE 128u
#define CCB_T_OFF_ADDR 0u
#define CCB_T_OFF_SIZE 8u
#define CCB_T_OFF_OWNER 16u
#define CCB_T_OFF_START_OFFSET 24u
#define CCB_T_OFF_VERSION 32u
#define CCB_T_OFF_NDIMS 36u
#define CCB_T_OFF_DTYPE 40u
#define CCB_T_OFF_MANUAL_DEP 41u
#define CCB_T_OFF_IS_CONTIGUOUS 42u
#define CCB_T_OFF_CHILD_MEMORY 43u
#define CCB_T_OFF_SHAPES 44u
#define CCB_T_OFF_EXTENT 64u
#define CCB_T_OFF_STRIDES 72u
#define CCB_MAX_TENSOR_DIMS 5u
#define CCB_OWNER_INVALID UINT64_MAX

/* ChipStorageTaskArgs (17472 bytes) */
#define CCB_ARGS_MAX_TENSORS 128
#define CCB_ARGS_MAX_SCALARS 128
#define CCB_ARGS_OFF_TENSORS 0u
#define CCB_ARGS_OFF_SCALARS 16384u
#define CCB_ARGS_OFF_TENSOR_COUNT 17408u
#define CCB_ARGS_OFF_SCALAR_COUNT 17412u
#define CCB_ARGS_SIZE 17472u

/* ---- little-endian field access --------------------------------------------------- */
static inline void ccb_put_u8(uint8_t *base, size_t off, uint8_t v) { base[off] = v; }
static inline void ccb_put_u32(uint8_t *base, size_t off, uint32_t v) { memcpy(base + off, &v, sizeof v); }
static inline void ccb_put_i32(uint8_t *base, size_t off, int32_t v) { memcpy(base + off, &v, sizeof v); }
static inline void ccb_put_u64(uint8_t *base, size_t off, uint64_t v) { memcpy(base + off, &v, sizeof v); }
static inline uint32_t ccb_get_u32(const uint8_t *base, size_t off) {
    uint32_t v;
    memcpy(&v, base + off, sizeof v);
    return v;
}
static inline int32_t ccb_get_i32(const uint8_t *base, size_t off) {
    int32_t v;
    memcpy(&v, base + off, sizeof v);
    return v;
}
static inline uint64_t ccb_get_u64(const uint8_t *base, size_t off) {
    uint64_t v;
    memcpy(&v, base + off, sizeof v);
    return v;
}
static inline size_t ccb_align64(size_t v) { return (v + (CCB_ALIGN - 1u)) & ~(size_t)(CCB_ALIGN - 1u); }

/* ---- 64-aligned allocation (C99 has no aligned_alloc) ------------------------------ */
/* Zero-filled, 64-byte aligned; release with ccb_free64. NULL on failure. */
static inline void *ccb_alloc64(size_t size) {
    uint8_t *raw = (uint8_t *)malloc(size + CCB_ALIGN + sizeof(void *));
    uintptr_t aligned;
    if (raw == NULL) return NULL;
    aligned = ((uintptr_t)(raw + sizeof(void *)) + (CCB_ALIGN - 1u)) & ~(uintptr_t)(CCB_ALIGN - 1u);
    memcpy((uint8_t *)aligned - sizeof(void *), &raw, sizeof raw);
    memset((void *)aligned, 0, size);
    return (void *)aligned;
}
static inline void ccb_free64(void *p) {
    void *raw;
    if (p == NULL) return;
    memcpy(&raw, (uint8_t *)p - sizeof(void *), sizeof raw);
    free(raw);
}

/* ---- read_file ------------------------------------------------------------------- */
/* Reads a whole file into a malloc'd buffer (at least 1 byte is allocated so an empty
 * file still yields a non-NULL pointer). Returns NULL on error. */
static inline uint8_t *read_file(const char *path, size_t *out_size) {
    FILE *fp;
    long len;
    uint8_t *buf;
    size_t got;
    if (out_size != NULL) *out_size = 0;
    if (path == NULL || out_size == NULL) return NULL;
    fp = fopen(path, "rb");
    if (fp == NULL) return NULL;
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return NULL;
    }
    buf = (uint8_t *)malloc((size_t)len + 1u);
    if (buf == NULL) {
        fclose(fp);
        return NULL;
    }
    got = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    if (got != (size_t)len) {
        free(buf);
        return NULL;
    }
    *out_size = got;
    return buf;
}

/* ---- ChipCallable builder ---------------------------------------------------------- */
/* One child kernel: its func_id, its CoreCallable signature and its SO bytes. */
typedef struct CcbChild {
    int32_t func_id;
    const int32_t *signature; /* ArgDirection values, sig_count entries */
    int32_t sig_count;
    const void *binary;
    size_t binary_size;
} CcbChild;

/* Size of one child's CoreCallable image (header + binary, unpadded). */
static inline size_t ccb_core_callable_size(size_t binary_size) { return CCB_CORE_BINARY_OFFSET + binary_size; }

/* Storage offset of every child (written to offsets_out[child_count]) and total image
 * size. Returns 0 on success, -1 if the image would not fit the uint32 fields. */
static inline int ccb_layout(size_t orch_size, const CcbChild *children, int32_t child_count, uint32_t *offsets_out,
                             size_t *total_out) {
    size_t end = orch_size;
    int32_t i;
    for (i = 0; i < child_count; ++i) {
        size_t off = ccb_align64(end);
        if (off > UINT32_MAX) return -1;
        if (offsets_out != NULL) offsets_out[i] = (uint32_t)off;
        end = off + ccb_core_callable_size(children[i].binary_size);
    }
    if (end > UINT32_MAX) return -1;
    *total_out = CCB_CHIP_HEADER_SIZE + end;
    return 0;
}

/* Builds a ChipCallable image in a zero-filled malloc'd buffer (free with free()).
 * Names longer than 63 characters are truncated like upstream. Returns NULL (and
 * *out_size = 0) on invalid input or allocation failure. */
static inline uint8_t *ccb_build_chip_callable(const int32_t *signature, int32_t sig_count, const char *func_name,
                                               const char *config_name, const void *orch, size_t orch_size,
                                               const CcbChild *children, int32_t child_count, size_t *out_size) {
    uint32_t *offsets;
    size_t total = 0;
    uint8_t *img;
    int32_t i;
    size_t n;
    if (out_size == NULL) return NULL;
    *out_size = 0;
    if (sig_count < 0 || sig_count > CCB_CHIP_MAX_SIG || (sig_count > 0 && signature == NULL)) return NULL;
    if (child_count < 0 || child_count > CCB_MAX_CHILDREN || (child_count > 0 && children == NULL)) return NULL;
    if (orch_size > 0 && orch == NULL) return NULL;
    for (i = 0; i < child_count; ++i) {
        if (children[i].sig_count < 0 || children[i].sig_count > CCB_CORE_MAX_SIG) return NULL;
        if (children[i].sig_count > 0 && children[i].signature == NULL) return NULL;
        if (children[i].binary_size > 0 && children[i].binary == NULL) return NULL;
    }
    offsets = (uint32_t *)calloc((size_t)(child_count > 0 ? child_count : 1), sizeof(uint32_t));
    if (offsets == NULL) return NULL;
    if (ccb_layout(orch_size, children, child_count, offsets, &total) != 0) {
        free(offsets);
        return NULL;
    }
    img = (uint8_t *)calloc(total, 1);
    if (img == NULL) {
        free(offsets);
        return NULL;
    }
    for (i = 0; i < sig_count; ++i) ccb_put_i32(img, CCB_CHIP_OFF_SIGNATURE + 4u * (size_t)i, signature[i]);
    ccb_put_i32(img, CCB_CHIP_OFF_SIG_COUNT, sig_count);
    ccb_put_u32(img, CCB_CHIP_OFF_BINARY_SIZE, (uint32_t)orch_size);
    n = func_name != NULL ? strlen(func_name) : 0;
    if (n > CCB_NAME_MAX - 1u) n = CCB_NAME_MAX - 1u;
    if (n > 0) memcpy(img + CCB_CHIP_OFF_FUNC_NAME, func_name, n);
    ccb_put_u32(img, CCB_CHIP_OFF_FUNC_NAME_LEN, (uint32_t)n);
    n = config_name != NULL ? strlen(config_name) : 0;
    if (n > CCB_NAME_MAX - 1u) n = CCB_NAME_MAX - 1u;
    if (n > 0) memcpy(img + CCB_CHIP_OFF_CONFIG_NAME, config_name, n);
    ccb_put_u32(img, CCB_CHIP_OFF_CONFIG_NAME_LEN, (uint32_t)n);
    ccb_put_i32(img, CCB_CHIP_OFF_CHILD_COUNT, child_count);
    if (orch_size > 0) memcpy(img + CCB_CHIP_HEADER_SIZE, orch, orch_size);
    for (i = 0; i < child_count; ++i) {
        uint8_t *core = img + CCB_CHIP_HEADER_SIZE + offsets[i];
        int32_t s;
        ccb_put_i32(img, CCB_CHIP_OFF_CHILD_FUNC_IDS + 4u * (size_t)i, children[i].func_id);
        ccb_put_u32(img, CCB_CHIP_OFF_CHILD_OFFSETS + 4u * (size_t)i, offsets[i]);
        for (s = 0; s < children[i].sig_count; ++s)
            ccb_put_i32(core, CCB_CORE_OFF_SIGNATURE + 4u * (size_t)s, children[i].signature[s]);
        ccb_put_i32(core, CCB_CORE_OFF_SIG_COUNT, children[i].sig_count);
        ccb_put_u32(core, CCB_CORE_OFF_BINARY_SIZE, (uint32_t)children[i].binary_size);
        ccb_put_u64(core, CCB_CORE_OFF_RESOLVED_ADDR, 0);
        if (children[i].binary_size > 0) memcpy(core + CCB_CORE_BINARY_OFFSET, children[i].binary, children[i].binary_size);
    }
    free(offsets);
    *out_size = total;
    return img;
}

/* ---- ChipStorageTaskArgs builder --------------------------------------------------- */
static inline size_t ccb_dtype_size(uint8_t dtype) {
    switch (dtype) {
    case CCB_DT_FLOAT32: case CCB_DT_INT32: case CCB_DT_UINT32: return 4;
    case CCB_DT_FLOAT16: case CCB_DT_INT16: case CCB_DT_BFLOAT16: case CCB_DT_UINT16: return 2;
    case CCB_DT_INT8: case CCB_DT_UINT8: case CCB_DT_BOOL: return 1;
    case CCB_DT_INT64: case CCB_DT_UINT64: return 8;
    default: return 0;
    }
}

/* Allocates a zeroed, 64-aligned ChipStorageTaskArgs (release with ccb_free64). */
static inline uint8_t *ccb_args_alloc(void) { return (uint8_t *)ccb_alloc64(CCB_ARGS_SIZE); }
static inline void ccb_args_clear(uint8_t *args) { memset(args, 0, CCB_ARGS_SIZE); }
static inline int32_t ccb_args_tensor_count(const uint8_t *args) { return ccb_get_i32(args, CCB_ARGS_OFF_TENSOR_COUNT); }
static inline int32_t ccb_args_scalar_count(const uint8_t *args) { return ccb_get_i32(args, CCB_ARGS_OFF_SCALAR_COUNT); }
static inline size_t ccb_args_tensor_off(int32_t i) { return CCB_ARGS_OFF_TENSORS + CCB_TENSOR_SIZE * (size_t)i; }
static inline uint64_t ccb_args_tensor_addr(const uint8_t *args, int32_t i) {
    return ccb_get_u64(args, ccb_args_tensor_off(i) + CCB_T_OFF_ADDR);
}
static inline uint64_t ccb_args_tensor_size(const uint8_t *args, int32_t i) {
    return ccb_get_u64(args, ccb_args_tensor_off(i) + CCB_T_OFF_SIZE);
}
static inline uint32_t ccb_args_tensor_ndims(const uint8_t *args, int32_t i) {
    return ccb_get_u32(args, ccb_args_tensor_off(i) + CCB_T_OFF_NDIMS);
}
static inline uint32_t ccb_args_tensor_shape(const uint8_t *args, int32_t i, uint32_t d) {
    return ccb_get_u32(args, ccb_args_tensor_off(i) + CCB_T_OFF_SHAPES + 4u * d);
}
static inline uint64_t ccb_args_scalar(const uint8_t *args, int32_t i) {
    return ccb_get_u64(args, CCB_ARGS_OFF_SCALARS + 8u * (size_t)i);
}

/* Appends an external, contiguous tensor (owner invalid, start_offset 0, version 0,
 * row-major strides, buffer.size = numel * elem_size). Tensors must precede scalars.
 * Returns the tensor index or -1. */
static inline int32_t ccb_args_add_tensor(uint8_t *args, uint64_t addr, uint8_t dtype, uint32_t ndims,
                                          const uint32_t *shapes) {
    int32_t idx = ccb_args_tensor_count(args);
    size_t off, elem = ccb_dtype_size(dtype);
    uint64_t numel = 1, extent = 1;
    uint32_t strides[CCB_MAX_TENSOR_DIMS];
    uint32_t stride = 1;
    uint32_t d;
    if (idx < 0 || idx >= CCB_ARGS_MAX_TENSORS || ccb_args_scalar_count(args) != 0) return -1;
    if (ndims < 1 || ndims > CCB_MAX_TENSOR_DIMS || shapes == NULL || elem == 0) return -1;
    for (d = ndims; d-- > 0;) {
        if (shapes[d] == 0) return -1;
        strides[d] = stride;
        stride *= shapes[d];
    }
    off = ccb_args_tensor_off(idx);
    memset(args + off, 0, CCB_TENSOR_SIZE);
    for (d = 0; d < ndims; ++d) {
        numel *= shapes[d];
        extent += (uint64_t)(shapes[d] - 1u) * strides[d];
        ccb_put_u32(args, off + CCB_T_OFF_SHAPES + 4u * d, shapes[d]);
        ccb_put_u32(args, off + CCB_T_OFF_STRIDES + 4u * d, strides[d]);
    }
    ccb_put_u64(args, off + CCB_T_OFF_ADDR, addr);
    ccb_put_u64(args, off + CCB_T_OFF_SIZE, numel * elem);
    ccb_put_u64(args, off + CCB_T_OFF_OWNER, CCB_OWNER_INVALID);
    ccb_put_u64(args, off + CCB_T_OFF_START_OFFSET, 0);
    ccb_put_i32(args, off + CCB_T_OFF_VERSION, 0);
    ccb_put_u32(args, off + CCB_T_OFF_NDIMS, ndims);
    ccb_put_u8(args, off + CCB_T_OFF_DTYPE, dtype);
    ccb_put_u8(args, off + CCB_T_OFF_MANUAL_DEP, 0);
    ccb_put_u8(args, off + CCB_T_OFF_IS_CONTIGUOUS, 1);
    ccb_put_u8(args, off + CCB_T_OFF_CHILD_MEMORY, 0);
    ccb_put_u64(args, off + CCB_T_OFF_EXTENT, extent);
    ccb_put_i32(args, CCB_ARGS_OFF_TENSOR_COUNT, idx + 1);
    return idx;
}

/* Appends a scalar (raw 64-bit pattern). Returns its index or -1. */
static inline int32_t ccb_args_add_scalar(uint8_t *args, uint64_t value) {
    int32_t idx = ccb_args_scalar_count(args);
    if (idx < 0 || idx >= CCB_ARGS_MAX_SCALARS) return -1;
    ccb_put_u64(args, CCB_ARGS_OFF_SCALARS + 8u * (size_t)idx, value);
    ccb_put_i32(args, CCB_ARGS_OFF_SCALAR_COUNT, idx + 1);
    return idx;
}

#endif /* SIMPLER_CTESTS_CHIP_CALLABLE_BUILDER_H */
