/*
 * abg_harness.c - aicpu_build_graph (original form) through libsimpler's C ABI
 * in upstream ChipWorker's call sequence (dlopen RTLD_NOW|RTLD_LOCAL,
 * create_device_context, simpler_init, prepare_callable, run_prepared,
 * unregister_callable, finalize_device, destroy_device_context, dlclose).
 *
 * usage: abg_harness <libsimpler.so> <abg_vector_orch.so> <abg_unmarked_orch.so> <add.so> <add_scalar.so>
 *                    <mul.so> <abg_probe.so>
 *
 * SIMPLER_RUNTIME unset: the marked vector plugin is told from its binary and
 * runs with build_mode 0 and 1 (explicit, environment, default), every output
 * element checked; two contexts on two threads with different build modes,
 * each observed by a probe plugin; failures (a cycle, a non-zero return) end
 * in a numbered code and a message and the context stays usable; the explicit
 * runtime knob routes the unmarked plugin to aicpu_build_graph and a
 * host_build_graph knob refuses the marked one. SIMPLER_RUNTIME =
 * aicpu_build_graph: the unmarked plugin runs.
 *
 * usage: abg_harness <libsimpler.so> ring <ring_vector_orch.so> <add.so> <add_scalar.so> <mul.so>
 *                    <ring_cycle_orch.so>
 *
 * The ring form (entry aicpu_orchestration_entry, kernels of examples/kernels):
 * told from the binary, the vector example runs with 2 and 4 AICPU threads,
 * orch_to_sched off and on, every element of f checked; an orchestration
 * closing a cycle fails with a numbered code and a message and the context
 * stays usable; the aicpu_build_graph knob accepts the ring binary and a
 * host_build_graph knob refuses it. Last line: "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chip_callable_builder.h"
#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

#define PTO_ERR_USER_CODE_CODE (-1015)
/* The orchestrator's fatal code INVALID_ARGS (5), returned negated as for tensormap_and_ringbuffer. */
#define RING_FATAL_INVALID_ARGS (-5)

static SimplerApi api;
static size_t runtime_size;
static char err[4096];
static const uint8_t g_aicpu[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'p', 'u', 0, 1, 2, 3, 4, 5, 6};
static const uint8_t g_aicore[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'o', 'r', 'e', 1, 2, 3, 4, 5, 6};

typedef struct Bins {
    uint8_t *vector, *unmarked, *probe, *kernels[3];
    size_t vector_size, unmarked_size, probe_size, kernel_sizes[3];
} Bins;

/* The vector example's callable: signature [IN, IN, OUT], kernels add, add_scalar, mul. */
static uint8_t *vector_callable(const Bins *b, const uint8_t *orch, size_t orch_size, const char *func) {
    static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig2[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild ch[3];
    size_t size;
    int i;
    for (i = 0; i < 3; ++i) {
        ch[i].func_id = i;
        ch[i].signature = i == 1 ? sig2 : sig;
        ch[i].sig_count = i == 1 ? 2 : 3;
        ch[i].binary = b->kernels[i];
        ch[i].binary_size = b->kernel_sizes[i];
    }
    return ccb_build_chip_callable(sig, 3, func, "", orch, orch_size, ch, 3, &size);
}

/* A probe plugin callable: signature [OUT], kernel 0 add. */
static uint8_t *probe_callable(const Bins *b, const char *func) {
    static const int32_t sig[1] = {CCB_ARG_OUT};
    static const int32_t ksig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild ch[1];
    size_t size;
    ch[0].func_id = 0;
    ch[0].signature = ksig;
    ch[0].sig_count = 3;
    ch[0].binary = b->kernels[0];
    ch[0].binary_size = b->kernel_sizes[0];
    return ccb_build_chip_callable(sig, 1, func, "", b->probe, b->probe_size, ch, 1, &size);
}

static void *new_ctx(const char *runtime_knob) {
    void *c = api.create_device_context();
    int rc;
    if (c == NULL) return NULL;
    if (runtime_knob == NULL) {
        rc = api.simpler_init(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0);
    } else {
        SimplerConfigStorage cs;
        pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
        api.pto_runtime_config_init(cfg);
        rc = api.pto_runtime_config_set(cfg, "runtime", runtime_knob);
        if (rc == 0) rc = api.simpler_init_with_config(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0, cfg);
    }
    if (rc != 0) {
        api.destroy_device_context(c);
        return NULL;
    }
    return c;
}

static void end_ctx(void *c, const char *what) {
    char name[160];
    int rc = api.finalize_device(c);
    snprintf(name, sizeof name, "finalize_device(%s) == 0", what);
    check(name, rc == 0, "returned %d: %s", rc, hbg_last_error(&api));
    api.destroy_device_context(c);
}

/* One run: legacy run_prepared when mode is NULL, else run_prepared_with_config with build_mode = mode. */
static int run(void *ctx, void *rtbuf, int32_t cid, const uint8_t *args, int threads, const char *mode) {
    uint64_t z[4] = {0, 0, 0, 0};
    PtoRunTiming t = {0, 0};
    int rc;
    if (mode == NULL) {
        rc = api.run_prepared(ctx, rtbuf, cid, args, 3, threads, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &t);
    } else {
        SimplerConfigStorage cs;
        pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
        unsigned char cc[SIMPLER_CALL_CONFIG_SIZE];
        simpler_call_config_build(cc, 3, threads);
        api.pto_runtime_config_init(cfg);
        rc = api.pto_runtime_config_set(cfg, "build_mode", mode);
        if (rc == 0) rc = api.run_prepared_with_config(ctx, rtbuf, cid, args, cc, cfg, &t);
    }
    if (rc == 0 && (t.host_wall_ns == 0 || t.device_wall_ns == 0)) {
        snprintf(err, sizeof err, "a successful run reports zero timing");
        return -2;
    }
    if (rc != 0) snprintf(err, sizeof err, "run of cid %d returned %d: %s", (int)cid, rc, hbg_last_error(&api));
    return rc;
}

static int vector_run(void *ctx, void *rtbuf, int32_t cid, HbgData *d, unsigned variant, int threads,
                      const char *mode) {
    hbg_data_fill(d, variant);
    if (run(ctx, rtbuf, cid, d->args, threads, mode) != 0) return -1;
    return hbg_data_check(d, variant, err, sizeof err);
}

/* Probe: returns the observed build_mode * 10 + ran-during-build, or -1. */
typedef struct Probe {
    float out[2];
    uint8_t *args;
} Probe;

static int probe_init(Probe *p) {
    uint32_t shape[1] = {2};
    p->args = ccb_args_alloc();
    return p->args != NULL && ccb_args_add_tensor(p->args, (uint64_t)(uintptr_t)p->out, CCB_DT_FLOAT32, 1, shape) == 0
               ? 0
               : -1;
}

static int probe_run(void *ctx, void *rtbuf, int32_t cid, Probe *p, const char *mode) {
    p->out[0] = p->out[1] = -1.0f;
    if (run(ctx, rtbuf, cid, p->args, 3, mode) != 0) return -1;
    return (int)p->out[0] * 10 + (int)p->out[1];
}

typedef struct ModeThread {
    void *ctx;
    uint8_t *callable;
    const char *mode;
    int expect;
    int ok_runs;
    char detail[512];
} ModeThread;

static void *mode_thread(void *arg) {
    ModeThread *m = (ModeThread *)arg;
    void *rtbuf = calloc(runtime_size, 1);
    Probe p;
    int i, got;
    if (rtbuf == NULL || probe_init(&p) != 0 || api.prepare_callable(m->ctx, 1, m->callable) != 0) {
        snprintf(m->detail, sizeof m->detail, "setup failed");
        free(rtbuf);
        return NULL;
    }
    for (i = 0; i < 3; ++i) {
        got = probe_run(m->ctx, rtbuf, 1, &p, m->mode);
        if (got == m->expect) m->ok_runs++;
        else snprintf(m->detail, sizeof m->detail, "run %d: probe %d, expected %d", i, got, m->expect);
    }
    ccb_free64(p.args);
    free(rtbuf);
    return NULL;
}

static void inferred(const Bins *b, void *rtbuf, HbgData *d) {
    uint8_t *vec = vector_callable(b, b->vector, b->vector_size, "orchestration");
    uint8_t *unmarked = vector_callable(b, b->unmarked, b->unmarked_size, "orchestration");
    uint8_t *probe = probe_callable(b, "mode_probe");
    uint8_t *cycle = probe_callable(b, "cycle_graph");
    uint8_t *fail = probe_callable(b, "fail_rc");
    char name[200];
    void *c;
    int rc, i;
    Probe p;
    if (!check("callables built", vec && unmarked && probe && cycle && fail && probe_init(&p) == 0, "out of memory"))
        return;

    /* Told from the binary: the marked plugin is aicpu_build_graph. */
    c = new_ctx(NULL);
    if (!check("context created and initialised", c != NULL, "%s", hbg_last_error(&api))) return;
    rc = api.prepare_callable(c, 2, vec);
    check("prepare_callable(marked abg plugin) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    check("no dlopen counted before the first run", api.get_aicpu_dlopen_count(c) == 0 && api.get_host_dlopen_count(c) == 0,
          "aicpu %zu host %zu", api.get_aicpu_dlopen_count(c), api.get_host_dlopen_count(c));
    for (i = 0; i < 3; ++i) {
        snprintf(name, sizeof name, "legacy run_prepared %d (default build_mode 1, %d threads) correct", i, 2 + i);
        check(name, vector_run(c, rtbuf, 2, d, (unsigned)i, 2 + i, NULL) == 0, "%s", err);
    }
    check("one device-side (AICPU) load after three runs, no host load",
          api.get_aicpu_dlopen_count(c) == 1 && api.get_host_dlopen_count(c) == 0, "aicpu %zu host %zu",
          api.get_aicpu_dlopen_count(c), api.get_host_dlopen_count(c));
    for (i = 0; i < 4; ++i) {
        const char *mode = (i % 2) ? "concurrent" : "0";
        snprintf(name, sizeof name, "run_prepared_with_config build_mode=%s run %d correct", mode, i);
        check(name, vector_run(c, rtbuf, 2, d, (unsigned)i + 5, 3, mode) == 0, "%s", err);
    }
    /* build_mode observed by the probe: explicit, then the environment (read per run), then the default. */
    rc = api.prepare_callable(c, 3, probe);
    check("prepare_callable(probe) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    rc = probe_run(c, rtbuf, 3, &p, "sequential");
    check("explicit build_mode 0: builder sees 0, no task runs during the build", rc == 0, "probe %d %s", rc, err);
    rc = probe_run(c, rtbuf, 3, &p, "1");
    check("explicit build_mode 1: builder sees 1, a task completes during the build", rc == 11, "probe %d %s", rc, err);
    setenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE", "sequential", 1);
    rc = probe_run(c, rtbuf, 3, &p, NULL);
    check("PTO_AICPU_BUILD_GRAPH_BUILD_MODE=sequential applies to a legacy run", rc == 0, "probe %d %s", rc, err);
    unsetenv("PTO_AICPU_BUILD_GRAPH_BUILD_MODE");
    rc = probe_run(c, rtbuf, 3, &p, NULL);
    check("default build_mode is 1 (concurrent)", rc == 11, "probe %d %s", rc, err);
    rc = run(c, rtbuf, 3, p.args, 3, "2");
    check("an invalid explicit build_mode is an error", rc != 0 && strstr(hbg_last_error(&api), "build_mode") != NULL,
          "rc %d: %s", rc, hbg_last_error(&api));

    /* Failures: a numbered code and a message; the context stays usable. */
    rc = api.prepare_callable(c, 4, cycle);
    check("prepare_callable(cycle_graph) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    rc = run(c, rtbuf, 4, p.args, 3, "1");
    check("a dependency cycle fails the run with PTO_ERR_USER_CODE and a message",
          rc == PTO_ERR_USER_CODE_CODE && api.pto_last_error_code() == rc &&
              strstr(hbg_last_error(&api), "can never become ready") != NULL,
          "rc %d: %s", rc, hbg_last_error(&api));
    rc = run(c, rtbuf, 4, p.args, 3, NULL);
    check("the same failure through legacy run_prepared returns non-zero", rc != 0, "rc %d", rc);
    rc = api.prepare_callable(c, 5, fail);
    check("prepare_callable(fail_rc) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    rc = run(c, rtbuf, 5, p.args, 3, "0");
    check("a builder returning 7 fails the run naming the value",
          rc == PTO_ERR_USER_CODE_CODE && strstr(hbg_last_error(&api), "returned 7") != NULL, "rc %d: %s", rc,
          hbg_last_error(&api));
    check("the context still runs the vector example after the failures", vector_run(c, rtbuf, 2, d, 9, 3, "1") == 0,
          "%s", err);
    rc = api.unregister_callable(c, 2);
    check("unregister_callable == 0", rc == 0, "rc %d", rc);
    rc = run(c, rtbuf, 2, d->args, 3, NULL);
    check("an unregistered callable is an error", rc != 0, "rc %d", rc);
    rc = api.prepare_callable(c, 2, vec);
    check("registered again and correct", rc == 0 && vector_run(c, rtbuf, 2, d, 10, 3, NULL) == 0, "rc %d %s", rc, err);
    end_ctx(c, "abg context");

    /* Two contexts with different build modes at the same time, one thread each. */
    {
        ModeThread m[2];
        pthread_t th[2];
        int started[2];
        memset(m, 0, sizeof m);
        m[0].mode = "sequential";
        m[0].expect = 0;
        m[1].mode = "concurrent";
        m[1].expect = 11;
        for (i = 0; i < 2; ++i) {
            m[i].ctx = new_ctx(NULL);
            m[i].callable = probe;
            started[i] = m[i].ctx != NULL && pthread_create(&th[i], NULL, mode_thread, &m[i]) == 0;
        }
        for (i = 0; i < 2; ++i) {
            if (started[i]) pthread_join(th[i], NULL);
            snprintf(name, sizeof name, "context %d on its own thread: every run observed build_mode %s", i, m[i].mode);
            check(name, started[i] && m[i].ok_runs == 3, "%d/3 runs: %s", m[i].ok_runs, m[i].detail);
            if (m[i].ctx != NULL) end_ctx(m[i].ctx, "mode context");
        }
    }

    /* The explicit knob routes the unmarked plugin; a host_build_graph knob refuses the marked one. */
    c = new_ctx("aicpu_build_graph");
    if (check("context with runtime knob aicpu_build_graph", c != NULL, "%s", hbg_last_error(&api))) {
        rc = api.prepare_callable(c, 1, unmarked);
        check("knob aicpu_build_graph: the unmarked plugin prepares and runs correctly",
              rc == 0 && vector_run(c, rtbuf, 1, d, 11, 3, "0") == 0, "rc %d %s %s", rc, hbg_last_error(&api), err);
        rc = api.prepare_callable(c, 2, vec);
        check("knob aicpu_build_graph: the marked plugin runs too", rc == 0 && vector_run(c, rtbuf, 2, d, 12, 3, NULL) == 0,
              "rc %d %s", rc, err);
        end_ctx(c, "knob context");
    }
    c = new_ctx("host_build_graph");
    if (check("context with runtime knob host_build_graph", c != NULL, "%s", hbg_last_error(&api))) {
        rc = api.prepare_callable(c, 1, vec);
        check("knob host_build_graph refuses the marked plugin (-1) naming both variants",
              rc == -1 && strstr(hbg_last_error(&api), "is aicpu_build_graph") != NULL &&
                  strstr(hbg_last_error(&api), "host_build_graph") != NULL,
              "rc %d: %s", rc, hbg_last_error(&api));
        end_ctx(c, "hbg knob context");
    }
    ccb_free64(p.args);
    free(vec);
    free(unmarked);
    free(probe);
    free(cycle);
    free(fail);
}

static void overridden(const Bins *b, void *rtbuf, HbgData *d) {
    uint8_t *unmarked = vector_callable(b, b->unmarked, b->unmarked_size, "orchestration");
    uint8_t *unnamed = vector_callable(b, b->unmarked, b->unmarked_size, "");
    void *c = new_ctx(NULL);
    int rc;
    if (check("SIMPLER_RUNTIME=aicpu_build_graph: context initialised", c != NULL && unmarked && unnamed, "%s",
              hbg_last_error(&api))) {
        rc = api.prepare_callable(c, 1, unmarked);
        check("the unmarked plugin (func_name 'orchestration') is routed to aicpu_build_graph and correct",
              rc == 0 && vector_run(c, rtbuf, 1, d, 3, 3, NULL) == 0, "rc %d %s %s", rc, hbg_last_error(&api), err);
        rc = api.prepare_callable(c, 2, unnamed);
        check("the unmarked plugin with an empty func_name uses the default entry",
              rc == 0 && vector_run(c, rtbuf, 2, d, 4, 2, "sequential") == 0, "rc %d %s %s", rc, hbg_last_error(&api),
              err);
        end_ctx(c, "override context");
    }
    free(unmarked);
    free(unnamed);
}

/* The ring-form vector callable: signature [IN, IN, INOUT], entry aicpu_orchestration_entry,
 * config `config` (aicpu_orchestration_config for the example), kernels 0 add, 1 add_scalar, 2 mul (examples/kernels). */
static uint8_t *ring_callable(const Bins *b, const uint8_t *orch, size_t orch_size, const char *config) {
    static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_INOUT};
    static const int32_t ksig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t ksig2[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild ch[3];
    size_t size;
    int i;
    for (i = 0; i < 3; ++i) {
        ch[i].func_id = i;
        ch[i].signature = i == 1 ? ksig2 : ksig;
        ch[i].sig_count = i == 1 ? 2 : 3;
        ch[i].binary = b->kernels[i];
        ch[i].binary_size = b->kernel_sizes[i];
    }
    return ccb_build_chip_callable(sig, 3, "aicpu_orchestration_entry", config, orch, orch_size, ch, 3, &size);
}

/* One ring run through run_prepared_with_config with orch_to_sched = o2s ("true"/"false"), f checked. */
static int ring_run(void *ctx, void *rtbuf, int32_t cid, HbgData *d, unsigned variant, int threads, const char *o2s) {
    SimplerConfigStorage cs;
    pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
    unsigned char cc[SIMPLER_CALL_CONFIG_SIZE];
    PtoRunTiming t = {0, 0};
    int rc;
    hbg_data_fill(d, variant);
    simpler_call_config_build(cc, 3, threads);
    api.pto_runtime_config_init(cfg);
    rc = api.pto_runtime_config_set(cfg, "orch_to_sched", o2s);
    if (rc == 0) rc = api.run_prepared_with_config(ctx, rtbuf, cid, d->args, cc, cfg, &t);
    if (rc != 0) {
        snprintf(err, sizeof err, "run of cid %d returned %d: %s", (int)cid, rc, hbg_last_error(&api));
        return rc;
    }
    if (t.host_wall_ns == 0 || t.device_wall_ns == 0) {
        snprintf(err, sizeof err, "a successful run reports zero timing");
        return -2;
    }
    return hbg_data_check(d, variant, err, sizeof err);
}

static void ring(const Bins *b, void *rtbuf, HbgData *d) {
    uint8_t *vec = ring_callable(b, b->vector, b->vector_size, "aicpu_orchestration_config");
    uint8_t *cycle = ring_callable(b, b->probe, b->probe_size, ""); /* exports no config */
    static const char *const o2s[2] = {"false", "true"};
    char name[200];
    void *c;
    int rc, i, j;
    if (!check("ring callables built", vec && cycle, "out of memory")) return;

    c = new_ctx(NULL);
    if (!check("ring: context created and initialised", c != NULL, "%s", hbg_last_error(&api))) return;
    rc = api.prepare_callable(c, 1, vec);
    check("prepare_callable(ring vector example) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    check("legacy run_prepared (4 threads) of the ring example correct", vector_run(c, rtbuf, 1, d, 0, 4, NULL) == 0,
          "%s", err);
    for (i = 0; i < 2; ++i) {
        for (j = 0; j < 2; ++j) {
            int threads = 2 + 2 * i;
            snprintf(name, sizeof name, "ring example, %d AICPU threads, orch_to_sched %s: f correct", threads, o2s[j]);
            check(name, ring_run(c, rtbuf, 1, d, (unsigned)(1 + 2 * i + j), threads, o2s[j]) == 0, "%s", err);
        }
    }
    check("one device-side (AICPU) load for the ring example, no host load",
          api.get_aicpu_dlopen_count(c) == 1 && api.get_host_dlopen_count(c) == 0, "aicpu %zu host %zu",
          api.get_aicpu_dlopen_count(c), api.get_host_dlopen_count(c));

    /* An edge closing a cycle: a numbered code and a message; nothing written; the context stays usable. */
    rc = api.prepare_callable(c, 2, cycle);
    check("prepare_callable(ring cycle fixture) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    for (j = 0; j < 2; ++j) {
        uint32_t k;
        int untouched = 1;
        rc = ring_run(c, rtbuf, 2, d, 0, 2 + 2 * j, o2s[j]); /* fills f with NaN first */
        for (k = 0; k < HBG_SIZE; ++k) untouched = untouched && d->f[k] != d->f[k];
        snprintf(name, sizeof name, "ring cycle (%d threads) fails with -5 (INVALID_ARGS) naming the cycle, f untouched",
                 2 + 2 * j);
        check(name,
              rc == RING_FATAL_INVALID_ARGS && api.pto_last_error_code() == rc &&
                  strstr(hbg_last_error(&api), "cycle") != NULL && untouched,
              "rc %d, code %d, f untouched %d: %s", rc, api.pto_last_error_code(), untouched, hbg_last_error(&api));
    }
    check("the context still runs the ring example after the failures",
          ring_run(c, rtbuf, 1, d, 7, 3, "true") == 0, "%s", err);
    rc = api.unregister_callable(c, 1);
    check("unregister_callable(ring) == 0", rc == 0, "rc %d", rc);
    rc = api.prepare_callable(c, 1, vec);
    check("ring example registered again and correct", rc == 0 && ring_run(c, rtbuf, 1, d, 8, 4, "false") == 0,
          "rc %d %s", rc, err);
    end_ctx(c, "ring context");

    c = new_ctx("aicpu_build_graph");
    if (check("context with runtime knob aicpu_build_graph", c != NULL, "%s", hbg_last_error(&api))) {
        rc = api.prepare_callable(c, 1, vec);
        check("knob aicpu_build_graph: the ring example prepares and runs correctly",
              rc == 0 && ring_run(c, rtbuf, 1, d, 9, 2, "true") == 0, "rc %d %s %s", rc, hbg_last_error(&api), err);
        end_ctx(c, "ring knob context");
    }
    c = new_ctx("host_build_graph");
    if (check("context with runtime knob host_build_graph", c != NULL, "%s", hbg_last_error(&api))) {
        rc = api.prepare_callable(c, 1, vec);
        check("knob host_build_graph refuses the ring example (-1) naming both variants",
              rc == -1 && strstr(hbg_last_error(&api), "is aicpu_build_graph") != NULL &&
                  strstr(hbg_last_error(&api), "host_build_graph") != NULL,
              "rc %d: %s", rc, hbg_last_error(&api));
        end_ctx(c, "ring hbg knob context");
    }
    free(vec);
    free(cycle);
}

int main(int argc, char **argv) {
    Bins b;
    HbgData d;
    void *rtbuf;
    int i, ok = 1, ring_mode;
    if (argc != 8) {
        fprintf(stderr,
                "usage: %s <libsimpler.so> <abg_vector.so> <abg_unmarked.so> <add.so> <add_scalar.so> <mul.so> <abg_probe.so>\n"
                "       %s <libsimpler.so> ring <ring_vector.so> <add.so> <add_scalar.so> <mul.so> <ring_cycle.so>\n",
                argv[0], argv[0]);
        return 2;
    }
    ring_mode = strcmp(argv[2], "ring") == 0;
    memset(&b, 0, sizeof b);
    /* Ring mode: vector = the ring vector example, probe = the ring cycle fixture, no unmarked plugin. */
    b.vector = read_file(argv[2 + ring_mode], &b.vector_size);
    if (!ring_mode) b.unmarked = read_file(argv[3], &b.unmarked_size);
    for (i = 0; i < 3; ++i) {
        b.kernels[i] = read_file(argv[4 + i], &b.kernel_sizes[i]);
        ok = ok && b.kernels[i] != NULL;
    }
    b.probe = read_file(argv[7], &b.probe_size);
    if (!check("fixtures read", ok && b.vector && (ring_mode || b.unmarked) && b.probe, "cannot read an argument file"))
        return test_report_finish();
    if (!check("libsimpler loaded like ChipWorker::init (26 symbols + extensions)",
               simpler_api_load(&api, argv[1], 1, err, sizeof err) == 0, "%s", err))
        return test_report_finish();
    if (!check("host buffers", hbg_data_init(&d) == 0, "out of memory")) return test_report_finish();
    runtime_size = api.get_runtime_size();
    rtbuf = calloc(runtime_size, 1);
    if (ring_mode)
        ring(&b, rtbuf, &d);
    else if (getenv("SIMPLER_RUNTIME") == NULL)
        inferred(&b, rtbuf, &d);
    else
        overridden(&b, rtbuf, &d);
    free(rtbuf);
    hbg_data_free(&d);
    check("dlclose == 0", simpler_api_unload(&api) == 0, "dlclose failed");
    free(b.vector);
    free(b.unmarked);
    free(b.probe);
    for (i = 0; i < 3; ++i) free(b.kernels[i]);
    return test_report_finish();
}
