/* Test kernels of the aicpu_build_graph tests (raw-argument ABI).
 * kernel_entry appends args[1] to the log at args[0] (log[0] = count,
 * entries from log[1]) after sleeping args[2] microseconds. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <time.h>

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    uint64_t *log = (uint64_t *)(uintptr_t)args[0];
    uint64_t us = (uint64_t)args[2];
    uint64_t idx;
    if (us > 0) {
        struct timespec ts;
        ts.tv_sec = (time_t)(us / 1000000u);
        ts.tv_nsec = (long)(us % 1000000u) * 1000L;
        nanosleep(&ts, NULL);
    }
    idx = __atomic_fetch_add(&log[0], 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&log[1 + idx], (uint64_t)args[1], __ATOMIC_SEQ_CST);
}
