/*
 * misuse.c - abuses every export of libsimpler.so the way a careless caller could and
 * checks that each misuse yields an error (or the documented no-op), never a crash,
 * and that the context stays usable: after EACH misuse a full prepare -> run -> check
 * -> unregister cycle of the hbg vector example runs on the same context.
 *
 * usage: misuse <libsimpler.so> <orchestration.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>
 * Last line: "N passed, M failed"; exit status non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chip_callable_builder.h"
#include "hbg_harness.h"
#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

#define PROBE_CID 0  /* cid of the usability cycle */
#define HELD_CID 1   /* cid kept registered during the NULL-argument checks */
#define SCRATCH_CID 2

static const uint8_t g_aicpu[8] = {0x7f, 'E', 'L', 'F', 1, 2, 3, 4};
static const uint8_t g_aicore[8] = {0x7f, 'E', 'L', 'F', 5, 6, 7, 8};

static SimplerApi api;
static HbgFixture fx;
static HbgData data;
static void *ctx;      /* the main, initialised context */
static void *runtime;  /* get_runtime_size() bytes, reused */
static size_t runtime_size;
static unsigned variant_counter = 1;
static char err[4096];

static const char *last_msg(void) {
    const char *m = api.pto_last_error_message();
    return m != NULL ? m : "";
}

/* Full example cycle on the main context, reported as "still usable after <what>". */
static void prove_usable(const char *what) {
    char name[512];
    snprintf(name, sizeof name, "  context still usable after: %s", what);
    check(name, hbg_full_cycle(&api, ctx, runtime, &fx, PROBE_CID, &data, variant_counter++ % 4u, err, sizeof err) == 0,
          "%s", err);
}

/* rc must be non-zero and `msg` (the last-error message captured right after the
 * failing call) non-empty. */
static void expect_error_msg(const char *name, int rc, const char *msg) {
    check(name, rc != 0 && msg[0] != '\0', "rc %d, message '%s'", rc, msg);
    prove_usable(name);
}

/* rc must be non-zero and the current last-error message non-empty. Call right after
 * the failing call (any later successful call clears the message). */
static void expect_error(const char *name, int rc) { expect_error_msg(name, rc, last_msg()); }

/* rc must equal `want`. */
static void expect_rc(const char *name, int rc, int want) {
    check(name, rc == want, "rc %d, expected %d (%s)", rc, want, last_msg());
    prove_usable(name);
}

/* A fresh context: create + (optionally) simpler_init with SIMPLER_RUNTIME from env. */
static void *fresh_context(int init) {
    void *c = api.create_device_context();
    if (c != NULL && init) {
        int rc = api.simpler_init(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0);
        if (rc != 0) {
            api.destroy_device_context(c);
            return NULL;
        }
    }
    return c;
}

static int run_cw(void *c, int32_t cid, const void *args, PtoRunTiming *timing) {
    uint64_t z[4] = {0, 0, 0, 0};
    return api.run_prepared(c, runtime, cid, args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", timing);
}

/* ------------------------------------------------------------------------------- */
static void null_arguments(void) {
    uint64_t z[4] = {0, 0, 0, 0};
    float host[64];
    PtoRunTiming timing;
    void *dev;
    int rc, i;
    void *h = NULL;
    uint64_t u64 = 0;
    size_t sz = 0;
    uint32_t ranks[1] = {0};

    for (i = 0; i < 64; ++i) host[i] = (float)i;

    api.destroy_device_context(NULL);
    check("destroy_device_context(NULL) is a no-op", 1, "-");
    prove_usable("destroy_device_context(NULL)");

    expect_rc("device_malloc_ctx(NULL ctx) returns NULL", api.device_malloc_ctx(NULL, 64) == NULL ? 0 : 1, 0);

    dev = api.device_malloc_ctx(ctx, sizeof host);
    if (!check("device_malloc_ctx(ctx, 256) returns memory", dev != NULL, "NULL: %s", last_msg())) return;
    api.device_free_ctx(NULL, dev);
    expect_rc("device_free_ctx(NULL ctx, p) is a no-op (p still usable)",
              api.copy_to_device_ctx(ctx, dev, host, sizeof host), 0);
    api.device_free_ctx(ctx, NULL);
    expect_rc("device_free_ctx(ctx, NULL) is a no-op", api.copy_to_device_ctx(ctx, dev, host, sizeof host), 0);

    expect_rc("copy_to_device_ctx(NULL ctx) == -1", api.copy_to_device_ctx(NULL, dev, host, sizeof host), -1);
    expect_rc("copy_to_device_ctx(NULL dev) == -1", api.copy_to_device_ctx(ctx, NULL, host, sizeof host), -1);
    expect_rc("copy_to_device_ctx(NULL host) == -1", api.copy_to_device_ctx(ctx, dev, NULL, sizeof host), -1);
    expect_rc("copy_from_device_ctx(NULL ctx) == -1", api.copy_from_device_ctx(NULL, host, dev, sizeof host), -1);
    expect_rc("copy_from_device_ctx(NULL host) == -1", api.copy_from_device_ctx(ctx, NULL, dev, sizeof host), -1);
    expect_rc("copy_from_device_ctx(NULL dev) == -1", api.copy_from_device_ctx(ctx, host, NULL, sizeof host), -1);
    api.device_free_ctx(ctx, dev);

    expect_error("simpler_init(NULL ctx)",
                 api.simpler_init(NULL, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0));
    expect_rc("finalize_device(NULL) == -1", api.finalize_device(NULL), -1);
    expect_rc("prepare_callable(NULL ctx) == -1", api.prepare_callable(NULL, SCRATCH_CID, fx.callable), -1);
    expect_rc("prepare_callable(ctx, id, NULL callable) == -1", api.prepare_callable(ctx, SCRATCH_CID, NULL), -1);

    rc = api.prepare_callable(ctx, HELD_CID, fx.callable);
    if (!check("prepare_callable(ctx, 1) for the run_prepared NULL checks", rc == 0, "rc %d: %s", rc, last_msg()))
        return;
    expect_rc("run_prepared(NULL ctx) == -1",
              api.run_prepared(NULL, runtime, HELD_CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &timing),
              -1);
    timing.host_wall_ns = 12345;
    timing.device_wall_ns = 678;
    rc = api.run_prepared(ctx, NULL, HELD_CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &timing);
    check("run_prepared(NULL runtime) == -1 and out_timing zeroed on entry",
          rc == -1 && timing.host_wall_ns == 0 && timing.device_wall_ns == 0, "rc %d, timing {%llu, %llu}", rc,
          (unsigned long long)timing.host_wall_ns, (unsigned long long)timing.device_wall_ns);
    prove_usable("run_prepared(NULL runtime)");
    expect_error("run_prepared(NULL args)",
                 api.run_prepared(ctx, runtime, HELD_CID, NULL, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &timing));
    /* Documented-as-optional pointers: NULL ring arrays (= zeros), NULL output_prefix
     * (= ""), NULL out_timing. */
    hbg_data_fill(&data, 3);
    rc = api.run_prepared(ctx, runtime, HELD_CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL);
    check("run_prepared with NULL ring arrays, NULL output_prefix, NULL out_timing succeeds",
          rc == 0 && hbg_data_check(&data, 3, err, sizeof err) == 0, "rc %d (%s) %s", rc, last_msg(),
          rc == 0 ? err : "");
    prove_usable("run_prepared with NULL optional pointers");
    expect_rc("unregister_callable(ctx, 1) == 0", api.unregister_callable(ctx, HELD_CID), 0);
    expect_rc("unregister_callable(NULL ctx) == -1", api.unregister_callable(NULL, HELD_CID), -1);
    expect_rc("get_aicpu_dlopen_count(NULL) == 0", (int)api.get_aicpu_dlopen_count(NULL), 0);
    expect_rc("get_host_dlopen_count(NULL) == 0", (int)api.get_host_dlopen_count(NULL), 0);

    rc = api.ensure_acl_ready_ctx(NULL, 0);
    check("ensure_acl_ready_ctx(NULL ctx) returns without crashing", 1, "-");
    printf("  (ensure_acl_ready_ctx(NULL) returned %d)\n", rc);
    prove_usable("ensure_acl_ready_ctx(NULL)");
    expect_rc("create_comm_stream_ctx(NULL) returns NULL", api.create_comm_stream_ctx(NULL) == NULL ? 0 : 1, 0);
    rc = api.destroy_comm_stream_ctx(NULL, NULL);
    check("destroy_comm_stream_ctx(NULL, NULL) returns without crashing", 1, "-");
    printf("  (destroy_comm_stream_ctx(NULL, NULL) returned %d)\n", rc);
    prove_usable("destroy_comm_stream_ctx(NULL, NULL)");
    h = api.comm_init(0, 1, NULL, NULL);
    check("comm_init(NULL rootinfo_path) returns NULL", h == NULL, "returned a handle");
    if (h != NULL) api.comm_destroy(h);
    prove_usable("comm_init(NULL rootinfo_path)");
    expect_rc("comm_alloc_windows(NULL handle) == -1", api.comm_alloc_windows(NULL, 4096, &u64), -1);
    expect_rc("comm_get_local_window_base(NULL handle) == -1", api.comm_get_local_window_base(NULL, &u64), -1);
    expect_rc("comm_get_window_size(NULL handle) == -1", api.comm_get_window_size(NULL, &sz), -1);
    expect_rc("comm_derive_context(NULL handle) == -1", api.comm_derive_context(NULL, ranks, 1, 0, 0, 4096, &u64), -1);
    expect_rc("comm_alloc_domain_windows(NULL handle) == -1",
              api.comm_alloc_domain_windows(NULL, 1, ranks, 1, 0, 4096, &u64, &u64), -1);
    expect_rc("comm_release_domain_windows(NULL handle) == -1", api.comm_release_domain_windows(NULL, 1, 1, 0), -1);
    expect_rc("comm_barrier(NULL handle) == -1", api.comm_barrier(NULL), -1);
    expect_rc("comm_destroy(NULL handle) == -1", api.comm_destroy(NULL), -1);
}

static void null_arguments_extensions(void) {
    SimplerConfigStorage cs;
    pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
    PtoRunTiming timing;
    int rc;

    expect_error("pto_runtime_config_init(NULL)", api.pto_runtime_config_init(NULL));
    rc = api.pto_runtime_config_init(cfg);
    check("pto_runtime_config_init(cfg) == 0", rc == 0, "rc %d: %s", rc, last_msg());
    expect_error("pto_runtime_config_set(NULL cfg)", api.pto_runtime_config_set(NULL, "runtime", "host_build_graph"));
    expect_error("pto_runtime_config_set(NULL knob)", api.pto_runtime_config_set(cfg, NULL, "host_build_graph"));
    rc = api.pto_runtime_config_set(cfg, "runtime", NULL);
    {
        int code = api.pto_last_error_code();
        check("pto_last_error_code() != 0 right after a failed call", code != 0, "got 0");
    }
    expect_error("pto_runtime_config_set(NULL value)", rc);
    expect_error("simpler_init_with_config(NULL ctx)",
                 api.simpler_init_with_config(NULL, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0, cfg));
    expect_error("run_prepared_with_config(NULL ctx)",
                 api.run_prepared_with_config(NULL, runtime, PROBE_CID, data.args, NULL, NULL, &timing));
    rc = api.prepare_callable(ctx, HELD_CID, fx.callable);
    if (!check("prepare_callable(ctx, 1) for the *_with_config NULL checks", rc == 0, "rc %d: %s", rc, last_msg()))
        return;
    expect_error("run_prepared_with_config(NULL runtime)",
                 api.run_prepared_with_config(ctx, NULL, HELD_CID, data.args, NULL, NULL, &timing));
    expect_error("run_prepared_with_config(NULL args)",
                 api.run_prepared_with_config(ctx, runtime, HELD_CID, NULL, NULL, NULL, &timing));
    api.unregister_callable(ctx, HELD_CID);
    expect_error("simpler_prepare_callable_sized(NULL ctx)",
                 api.simpler_prepare_callable_sized(NULL, SCRATCH_CID, fx.callable, fx.callable_size));
    expect_error("simpler_prepare_callable_sized(NULL callable)",
                 api.simpler_prepare_callable_sized(ctx, SCRATCH_CID, NULL, fx.callable_size));
}

/* ------------------------------------------------------------------------------- */
static void callable_ids(void) {
    static const int32_t bad_ids[3] = {-1, 64, 1000};
    char name[128];
    PtoRunTiming timing;
    int i, rc;
    for (i = 0; i < 3; ++i) {
        snprintf(name, sizeof name, "prepare_callable(id %d) fails", (int)bad_ids[i]);
        expect_error(name, api.prepare_callable(ctx, bad_ids[i], fx.callable));
        snprintf(name, sizeof name, "run_prepared(id %d) fails", (int)bad_ids[i]);
        expect_error(name, run_cw(ctx, bad_ids[i], data.args, &timing));
    }
    rc = api.prepare_callable(ctx, SCRATCH_CID, fx.callable);
    check("prepare_callable(id 2) == 0", rc == 0, "rc %d: %s", rc, last_msg());
    expect_error("prepare_callable(id 2) a second time fails", api.prepare_callable(ctx, SCRATCH_CID, fx.callable));
    check("the first registration of id 2 survives the rejected duplicate",
          hbg_run_chipworker(&api, ctx, runtime, SCRATCH_CID, &data, 2, NULL, err, sizeof err) == 0, "%s", err);
    expect_rc("unregister_callable(id 2) == 0", api.unregister_callable(ctx, SCRATCH_CID), 0);
    expect_error("run_prepared of an unknown id (5) fails", run_cw(ctx, 5, data.args, &timing));
    expect_error("run_prepared of an unregistered id (2) fails", run_cw(ctx, SCRATCH_CID, data.args, &timing));
    expect_rc("unregister_callable of a never-registered id (9) == 0", api.unregister_callable(ctx, 9), 0);
}

static void run_parameters(void) {
    uint64_t z[4] = {0, 0, 0, 0};
    PtoRunTiming timing;
    static const int bad[4][2] = {{3, 0}, {3, 5}, {-1, 4}, {25, 4}}; /* {block_dim, aicpu_thread_num} */
    char name[128];
    int i, rc = api.prepare_callable(ctx, SCRATCH_CID, fx.callable);
    if (!check("prepare_callable(id 2) for run-parameter checks", rc == 0, "rc %d: %s", rc, last_msg())) return;
    for (i = 0; i < 4; ++i) {
        snprintf(name, sizeof name, "run_prepared(block_dim %d, aicpu_thread_num %d) fails", bad[i][0], bad[i][1]);
        expect_error(name, api.run_prepared(ctx, runtime, SCRATCH_CID, data.args, bad[i][0], bad[i][1], 0, 0, 0, 0, 0, 0,
                                            0, 0, z, z, z, "", &timing));
    }
    api.unregister_callable(ctx, SCRATCH_CID);
}

/* ------------------------------------------------------------------------------- */
static void lifecycle(void) {
    PtoRunTiming timing;
    void *c;
    int rc;

    c = fresh_context(0);
    if (check("create_device_context (uninitialised context)", c != NULL, "NULL")) {
        int prc = api.prepare_callable(c, PROBE_CID, fx.callable);
        printf("  (prepare_callable before simpler_init returned %d)\n", prc);
        expect_error("run_prepared before simpler_init fails", run_cw(c, PROBE_CID, data.args, &timing));
        api.destroy_device_context(c);
        check("destroy_device_context without finalize_device", 1, "-");
        prove_usable("destroying another, uninitialised context");
    }

    c = fresh_context(0);
    if (check("create_device_context (negative device id)", c != NULL, "NULL")) {
        expect_error("simpler_init(device_id -1) fails",
                     api.simpler_init(c, -1, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0));
        api.destroy_device_context(c);
    }

    c = fresh_context(0);
    if (check("create_device_context (NULL executor binaries)", c != NULL, "NULL")) {
        rc = api.simpler_init(c, 0, NULL, 0, NULL, 0, NULL, 0);
        check("simpler_init with NULL/0 executor binaries is accepted (empty)", rc == 0, "rc %d: %s", rc, last_msg());
        if (rc == 0) api.finalize_device(c);
        api.destroy_device_context(c);
        prove_usable("simpler_init with NULL/0 binaries on another context");
    }

    c = fresh_context(1);
    if (check("second initialised context", c != NULL, "create/init failed: %s", last_msg())) {
        check("second context runs the example",
              hbg_full_cycle(&api, c, runtime, &fx, PROBE_CID, &data, 1, err, sizeof err) == 0, "%s", err);
        rc = api.prepare_callable(c, PROBE_CID, fx.callable);
        check("prepare_callable before finalize_device == 0", rc == 0, "rc %d: %s", rc, last_msg());
        rc = api.finalize_device(c);
        check("finalize_device == 0", rc == 0, "rc %d: %s", rc, last_msg());
        rc = api.finalize_device(c);
        check("second finalize_device returns cleanly", 1, "-");
        printf("  (second finalize_device returned %d)\n", rc);
        expect_error("run_prepared of a callable dropped by finalize_device fails", run_cw(c, PROBE_CID, data.args, &timing));
        api.destroy_device_context(c);
        prove_usable("double finalize_device + destroy of another context");
    }
}

/* ------------------------------------------------------------------------------- */
static void try_sized(const char *label, const uint8_t *image, size_t len) {
    uint8_t *copy = (uint8_t *)malloc(len > 0 ? len : 1);
    char name[320];
    int rc;
    if (copy == NULL) {
        check(label, 0, "malloc failed");
        return;
    }
    if (len > 0) memcpy(copy, image, len);
    rc = api.simpler_prepare_callable_sized(ctx, SCRATCH_CID, copy, len);
    snprintf(name, sizeof name, "%s is rejected", label);
    if (rc == 0) api.unregister_callable(ctx, SCRATCH_CID);
    free(copy);
    expect_error(name, rc);
}

static void truncation_sweep(void) {
    size_t full = fx.callable_size;
    size_t lens[64];
    size_t n = 0, i, k;
    int rc;
    uint32_t off;
    char label[128];

    rc = api.simpler_prepare_callable_sized(ctx, SCRATCH_CID, fx.callable, full);
    check("simpler_prepare_callable_sized with the full image == 0 (positive control)", rc == 0, "rc %d: %s", rc,
          last_msg());
    if (rc == 0) {
        check("the sized-prepared callable runs",
              hbg_run_chipworker(&api, ctx, runtime, SCRATCH_CID, &data, 1, NULL, err, sizeof err) == 0, "%s", err);
        api.unregister_callable(ctx, SCRATCH_CID);
    }

    lens[n++] = 0;
    lens[n++] = 1;
    lens[n++] = 512;
    lens[n++] = 8780;
    lens[n++] = CCB_CHIP_HEADER_SIZE - 1;
    lens[n++] = CCB_CHIP_HEADER_SIZE;
    lens[n++] = CCB_CHIP_HEADER_SIZE + fx.orch_size / 2;
    lens[n++] = CCB_CHIP_HEADER_SIZE + fx.orch_size - 1;
    for (i = 0; i < 3; ++i) {
        off = ccb_get_u32(fx.callable, CCB_CHIP_OFF_CHILD_OFFSETS + 4u * i);
        lens[n++] = CCB_CHIP_HEADER_SIZE + off;
        lens[n++] = CCB_CHIP_HEADER_SIZE + off + CCB_CORE_BINARY_OFFSET;
        lens[n++] = CCB_CHIP_HEADER_SIZE + off + CCB_CORE_BINARY_OFFSET + fx.kernel_sizes[i] / 2;
    }
    for (k = 1; k < 16; ++k) lens[n++] = full * k / 16;
    lens[n++] = full - 1;
    for (i = 0; i < n; ++i) {
        if (lens[i] >= full) continue;
        snprintf(label, sizeof label, "ChipCallable truncated to %zu of %zu bytes", lens[i], full);
        try_sized(label, fx.callable, lens[i]);
    }
}

/* Corrupted (full-size) images. */
static void corrupt_callables(void) {
    uint8_t *img = (uint8_t *)malloc(fx.callable_size);
    size_t i;
    if (!check("corruption buffer", img != NULL, "malloc failed")) return;

    memcpy(img, fx.callable, fx.callable_size);
    for (i = 0; i < fx.orch_size; ++i) img[CCB_CHIP_HEADER_SIZE + i] = (uint8_t)(i * 31u);
    try_sized("orchestration SO replaced by garbage", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    memset(img + CCB_CHIP_OFF_FUNC_NAME, 0, CCB_NAME_MAX);
    memcpy(img + CCB_CHIP_OFF_FUNC_NAME, "no_such_function", 16);
    ccb_put_u32(img, CCB_CHIP_OFF_FUNC_NAME_LEN, 16);
    try_sized("func_name naming a missing symbol", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    memset(img + CCB_CHIP_OFF_FUNC_NAME, 0, CCB_NAME_MAX);
    ccb_put_u32(img, CCB_CHIP_OFF_FUNC_NAME_LEN, 0);
    try_sized("empty func_name on host_build_graph", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_i32(img, CCB_CHIP_OFF_CHILD_FUNC_IDS, 1024);
    try_sized("child func_id 1024", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_i32(img, CCB_CHIP_OFF_CHILD_COUNT, 2000);
    try_sized("child_count 2000 (> 1024)", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_i32(img, CCB_CHIP_OFF_CHILD_COUNT, -1);
    try_sized("child_count -1", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_u32(img, CCB_CHIP_OFF_BINARY_SIZE, 0x7FFFFFF0u);
    try_sized("orchestration binary_size beyond the image", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_u32(img, CCB_CHIP_OFF_CHILD_OFFSETS + 8u, 0x7FFFFFF0u);
    try_sized("child offset beyond the image", img, fx.callable_size);

    memcpy(img, fx.callable, fx.callable_size);
    ccb_put_i32(img, CCB_CHIP_OFF_SIG_COUNT, 129);
    try_sized("sig_count 129 (> 128)", img, fx.callable_size);

    free(img);
}

/* ------------------------------------------------------------------------------- */
static void device_memory(void) {
    uint8_t in[256], out[256];
    int marker = 0x5A5A5A5A;
    void *p;
    size_t i;
    for (i = 0; i < sizeof in; ++i) in[i] = (uint8_t)(i ^ 0x3Cu);
    p = api.device_malloc_ctx(ctx, sizeof in);
    if (!check("device_malloc_ctx(256)", p != NULL, "NULL: %s", last_msg())) return;
    check("copy_to/copy_from round trip",
          api.copy_to_device_ctx(ctx, p, in, sizeof in) == 0 && api.copy_from_device_ctx(ctx, out, p, sizeof out) == 0 &&
              memcmp(in, out, sizeof in) == 0,
          "round trip failed: %s", last_msg());
    api.device_free_ctx(ctx, p);
    check("device_free_ctx(p)", 1, "-");
    prove_usable("device_free_ctx");
    api.device_free_ctx(ctx, p);
    check("device_free_ctx(p) twice is a no-op", 1, "-");
    prove_usable("double device_free_ctx");
    api.device_free_ctx(ctx, &marker);
    check("device_free_ctx of a pointer never allocated is a no-op", marker == 0x5A5A5A5A, "memory changed");
    prove_usable("device_free_ctx of an unknown pointer");
    expect_rc("device_malloc_ctx(SIZE_MAX) returns NULL", api.device_malloc_ctx(ctx, SIZE_MAX) == NULL ? 0 : 1, 0);
}

/* ------------------------------------------------------------------------------- */
/* Sets knob=value; returns the rc and prints it. */
static int cfg_set(pto_runtime_config_t *cfg, const char *knob, const char *value) {
    int rc = api.pto_runtime_config_set(cfg, knob, value);
    printf("  (pto_runtime_config_set(%s, %s) -> %d%s%s)\n", knob, value, rc, rc != 0 ? ": " : "",
           rc != 0 ? last_msg() : "");
    return rc;
}

/* A set that fails, or a set that succeeds but whose config simpler_init_with_config
 * rejects on a fresh context. */
static void rejected_at_set_or_init(const char *name, const char *knob, const char *value) {
    SimplerConfigStorage cs;
    pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
    char msg[1024];
    void *c;
    int rc;
    api.pto_runtime_config_init(cfg);
    rc = cfg_set(cfg, "runtime", "host_build_graph");
    check("pto_runtime_config_set(runtime, host_build_graph) == 0", rc == 0, "rc %d: %s", rc, last_msg());
    rc = cfg_set(cfg, knob, value);
    if (rc != 0) {
        check(name, last_msg()[0] != '\0', "rejected at set with an empty message");
        prove_usable(name);
        return;
    }
    c = api.create_device_context();
    if (!check("create_device_context for simpler_init_with_config", c != NULL, "NULL")) return;
    rc = api.simpler_init_with_config(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0, cfg);
    snprintf(msg, sizeof msg, "%s", last_msg());
    if (rc == 0) api.finalize_device(c);
    api.destroy_device_context(c);
    expect_error_msg(name, rc, msg);
}

/* ------------------------------------------------------------------------------- */
/* Untrusted input (issue 9): each refusal carries its numbered code, leaves the host
 * output buffer untouched, and is followed by a full successful cycle. */
#define MISUSE_ERR_STATE (-1011)
#define MISUSE_ERR_INVALID_CALLABLE (-1008)
#define MISUSE_ERR_INVALID_VALUE (-1002)
#define MISUSE_ERR_INVALID_TASK_ARGS (-1018)
#define MISUSE_ERR_INVALID_BINARY (-1019)

/* rc must be non-zero with pto_last_error_code() == code and a message containing `part`. */
static void expect_code(const char *name, int rc, int code, const char *part) {
    int got = api.pto_last_error_code();
    const char *m = last_msg();
    check(name, rc != 0 && got == code && strstr(m, part) != NULL, "rc %d, code %d (want %d), message '%s' (want '%s')",
          rc, got, code, m, part);
    prove_usable(name);
}

static void bad_task_args(void) {
    uint8_t *args = ccb_args_alloc();
    PtoRunTiming timing;
    const size_t t0 = ccb_args_tensor_off(0), t2 = ccb_args_tensor_off(2);
    char name[256];
    int rc, i, untouched;
    if (!check("task-args buffer", args != NULL, "allocation failed")) return;
    rc = api.prepare_callable(ctx, SCRATCH_CID, fx.callable);
    if (!check("prepare_callable(id 2) for task-args checks", rc == 0, "rc %d: %s", rc, last_msg())) {
        ccb_free64(args);
        return;
    }
    for (i = 0; i < 7; ++i) {
        const char *what = "", *part = "";
        memcpy(args, data.args, CCB_ARGS_SIZE);
        switch (i) {
        case 0: /* output buffer one element short of its shape */
            ccb_put_u64(args, t2 + CCB_T_OFF_SIZE, HBG_SIZE * 4u - 4u);
            what = "output tensor buffer.size smaller than shape x dtype";
            part = "buffer.size";
            break;
        case 1: /* 65536^5 elements: the product overflows 64 bits */
            ccb_put_u32(args, t0 + CCB_T_OFF_NDIMS, 5);
            {
                uint32_t d;
                for (d = 0; d < 5; ++d) ccb_put_u32(args, t0 + CCB_T_OFF_SHAPES + 4u * d, 65536u);
            }
            what = "shape 65536^5 (element count overflows)";
            part = "overflow";
            break;
        case 2:
            ccb_put_u64(args, t0 + CCB_T_OFF_ADDR, 0);
            what = "NULL buffer.addr with a non-zero buffer.size";
            part = "NULL";
            break;
        case 3:
            ccb_put_u64(args, t2 + CCB_T_OFF_START_OFFSET, 1);
            what = "start_offset moving the view past buffer.size";
            part = "start_offset";
            break;
        case 4:
            ccb_put_i32(args, CCB_ARGS_OFF_TENSOR_COUNT, 2);
            what = "tensor_count 2 for a 3-tensor signature";
            part = "signature";
            break;
        case 5:
            ccb_put_u8(args, t0 + CCB_T_OFF_DTYPE, 12);
            what = "dtype 12 (DATA_TYPE_NUM)";
            part = "dtype";
            break;
        default:
            ccb_put_u32(args, t0 + CCB_T_OFF_STRIDES, 0);
            what = "contiguous tensor with stride 0";
            part = "strides";
            break;
        }
        hbg_data_fill(&data, 3);
        ccb_put_u32((uint8_t *)data.f, 0, 0x7FC0DEADu);
        rc = run_cw(ctx, SCRATCH_CID, args, &timing);
        untouched = ccb_get_u32((const uint8_t *)data.f, 0) == 0x7FC0DEADu;
        snprintf(name, sizeof name, "run_prepared refuses %s (PTO_ERR_INVALID_TASK_ARGS, output untouched)", what);
        check(name, untouched, "the host output buffer was written");
        expect_code(name, rc, MISUSE_ERR_INVALID_TASK_ARGS, part);
    }
    api.unregister_callable(ctx, SCRATCH_CID);
    ccb_free64(args);
}

/* The fixture's callable with orchestration and kernels replaced (NULL = keep) and,
 * when dup_func_id >= 0, child 1 given that func_id. */
static uint8_t *variant_callable(const uint8_t *orch, size_t orch_size, const uint8_t *k0, size_t k0_size,
                                 int32_t dup_func_id, size_t *out_size) {
    static const int32_t sig3[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig2[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild children[3];
    int i;
    for (i = 0; i < 3; ++i) {
        children[i].func_id = i;
        children[i].signature = i == 1 ? sig2 : sig3;
        children[i].sig_count = i == 1 ? 2 : 3;
        children[i].binary = fx.kernels[i];
        children[i].binary_size = fx.kernel_sizes[i];
    }
    if (k0 != NULL) {
        children[0].binary = k0;
        children[0].binary_size = k0_size;
    }
    if (dup_func_id >= 0) children[1].func_id = dup_func_id;
    return ccb_build_chip_callable(sig3, 3, HBG_ORCH_FUNC, "", orch != NULL ? orch : fx.orch,
                                   orch != NULL ? orch_size : fx.orch_size, children, 3, out_size);
}

/* Registers the callable built with `orch`/`k0` cut to every 64th length; every cut must
 * be refused with PTO_ERR_INVALID_BINARY naming `who`. */
static void truncated_elf_sweep(int cut_kernel, const char *who) {
    const uint8_t *so = cut_kernel ? fx.kernels[0] : fx.orch;
    size_t full = cut_kernel ? fx.kernel_sizes[0] : fx.orch_size;
    size_t cut, tried = 0, refused = 0, size;
    char first_bad[512] = "";
    char name[256];
    for (cut = 1; cut < full; cut += 64) {
        uint8_t *img = cut_kernel ? variant_callable(NULL, 0, so, cut, -1, &size)
                                  : variant_callable(so, cut, NULL, 0, -1, &size);
        int rc;
        if (img == NULL) continue;
        rc = api.prepare_callable(ctx, SCRATCH_CID, img);
        ++tried;
        if (rc != 0 && api.pto_last_error_code() == MISUSE_ERR_INVALID_BINARY && strstr(last_msg(), who) != NULL) {
            ++refused;
        } else if (first_bad[0] == '\0') {
            snprintf(first_bad, sizeof first_bad, "cut %zu: rc %d code %d '%s'", cut, rc, api.pto_last_error_code(),
                     last_msg());
        }
        if (rc == 0) api.unregister_callable(ctx, SCRATCH_CID);
        free(img);
    }
    snprintf(name, sizeof name, "%s truncated at every 64th byte (%zu cuts) refused with PTO_ERR_INVALID_BINARY",
             cut_kernel ? "kernel SO" : "orchestration SO", tried);
    check(name, tried > 10 && refused == tried, "%zu of %zu refused; first other: %s", refused, tried, first_bad);
    prove_usable(name);
}

static void untrusted_input(void) {
    uint8_t *img;
    size_t size;
    void *c, *p;
    uint8_t host[16] = {0};
    int rc;
    SimplerConfigStorage cs;
    pto_runtime_config_t *cfg = simpler_config_ptr(&cs);

    bad_task_args();

    img = variant_callable(NULL, 0, NULL, 0, 0, &size);
    if (check("callable with duplicate child func_id 0 built", img != NULL, "builder failed")) {
        rc = api.prepare_callable(ctx, SCRATCH_CID, img);
        if (rc == 0) api.unregister_callable(ctx, SCRATCH_CID);
        expect_code("prepare_callable refuses duplicate child func_ids", rc, MISUSE_ERR_INVALID_CALLABLE, "unique");
        free(img);
    }

    truncated_elf_sweep(1, "kernel SO of func_id 0");
    truncated_elf_sweep(0, "orchestration SO of callable 2");

    c = fresh_context(0);
    if (check("create_device_context (device memory before init)", c != NULL, "NULL")) {
        p = api.device_malloc_ctx(c, 64);
        rc = p == NULL ? -1 : 0;
        expect_code("device_malloc_ctx before simpler_init returns NULL", rc, MISUSE_ERR_STATE, "not initialized");
        expect_code("copy_to_device_ctx before simpler_init fails", api.copy_to_device_ctx(c, host, host, sizeof host),
                    MISUSE_ERR_STATE, "not initialized");
        rc = api.simpler_init(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0);
        p = rc == 0 ? api.device_malloc_ctx(c, 64) : NULL;
        check("device_malloc_ctx after simpler_init works", p != NULL, "rc %d: %s", rc, last_msg());
        if (rc == 0) api.finalize_device(c);
        rc = api.device_malloc_ctx(c, 64) == NULL ? -1 : 0;
        expect_code("device_malloc_ctx after finalize_device returns NULL", rc, MISUSE_ERR_STATE, "finalized");
        expect_code("copy_from_device_ctx after finalize_device fails",
                    api.copy_from_device_ctx(c, host, p != NULL ? p : host, sizeof host), MISUSE_ERR_STATE, "finalized");
        api.destroy_device_context(c);
    }

    api.pto_runtime_config_init(cfg);
    rc = cfg_set(cfg, "ring_task_window", "1073741824");
    expect_code("the string setter refuses four 2^30 task windows (sum > INT32_MAX)", rc, MISUSE_ERR_INVALID_VALUE,
                "PTO2_RING_TASK_WINDOW");
    rc = cfg_set(cfg, "ring_task_window", "1073741824,4,4,4");
    check("one 2^30 window beside three small ones is accepted", rc == 0, "rc %d: %s", rc, last_msg());
    c = api.create_device_context();
    if (check("create_device_context (window sum)", c != NULL, "NULL")) {
        rc = api.simpler_init_with_config(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0, cfg);
        check("a config whose windows sum within INT32_MAX initialises", rc == 0, "rc %d: %s", rc, last_msg());
        if (rc == 0) api.finalize_device(c);
        api.destroy_device_context(c);
    }
}

static void configs(void) {
    SimplerConfigStorage cs;
    pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
    unsigned char call_config[SIMPLER_CALL_CONFIG_SIZE];
    PtoRunTiming timing;
    void *c;
    int rc;

    rc = api.pto_runtime_config_init(cfg);
    check("pto_runtime_config_init == 0", rc == 0, "rc %d: %s", rc, last_msg());
    expect_error("pto_runtime_config_set(ring_task_window, 48) fails (not a power of 2)",
                 cfg_set(cfg, "ring_task_window", "48"));
    expect_error("pto_runtime_config_set(no_such_knob, 1) fails", cfg_set(cfg, "no_such_knob", "1"));
    expect_error("pto_runtime_config_set(ring_heap, not-a-number) fails", cfg_set(cfg, "ring_heap", "lots"));
    /* (0 means unset in every explicit form, so the out-of-range case is above INT32_MAX.) */
    rejected_at_set_or_init("scheduler_timeout_ms = 2147483648 rejected at set or at simpler_init_with_config",
                            "scheduler_timeout_ms", "2147483648");
    rejected_at_set_or_init("runtime = no_such_runtime rejected at set or at simpler_init_with_config", "runtime",
                            "no_such_runtime");

    /* A valid explicit config on its own context: init, prepare (sized), run with and
     * without CallConfig / per-run config, then per-run misuse on that context. */
    api.pto_runtime_config_init(cfg);
    rc = cfg_set(cfg, "runtime", "host_build_graph");
    check("valid config: runtime = host_build_graph", rc == 0, "rc %d", rc);
    c = api.create_device_context();
    if (!check("create_device_context (config path)", c != NULL, "NULL")) return;
    rc = api.simpler_init_with_config(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0, cfg);
    if (check("simpler_init_with_config(valid config) == 0", rc == 0, "rc %d: %s", rc, last_msg())) {
        rc = api.simpler_prepare_callable_sized(c, PROBE_CID, fx.callable, fx.callable_size);
        check("simpler_prepare_callable_sized (config context) == 0", rc == 0, "rc %d: %s", rc, last_msg());
        hbg_data_fill(&data, 5);
        rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, NULL, NULL, &timing);
        check("run_prepared_with_config(NULL CallConfig, NULL config) computes f",
              rc == 0 && hbg_data_check(&data, 5, err, sizeof err) == 0 && timing.host_wall_ns > 0, "rc %d (%s) %s", rc,
              last_msg(), rc == 0 ? err : "");
        simpler_call_config_build(call_config, 3, 4);
        hbg_data_fill(&data, 6);
        rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, call_config, cfg, &timing);
        check("run_prepared_with_config(CallConfig{3,4}, same config) computes f",
              rc == 0 && hbg_data_check(&data, 6, err, sizeof err) == 0 && timing.host_wall_ns > 0, "rc %d (%s) %s", rc,
              last_msg(), rc == 0 ? err : "");

        /* CallConfig with a diagnostic flag but no output_prefix (CallConfig::validate). */
        simpler_call_config_build(call_config, 3, 4);
        {
            int32_t one = 1;
            memcpy(call_config + 12, &one, sizeof one); /* enable_dump_tensor */
        }
        rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, call_config, NULL, &timing);
        check("run_prepared_with_config(dump enabled, empty output_prefix) fails", rc != 0 && last_msg()[0] != '\0',
              "rc %d", rc);
        /* CallConfig with an invalid ring task window (48 is not a power of 2). */
        simpler_call_config_build(call_config, 3, 4);
        {
            uint64_t w = 48;
            memcpy(call_config + 28, &w, sizeof w); /* runtime_env.ring_task_window */
        }
        rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, call_config, NULL, &timing);
        check("run_prepared_with_config(ring_task_window 48) fails", rc != 0 && last_msg()[0] != '\0', "rc %d", rc);
        {
            SimplerConfigStorage other;
            pto_runtime_config_t *ocfg = simpler_config_ptr(&other);
            api.pto_runtime_config_init(ocfg);
            if (cfg_set(ocfg, "runtime", "tensormap_and_ringbuffer") == 0) {
                rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, NULL, ocfg, &timing);
                check("run_prepared_with_config switching runtime per run fails", rc != 0 && last_msg()[0] != '\0',
                      "rc %d", rc);
            } else {
                check("pto_runtime_config_set(runtime, tensormap_and_ringbuffer) accepted", 0, "%s", last_msg());
            }
        }
        hbg_data_fill(&data, 7);
        rc = api.run_prepared_with_config(c, runtime, PROBE_CID, data.args, NULL, NULL, &timing);
        check("config context still usable after per-run misuse",
              rc == 0 && hbg_data_check(&data, 7, err, sizeof err) == 0, "rc %d (%s) %s", rc, last_msg(),
              rc == 0 ? err : "");
        api.unregister_callable(c, PROBE_CID);
        rc = api.finalize_device(c);
        check("finalize_device (config context) == 0", rc == 0, "rc %d: %s", rc, last_msg());
    }
    api.destroy_device_context(c);
    prove_usable("the config-path context was used and destroyed");
}

int main(int argc, char **argv) {
    HbgHarnessArgs args;
    int rc = hbg_harness_args(argc, argv, 0, "", &args);
    if (rc != 0) return rc;
    hbg_harness_runtime_env("host_build_graph");
    if (!hbg_harness_setup(&args, 1, &fx, &data, &api, err, sizeof err)) return test_report_finish();

    runtime_size = api.get_runtime_size();
    runtime = calloc(runtime_size > 0 ? runtime_size : 1, 1);
    ctx = fresh_context(1);
    if (check("main context created and initialised", ctx != NULL && runtime != NULL, "failed: %s", last_msg())) {
        prove_usable("initialisation (baseline)");
        null_arguments();
        null_arguments_extensions();
        callable_ids();
        run_parameters();
        lifecycle();
        truncation_sweep();
        corrupt_callables();
        device_memory();
        untrusted_input();
        configs();
        rc = api.finalize_device(ctx);
        check("finalize_device(main) == 0", rc == 0, "rc %d: %s", rc, last_msg());
        api.destroy_device_context(ctx);
    }
    free(runtime);
    hbg_harness_release(&fx, &data, &api);
    return test_report_finish();
}
