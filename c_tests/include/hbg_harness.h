/*
 * hbg_harness.h - the set-up the host_build_graph harnesses share, each step a check():
 *  - the command line: <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so>
 *    <kernel_mul.so>, then `extra` arguments of the program's own (hbg_harness_args);
 *  - the SIMPLER_RUNTIME choice (hbg_harness_runtime_env);
 *  - the fixture (orchestration and kernels read, ChipCallable built), the host buffers
 *    and the library load (hbg_harness_setup), released again by hbg_harness_release;
 *  - a symbol outside SimplerApi resolved like ChipWorker does (hbg_harness_dlsym).
 * Include after test_report.h. Compiles as C (C99 or later) and C++17.
 */
#ifndef SIMPLER_CTESTS_HBG_HARNESS_H
#define SIMPLER_CTESTS_HBG_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hbg_vector_example.h"
#include "simpler_api.h"
#include "test_report.h"

/* The paths of the shared command line. */
typedef struct HbgHarnessArgs {
    const char *library;
    const char *orchestration;
    const char *kernels[3];
} HbgHarnessArgs;

/* Checks that argv holds the five paths plus `extra` arguments (`extra_usage` names them
 * in the usage line, "" when none) and fills `out`. Returns 0, or prints the usage to
 * stderr and returns 2 (the exit status). */
static inline int hbg_harness_args(int argc, char **argv, int extra, const char *extra_usage, HbgHarnessArgs *out) {
    if (argc != 6 + extra) {
        fprintf(stderr, "usage: %s <libsimpler.so> <orch.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>%s%s\n",
                argv[0], extra_usage[0] != '\0' ? " " : "", extra_usage);
        return 2;
    }
    out->library = argv[1];
    out->orchestration = argv[2];
    out->kernels[0] = argv[3];
    out->kernels[1] = argv[4];
    out->kernels[2] = argv[5];
    return 0;
}

/* Sets SIMPLER_RUNTIME to `variant`, or unsets it when `variant` is NULL (the library
 * then tells the variant from the orchestration binary). Returns 1 on success. */
static inline int hbg_harness_runtime_env(const char *variant) {
    char name[128];
    if (variant == NULL) return check("SIMPLER_RUNTIME unset", unsetenv("SIMPLER_RUNTIME") == 0, "unsetenv failed");
    snprintf(name, sizeof name, "SIMPLER_RUNTIME=%s", variant);
    return check(name, setenv("SIMPLER_RUNTIME", variant, 1) == 0, "setenv failed");
}

/* Reads the HBG fixture, allocates the host buffers and loads the library (with the
 * extension symbols when `with_extensions`). Returns 1 when every step passed; on a
 * failure what was set up is released again and 0 returned. */
static inline int hbg_harness_setup(const HbgHarnessArgs *args, int with_extensions, HbgFixture *fx, HbgData *data,
                                    SimplerApi *api, char *err, size_t err_len) {
    if (!check("fixture SOs read and ChipCallable built",
               hbg_fixture_load(fx, args->orchestration, args->kernels, err, err_len) == 0, "%s", err))
        return 0;
    if (!check("host buffers allocated", hbg_data_init(data) == 0, "allocation failed")) {
        hbg_fixture_free(fx);
        return 0;
    }
    if (!check(with_extensions ? "dlopen RTLD_NOW|RTLD_LOCAL + dlsym of the 26 upstream and 7 extension symbols"
                               : "dlopen RTLD_NOW|RTLD_LOCAL + dlsym of the 26 ChipWorker symbols",
               simpler_api_load(api, args->library, with_extensions, err, err_len) == 0, "%s", err)) {
        hbg_data_free(data);
        hbg_fixture_free(fx);
        return 0;
    }
    return 1;
}

/* Releases what hbg_harness_setup set up. Returns dlclose's result. */
static inline int hbg_harness_release(HbgFixture *fx, HbgData *data, SimplerApi *api) {
    int rc = simpler_api_unload(api);
    hbg_data_free(data);
    hbg_fixture_free(fx);
    return rc;
}

/* Resolves `name` from the loaded library into the function pointer at `fn_out` (clear
 * dlerror, dlsym, fail when dlerror reports an error or the address is NULL). When
 * `required`, the outcome is a check; otherwise a missing symbol leaves *fn_out alone.
 * Returns 1 when resolved. */
static inline int hbg_harness_dlsym(const SimplerApi *api, const char *name, void *fn_out, int required) {
    void *p;
    int ok;
    char label[160];
    (void)dlerror();
    p = dlsym(api->handle, name);
    ok = dlerror() == NULL && p != NULL;
    /* Object pointer -> function pointer via memcpy: valid in C and C++ on POSIX. */
    if (ok) memcpy(fn_out, &p, sizeof p);
    if (!required) return ok;
    snprintf(label, sizeof label, "dlsym(%s)", name);
    return check(label, ok, "missing");
}

#endif /* SIMPLER_CTESTS_HBG_HARNESS_H */
