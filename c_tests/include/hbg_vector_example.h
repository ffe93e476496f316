/*
 * hbg_vector_example.h - the host_build_graph vector example as a consumer of
 * libsimpler.so drives it: fixture loading, ChipCallable building, host data, and one
 * run_prepared with ChipWorker's exact argument pattern (upstream src/common/worker/chip_worker.cpp @ c68d9bbe6), followed by an
 * element-by-element check of f = (a+b+1)*(a+b+2).
 *
 * Shared by chipworker_harness.c and misuse.c. C (C99+) and C++17.
 */
#ifndef SIMPLER_CTESTS_HBG_VECTOR_EXAMPLE_H
#define SIMPLER_CTESTS_HBG_VECTOR_EXAMPLE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chip_callable_builder.h"
#include "simpler_api.h"

#define HBG_SIZE 16384u
#define HBG_ORCH_FUNC "build_example_graph"

/* The orchestration SO, the three kernel SOs and the ChipCallable image built from them. */
typedef struct HbgFixture {
    uint8_t *orch;
    size_t orch_size;
    uint8_t *kernels[3];
    size_t kernel_sizes[3];
    uint8_t *callable;
    size_t callable_size;
} HbgFixture;

/* Host buffers a, b, f (16384 floats each) and the ChipStorageTaskArgs pointing at them. */
typedef struct HbgData {
    float *a;
    float *b;
    float *f;
    uint8_t *args;
} HbgData;

static inline void hbg_fixture_free(HbgFixture *fx) {
    int i;
    free(fx->orch);
    for (i = 0; i < 3; ++i) free(fx->kernels[i]);
    free(fx->callable);
    memset(fx, 0, sizeof *fx);
}

/* Reads the SOs and builds the ChipCallable: signature [IN, IN, OUT], func_name
 * "build_example_graph", children func ids 0, 1, 2 (AIV kernels add, add_scalar, mul). */
static inline int hbg_fixture_load(HbgFixture *fx, const char *orch_path, const char *const kernel_paths[3], char *err,
                                   size_t err_len) {
    static const int32_t chip_sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig_in_in_out[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig_in_out[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild children[3];
    int i;
    memset(fx, 0, sizeof *fx);
    fx->orch = read_file(orch_path, &fx->orch_size);
    if (fx->orch == NULL || fx->orch_size == 0) {
        snprintf(err, err_len, "cannot read orchestration SO '%s'", orch_path);
        hbg_fixture_free(fx);
        return -1;
    }
    for (i = 0; i < 3; ++i) {
        fx->kernels[i] = read_file(kernel_paths[i], &fx->kernel_sizes[i]);
        if (fx->kernels[i] == NULL || fx->kernel_sizes[i] == 0) {
            snprintf(err, err_len, "cannot read kernel SO '%s'", kernel_paths[i]);
            hbg_fixture_free(fx);
            return -1;
        }
        children[i].func_id = i;
        children[i].signature = (i == 1) ? sig_in_out : sig_in_in_out;
        children[i].sig_count = (i == 1) ? 2 : 3;
        children[i].binary = fx->kernels[i];
        children[i].binary_size = fx->kernel_sizes[i];
    }
    fx->callable = ccb_build_chip_callable(chip_sig, 3, HBG_ORCH_FUNC, "", fx->orch, fx->orch_size, children, 3,
                                           &fx->callable_size);
    if (fx->callable == NULL) {
        snprintf(err, err_len, "ccb_build_chip_callable failed");
        hbg_fixture_free(fx);
        return -1;
    }
    return 0;
}

static inline void hbg_data_free(HbgData *d) {
    free(d->a);
    free(d->b);
    free(d->f);
    ccb_free64(d->args);
    memset(d, 0, sizeof *d);
}

/* Allocates a, b, f and the args (tensors a, b, f; FLOAT32, shape {16384}). */
static inline int hbg_data_init(HbgData *d) {
    uint32_t shape[1];
    memset(d, 0, sizeof *d);
    shape[0] = HBG_SIZE;
    d->a = (float *)malloc(HBG_SIZE * sizeof(float));
    d->b = (float *)malloc(HBG_SIZE * sizeof(float));
    d->f = (float *)malloc(HBG_SIZE * sizeof(float));
    d->args = ccb_args_alloc();
    if (d->a == NULL || d->b == NULL || d->f == NULL || d->args == NULL) {
        hbg_data_free(d);
        return -1;
    }
    if (ccb_args_add_tensor(d->args, (uint64_t)(uintptr_t)d->a, CCB_DT_FLOAT32, 1, shape) != 0 ||
        ccb_args_add_tensor(d->args, (uint64_t)(uintptr_t)d->b, CCB_DT_FLOAT32, 1, shape) != 1 ||
        ccb_args_add_tensor(d->args, (uint64_t)(uintptr_t)d->f, CCB_DT_FLOAT32, 1, shape) != 2) {
        hbg_data_free(d);
        return -1;
    }
    return 0;
}

/* Fills the inputs for one run and poisons f (NaN) so stale results cannot pass.
 * variant 0: a = 2, b = 3 everywhere (f = 42); variant v > 0: a[i] = i*0.5 + v,
 * b[i] = 1 - i*0.25 (f differs per element and per variant). */
static inline void hbg_data_fill(HbgData *d, unsigned variant) {
    uint32_t i;
    for (i = 0; i < HBG_SIZE; ++i) {
        if (variant == 0) {
            d->a[i] = 2.0f;
            d->b[i] = 3.0f;
        } else {
            d->a[i] = (float)i * 0.5f + (float)variant;
            d->b[i] = 1.0f - (float)i * 0.25f;
        }
        d->f[i] = nanf("");
    }
}

/* Checks f element by element. Returns 0 when every element matches. */
static inline int hbg_data_check(const HbgData *d, unsigned variant, char *err, size_t err_len) {
    uint32_t i;
    for (i = 0; i < HBG_SIZE; ++i) {
        float s = d->a[i] + d->b[i];
        float expect = (s + 1.0f) * (s + 2.0f);
        float got = d->f[i];
        float tol = 1e-5f * (fabsf(expect) > 1.0f ? fabsf(expect) : 1.0f);
        if (variant == 0 && expect != 42.0f) {
            snprintf(err, err_len, "golden for a=2,b=3 is %g, not 42", (double)expect);
            return -1;
        }
        if (!(fabsf(got - expect) <= tol)) {
            snprintf(err, err_len, "f[%u] = %g, expected %g (a=%g b=%g, variant %u)", (unsigned)i, (double)got,
                     (double)expect, (double)d->a[i], (double)d->b[i], variant);
            return -1;
        }
    }
    return 0;
}

/* The last-error text if the library exports it, for diagnostics. */
static inline const char *hbg_last_error(const SimplerApi *api) {
    const char *m;
    if (api->pto_last_error_message == NULL) return "(pto_last_error_message not loaded)";
    m = api->pto_last_error_message();
    return m != NULL ? m : "(null)";
}

/* One run_prepared with ChipWorker's exact argument pattern: block_dim 3,
 * aicpu_thread_num 4, all five flags 0, scalar ring sizes 0, three non-NULL zeroed
 * uint64_t[4] arrays, output_prefix "", &timing (zeroed first). Fills inputs for
 * `variant`, then checks f and host_wall_ns > 0. Returns 0 on success. */
static inline int hbg_run_chipworker(const SimplerApi *api, void *ctx, void *runtime, int32_t cid, HbgData *d,
                                     unsigned variant, PtoRunTiming *timing_out, char *err, size_t err_len) {
    uint64_t windows[4], heaps[4], dep_pools[4];
    PtoRunTiming timing;
    int rc;
    memset(windows, 0, sizeof windows);
    memset(heaps, 0, sizeof heaps);
    memset(dep_pools, 0, sizeof dep_pools);
    timing.host_wall_ns = 0;
    timing.device_wall_ns = 0;
    hbg_data_fill(d, variant);
    rc = api->run_prepared(ctx, runtime, cid, d->args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, windows, heaps, dep_pools, "",
                           &timing);
    if (timing_out != NULL) *timing_out = timing;
    if (rc != 0) {
        snprintf(err, err_len, "run_prepared(cid=%d) returned %d: %s", (int)cid, rc, hbg_last_error(api));
        return -1;
    }
    if (hbg_data_check(d, variant, err, err_len) != 0) return -1;
    if (timing.host_wall_ns == 0) {
        snprintf(err, err_len, "run_prepared succeeded but host_wall_ns == 0");
        return -1;
    }
    return 0;
}

/* prepare_callable(cid) -> run (ChipWorker pattern) -> check -> unregister_callable(cid).
 * Proves a context is fully usable. Returns 0 on success. */
static inline int hbg_full_cycle(const SimplerApi *api, void *ctx, void *runtime, const HbgFixture *fx, int32_t cid,
                                 HbgData *d, unsigned variant, char *err, size_t err_len) {
    int rc = api->prepare_callable(ctx, cid, fx->callable);
    int run_rc;
    if (rc != 0) {
        snprintf(err, err_len, "prepare_callable(cid=%d) returned %d: %s", (int)cid, rc, hbg_last_error(api));
        return -1;
    }
    run_rc = hbg_run_chipworker(api, ctx, runtime, cid, d, variant, NULL, err, err_len);
    rc = api->unregister_callable(ctx, cid);
    if (run_rc != 0) return -1;
    if (rc != 0) {
        snprintf(err, err_len, "unregister_callable(cid=%d) returned %d: %s", (int)cid, rc, hbg_last_error(api));
        return -1;
    }
    return 0;
}

#endif /* SIMPLER_CTESTS_HBG_VECTOR_EXAMPLE_H */
