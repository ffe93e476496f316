/*
 * stale_handle.c - a destroyed handle never becomes valid again.
 *
 * usage: stale_handle <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>
 *
 * Creates context A, runs the hbg vector example on it, destroys it and creates B
 * (which, with address-based handles, used to get A's value back). Every export that
 * takes a context is then called with A: each must return its error value (-1, a
 * negative code, NULL, or 0 for the counters) and record a last error saying the handle
 * is destroyed, and after each one a full prepare -> run -> check -> unregister cycle on
 * B must still pass. The same for communicator handles, plus handles of the wrong kind.
 * Last line: "N passed, M failed".
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

#define CID 5

static const uint8_t g_aicpu[8] = {0x7f, 'E', 'L', 'F', 1, 2, 3, 4};
static const uint8_t g_aicore[8] = {0x7f, 'E', 'L', 'F', 5, 6, 7, 8};

static SimplerApi api;
static HbgFixture fx;
static HbgData data;
static void *g_runtime;
static void *g_new; /* context B */
static unsigned g_variant = 1;
static char g_err[4096];

static const char *last_msg(void) {
    const char *m = api.pto_last_error_message();
    return m != NULL ? m : "(null)";
}

/* The call returned its error value (`failed`) and recorded a message containing `word`;
 * then context B still runs the example. */
static void expect_refused(const char *name, int failed, const char *word) {
    char label[512];
    const char *msg = last_msg();
    check(name, failed && api.pto_last_error_code() != 0 && strstr(msg, word) != NULL,
          "failed=%d, code %d, message '%s' (wanted it to contain '%s')", failed, api.pto_last_error_code(), msg,
          word);
    snprintf(label, sizeof label, "  new context still works after: %s", name);
    check(label, hbg_full_cycle(&api, g_new, g_runtime, &fx, CID, &data, g_variant++ % 4u, g_err, sizeof g_err) == 0,
          "%s", g_err);
}

static void *new_context(void) {
    void *c = api.create_device_context();
    if (c != NULL && api.simpler_init(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0) != 0) {
        api.destroy_device_context(c);
        return NULL;
    }
    return c;
}

static void stale_context_handle(void) {
    uint64_t z[4] = {0, 0, 0, 0};
    unsigned char cc[SIMPLER_CALL_CONFIG_SIZE];
    PtoRunTiming timing;
    float host[16];
    void *dev, *a;
    int i, distinct = 1;

    a = new_context();
    if (!check("context A created and initialised", a != NULL, "%s", last_msg())) return;
    check("full example cycle on A", hbg_full_cycle(&api, a, g_runtime, &fx, CID, &data, 0, g_err, sizeof g_err) == 0,
          "%s", g_err);
    api.destroy_device_context(a);
    check("destroy_device_context(A) clears the last error", api.pto_last_error_code() == 0, "%s", last_msg());

    g_new = new_context();
    if (!check("context B created and initialised", g_new != NULL, "%s", last_msg())) return;
    check("B's handle differs from A's", g_new != a, "both %p", g_new);
    dev = api.device_malloc_ctx(g_new, sizeof host);
    if (!check("device_malloc_ctx(B)", dev != NULL, "%s", last_msg())) return;
    for (i = 0; i < 16; ++i) host[i] = (float)i;
    check("copy_to_device_ctx(B)", api.copy_to_device_ctx(g_new, dev, host, sizeof host) == 0, "%s", last_msg());

    expect_refused("simpler_init(A) == -1",
                   api.simpler_init(a, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0) == -1,
                   "destroyed");
    expect_refused("simpler_init_with_config(A) < 0",
                   api.simpler_init_with_config(a, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0,
                                                NULL) < 0,
                   "destroyed");
    expect_refused("device_malloc_ctx(A) == NULL", api.device_malloc_ctx(a, 64) == NULL, "destroyed");
    api.device_free_ctx(a, dev);
    expect_refused("device_free_ctx(A, p) records an error", 1, "destroyed");
    check("  p is still live on B", api.copy_from_device_ctx(g_new, host, dev, sizeof host) == 0 && host[15] == 15.0f,
          "%s", last_msg());
    expect_refused("copy_to_device_ctx(A) == -1", api.copy_to_device_ctx(a, dev, host, sizeof host) == -1,
                   "destroyed");
    expect_refused("copy_from_device_ctx(A) == -1", api.copy_from_device_ctx(a, host, dev, sizeof host) == -1,
                   "destroyed");
    expect_refused("prepare_callable(A) == -1", api.prepare_callable(a, CID, fx.callable) == -1, "destroyed");
    expect_refused("simpler_prepare_callable_sized(A) < 0",
                   api.simpler_prepare_callable_sized(a, CID, fx.callable, fx.callable_size) < 0, "destroyed");
    expect_refused("run_prepared(A) == -1",
                   api.run_prepared(a, g_runtime, CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "",
                                    &timing) == -1,
                   "destroyed");
    simpler_call_config_build(cc, 3, 4);
    expect_refused("run_prepared_with_config(A) < 0",
                   api.run_prepared_with_config(a, g_runtime, CID, data.args, cc, NULL, &timing) < 0, "destroyed");
    expect_refused("unregister_callable(A) == -1", api.unregister_callable(a, CID) == -1, "destroyed");
    expect_refused("get_aicpu_dlopen_count(A) == 0", api.get_aicpu_dlopen_count(a) == 0, "destroyed");
    expect_refused("get_host_dlopen_count(A) == 0", api.get_host_dlopen_count(a) == 0, "destroyed");
    expect_refused("ensure_acl_ready_ctx(A) == -1", api.ensure_acl_ready_ctx(a, 0) == -1, "destroyed");
    expect_refused("create_comm_stream_ctx(A) == NULL", api.create_comm_stream_ctx(a) == NULL, "destroyed");
    expect_refused("destroy_comm_stream_ctx(A) == -1", api.destroy_comm_stream_ctx(a, NULL) == -1, "destroyed");
    expect_refused("finalize_device(A) == -1", api.finalize_device(a) == -1, "destroyed");
    api.destroy_device_context(a);
    expect_refused("destroy_device_context(A) again records an error (B survives)", 1, "destroyed");

    check("live context: ensure_acl_ready_ctx(B) == 0", api.ensure_acl_ready_ctx(g_new, 0) == 0, "%s", last_msg());
    check("live context: destroy_comm_stream_ctx(B, NULL) == 0", api.destroy_comm_stream_ctx(g_new, NULL) == 0, "%s",
          last_msg());
    check("B's run counted once per prepare", api.get_host_dlopen_count(g_new) > 0, "got %zu",
          api.get_host_dlopen_count(g_new));

    /* Many create/destroy rounds never hand A's value out again. */
    for (i = 0; i < 200; ++i) {
        void *c = api.create_device_context();
        if (c == NULL || c == a || c == g_new) distinct = 0;
        api.destroy_device_context(c);
    }
    check("200 create/destroy rounds: never NULL, never A's or B's handle", distinct, "a handle was reused");
    api.device_free_ctx(g_new, dev);
    check("device_free_ctx(B, p) == ok", api.pto_last_error_code() == 0, "%s", last_msg());
}

static void stale_comm_handle(void) {
    uint64_t u64 = 0;
    size_t sz = 0;
    uint32_t ranks[1] = {0};
    void *h1, *h2;
    h1 = api.comm_init(0, 1, NULL, "/tmp/simpler-stale-handle-rootinfo");
    if (!check("comm_init h1", h1 != NULL, "%s", last_msg())) return;
    check("comm_destroy(h1) == 0", api.comm_destroy(h1) == 0, "%s", last_msg());
    h2 = api.comm_init(0, 1, NULL, "/tmp/simpler-stale-handle-rootinfo");
    if (!check("comm_init h2", h2 != NULL, "%s", last_msg())) return;
    check("h2 differs from h1", h2 != h1, "both %p", h2);
    check("comm_alloc_windows(h2) == 0", api.comm_alloc_windows(h2, 4096, &u64) == 0, "%s", last_msg());

    expect_refused("comm_alloc_windows(h1) == -1", api.comm_alloc_windows(h1, 4096, &u64) == -1, "destroyed");
    expect_refused("comm_get_local_window_base(h1) == -1", api.comm_get_local_window_base(h1, &u64) == -1,
                   "destroyed");
    expect_refused("comm_get_window_size(h1) == -1", api.comm_get_window_size(h1, &sz) == -1, "destroyed");
    expect_refused("comm_derive_context(h1) == -1",
                   api.comm_derive_context(h1, ranks, 1, 0, 0, 64, &u64) == -1, "destroyed");
    expect_refused("comm_alloc_domain_windows(h1) == -1",
                   api.comm_alloc_domain_windows(h1, 9, ranks, 1, 0, 64, &u64, &u64) == -1, "destroyed");
    expect_refused("comm_release_domain_windows(h1) == -1", api.comm_release_domain_windows(h1, 9, 1, 0) == -1,
                   "destroyed");
    expect_refused("comm_barrier(h1) == -1", api.comm_barrier(h1) == -1, "destroyed");
    expect_refused("comm_destroy(h1) == -1", api.comm_destroy(h1) == -1, "destroyed");

    /* Handles of the wrong kind are told apart. */
    expect_refused("comm_barrier(a context handle) == -1", api.comm_barrier(g_new) == -1, "not a communicator");
    expect_refused("finalize_device(a comm handle) == -1", api.finalize_device(h2) == -1, "not a device context");
    check("comm_get_window_size(h2) == 4096", api.comm_get_window_size(h2, &sz) == 0 && sz == 4096, "rc/size %zu: %s",
          sz, last_msg());
    check("comm_destroy(h2) == 0", api.comm_destroy(h2) == 0, "%s", last_msg());
}

int main(int argc, char **argv) {
    HbgHarnessArgs args;
    int rc = hbg_harness_args(argc, argv, 0, "", &args);
    if (rc != 0) return rc;
    hbg_harness_runtime_env("host_build_graph");
    if (!hbg_harness_setup(&args, 1, &fx, &data, &api, g_err, sizeof g_err)) return test_report_finish();
    g_runtime = calloc(api.get_runtime_size(), 1);
    if (check("runtime buffer", g_runtime != NULL, "calloc failed")) {
        stale_context_handle();
        if (g_new != NULL) {
            stale_comm_handle();
            check("finalize_device(B) == 0", api.finalize_device(g_new) == 0, "%s", last_msg());
            api.destroy_device_context(g_new);
        }
    }
    free(g_runtime);
    hbg_harness_release(&fx, &data, &api);
    return test_report_finish();
}
