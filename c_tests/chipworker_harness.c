/*
 * chipworker_harness.c - uses libsimpler.so exactly as upstream's ChipWorker does
 * (abi.md 3.2-3.5) with the host_build_graph vector example.
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
#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

#define HARNESS_RUNS 5
#define HARNESS_CID 7

int main(int argc, char **argv) {
    static const uint8_t dummy_aicpu[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'p', 'u', 0, 1, 2, 3, 4, 5, 6};
    static const uint8_t dummy_aicore[16] = {0x7f, 'E', 'L', 'F', 'a', 'i', 'c', 'o', 'r', 'e', 1, 2, 3, 4, 5, 6};
    const char *kernel_paths[3];
    char err[4096];
    SimplerApi api;
    HbgFixture fx;
    HbgData data;
    void *ctx = NULL;
    void *runtime = NULL;
    size_t runtime_size;
    int rc, run;
    int prepared = 0;

    if (argc != 6) {
        fprintf(stderr, "usage: %s <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>\n",
                argv[0]);
        return 2;
    }
    kernel_paths[0] = argv[3];
    kernel_paths[1] = argv[4];
    kernel_paths[2] = argv[5];

    /* Upstream's ChipWorker never names the runtime variant: SIMPLER_RUNTIME stays unset. */
    check("SIMPLER_RUNTIME unset (the variant is inferred from the callable)", unsetenv("SIMPLER_RUNTIME") == 0,
          "unsetenv failed");

    if (!check("fixture SOs read and ChipCallable built", hbg_fixture_load(&fx, argv[2], kernel_paths, err, sizeof err) == 0,
               "%s", err))
        return test_report_finish();
    if (!check("host buffers allocated", hbg_data_init(&data) == 0, "allocation failed")) {
        hbg_fixture_free(&fx);
        return test_report_finish();
    }

    rc = simpler_api_load(&api, argv[1], 0, err, sizeof err);
    if (!check("dlopen RTLD_NOW|RTLD_LOCAL + dlsym of the 26 ChipWorker symbols", rc == 0, "%s", err)) {
        hbg_data_free(&data);
        hbg_fixture_free(&fx);
        return test_report_finish();
    }
    /* The extension symbols are optional here; use pto_last_error_message when present. */
    {
        void *p;
        (void)dlerror();
        p = dlsym(api.handle, "pto_last_error_message");
        if (dlerror() == NULL && p != NULL) memcpy(&api.pto_last_error_message, &p, sizeof p);
    }

    ctx = api.create_device_context();
    if (!check("create_device_context returns non-NULL", ctx != NULL, "returned NULL: %s", hbg_last_error(&api))) {
        simpler_api_unload(&api);
        hbg_data_free(&data);
        hbg_fixture_free(&fx);
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
    rc = simpler_api_unload(&api);
    check("dlclose == 0", rc == 0, "returned %d", rc);

    hbg_data_free(&data);
    hbg_fixture_free(&fx);
    return test_report_finish();
}
