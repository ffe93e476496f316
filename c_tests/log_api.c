/* C test of the logging API (simpler_log_*). Includes include/simpler.h (and
 * the CHECK macro of include/linked_check.h) and links libsimpler. Compiled as
 * C11 and as C++17 by tests/c_log.rs, which runs it with
 * SIMPLER_LOG_LEVEL=" DeBuG " (any case is accepted). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "include/linked_check.h"
#include "simpler.h"

typedef struct {
    int calls;
    int typo_warnings;
    int lookalike_warnings;
    int last_level;
    char last_component[64];
    int reentered_ok;
} seen_t;

static void on_log(simpler_log_level_t level, const char *component, const char *message, void *userdata) {
    seen_t *s = (seen_t *)userdata;
    pto_runtime_config_t cfg;
    /* Count only the messages this program provokes (the environment may hold others). */
    if (strstr(message, "PTO2_RING_HEAPS") == NULL && strstr(message, "PTO2_ORCH_TO_SCHED") == NULL) return;
    s->calls++;
    s->last_level = (int)level;
    snprintf(s->last_component, sizeof s->last_component, "%s", component);
    if (strstr(message, "PTO2_RING_HEAPS is not a known variable; did you mean PTO2_RING_HEAP?") != NULL)
        s->typo_warnings++;
    if (strstr(message, "PTO2_ORCH_TO_SCHED=\"yes\" reads as false") != NULL) s->lookalike_warnings++;
    /* Re-entering the library from the callback is allowed. */
    if (pto_runtime_config_init(&cfg) == PTO_OK && pto_runtime_config_validate(&cfg) == PTO_OK &&
        simpler_log_get_level() != SIMPLER_LOG_OFF)
        s->reentered_ok++;
}

int main(void) {
    seen_t seen;
    pto_runtime_config_t cfg;
    pto_resolved_config_t res;

    memset(&seen, 0, sizeof seen);
    CHECK(simpler_log_get_level() == SIMPLER_LOG_DEBUG, "SIMPLER_LOG_LEVEL=\" DeBuG \" gives debug, got %d",
          (int)simpler_log_get_level());

    CHECK(simpler_log_set_level(6) == PTO_ERR_INVALID_ARGUMENT, "level 6 is refused");
    CHECK(strstr(pto_last_error_message(), "[0, 5]") != NULL, "message states the range: %s", pto_last_error_message());
    CHECK(simpler_log_set_level(-1) == PTO_ERR_INVALID_ARGUMENT, "level -1 is refused");
    CHECK(simpler_log_get_level() == SIMPLER_LOG_DEBUG, "a refused level leaves the threshold");
    CHECK(simpler_log_set_level(SIMPLER_LOG_WARN) == PTO_OK, "set warn");
    CHECK(simpler_log_get_level() == SIMPLER_LOG_WARN, "get warn");

    CHECK(simpler_log_set_callback(on_log, &seen) == PTO_OK, "set callback");
    setenv("PTO2_RING_HEAPS", "1024", 1);
    setenv("PTO2_ORCH_TO_SCHED", "yes", 1);
    CHECK(pto_runtime_config_init(&cfg) == PTO_OK, "init");
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve: %s", pto_last_error_message());
    CHECK(res.orch_to_sched.value == 0, "PTO2_ORCH_TO_SCHED=yes keeps upstream's reading (false)");
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve again");
    CHECK(seen.typo_warnings == 1, "one typo warning per process, got %d", seen.typo_warnings);
    CHECK(seen.lookalike_warnings == 2, "a look-alike warning per resolution, got %d", seen.lookalike_warnings);
    CHECK(seen.last_level == SIMPLER_LOG_WARN && strcmp(seen.last_component, "env") == 0,
          "warnings come as level warn, component env (got %d, %s)", seen.last_level, seen.last_component);
    CHECK(seen.reentered_ok == seen.calls && seen.calls == 3, "every callback re-entered the library (%d of %d)",
          seen.reentered_ok, seen.calls);

    /* The threshold filters callback messages too. */
    CHECK(simpler_log_set_level(SIMPLER_LOG_ERROR) == PTO_OK, "set error");
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve at error level");
    CHECK(seen.calls == 3, "warnings are below the error threshold (calls %d)", seen.calls);

    /* NULL restores stderr: the callback is no longer called. */
    CHECK(simpler_log_set_level(SIMPLER_LOG_WARN) == PTO_OK, "set warn again");
    CHECK(simpler_log_set_callback(NULL, NULL) == PTO_OK, "clear callback");
    CHECK(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve with stderr");
    CHECK(seen.calls == 3, "no callback after NULL (calls %d)", seen.calls);

    return linked_check_finish("log_api: ");
}
