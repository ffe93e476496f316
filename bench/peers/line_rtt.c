// Cache-line round trip between two CPUs of this machine: two threads,
// pinned to CPU 0 and CPU 1, hand one 64-byte line back and forth by
// spinning on it (no syscalls), ROUND_TRIPS times; prints the median of
// REPEATS timed batches in ns per round trip (two line transfers).
//
// Why the peer script runs it: on the 2-vCPU cloud VMs of this project the
// figure moves between ~55-90 ns and ~350 ns from one minute to the next
// (the host places the two vCPUs near or far from each other), while a
// single-threaded loop keeps its speed; every task runtime measured here
// hands work between the CPUs, and after far readings the runtimes often ran
// 2-4x slower (ours W1 330-410 ns/task against 100-125; not always: the
// host's own load moves them too). A table whose rounds saw different round
// trips compares different machines.
//   cc -O2 -pthread bench/peers/line_rtt.c -o /tmp/line_rtt && /tmp/line_rtt
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { ROUND_TRIPS = 20000, REPEATS = 5 };

static _Alignas(64) atomic_long line;

static int pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

// The partner answers every odd value v with v + 1.
static void *partner(void *unused) {
    (void)unused;
    if (pin(1) != 0) {
        fprintf(stderr, "line_rtt: cannot pin to CPU 1\n");
        exit(1);
    }
    for (long i = 0; i < (long)ROUND_TRIPS * (REPEATS + 1); i++) {
        while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 1) {
        }
        atomic_store_explicit(&line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    if (pin(0) != 0) {
        fprintf(stderr, "line_rtt: cannot pin to CPU 0 (needs 2 CPUs)\n");
        return 1;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL) != 0) {
        fprintf(stderr, "line_rtt: pthread_create failed\n");
        return 1;
    }
    double batch[REPEATS];
    long v = 0;
    // One untimed batch first (both threads running, the line warm).
    for (int r = -1; r < REPEATS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < ROUND_TRIPS; i++, v++) {
            atomic_store_explicit(&line, 2 * v + 1, memory_order_release);
            while (atomic_load_explicit(&line, memory_order_acquire) != 2 * v + 2) {
            }
        }
        if (r >= 0) {
            batch[r] = (now_ns() - t0) / ROUND_TRIPS;
        }
    }
    pthread_join(t, NULL);
    qsort(batch, REPEATS, sizeof batch[0], cmp_double);
    printf("%.0f\n", batch[REPEATS / 2]);
    return 0;
}
