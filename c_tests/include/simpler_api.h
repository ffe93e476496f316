/*
 * simpler_api.h - the C ABI of libsimpler.so / libhost_runtime.so as a consumer sees it,
 * and a loader that resolves it exactly like upstream's ChipWorker (upstream src/common/worker/chip_worker.cpp @ c68d9bbe6):
 * dlopen(RTLD_NOW | RTLD_LOCAL), then for every symbol clear dlerror(), dlsym, and fail
 * when dlerror() reports an error (a symbol whose address is NULL would be accepted).
 *
 * The 26 upstream symbols ChipWorker resolves are always required. The simpler extensions
 * (config object, last error, *_with_config, simpler_prepare_callable_sized) are
 * required only when asked for.
 *
 * Declarations are written here until the generated include/simpler.h exists.
 * Compiles as C (C99 or later) and C++17.
 */
#ifndef SIMPLER_CTESTS_SIMPLER_API_H
#define SIMPLER_CTESTS_SIMPLER_API_H

#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* PtoRunTiming: 16 bytes, align 8 (upstream src/common/worker/pto_runtime_c_api.h @ c68d9bbe6). */
typedef struct PtoRunTiming {
    uint64_t host_wall_ns;
    uint64_t device_wall_ns;
} PtoRunTiming;

/* Opaque to this harness: touched only through pto_runtime_config_init / _set. */
typedef struct pto_runtime_config_t pto_runtime_config_t;

/* Storage for one pto_runtime_config_t: 1024 bytes, 8-aligned (the real layout is
 * smaller and not fixed yet). */
typedef union SimplerConfigStorage {
    uint64_t align_;
    unsigned char bytes[1024];
} SimplerConfigStorage;

static inline pto_runtime_config_t *simpler_config_ptr(SimplerConfigStorage *s) {
    return (pto_runtime_config_t *)(void *)s->bytes;
}

/* CallConfig: 1172 bytes, packed (upstream call_config.h @ c68d9bbe6). Built byte-wise. */
#define SIMPLER_CALL_CONFIG_SIZE 1172u
#define SIMPLER_CC_OFF_BLOCK_DIM 0u
#define SIMPLER_CC_OFF_AICPU_THREAD_NUM 4u
#define SIMPLER_CC_OFF_OUTPUT_PREFIX 148u

typedef struct SimplerApi {
    void *handle;
    /* ---- upstream: lifecycle / sizing / memory ---- */
    void *(*create_device_context)(void);
    void (*destroy_device_context)(void *ctx);
    void *(*device_malloc_ctx)(void *ctx, size_t size);
    void (*device_free_ctx)(void *ctx, void *dev_ptr);
    int (*copy_to_device_ctx)(void *ctx, void *dev_ptr, const void *host_ptr, size_t size);
    int (*copy_from_device_ctx)(void *ctx, void *host_ptr, const void *dev_ptr, size_t size);
    size_t (*get_runtime_size)(void);
    int (*simpler_init)(void *ctx, int device_id, const uint8_t *aicpu_binary, size_t aicpu_size,
                        const uint8_t *aicore_binary, size_t aicore_size, const uint8_t *dispatcher_binary,
                        size_t dispatcher_size);
    /* ---- upstream: prepared callables + counters ---- */
    int (*prepare_callable)(void *ctx, int32_t callable_id, const void *callable);
    int (*run_prepared)(void *ctx, void *runtime, int32_t callable_id, const void *args, int block_dim,
                        int aicpu_thread_num, int enable_l2_swimlane, int enable_dump_tensor, int enable_pmu,
                        int enable_dep_gen, int enable_scope_stats, uint64_t ring_task_window, uint64_t ring_heap,
                        uint64_t ring_dep_pool, const uint64_t *ring_task_windows, const uint64_t *ring_heaps,
                        const uint64_t *ring_dep_pools, const char *output_prefix, PtoRunTiming *out_timing);
    int (*unregister_callable)(void *ctx, int32_t callable_id);
    size_t (*get_aicpu_dlopen_count)(void *ctx);
    size_t (*get_host_dlopen_count)(void *ctx);
    int (*finalize_device)(void *ctx);
    /* ---- upstream: ACL/stream + comm ---- */
    int (*ensure_acl_ready_ctx)(void *ctx, int device_id);
    void *(*create_comm_stream_ctx)(void *ctx);
    int (*destroy_comm_stream_ctx)(void *ctx, void *stream);
    void *(*comm_init)(int rank, int nranks, void *stream, const char *rootinfo_path);
    int (*comm_alloc_windows)(void *h, size_t win_size, uint64_t *device_ctx_out);
    int (*comm_get_local_window_base)(void *h, uint64_t *base_out);
    int (*comm_get_window_size)(void *h, size_t *size_out);
    int (*comm_derive_context)(void *h, const uint32_t *rank_ids, size_t rank_count, uint32_t domain_rank,
                               size_t window_offset, size_t window_size, uint64_t *device_ctx_out);
    int (*comm_alloc_domain_windows)(void *h, uint64_t allocation_id, const uint32_t *rank_ids, size_t rank_count,
                                     uint32_t domain_rank, size_t window_size, uint64_t *device_ctx_out,
                                     uint64_t *local_window_base_out);
    int (*comm_release_domain_windows)(void *h, uint64_t allocation_id, size_t rank_count, uint32_t domain_rank);
    int (*comm_barrier)(void *h);
    int (*comm_destroy)(void *h);
    /* ---- simpler extensions ---- */
    int (*pto_runtime_config_init)(pto_runtime_config_t *cfg);
    int (*pto_runtime_config_set)(pto_runtime_config_t *cfg, const char *knob, const char *value);
    const char *(*pto_last_error_message)(void);
    int (*pto_last_error_code)(void);
    int (*simpler_init_with_config)(void *ctx, int device_id, const uint8_t *aicpu, size_t aicpu_size,
                                    const uint8_t *aicore, size_t aicore_size, const uint8_t *dispatcher,
                                    size_t dispatcher_size, const pto_runtime_config_t *config);
    int (*run_prepared_with_config)(void *ctx, void *runtime, int32_t callable_id, const void *args,
                                    const void *call_config, const pto_runtime_config_t *config,
                                    PtoRunTiming *out_timing);
    int (*simpler_prepare_callable_sized)(void *ctx, int32_t callable_id, const void *callable,
                                          size_t callable_size);
} SimplerApi;

typedef struct SimplerSymbol {
    const char *name;
    size_t offset;
} SimplerSymbol;

#define SIMPLER_SYM_(n) { #n, offsetof(SimplerApi, n) }

/* The 26 symbols ChipWorker resolves, in its order. */
static const SimplerSymbol SIMPLER_UPSTREAM_SYMBOLS[26] = {
    SIMPLER_SYM_(create_device_context),   SIMPLER_SYM_(destroy_device_context),
    SIMPLER_SYM_(device_malloc_ctx),       SIMPLER_SYM_(device_free_ctx),
    SIMPLER_SYM_(copy_to_device_ctx),      SIMPLER_SYM_(copy_from_device_ctx),
    SIMPLER_SYM_(get_runtime_size),        SIMPLER_SYM_(simpler_init),
    SIMPLER_SYM_(prepare_callable),        SIMPLER_SYM_(run_prepared),
    SIMPLER_SYM_(unregister_callable),     SIMPLER_SYM_(get_aicpu_dlopen_count),
    SIMPLER_SYM_(get_host_dlopen_count),   SIMPLER_SYM_(finalize_device),
    SIMPLER_SYM_(ensure_acl_ready_ctx),    SIMPLER_SYM_(create_comm_stream_ctx),
    SIMPLER_SYM_(destroy_comm_stream_ctx), SIMPLER_SYM_(comm_init),
    SIMPLER_SYM_(comm_alloc_windows),      SIMPLER_SYM_(comm_get_local_window_base),
    SIMPLER_SYM_(comm_get_window_size),    SIMPLER_SYM_(comm_derive_context),
    SIMPLER_SYM_(comm_alloc_domain_windows), SIMPLER_SYM_(comm_release_domain_windows),
    SIMPLER_SYM_(comm_barrier),            SIMPLER_SYM_(comm_destroy),
};

static const SimplerSymbol SIMPLER_EXTENSION_SYMBOLS[7] = {
    SIMPLER_SYM_(pto_runtime_config_init),  SIMPLER_SYM_(pto_runtime_config_set),
    SIMPLER_SYM_(pto_last_error_message),   SIMPLER_SYM_(pto_last_error_code),
    SIMPLER_SYM_(simpler_init_with_config), SIMPLER_SYM_(run_prepared_with_config),
    SIMPLER_SYM_(simpler_prepare_callable_sized),
};

#undef SIMPLER_SYM_

/* Resolves `count` symbols into `api`; appends the names of missing ones to `missing`.
 * Returns the number of missing symbols. */
static inline int simpler_api_resolve_(SimplerApi *api, const SimplerSymbol *syms, int count, char *missing,
                                       size_t missing_len) {
    int i, nmissing = 0;
    for (i = 0; i < count; ++i) {
        void *p;
        const char *err;
        (void)dlerror();
        p = dlsym(api->handle, syms[i].name);
        err = dlerror();
        if (err != NULL) {
            size_t used = strlen(missing);
            ++nmissing;
            if (used + 1 < missing_len)
                snprintf(missing + used, missing_len - used, "%s%s", used > 0 ? ", " : "", syms[i].name);
            continue;
        }
        /* Object pointer -> function pointer via memcpy: valid in C and C++ on POSIX. */
        memcpy((char *)api + syms[i].offset, &p, sizeof p);
    }
    return nmissing;
}

/* Loads the library like ChipWorker::init. Returns 0 on success; on failure writes a
 * message (dlopen error or the list of every missing symbol) to err and returns -1. */
static inline int simpler_api_load(SimplerApi *api, const char *path, int with_extensions, char *err,
                                   size_t err_len) {
    char missing[2048];
    int nmissing;
    memset(api, 0, sizeof *api);
    missing[0] = '\0';
    api->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (api->handle == NULL) {
        const char *e = dlerror();
        snprintf(err, err_len, "dlopen failed: %s", e != NULL ? e : "(no dlerror)");
        return -1;
    }
    nmissing = simpler_api_resolve_(api, SIMPLER_UPSTREAM_SYMBOLS, 26, missing, sizeof missing);
    if (with_extensions) nmissing += simpler_api_resolve_(api, SIMPLER_EXTENSION_SYMBOLS, 7, missing, sizeof missing);
    if (nmissing > 0) {
        snprintf(err, err_len, "dlsym failed for %d symbol(s): %s", nmissing, missing);
        dlclose(api->handle);
        memset(api, 0, sizeof *api);
        return -1;
    }
    return 0;
}

/* dlclose + clear. Returns dlclose's result. */
static inline int simpler_api_unload(SimplerApi *api) {
    int rc = 0;
    if (api->handle != NULL) rc = dlclose(api->handle);
    memset(api, 0, sizeof *api);
    return rc;
}

/* Builds a CallConfig (1172 bytes, packed) with the given block_dim / aicpu_thread_num,
 * all flags and ring sizes 0 and an empty output prefix. */
static inline void simpler_call_config_build(unsigned char *cc, int32_t block_dim, int32_t aicpu_thread_num) {
    memset(cc, 0, SIMPLER_CALL_CONFIG_SIZE);
    memcpy(cc + SIMPLER_CC_OFF_BLOCK_DIM, &block_dim, sizeof block_dim);
    memcpy(cc + SIMPLER_CC_OFF_AICPU_THREAD_NUM, &aicpu_thread_num, sizeof aicpu_thread_num);
}

#endif /* SIMPLER_CTESTS_SIMPLER_API_H */
