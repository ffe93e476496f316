/*
 * test_report.h - minimal check/report helpers for the C test programs.
 * Every check prints "[PASS] name" or "[FAIL] name: detail"; test_report_finish()
 * prints "N passed, M failed" as the last line and returns the process exit code.
 * Include from exactly one translation unit per program (it defines counters).
 */
#ifndef SIMPLER_CTESTS_TEST_REPORT_H
#define SIMPLER_CTESTS_TEST_REPORT_H

#include <stdarg.h>
#include <stdio.h>

static int test_report_passed_ = 0;
static int test_report_failed_ = 0;

#if defined(__GNUC__)
#define TEST_REPORT_PRINTF_(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define TEST_REPORT_PRINTF_(fmt_idx, arg_idx)
#endif

/* Records one check. `detail_fmt` (printf-style) explains a failure; it is printed only
 * when ok == 0. Returns ok (normalised to 0/1). */
static inline int check(const char *name, int ok, const char *detail_fmt, ...) TEST_REPORT_PRINTF_(3, 4);
static inline int check(const char *name, int ok, const char *detail_fmt, ...) {
    if (ok) {
        ++test_report_passed_;
        printf("[PASS] %s\n", name);
    } else {
        va_list ap;
        ++test_report_failed_;
        printf("[FAIL] %s: ", name);
        va_start(ap, detail_fmt);
        vprintf(detail_fmt, ap);
        va_end(ap);
        printf("\n");
    }
    fflush(stdout);
    return ok ? 1 : 0;
}

/* Prints the summary line and returns the exit status (0 only if nothing failed and at
 * least one check ran). */
static inline int test_report_finish(void) {
    printf("%d passed, %d failed\n", test_report_passed_, test_report_failed_);
    fflush(stdout);
    return (test_report_failed_ == 0 && test_report_passed_ > 0) ? 0 : 1;
}

#endif /* SIMPLER_CTESTS_TEST_REPORT_H */
