/*
 * linked_check.h - the CHECK macro of the C tests that link libsimpler directly
 * (config_api.c, log_api.c): a failing condition prints "FAIL file:line: detail" to
 * stderr; linked_check_finish(prefix) prints "<prefix>N passed, M failed" and returns
 * the exit status. Include from exactly one translation unit per program (it defines
 * counters). Compiles as C (C99 or later) and C++17.
 */
#ifndef SIMPLER_CTESTS_LINKED_CHECK_H
#define SIMPLER_CTESTS_LINKED_CHECK_H

#include <stdio.h>

static int g_pass = 0, g_fail = 0;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (cond) {                                              \
            g_pass++;                                            \
        } else {                                                 \
            g_fail++;                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

/* Prints the summary line after `prefix` and returns the exit status. */
static inline int linked_check_finish(const char *prefix) {
    printf("%s%d passed, %d failed\n", prefix, g_pass, g_fail);
    return g_fail == 0 ? 0 : 1;
}

#endif /* SIMPLER_CTESTS_LINKED_CHECK_H */
