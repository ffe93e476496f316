/*
 * teardown.c - calls libsimpler.so at process exit, after the calling thread's
 * thread-local storage is gone, as a Python interpreter or a C++ program holding a
 * ChipWorker in a static does.
 *
 * usage: teardown <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so> MODE
 *
 * MODE "atexit": main loads the library (dlopen RTLD_NOW|RTLD_LOCAL), creates and
 *   initialises a context, prepares the hbg vector example, runs it once (checked) and
 *   returns from main. glibc destroys main's thread-locals, then runs the atexit handler:
 *   it queries the last error, makes a failing call and reads its message, runs the
 *   example again (checked), calls finalize_device twice (0 both times) and
 *   destroy_device_context, and checks that the destroyed handle is refused. Compiled as
 *   C++, a static object's destructor then calls in too. A destructor function (run
 *   after the atexit handlers) repeats the stale-handle and last-error checks and
 *   creates and destroys one more context.
 * MODE "thread": a worker thread creates, initialises and runs a context and exits; a
 *   pthread key destructor on that thread (run after its thread-locals are destroyed)
 *   calls the library too. The atexit handler then runs the example on the worker's
 *   context, finalizes and destroys it.
 * MODE "atexit_trb": as "atexit" with the tensormap_and_ringbuffer vector example
 *   (the SO arguments are then examples/trb_vector's orchestration and examples/kernels'
 *   kernels; f = (a+b+1)*(a+b+2) + (a+b)): the exit-time run uses the scheduler threads,
 *   parking and the ring engine of that runtime.
 *
 * Failures inside the exit-time handlers end the process with _exit(1); the last line
 * is "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chip_callable_builder.h"
#include "hbg_harness.h"
#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

#define TEARDOWN_CID 3

static const uint8_t g_aicpu[8] = {0x7f, 'E', 'L', 'F', 1, 2, 3, 4};
static const uint8_t g_aicore[8] = {0x7f, 'E', 'L', 'F', 5, 6, 7, 8};

static SimplerApi api;
static HbgFixture fx;
static int g_trb; /* mode atexit_trb */
static HbgData data;
static void *g_ctx;
static void *g_runtime;
static char g_err[4096];
static int g_atexit_done;

typedef const char *(*error_name_fn)(int);
static error_name_fn g_error_name;

static const char *last_msg(void) {
    const char *m = api.pto_last_error_message();
    return m != NULL ? m : "(null)";
}

/* Ends the process with the summary when a check failed (atexit handlers cannot change
 * the exit status otherwise). */
static void exit_if_failed(void) {
    if (test_report_failed_ > 0) {
        test_report_finish();
        _exit(1);
    }
}

/* A failing call (finalize_device(NULL)) must return -1 and leave a message naming ctx;
 * the code and pto_error_name stay consistent. */
static void check_error_slot(const char *where) {
    char name[256];
    int rc = api.finalize_device(NULL);
    const char *msg = last_msg();
    snprintf(name, sizeof name, "%s: finalize_device(NULL) == -1 with a message naming ctx", where);
    check(name, rc == -1 && strstr(msg, "ctx") != NULL, "rc %d, message '%s'", rc, msg);
    snprintf(name, sizeof name, "%s: pto_last_error_code is PTO_ERR_NULL_POINTER", where);
    check(name, strcmp(g_error_name(api.pto_last_error_code()), "PTO_ERR_NULL_POINTER") == 0, "code %d (%s)",
          api.pto_last_error_code(), g_error_name(api.pto_last_error_code()));
    snprintf(name, sizeof name, "%s: the message survives pto_error_name", where);
    check(name, strstr(last_msg(), "ctx") != NULL, "message now '%s'", last_msg());
}

/* The TRB vector example through run_prepared with ChipWorker's argument pattern;
 * f = (a+b+1)*(a+b+2) + (a+b), checked element by element. */
static int run_trb(void *ctx, unsigned variant) {
    uint64_t z[4] = {0, 0, 0, 0};
    PtoRunTiming timing;
    uint32_t i;
    int rc;
    hbg_data_fill(&data, variant);
    rc = api.run_prepared(ctx, g_runtime, TEARDOWN_CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &timing);
    if (rc != 0) {
        snprintf(g_err, sizeof g_err, "run_prepared returned %d: %s", rc, last_msg());
        return -1;
    }
    for (i = 0; i < HBG_SIZE; ++i) {
        float s = data.a[i] + data.b[i];
        float expect = (s + 1.0f) * (s + 2.0f) + s;
        float tol = 1e-5f * (fabsf(expect) > 1.0f ? fabsf(expect) : 1.0f);
        if (!(fabsf(data.f[i] - expect) <= tol)) {
            snprintf(g_err, sizeof g_err, "f[%u] = %g, expected %g", (unsigned)i, (double)data.f[i], (double)expect);
            return -1;
        }
    }
    return 0;
}

static int run_once(void *ctx, unsigned variant) {
    if (g_trb) return run_trb(ctx, variant);
    return hbg_run_chipworker(&api, ctx, g_runtime, TEARDOWN_CID, &data, variant, NULL, g_err, sizeof g_err);
}

/* The TRB vector callable: entry aicpu_orchestration_entry, config
 * aicpu_orchestration_config, kernels 0 add, 1 add_scalar, 2 mul (all AIV). */
static int trb_fixture_load(const char *orch_path, const char *const kernel_paths[3]) {
    static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig_in_out[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild children[3];
    int i;
    memset(&fx, 0, sizeof fx);
    fx.orch = read_file(orch_path, &fx.orch_size);
    if (fx.orch == NULL) return -1;
    for (i = 0; i < 3; ++i) {
        fx.kernels[i] = read_file(kernel_paths[i], &fx.kernel_sizes[i]);
        if (fx.kernels[i] == NULL) return -1;
        children[i].func_id = i;
        children[i].signature = i == 1 ? sig_in_out : sig;
        children[i].sig_count = i == 1 ? 2 : 3;
        children[i].binary = fx.kernels[i];
        children[i].binary_size = fx.kernel_sizes[i];
    }
    fx.callable = ccb_build_chip_callable(sig, 3, "aicpu_orchestration_entry", "aicpu_orchestration_config", fx.orch,
                                          fx.orch_size, children, 3, &fx.callable_size);
    return fx.callable != NULL ? 0 : -1;
}

static void *setup_context(const char *where) {
    char name[256];
    int rc;
    void *ctx = api.create_device_context();
    snprintf(name, sizeof name, "%s: create_device_context", where);
    if (!check(name, ctx != NULL, "NULL: %s", last_msg())) return NULL;
    rc = api.simpler_init(ctx, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0);
    snprintf(name, sizeof name, "%s: simpler_init == 0", where);
    check(name, rc == 0, "rc %d: %s", rc, last_msg());
    rc = api.prepare_callable(ctx, TEARDOWN_CID, fx.callable);
    snprintf(name, sizeof name, "%s: prepare_callable == 0", where);
    check(name, rc == 0, "rc %d: %s", rc, last_msg());
    snprintf(name, sizeof name, "%s: run_prepared, f checked element by element", where);
    check(name, run_once(ctx, 1) == 0, "%s", g_err);
    return ctx;
}

/* Runs on the live context, finalizes twice, destroys, and checks the stale handle. */
static void teardown_context(const char *where, void *ctx) {
    char name[256];
    int rc;
    snprintf(name, sizeof name, "%s: run_prepared on the live context, f checked", where);
    check(name, run_once(ctx, 2) == 0, "%s", g_err);
    rc = api.finalize_device(ctx);
    snprintf(name, sizeof name, "%s: finalize_device == 0", where);
    check(name, rc == 0, "rc %d: %s", rc, last_msg());
    rc = api.finalize_device(ctx);
    snprintf(name, sizeof name, "%s: second finalize_device == 0", where);
    check(name, rc == 0, "rc %d: %s", rc, last_msg());
    api.destroy_device_context(ctx);
    snprintf(name, sizeof name, "%s: destroy_device_context clears the last error", where);
    check(name, api.pto_last_error_code() == 0, "code %d: %s", api.pto_last_error_code(), last_msg());
    rc = api.finalize_device(ctx);
    snprintf(name, sizeof name, "%s: finalize_device(destroyed handle) == -1, message says destroyed", where);
    check(name, rc == -1 && strstr(last_msg(), "destroyed") != NULL, "rc %d: %s", rc, last_msg());
}

static void at_exit_handler(void) {
    /* An invalid ring variable makes the exit-time run log a warning (the log sink runs too). */
    setenv("PTO2_RING_TASK_WINDOW", "not-a-number", 1);
    check_error_slot("atexit");
    teardown_context("atexit", g_ctx);
    g_atexit_done = 1;
    exit_if_failed();
}

#ifdef __cplusplus
/* A C++ static object: its destructor runs from exit() after the atexit handler (it was
 * registered earlier, at static initialisation) and before the destructor function. */
struct StaticTeardownProbe {
    ~StaticTeardownProbe() {
        if (!g_atexit_done) return;
        check("C++ static destructor: finalize_device(destroyed handle) == -1", api.finalize_device(g_ctx) == -1, "%s",
              last_msg());
        check("C++ static destructor: unregister_callable(destroyed handle) == -1",
              api.unregister_callable(g_ctx, TEARDOWN_CID) == -1, "%s", last_msg());
        exit_if_failed();
    }
};
static StaticTeardownProbe g_static_probe;
#endif

__attribute__((destructor)) static void static_destructor(void) {
    void *c;
    if (!g_atexit_done) return; /* main failed before registering the handler */
    check_error_slot("destructor");
    check("destructor: prepare_callable(destroyed handle) == -1",
          api.prepare_callable(g_ctx, TEARDOWN_CID, fx.callable) == -1, "%s", last_msg());
    c = api.create_device_context();
    check("destructor: create_device_context", c != NULL, "NULL: %s", last_msg());
    check("destructor: a new handle differs from the destroyed one", c != g_ctx, "same handle %p", c);
    api.destroy_device_context(c);
    exit_if_failed();
    test_report_finish();
}

/* ---- MODE thread ---------------------------------------------------------------- */
static pthread_key_t g_key;
static int g_key_destructor_ran;

static void key_destructor(void *value) {
    (void)value;
    /* Runs on the worker thread after its thread-locals were destroyed. */
    check_error_slot("pthread key destructor");
    check("pthread key destructor: get_host_dlopen_count(ctx) == 1", api.get_host_dlopen_count(g_ctx) == 1, "got %zu",
          api.get_host_dlopen_count(g_ctx));
    g_key_destructor_ran = 1;
}

static void *worker(void *arg) {
    (void)arg;
    g_ctx = setup_context("worker thread");
    pthread_setspecific(g_key, &g_key);
    return NULL;
}

int main(int argc, char **argv) {
    HbgHarnessArgs args;
    const char *mode;
    int rc = hbg_harness_args(argc, argv, 1, "atexit|thread|atexit_trb", &args);
    if (rc != 0) return rc;
    mode = argv[6];
    if (strcmp(mode, "atexit") != 0 && strcmp(mode, "thread") != 0 && strcmp(mode, "atexit_trb") != 0) {
        fprintf(stderr, "%s: the mode must be atexit, thread or atexit_trb, not '%s'\n", argv[0], mode);
        return 2;
    }
    g_trb = strcmp(mode, "atexit_trb") == 0;
    if (g_trb) {
        hbg_harness_runtime_env(NULL); /* the default variant */
        if (!check("TRB fixtures loaded", trb_fixture_load(args.orchestration, args.kernels) == 0, "cannot read the SOs") ||
            !check("host buffers allocated", hbg_data_init(&data) == 0, "allocation failed") ||
            !check("library loaded with its extensions", simpler_api_load(&api, args.library, 1, g_err, sizeof g_err) == 0,
                   "%s", g_err))
            return test_report_finish();
    } else {
        hbg_harness_runtime_env("host_build_graph");
        if (!hbg_harness_setup(&args, 1, &fx, &data, &api, g_err, sizeof g_err)) return test_report_finish();
    }
    if (!hbg_harness_dlsym(&api, "pto_error_name", &g_error_name, 1)) return test_report_finish();
    g_runtime = calloc(api.get_runtime_size(), 1);
    if (!check("runtime buffer", g_runtime != NULL, "calloc failed")) return test_report_finish();

    if (strcmp(mode, "thread") != 0) {
        g_ctx = setup_context("main");
    } else {
        pthread_t t;
        check("pthread_key_create", pthread_key_create(&g_key, key_destructor) == 0, "failed");
        check("worker thread started", pthread_create(&t, NULL, worker, NULL) == 0, "failed");
        check("worker thread joined", pthread_join(t, NULL) == 0, "failed");
        check("pthread key destructor ran on the worker", g_key_destructor_ran == 1, "did not run");
    }
    if (g_ctx == NULL || test_report_failed_ > 0) return test_report_finish();
    check("atexit handler registered", atexit(at_exit_handler) == 0, "atexit failed");
    /* Returning from main runs exit(): thread-locals first, then the handler. The
     * library stays loaded (no dlclose) so the handlers can call it. */
    return 0;
}
