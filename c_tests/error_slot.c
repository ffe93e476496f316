/*
 * error_slot.c - pure lookups leave the calling thread's last error alone.
 *
 * usage: error_slot <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>
 *
 * After a failing call, the common
 *   printf("%s: %s", pto_error_name(rc), pto_last_error_message())
 * must print the failure, and so must every other pure lookup in between:
 * pto_error_name, pto_last_error_code/_message, pto_runtime_config_knob_count,
 * pto_runtime_config_describe (success), simpler_version, get_platform,
 * get_incore_compiler, get_orchestration_compiler, get_runtime_size and the two dlopen
 * counters (live context). A failing lookup (describe out of range, a counter given a
 * destroyed handle) records its own error; any other successful call clears the slot.
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

/* pto_knob_info_t of simpler.h: eight string pointers, then two int32 (72 bytes). */
typedef struct KnobInfo {
    const char *name, *env, *shape, *rule, *default_value, *tier, *unit, *doc;
    int32_t per_ring, per_device;
} KnobInfo;

typedef struct Lookups {
    const char *(*pto_error_name)(int);
    size_t (*pto_runtime_config_knob_count)(void);
    int (*pto_runtime_config_describe)(size_t, KnobInfo *);
    const char *(*simpler_version)(void);
    const char *(*get_platform)(void);
    int (*get_incore_compiler)(void);
    int (*get_orchestration_compiler)(void);
} Lookups;

static const uint8_t g_aicpu[8] = {0x7f, 'E', 'L', 'F', 1, 2, 3, 4};
static const uint8_t g_aicore[8] = {0x7f, 'E', 'L', 'F', 5, 6, 7, 8};

static SimplerApi api;
static Lookups lk;
static char g_err[4096];
static char g_expected[4096]; /* the message of the failing call */
static int g_expected_code;

static int resolve(void *dst, const char *name) { return hbg_harness_dlsym(&api, name, dst, 1); }

/* The slot still holds the failing call's code and message. */
static void expect_kept(const char *after) {
    char name[256];
    snprintf(name, sizeof name, "after %s: last error code and message unchanged", after);
    check(name, api.pto_last_error_code() == g_expected_code && strcmp(api.pto_last_error_message(), g_expected) == 0,
          "code %d (want %d), message '%s' (want '%s')", api.pto_last_error_code(), g_expected_code,
          api.pto_last_error_message(), g_expected);
}

static void remember_failure(int rc, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "%s fails with a message", what);
    check(name, rc != 0 && api.pto_last_error_message()[0] != '\0', "rc %d, message '%s'", rc,
          api.pto_last_error_message());
    snprintf(g_expected, sizeof g_expected, "%s", api.pto_last_error_message());
    g_expected_code = api.pto_last_error_code();
}

int main(int argc, char **argv) {
    HbgHarnessArgs args;
    HbgFixture fx;
    HbgData data;
    KnobInfo info;
    char line[8192];
    void *ctx, *dead;
    void *runtime;
    size_t count;
    int rc = hbg_harness_args(argc, argv, 0, "", &args);
    if (rc != 0) return rc;
    hbg_harness_runtime_env("host_build_graph");
    if (!hbg_harness_setup(&args, 1, &fx, &data, &api, g_err, sizeof g_err)) return test_report_finish();
    if (!resolve(&lk.pto_error_name, "pto_error_name") ||
        !resolve(&lk.pto_runtime_config_knob_count, "pto_runtime_config_knob_count") ||
        !resolve(&lk.pto_runtime_config_describe, "pto_runtime_config_describe") ||
        !resolve(&lk.simpler_version, "simpler_version") || !resolve(&lk.get_platform, "get_platform") ||
        !resolve(&lk.get_incore_compiler, "get_incore_compiler") ||
        !resolve(&lk.get_orchestration_compiler, "get_orchestration_compiler"))
        return test_report_finish();
    runtime = calloc(api.get_runtime_size(), 1);
    ctx = api.create_device_context();
    rc = ctx == NULL ? -1 : api.simpler_init(ctx, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0);
    if (!check("context created and initialised", rc == 0 && runtime != NULL, "rc %d: %s", rc,
               api.pto_last_error_message()))
        return test_report_finish();
    check("a full example cycle runs", hbg_full_cycle(&api, ctx, runtime, &fx, 2, &data, 1, g_err, sizeof g_err) == 0,
          "%s", g_err);

    /* 1. The idiom, with a failing legacy call. */
    rc = api.prepare_callable(ctx, 64, fx.callable);
    remember_failure(rc, "prepare_callable(cid 64)");
    check("the message names the callable id rule", strstr(g_expected, "64") != NULL, "'%s'", g_expected);
    snprintf(line, sizeof line, "%s: %s", lk.pto_error_name(api.pto_last_error_code()), api.pto_last_error_message());
    check("printf(\"%s: %s\", pto_error_name(code), pto_last_error_message()) prints the failure",
          strncmp(line, "PTO_ERR_CALLABLE_ID: ", 21) == 0 && strcmp(line + 21, g_expected) == 0, "printed '%s'", line);
    expect_kept("pto_error_name(pto_last_error_code())");
    (void)lk.pto_error_name(rc);
    expect_kept("pto_error_name(rc)");
    (void)lk.pto_error_name(123456);
    expect_kept("pto_error_name(unknown code)");
    (void)api.pto_last_error_code();
    (void)api.pto_last_error_message();
    expect_kept("pto_last_error_code + pto_last_error_message");

    /* 2. Every other pure lookup. */
    count = lk.pto_runtime_config_knob_count();
    check("knob_count > 0", count > 0, "got %zu", count);
    expect_kept("pto_runtime_config_knob_count");
    rc = lk.pto_runtime_config_describe(0, &info);
    check("describe(0) == 0 and names ring_task_window", rc == 0 && strcmp(info.name, "ring_task_window") == 0,
          "rc %d", rc);
    expect_kept("pto_runtime_config_describe(0)");
    check("simpler_version non-empty", lk.simpler_version()[0] != '\0', "empty");
    expect_kept("simpler_version");
    check("get_platform == a2a3sim", strcmp(lk.get_platform(), "a2a3sim") == 0, "got %s", lk.get_platform());
    expect_kept("get_platform");
    check("compilers 1 and 2", lk.get_incore_compiler() == 1 && lk.get_orchestration_compiler() == 2, "got %d, %d",
          lk.get_incore_compiler(), lk.get_orchestration_compiler());
    expect_kept("get_incore_compiler + get_orchestration_compiler");
    check("get_runtime_size > 0", api.get_runtime_size() > 0, "0");
    expect_kept("get_runtime_size");
    check("get_host_dlopen_count(ctx) == 1", api.get_host_dlopen_count(ctx) == 1, "got %zu",
          api.get_host_dlopen_count(ctx));
    expect_kept("get_host_dlopen_count(live ctx)");
    (void)api.get_aicpu_dlopen_count(ctx);
    expect_kept("get_aicpu_dlopen_count(live ctx)");

    /* 3. A failing lookup records its own error; a successful lookup keeps it. */
    rc = lk.pto_runtime_config_describe(count, &info);
    remember_failure(rc, "describe(knob_count) (out of range)");
    check("the message names the index rule", strstr(g_expected, "out of range") != NULL, "'%s'", g_expected);
    rc = lk.pto_runtime_config_describe(count - 1, &info);
    check("describe(last) == 0", rc == 0, "rc %d", rc);
    expect_kept("describe(last)");
    dead = api.create_device_context();
    api.destroy_device_context(dead);
    check("get_host_dlopen_count(destroyed) == 0", api.get_host_dlopen_count(dead) == 0, "nonzero");
    remember_failure(1, "get_host_dlopen_count(destroyed)");
    check("the message says destroyed", strstr(g_expected, "destroyed") != NULL, "'%s'", g_expected);
    (void)api.get_host_dlopen_count(ctx);
    expect_kept("get_host_dlopen_count(live ctx) after a failing one");

    /* 4. A successful non-lookup call clears the slot. */
    {
        SimplerConfigStorage cfg;
        rc = api.pto_runtime_config_init(simpler_config_ptr(&cfg));
        check("pto_runtime_config_init clears the last error",
              rc == 0 && api.pto_last_error_code() == 0 && api.pto_last_error_message()[0] == '\0',
              "rc %d, code %d, message '%s'", rc, api.pto_last_error_code(), api.pto_last_error_message());
    }

    check("finalize_device == 0", api.finalize_device(ctx) == 0, "%s", api.pto_last_error_message());
    api.destroy_device_context(ctx);
    free(runtime);
    hbg_harness_release(&fx, &data, &api);
    return test_report_finish();
}
