/*
 * chipworker_harness.c - uses libsimpler.so exactly as upstream's ChipWorker does
 * (src/common/worker/chip_worker.cpp @ c68d9bbe6: init, per-call use, finalize) with the host_build_graph vector example.
 *
 * usage: chipworker_harness <libsimpler.so> <orchestration.so> <kernel_add.so>
 *                           <kernel_add_scalar.so> <kernel_mul.so>
 *
 * Sequence (nothing set in the environment: the library tells host_build_graph from the
 * orchestration binary, as upstream tells it from which host library is loaded):
 * dlopen(RTLD_NOW|RTLD_LOCAL);
 * resolve the 26 symbols (clear dlerror + dlsym, list every missing one);
 * create_device_context; get_runtime_size + calloc; simpler_init(ctx, 0, aicpu, n,
 * aicore, n, NULL, 0); prepare_callable; run_prepared (ChipWorker argument pattern)
 * several times, checking f each time; counters; unregister_callable; finalize_device;
 * destroy_device_context; dlclose. Last line: "N passed, M failed".
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

#define HARNESS_RUNS 5
#define HARNESS_CID 7

int main(int argc, char **argv) {
    static const uint8_t dummy_aicpu[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'p', 'u', 0, 1, 2, 3, 4, 5, 6};
    static const uint8_t dummy_aicore[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'o', 'r', 'e', 1, 2, 3, 4, 5, 6};
    HbgHarnessArgs args;
    char err[4096];
    SimplerApi api;
    HbgFixture fx;
    HbgData data;
    void *ctx = NULL;
    void *runtime = NULL;
    size_t runtime_size;
    int rc = hbg_harness_args(argc, argv, 0, "", &args), run;
    int prepared = 0;
    if (rc != 0) return rc;

    /* Upstream's ChipWorker never names the runtime variant: SIMPLER_RUNTIME stays unset
     * (the variant is inferred from the callable). */
    hbg_harness_runtime_env(NULL);
    if (!hbg_harness_setup(&args, 0, &fx, &data, &api, err, sizeof err)) return test_report_finish();
    /* The extension symbols are optional here; use pto_last_error_message when present. */
    hbg_harness_dlsym(&api, "pto_last_error_message", &api.pto_last_error_message, 0);

    ctx = api.create_device_context();
    if (!check("create_device_context returns non-NULL", ctx != NULL, "returned NULL: %s", hbg_last_error(&api))) {
        hbg_harness_release(&fx, &data, &api);
        return test_report_finish();
    }

    runtime_size = api.get_runtime_size();
    check("get_runtime_size > 0", runtime_size > 0, "returned 0");
    runtime = calloc(runtime_size > 0 ? runtime_size : 1, 1);
    check("runtime buffer allocated", runtime != NULL, "calloc(%zu) failed", runtime_size);

    rc = api.simpler_init(ctx, 0, dummy_aicpu, sizeof dummy_aicpu, dummy_aicore, sizeof dummy_aicore, NULL, 0);
    if (check("simpler_init(ctx, 0, aicpu, n, aicore, n, NULL, 0) == 0", rc == 0, "returned %d: %s", rc,
              hbg_last_error(&api)) &&
        runtime != NULL) {
        check("get_host_dlopen_count == 0 before prepare", api.get_host_dlopen_count(ctx) == 0, "got %zu",
              api.get_host_dlopen_count(ctx));

        rc = api.prepare_callable(ctx, HARNESS_CID, fx.callable);
        prepared = check("prepare_callable(cid 7, ChipCallable) == 0", rc == 0, "returned %d: %s", rc,
                         hbg_last_error(&api));

        if (prepared) {
            for (run = 0; run < HARNESS_RUNS; ++run) {
                char name[128];
                PtoRunTiming timing;
                snprintf(name, sizeof name, "run_prepared #%d (variant %d): rc 0, f checked element by element, host_wall_ns > 0",
                         run + 1, run);
                check(name, hbg_run_chipworker(&api, ctx, runtime, HARNESS_CID, &data, (unsigned)run, &timing, err,
                                               sizeof err) == 0,
                      "%s", err);
            }
            check("get_host_dlopen_count == 1 after one prepare and several runs", api.get_host_dlopen_count(ctx) == 1,
                  "got %zu", api.get_host_dlopen_count(ctx));
            check("get_aicpu_dlopen_count == 0 on host_build_graph", api.get_aicpu_dlopen_count(ctx) == 0, "got %zu",
                  api.get_aicpu_dlopen_count(ctx));
            rc = api.unregister_callable(ctx, HARNESS_CID);
            check("unregister_callable(cid 7) == 0", rc == 0, "returned %d: %s", rc, hbg_last_error(&api));
            {
                PtoRunTiming timing;
                uint64_t z[4] = {0, 0, 0, 0};
                rc = api.run_prepared(ctx, runtime, HARNESS_CID, data.args, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, z, z, z, "",
                                      &timing);
                check("run_prepared after unregister fails", rc != 0, "returned 0");
            }
        }
        rc = api.finalize_device(ctx);
        check("finalize_device == 0", rc == 0, "returned %d: %s", rc, hbg_last_error(&api));
    }

    api.destroy_device_context(ctx);
    check("destroy_device_context returned", 1, "-");
    free(runtime);
    rc = hbg_harness_release(&fx, &data, &api);
    check("dlclose == 0", rc == 0, "returned %d", rc);
    return test_report_finish();
}
