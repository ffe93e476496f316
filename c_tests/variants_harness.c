/*
 * variants_harness.c - one libsimpler.so serving a host_build_graph and a
 * tensormap_and_ringbuffer callable, with the runtime variant told from each
 * callable's orchestration binary (nothing in the environment), through
 * upstream ChipWorker's call sequence (dlopen RTLD_NOW|RTLD_LOCAL, create_device_context,
 * simpler_init, prepare_callable, run_prepared, unregister_callable, finalize_device,
 * destroy_device_context, dlclose).
 *
 * usage: variants_harness <libsimpler.so> <hbg_orch.so> <hbg_add.so> <hbg_add_scalar.so> <hbg_mul.so>
 *                         <trb_orch.so> <trb_add.so> <trb_add_scalar.so> <trb_mul.so> <stats_dir>
 *
 * With SIMPLER_RUNTIME unset: an HBG context and a TRB context side by side, then one
 * context holding both callables, runs in several orders, every output checked element
 * by element; enable_scope_stats on HBG writes nothing (the library warns once per
 * context). With SIMPLER_RUNTIME set to one variant: the callable of the other variant
 * fails at prepare with the documented error, the matching one runs. Last line:
 * "N passed, M failed".
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chip_callable_builder.h"
#include "hbg_harness.h"
#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

#define CID_HBG 3
#define CID_TRB 5
#define PTO_ERR_INVALID_CALLABLE_CODE (-1008)

static SimplerApi api;
static void *runtime_buf;
static char err[4096];
static const uint8_t g_aicpu[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'p', 'u', 0, 1, 2, 3, 4, 5, 6};
static const uint8_t g_aicore[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'o', 'r', 'e', 1, 2, 3, 4, 5, 6};

/* The TRB vector example: f = (a+b+1)*(a+b+2)+(a+b); kernels 0 add, 1 add_scalar, 2 mul. */
static uint8_t *trb_callable(uint8_t *orch, size_t orch_size, uint8_t *const kernels[3], const size_t sizes[3],
                             size_t *out_size) {
    static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t sig_in_out[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    CcbChild children[3];
    int i;
    for (i = 0; i < 3; ++i) {
        children[i].func_id = i;
        children[i].signature = i == 1 ? sig_in_out : sig;
        children[i].sig_count = i == 1 ? 2 : 3;
        children[i].binary = kernels[i];
        children[i].binary_size = sizes[i];
    }
    return ccb_build_chip_callable(sig, 3, "aicpu_orchestration_entry", "aicpu_orchestration_config", orch, orch_size,
                                   children, 3, out_size);
}

static int trb_check(const HbgData *d, unsigned variant) {
    uint32_t i;
    for (i = 0; i < HBG_SIZE; ++i) {
        float c = d->a[i] + d->b[i];
        float expect = (c + 1.0f) * (c + 2.0f) + c;
        float tol = 1e-5f * (fabsf(expect) > 1.0f ? fabsf(expect) : 1.0f);
        if (!(fabsf(d->f[i] - expect) <= tol)) {
            snprintf(err, sizeof err, "TRB f[%u] = %g, expected %g (variant %u)", (unsigned)i, (double)d->f[i],
                     (double)expect, variant);
            return -1;
        }
    }
    return 0;
}

/* One ChipWorker-pattern run of the TRB callable, checked element by element. */
static int trb_run(void *ctx, int32_t cid, HbgData *d, unsigned variant) {
    uint64_t z[4] = {0, 0, 0, 0};
    PtoRunTiming t;
    int rc;
    hbg_data_fill(d, variant);
    rc = api.run_prepared(ctx, runtime_buf, cid, d->args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "", &t);
    if (rc != 0) {
        snprintf(err, sizeof err, "run_prepared(TRB cid %d) returned %d: %s", (int)cid, rc, hbg_last_error(&api));
        return -1;
    }
    return trb_check(d, variant);
}

static int hbg_run(void *ctx, int32_t cid, HbgData *d, unsigned variant) {
    return hbg_run_chipworker(&api, ctx, runtime_buf, cid, d, variant, NULL, err, sizeof err);
}

static void *new_ctx(void) {
    void *c = api.create_device_context();
    if (c == NULL) return NULL;
    if (api.simpler_init(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0) != 0) {
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

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* SIMPLER_RUNTIME unset: both variants in one process and in one context. */
static void inferred(const HbgFixture *hbg, const uint8_t *trb, size_t trb_size, HbgData *d, const char *stats_dir) {
    static const char order[] = "HTTHHTHT";
    char name[200], stats_file[1024];
    void *ch, *ct, *c;
    int rc, i;

    /* Two contexts side by side, one variant each, interleaved. */
    ch = new_ctx();
    ct = new_ctx();
    if (!check("two contexts created and initialised", ch != NULL && ct != NULL, "%s", hbg_last_error(&api))) return;
    rc = api.prepare_callable(ch, CID_HBG, hbg->callable);
    check("prepare_callable(HBG image) on the HBG context == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    rc = api.simpler_prepare_callable_sized(ct, CID_TRB, trb, trb_size);
    check("simpler_prepare_callable_sized(TRB image) on the TRB context == 0", rc == 0, "rc %d: %s", rc,
          hbg_last_error(&api));
    for (i = 0; order[i] != '\0'; ++i) {
        int hbg_turn = order[i] == 'H';
        snprintf(name, sizeof name, "side by side run %d (%s context) correct", i, hbg_turn ? "HBG" : "TRB");
        check(name, (hbg_turn ? hbg_run(ch, CID_HBG, d, (unsigned)i) : trb_run(ct, CID_TRB, d, (unsigned)i)) == 0,
              "%s", err);
    }
    check("HBG context: one host dlopen, no device-side load", api.get_host_dlopen_count(ch) == 1 &&
          api.get_aicpu_dlopen_count(ch) == 0, "host %zu aicpu %zu", api.get_host_dlopen_count(ch),
          api.get_aicpu_dlopen_count(ch));
    check("TRB context: no host dlopen, one device-side load", api.get_host_dlopen_count(ct) == 0 &&
          api.get_aicpu_dlopen_count(ct) == 1, "host %zu aicpu %zu", api.get_host_dlopen_count(ct),
          api.get_aicpu_dlopen_count(ct));

    /* enable_scope_stats on HBG: the run succeeds, nothing is written (warned once per context). */
    snprintf(stats_file, sizeof stats_file, "%s/scope_stats/scope_stats.jsonl", stats_dir);
    for (i = 0; i < 3; ++i) {
        uint64_t z[4] = {0, 0, 0, 0};
        PtoRunTiming t;
        hbg_data_fill(d, 9);
        rc = api.run_prepared(ch, runtime_buf, CID_HBG, d->args, 3, 4, 0, 0, 0, 0, 1, 0, 0, 0, z, z, z, stats_dir, &t);
        snprintf(name, sizeof name, "HBG run %d with enable_scope_stats + output_prefix succeeds and is correct", i);
        check(name, rc == 0 && hbg_data_check(d, 9, err, sizeof err) == 0, "rc %d (%s) %s", rc, hbg_last_error(&api),
              rc == 0 ? err : "");
    }
    check("HBG scope stats: no scope_stats.jsonl written", !file_exists(stats_file), "%s exists", stats_file);
    end_ctx(ch, "HBG context");
    end_ctx(ct, "TRB context");

    /* A binary that is neither variant: a clear error at prepare, the context stays usable. */
    {
        static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
        size_t size = 0;
        uint8_t *img = ccb_build_chip_callable(sig, 3, "build_graph", "", hbg->kernels[0], hbg->kernel_sizes[0], NULL, 0,
                                               &size);
        c = new_ctx();
        if (check("ambiguous image built and context ready", img != NULL && c != NULL, "%s", hbg_last_error(&api))) {
            rc = api.simpler_prepare_callable_sized(c, 1, img, size);
            check("prepare of a binary exporting neither framework_bind_runtime nor func_name -> PTO_ERR_INVALID_CALLABLE",
                  rc == PTO_ERR_INVALID_CALLABLE_CODE && strstr(hbg_last_error(&api), "cannot tell the runtime variant") != NULL,
                  "rc %d: %s", rc, hbg_last_error(&api));
            rc = api.prepare_callable(c, 1, hbg->callable);
            check("same context and id usable afterwards", rc == 0 && hbg_run(c, 1, d, 5) == 0, "rc %d %s", rc, err);
        }
        free(img);
        if (c != NULL) end_ctx(c, "ambiguity context");
    }

    /* One context, both callables, several orders, many runs. */
    c = new_ctx();
    if (!check("mixed context created and initialised", c != NULL, "%s", hbg_last_error(&api))) return;
    rc = api.simpler_prepare_callable_sized(c, CID_TRB, trb, trb_size);
    check("mixed context: prepare TRB (cid 5) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    rc = api.prepare_callable(c, CID_HBG, hbg->callable);
    check("mixed context: prepare HBG (cid 3) == 0", rc == 0, "rc %d: %s", rc, hbg_last_error(&api));
    for (i = 0; i < 12; ++i) {
        /* T H H T T T H H H T H T: both orders, repeats of each. */
        static const char mixed[] = "THHTTTHHHTHT";
        int hbg_turn = mixed[i] == 'H';
        snprintf(name, sizeof name, "mixed context run %d (%s callable) correct", i, hbg_turn ? "HBG" : "TRB");
        check(name, (hbg_turn ? hbg_run(c, CID_HBG, d, (unsigned)i + 1) : trb_run(c, CID_TRB, d, (unsigned)i + 1)) == 0,
              "%s", err);
    }
    {
        uint64_t z[4] = {0, 0, 0, 0};
        PtoRunTiming t;
        hbg_data_fill(d, 4);
        rc = api.run_prepared(c, runtime_buf, CID_HBG, d->args, 3, 4, 0, 0, 0, 0, 1, 0, 0, 0, z, z, z, stats_dir, &t);
        check("mixed context: HBG run with scope stats succeeds (second warning, new context)",
              rc == 0 && hbg_data_check(d, 4, err, sizeof err) == 0, "rc %d (%s)", rc, hbg_last_error(&api));
    }
    check("mixed context: one host dlopen (HBG) and one device-side load (TRB)",
          api.get_host_dlopen_count(c) == 1 && api.get_aicpu_dlopen_count(c) == 1, "host %zu aicpu %zu",
          api.get_host_dlopen_count(c), api.get_aicpu_dlopen_count(c));
    rc = api.unregister_callable(c, CID_HBG);
    check("mixed context: unregister HBG == 0", rc == 0, "rc %d", rc);
    check("mixed context: TRB still runs after the HBG callable is gone", trb_run(c, CID_TRB, d, 21) == 0, "%s", err);
    rc = api.prepare_callable(c, CID_HBG, hbg->callable);
    check("mixed context: HBG registered again and correct", rc == 0 && hbg_run(c, CID_HBG, d, 22) == 0, "rc %d %s",
          rc, err);
    end_ctx(c, "mixed context");
}

/* Expects prepare of `image` to fail with the documented mismatch error naming both variants. */
static void expect_mismatch(void *c, int32_t cid, const uint8_t *image, size_t size, const char *binary_variant,
                            const char *asked, const char *origin) {
    char name[256];
    const char *msg;
    int rc = api.prepare_callable(c, cid, image);
    msg = hbg_last_error(&api);
    snprintf(name, sizeof name, "prepare_callable(%s image) with %s = %s fails (-1) naming both variants",
             binary_variant, origin, asked);
    check(name,
          rc == -1 && strstr(msg, "runtime variant mismatch") != NULL && strstr(msg, binary_variant) != NULL &&
              strstr(msg, asked) != NULL && strstr(msg, origin) != NULL,
          "rc %d: %s", rc, msg);
    rc = api.simpler_prepare_callable_sized(c, cid, image, size);
    snprintf(name, sizeof name, "simpler_prepare_callable_sized(%s image) with %s = %s -> PTO_ERR_INVALID_CALLABLE",
             binary_variant, origin, asked);
    check(name, rc == PTO_ERR_INVALID_CALLABLE_CODE && api.pto_last_error_code() == PTO_ERR_INVALID_CALLABLE_CODE,
          "rc %d: %s", rc, hbg_last_error(&api));
}

/* SIMPLER_RUNTIME set by the parent: the other variant's callable fails at prepare. */
static void overridden(const char *env, const HbgFixture *hbg, const uint8_t *trb, size_t trb_size, HbgData *d) {
    int env_is_hbg = strcmp(env, "host_build_graph") == 0;
    void *c = new_ctx();
    int rc;
    if (!check("context created and initialised under SIMPLER_RUNTIME", c != NULL, "%s", hbg_last_error(&api))) return;
    if (env_is_hbg) {
        expect_mismatch(c, CID_TRB, trb, trb_size, "tensormap_and_ringbuffer", "host_build_graph", "SIMPLER_RUNTIME");
        rc = api.prepare_callable(c, CID_HBG, hbg->callable);
        check("the matching HBG callable prepares and runs", rc == 0 && hbg_run(c, CID_HBG, d, 2) == 0, "rc %d %s %s",
              rc, hbg_last_error(&api), err);
    } else {
        expect_mismatch(c, CID_HBG, hbg->callable, hbg->callable_size, "host_build_graph", "tensormap_and_ringbuffer",
                        "SIMPLER_RUNTIME");
        rc = api.prepare_callable(c, CID_TRB, trb);
        check("the matching TRB callable prepares and runs", rc == 0 && trb_run(c, CID_TRB, d, 2) == 0, "rc %d %s %s",
              rc, hbg_last_error(&api), err);
    }
    end_ctx(c, "override context");

    /* The explicit knob overrides the environment and is checked the same way. */
    {
        SimplerConfigStorage cs;
        pto_runtime_config_t *cfg = simpler_config_ptr(&cs);
        const char *other = env_is_hbg ? "tensormap_and_ringbuffer" : "host_build_graph";
        api.pto_runtime_config_init(cfg);
        rc = api.pto_runtime_config_set(cfg, "runtime", other);
        c = api.create_device_context();
        if (!check("context with an explicit runtime knob", rc == 0 && c != NULL &&
                   api.simpler_init_with_config(c, 0, g_aicpu, sizeof g_aicpu, g_aicore, sizeof g_aicore, NULL, 0,
                                                cfg) == 0, "%s", hbg_last_error(&api))) {
            if (c != NULL) api.destroy_device_context(c);
            return;
        }
        if (env_is_hbg) {
            expect_mismatch(c, CID_HBG, hbg->callable, hbg->callable_size, "host_build_graph", other,
                            "the runtime knob");
            check("explicit knob beats SIMPLER_RUNTIME: TRB runs", api.prepare_callable(c, CID_TRB, trb) == 0 &&
                  trb_run(c, CID_TRB, d, 3) == 0, "%s %s", hbg_last_error(&api), err);
        } else {
            expect_mismatch(c, CID_TRB, trb, trb_size, "tensormap_and_ringbuffer", other, "the runtime knob");
            check("explicit knob beats SIMPLER_RUNTIME: HBG runs", api.prepare_callable(c, CID_HBG, hbg->callable) == 0 &&
                  hbg_run(c, CID_HBG, d, 3) == 0, "%s %s", hbg_last_error(&api), err);
        }
        end_ctx(c, "explicit-knob context");
    }
}

int main(int argc, char **argv) {
    HbgHarnessArgs args;
    uint8_t *trb_orch = NULL, *trb_kernels[3] = {NULL, NULL, NULL}, *trb = NULL;
    size_t trb_orch_size = 0, trb_sizes[3] = {0, 0, 0}, trb_size = 0;
    const char *env;
    HbgFixture hbg;
    HbgData data;
    int i;
    /* The five paths are the HBG fixture's. */
    int rc = hbg_harness_args(argc, argv, 5, "<trb_orch.so> <trb_add.so> <trb_add_scalar.so> <trb_mul.so> <stats_dir>",
                              &args);
    if (rc != 0) return rc;
    if (!hbg_harness_setup(&args, 1, &hbg, &data, &api, err, sizeof err)) return test_report_finish();
    trb_orch = read_file(argv[6], &trb_orch_size);
    for (i = 0; i < 3; ++i) trb_kernels[i] = read_file(argv[7 + i], &trb_sizes[i]);
    if (trb_orch != NULL && trb_kernels[0] != NULL && trb_kernels[1] != NULL && trb_kernels[2] != NULL)
        trb = trb_callable(trb_orch, trb_orch_size, trb_kernels, trb_sizes, &trb_size);
    if (!check("TRB fixture read and ChipCallable built", trb != NULL, "cannot read %s or its kernels", argv[6]))
        return test_report_finish();
    runtime_buf = calloc(api.get_runtime_size(), 1);

    /* prepare_callable_impl (the runtime-variant entry) classifies too. */
    {
        int (*impl)(const void *, uint64_t (*)(const void *), void *) = NULL;
        if (hbg_harness_dlsym(&api, "prepare_callable_impl", &impl, 1)) {
            env = getenv("SIMPLER_RUNTIME");
            rc = impl(hbg.callable, NULL, NULL);
            check("prepare_callable_impl(HBG image) follows the rule", env != NULL && strcmp(env, "tensormap_and_ringbuffer") == 0 ? rc == -1 : rc == 0,
                  "rc %d: %s", rc, hbg_last_error(&api));
            rc = impl(trb, NULL, NULL);
            check("prepare_callable_impl(TRB image) follows the rule", env != NULL && strcmp(env, "host_build_graph") == 0 ? rc == -1 : rc == 0,
                  "rc %d: %s", rc, hbg_last_error(&api));
        }
    }

    env = getenv("SIMPLER_RUNTIME");
    if (env == NULL)
        inferred(&hbg, trb, trb_size, &data, argv[10]);
    else
        overridden(env, &hbg, trb, trb_size, &data);

    free(runtime_buf);
    rc = hbg_harness_release(&hbg, &data, &api);
    check("dlclose == 0", rc == 0, "returned %d", rc);
    free(trb);
    free(trb_orch);
    for (i = 0; i < 3; ++i) free(trb_kernels[i]);
    return test_report_finish();
}
