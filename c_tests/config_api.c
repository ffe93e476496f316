/* C test of the typed configuration API. Includes include/simpler.h (and the
 * CHECK macro of include/linked_check.h) and links libsimpler. Compiled as C11
 * and as C++17 by tests/c_config.rs. */
#define _POSIX_C_SOURCE 200809L
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

    return linked_check_finish("");
}
