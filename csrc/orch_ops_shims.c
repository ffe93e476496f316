/*
 * C-variadic entries of the PTO2 ops table (report_fatal, log_error,
 * log_warn, log_debug, log_info_v).
 *
 * Orchestration code calls these through the ops table with printf-style
 * varargs, so they must be genuine C-variadic functions. Each one formats
 * into a bounded stack buffer with vsnprintf and forwards the finished
 * message to a non-variadic callback registered by the Rust side
 * (src/orchestration/ops.rs) before the table is first handed out.
 *
 * None of these symbols is exported from libsimpler.so: they are linked
 * statically into the Rust library, whose version script keeps them local.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Size of the message buffer of report_fatal (upstream uses 1024). */
#define SIMPLER_FATAL_MSG_CAP 1024
/* Size of the message buffer of the log entries. */
#define SIMPLER_LOG_MSG_CAP 2048

/* Log levels passed to the log callback. */
enum {
    SIMPLER_ORCH_LOG_ERROR = 0,
    SIMPLER_ORCH_LOG_WARN = 1,
    SIMPLER_ORCH_LOG_DEBUG = 2,
    SIMPLER_ORCH_LOG_INFO = 3,
    /* aicpu_build_graph ring form: log_info / log_always (no verbosity tier). */
    SIMPLER_ORCH_LOG_PLAIN = 4
};

/* rt is the runtime object; msg is NULL when fmt was NULL or empty. */
typedef void (*simpler_orch_fatal_cb)(void *rt, int32_t code, const char *func, const char *msg);
/* v is the INFO verbosity tier (only meaningful for SIMPLER_ORCH_LOG_INFO). */
typedef void (*simpler_orch_log_cb)(int32_t level, const char *func, int32_t v, const char *msg);

static simpler_orch_fatal_cb g_fatal_cb;
static simpler_orch_log_cb g_log_cb;

void simpler_orch_shims_register(simpler_orch_fatal_cb fatal_cb, simpler_orch_log_cb log_cb);
void simpler_orch_report_fatal(void *rt, int32_t error_code, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void simpler_orch_log_error(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void simpler_orch_log_warn(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void simpler_orch_log_debug(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void simpler_orch_log_info_v(const char *func, int v, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void simpler_orch_log_info(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void simpler_orch_log_always(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void simpler_orch_shims_register(simpler_orch_fatal_cb fatal_cb, simpler_orch_log_cb log_cb) {
    __atomic_store_n(&g_fatal_cb, fatal_cb, __ATOMIC_RELEASE);
    __atomic_store_n(&g_log_cb, log_cb, __ATOMIC_RELEASE);
}

/* vsnprintf into buf (always NUL-terminated, truncated if needed). */
static void format_message(char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void format_message(char *buf, size_t cap, const char *fmt, va_list ap) {
    buf[0] = '\0';
    if (fmt != NULL && vsnprintf(buf, cap, fmt, ap) < 0) {
        buf[0] = '\0';
    }
    buf[cap - 1] = '\0';
}

void simpler_orch_report_fatal(void *rt, int32_t error_code, const char *func, const char *fmt, ...) {
    char buf[SIMPLER_FATAL_MSG_CAP];
    const char *msg = NULL;
    if (fmt != NULL && fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        format_message(buf, sizeof buf, fmt, ap);
        va_end(ap);
        msg = buf;
    }
    simpler_orch_fatal_cb cb = __atomic_load_n(&g_fatal_cb, __ATOMIC_ACQUIRE);
    if (cb != NULL) {
        cb(rt, error_code, func, msg);
    }
}

static void forward_log(int32_t level, const char *func, int32_t v, const char *msg) {
    simpler_orch_log_cb cb = __atomic_load_n(&g_log_cb, __ATOMIC_ACQUIRE);
    if (cb != NULL) {
        cb(level, func, v, msg);
    }
}

void simpler_orch_log_error(const char *func, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_ERROR, func, 0, buf);
}

void simpler_orch_log_warn(const char *func, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_WARN, func, 0, buf);
}

void simpler_orch_log_debug(const char *func, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_DEBUG, func, 0, buf);
}

void simpler_orch_log_info_v(const char *func, int v, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_INFO, func, (int32_t)v, buf);
}

/* aicpu_build_graph ring form (log_info and log_always of its ops table). */
void simpler_orch_log_info(const char *func, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_PLAIN, func, 0, buf);
}

void simpler_orch_log_always(const char *func, const char *fmt, ...) {
    char buf[SIMPLER_LOG_MSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    format_message(buf, sizeof buf, fmt, ap);
    va_end(ap);
    forward_log(SIMPLER_ORCH_LOG_PLAIN, func, 0, buf);
}
