// Wakeup latency of this machine: two threads hand a flag back and forth
// through futex wait/wake, N round trips (two wakeups each), and the mean
// round trip is printed. Run it on an otherwise idle machine, then pinned to
// one CPU (taskset -c 0): the difference is what waking a thread on another,
// idle (halted) CPU costs, which on a VM goes through the hypervisor.
//   cc -O2 -pthread bench/peers/wake_latency.c -o /tmp/wake_latency && /tmp/wake_latency
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { ROUND_TRIPS = 20000 };

static atomic_int flag;

static void wait_while(atomic_int *a, int v) {
    while (atomic_load(a) == v) {
        syscall(SYS_futex, a, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
    }
}

static void wake(atomic_int *a) { syscall(SYS_futex, a, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *partner(void *unused) {
    (void)unused;
    for (int i = 0; i < ROUND_TRIPS; i++) {
        wait_while(&flag, 0);
        atomic_store(&flag, 0);
        wake(&flag);
    }
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, partner, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < ROUND_TRIPS; i++) {
        atomic_store(&flag, 1);
        wake(&flag);
        wait_while(&flag, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("futex round trip (two wakeups): %.1f us\n", ns / ROUND_TRIPS / 1e3);
    return 0;
}
