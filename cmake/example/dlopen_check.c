/*
 * Loads libsimpler by path the way upstream's ChipWorker loads libhost_runtime.so
 * (dlopen RTLD_NOW | RTLD_LOCAL, then dlsym of every entry it needs), and reports what is missing.
 *
 *   dlopen_check LIBRARY [--config-only]
 *
 * Exit status 0 iff every symbol of the checked set resolves: the configuration API always, plus
 * (without --config-only) the 26 ChipWorker symbols and the config-taking host entries.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const char *const CONFIG_API[] = {
    "pto_runtime_config_init", "pto_runtime_config_set", "pto_runtime_config_validate",
    "pto_runtime_config_resolve", "pto_runtime_config_knob_count", "pto_runtime_config_describe",
    "pto_last_error_message", "pto_last_error_code", "pto_error_name", "simpler_version",
};

/* Upstream ChipWorker (src/common/worker/chip_worker.cpp @ c68d9bbe6) fails init if any of these is missing. */
static const char *const CHIP_WORKER[] = {
    "create_device_context", "destroy_device_context", "device_malloc_ctx", "device_free_ctx",
    "copy_to_device_ctx", "copy_from_device_ctx", "get_runtime_size", "simpler_init", "prepare_callable",
    "run_prepared", "unregister_callable", "get_aicpu_dlopen_count", "get_host_dlopen_count", "finalize_device",
    "ensure_acl_ready_ctx", "create_comm_stream_ctx", "destroy_comm_stream_ctx", "comm_init", "comm_alloc_windows",
    "comm_get_local_window_base", "comm_get_window_size", "comm_derive_context", "comm_alloc_domain_windows",
    "comm_release_domain_windows", "comm_barrier", "comm_destroy",
};

static const char *const CONFIG_HOST[] = {
    "simpler_init_with_config", "run_prepared_with_config", "simpler_prepare_callable_sized",
};

static int check(void *handle, const char *const *names, size_t n, const char *group) {
    int missing = 0;
    for (size_t i = 0; i < n; ++i) {
        dlerror();
        (void)dlsym(handle, names[i]);
        const char *err = dlerror();
        if (err != NULL) {
            fprintf(stderr, "missing (%s): %s\n", group, names[i]);
            ++missing;
        }
    }
    printf("%s: %zu of %zu symbols resolved\n", group, n - (size_t)missing, n);
    return missing;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY [--config-only]\n", argv[0]);
        return 2;
    }
    int config_only = argc > 2 && strcmp(argv[2], "--config-only") == 0;
    void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 1;
    }
    int missing = check(handle, CONFIG_API, sizeof CONFIG_API / sizeof *CONFIG_API, "config API");
    if (!config_only) {
        missing += check(handle, CHIP_WORKER, sizeof CHIP_WORKER / sizeof *CHIP_WORKER, "ChipWorker");
        missing += check(handle, CONFIG_HOST, sizeof CONFIG_HOST / sizeof *CONFIG_HOST, "config host entries");
    }
    typedef const char *(*version_fn)(void);
    version_fn version;
    void *sym = dlsym(handle, "simpler_version");
    memcpy(&version, &sym, sizeof version);
    if (version != NULL) printf("libsimpler %s\n", version());
    if (dlclose(handle) != 0) {
        fprintf(stderr, "dlclose failed: %s\n", dlerror());
        return 1;
    }
    return missing == 0 ? 0 : 1;
}
