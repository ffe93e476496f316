/* C test of the typed configuration API. Includes include/simpler.h (and the
 * CHECK macro of include/linked_check.h) and links libsimpler. Compiled as C11
 * and as C++17 by tests/c_config.rs. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/linked_check.h"
#include "simpler.h"

static int contains(const char *hay, const char *needle) { return hay != NULL && strstr(hay, needle) != NULL; }

int main(void) {
    pto_runtime_config_t cfg;
    pto_resolved_config_t res;
    pto_knob_info_t info;
    size_t i, n;
    int rc;

    /* NULL pointers are error codes, never crashes. */
    CHECK(pto_runtime_config_init(NULL) == PTO_ERR_NULL_POINTER, "init(NULL)");
    CHECK(contains(pto_last_error_message(), "cfg"), "message names the argument: %s", pto_last_error_message());
    CHECK(pto_runtime_config_validate(NULL) == PTO_ERR_NULL_POINTER, "validate(NULL)");
    CHECK(pto_runtime_config_set(NULL, "ring_heap", "1024") == PTO_ERR_NULL_POINTER, "set(NULL)");
    CHECK(pto_runtime_config_resolve(NULL, &res) == PTO_ERR_NULL_POINTER, "resolve(NULL, ..)");
    CHECK(pto_runtime_config_describe(0, NULL) == PTO_ERR_NULL_POINTER, "describe(0, NULL)");

    /* A struct never initialised is rejected by struct_size. */
    memset(&cfg, 0, sizeof cfg);
    CHECK(pto_runtime_config_validate(&cfg) == PTO_ERR_STRUCT_SIZE, "uninitialised struct");

    CHECK(pto_runtime_config_init(&cfg) == PTO_OK, "init");
    CHECK(pto_last_error_code() == 0 && pto_last_error_message()[0] == '\0', "success clears the last error");
    CHECK(cfg.struct_size == sizeof cfg, "struct_size");
    CHECK(cfg.orch_to_sched == PTO_BOOL_UNSET && cfg.runtime == PTO_RUNTIME_UNSET && cfg.ring_heap == 0, "unset markers");
    CHECK(pto_runtime_config_set(&cfg, NULL, "1") == PTO_ERR_NULL_POINTER, "set knob NULL");
    CHECK(pto_runtime_config_set(&cfg, "ring_heap", NULL) == PTO_ERR_NULL_POINTER, "set value NULL");

    /* String setter: env syntax, errors leave the struct unchanged. */
    CHECK(pto_runtime_config_set(&cfg, "ring_task_window", "8192,16384,131072,524288") == PTO_OK, "set per-ring");
    CHECK(cfg.ring_task_windows[0] == 8192 && cfg.ring_task_windows[3] == 524288, "per-ring values stored");
    CHECK(pto_runtime_config_set(&cfg, "ring_heap", "4096") == PTO_OK, "set scalar");
    CHECK(cfg.ring_heap == 4096, "scalar stored");
    rc = pto_runtime_config_set(&cfg, "ring_task_window", "48");
    CHECK(rc == PTO_ERR_INVALID_VALUE, "48 is not a power of two (rc %d)", rc);
    CHECK(contains(pto_last_error_message(), "ring_task_window") && contains(pto_last_error_message(), "48") &&
              contains(pto_last_error_message(), "power of two"),
          "message names knob, value, rule: %s", pto_last_error_message());
    CHECK(cfg.ring_task_windows[0] == 8192, "failed set leaves the struct unchanged");
    CHECK(pto_runtime_config_set(&cfg, "ring_heap", "1,2,3") == PTO_ERR_PARSE, "3 tokens");
    CHECK(pto_runtime_config_set(&cfg, "ring_heap", "-1") == PTO_ERR_PARSE, "negative");
    CHECK(pto_runtime_config_set(&cfg, "no_such_knob", "1") == PTO_ERR_UNKNOWN_KNOB, "unknown knob");
    CHECK(contains(pto_last_error_message(), "ring_task_window"), "unknown-knob message lists knobs");
    CHECK(pto_runtime_config_set(&cfg, "orch_to_sched", "true") == PTO_OK && cfg.orch_to_sched == 1, "bool");
    CHECK(pto_runtime_config_set(&cfg, "runtime", "host_build_graph") == PTO_OK && cfg.runtime == PTO_RUNTIME_HOST_BUILD_GRAPH, "runtime");
    CHECK(cfg.build_mode == PTO_BUILD_MODE_UNSET, "build_mode unset marker");
    CHECK(pto_runtime_config_set(&cfg, "build_mode", "sequential") == PTO_OK && cfg.build_mode == PTO_BUILD_MODE_SEQUENTIAL, "build_mode");
    CHECK(pto_runtime_config_set(&cfg, "build_mode", "2") == PTO_ERR_INVALID_VALUE && cfg.build_mode == PTO_BUILD_MODE_SEQUENTIAL,
          "build_mode 2 is refused explicitly");
    cfg.build_mode = 5;
    CHECK(pto_runtime_config_validate(&cfg) == PTO_ERR_INVALID_VALUE && contains(pto_last_error_message(), "build_mode"),
          "a direct build_mode write is checked: %s", pto_last_error_message());
    cfg.build_mode = PTO_BUILD_MODE_SEQUENTIAL;
    CHECK(pto_runtime_config_validate(&cfg) == PTO_OK, "valid config validates");

    /* Direct field writes are validated too, naming the ring. */
    cfg.ring_dep_pools[2] = 3;
    rc = pto_runtime_config_validate(&cfg);
    CHECK(rc == PTO_ERR_INVALID_VALUE, "dep pool 3 rejected");
    CHECK(contains(pto_last_error_message(), "ring_dep_pool[ring 2] = 3"), "message: %s", pto_last_error_message());
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res; /* so the refusal is about the config, not an uninitialised size */
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_ERR_INVALID_VALUE, "resolve refuses invalid explicit values");
    cfg.ring_dep_pools[2] = 0;

    /* Resolution with sources; the environment is honoured below explicit values. */
    setenv("PTO2_RING_DEP_POOL", "64,128,256,512", 1);
    setenv("PTO2_RING_HEAP", "not-a-number", 1); /* ignored with one warning */
    memset(&res, 0, sizeof res);
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_ERR_STRUCT_SIZE, "resolved struct_size required");
    res.struct_size = sizeof res;
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve: %s", pto_last_error_message());
    CHECK(res.ring_task_windows[2].value == 131072 && res.ring_task_windows[2].source == PTO_SOURCE_EXPLICIT_PER_RING, "explicit per ring");
    CHECK(res.ring_heaps[1].value == 4096 && res.ring_heaps[1].source == PTO_SOURCE_EXPLICIT, "explicit scalar");
    CHECK(res.ring_dep_pools[3].value == 512 && res.ring_dep_pools[3].source == PTO_SOURCE_ENV_PER_RING, "env per ring");
    CHECK(res.ready_queue_shards.value == 3 && res.ready_queue_shards.source == PTO_SOURCE_DEFAULT, "default");
    CHECK(res.orch_to_sched.value == 1 && res.runtime.value == PTO_RUNTIME_HOST_BUILD_GRAPH, "bool and runtime");
    CHECK(res.scheduler_timeout_ms.value == 10000, "timeout default");
    CHECK(res.build_mode.value == PTO_BUILD_MODE_SEQUENTIAL && res.build_mode.source == PTO_SOURCE_EXPLICIT, "build_mode resolved");
    unsetenv("PTO2_RING_DEP_POOL");
    unsetenv("PTO2_RING_HEAP");
    CHECK(pto_runtime_config_set(&cfg, "ring_heap", "unset") == PTO_OK && cfg.ring_heap == 0, "unset keyword");

    /* The schema is readable from C. */
    n = pto_runtime_config_knob_count();
    CHECK(n == 8, "8 knobs, got %zu", n);
    for (i = 0; i < n; i++) {
        CHECK(pto_runtime_config_describe(i, &info) == PTO_OK, "describe %zu", i);
        CHECK(info.name && info.env && info.rule && info.doc && info.default_value && info.tier, "strings %zu", i);
    }
    CHECK(pto_runtime_config_describe(0, &info) == PTO_OK && strcmp(info.name, "ring_task_window") == 0 &&
              strcmp(info.env, "PTO2_RING_TASK_WINDOW") == 0 && info.per_ring == 1 && strcmp(info.default_value, "16384") == 0,
          "first knob");
    CHECK(pto_runtime_config_describe(n, &info) == PTO_ERR_INVALID_ARGUMENT, "index out of range");
    CHECK(strcmp(pto_error_name(PTO_ERR_NULL_POINTER), "PTO_ERR_NULL_POINTER") == 0, "error names");
    CHECK(strcmp(pto_error_name(12345), "PTO_ERR_UNKNOWN") == 0, "unknown code name");
    CHECK(simpler_version()[0] != '\0', "version");

    /* Versioned by size: a caller compiled against the 152-byte layout (before
     * build_mode) is accepted; only its 152 bytes are read and written, and
     * the field it lacks is unset. The bytes after it are a canary. */
    {
        typedef struct {
            uint64_t struct_size, ring_task_window, ring_heap, ring_dep_pool;
            uint64_t ring_task_windows[4], ring_heaps[4], ring_dep_pools[4];
            uint64_t ready_queue_shards, scheduler_timeout_ms;
            int32_t orch_to_sched, runtime;
        } config_v152;
        typedef struct {
            uint64_t struct_size;
            pto_resolved_value_t values[16];
        } resolved_v264;
        union {
            config_v152 v;
            unsigned char bytes[sizeof(pto_runtime_config_t) + 16];
        } old;
        union {
            resolved_v264 v;
            unsigned char bytes[sizeof(pto_resolved_config_t) + 16];
        } old_res;
        DeviceContextHandle ctx;
        CHECK(sizeof(config_v152) == 152 && sizeof(resolved_v264) == 264, "the released layouts");
        memset(old.bytes, 0xA5, sizeof old.bytes);
        memset(&old.v, 0, sizeof old.v);
        old.v.struct_size = sizeof old.v;
        old.v.orch_to_sched = PTO_BOOL_UNSET;
        old.v.runtime = PTO_RUNTIME_UNSET;
        CHECK(pto_runtime_config_validate((const pto_runtime_config_t *)(void *)&old.v) == PTO_OK,
              "152-byte config validates: %s", pto_last_error_message());
        CHECK(pto_runtime_config_set((pto_runtime_config_t *)(void *)&old.v, "ring_heap", "8192") == PTO_OK &&
                  old.v.ring_heap == 8192,
              "set on a 152-byte config: %s", pto_last_error_message());
        rc = pto_runtime_config_set((pto_runtime_config_t *)(void *)&old.v, "build_mode", "0");
        CHECK(rc == PTO_ERR_INVALID_ARGUMENT && contains(pto_last_error_message(), "build_mode") &&
                  contains(pto_last_error_message(), "152"),
              "build_mode has no field in the old layout (rc %d): %s", rc, pto_last_error_message());
        for (i = 152; i < sizeof old.bytes; i++) CHECK(old.bytes[i] == 0xA5, "byte %zu past the 152-byte config untouched", i);
        memset(old_res.bytes, 0xA5, sizeof old_res.bytes);
        old_res.v.struct_size = 264;
        CHECK(pto_runtime_config_resolve((const pto_runtime_config_t *)(void *)&old.v,
                                         (pto_resolved_config_t *)(void *)&old_res.v) == PTO_OK,
              "resolve a 152-byte config into a 264-byte result: %s", pto_last_error_message());
        CHECK(old_res.v.values[4].value == 8192 && old_res.v.values[4].source == PTO_SOURCE_EXPLICIT, "ring_heaps[0] explicit");
        for (i = 264; i < sizeof old_res.bytes; i++) CHECK(old_res.bytes[i] == 0xA5, "byte %zu past the 264-byte result untouched", i);
        /* The full result of that config: build_mode unset, so the default. */
        res.struct_size = sizeof res;
        CHECK(pto_runtime_config_resolve((const pto_runtime_config_t *)(void *)&old.v, &res) == PTO_OK &&
                  res.build_mode.value == PTO_BUILD_MODE_CONCURRENT && res.build_mode.source == PTO_SOURCE_DEFAULT,
              "the missing build_mode is unset");
        /* The config-taking entries accept it too. */
        ctx = create_device_context();
        CHECK(ctx != NULL, "context");
        CHECK(simpler_init_with_config(ctx, 0, NULL, 0, NULL, 0, NULL, 0, (const pto_runtime_config_t *)(void *)&old.v) == PTO_OK,
              "simpler_init_with_config with a 152-byte config: %s", pto_last_error_message());
        destroy_device_context(ctx);
        /* Sizes that are no released layout are refused, naming the sizes. */
        old.v.struct_size = 156;
        rc = pto_runtime_config_validate((const pto_runtime_config_t *)(void *)&old.v);
        CHECK(rc == PTO_ERR_STRUCT_SIZE && contains(pto_last_error_message(), "152, 160"),
              "156 is no layout (rc %d): %s", rc, pto_last_error_message());
        old.v.struct_size = 144;
        CHECK(pto_runtime_config_validate((const pto_runtime_config_t *)(void *)&old.v) == PTO_ERR_STRUCT_SIZE, "144 refused");
        old_res.v.struct_size = 270;
        old.v.struct_size = 152;
        CHECK(pto_runtime_config_resolve((const pto_runtime_config_t *)(void *)&old.v,
                                         (pto_resolved_config_t *)(void *)&old_res.v) == PTO_ERR_STRUCT_SIZE,
              "a 270-byte result is refused");
    }

    return linked_check_finish("");
}
