/* Shared by the C and C++ peer programs: clock, sizes, median, result line.
 * Every program prints one line per measured figure:
 *   RESULT <W1|W2|W3> <runtime> <ns per task>
 * (median of REPS timed runs after one untimed warm-up run). */
#ifndef PEERS_COMMON_H
#define PEERS_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Sizes: argv[1] W1 tasks, argv[2] W2 hops, argv[3] W3 rounds, argv[4] timed reps. */
typedef struct {
    long w1;
    long w2;
    long w3;
    int reps;
} sizes_t;

static inline sizes_t parse_sizes(int argc, char **argv) {
    sizes_t s = {1000000, 100000, 1000, 3};
    if (argc > 1) s.w1 = atol(argv[1]);
    if (argc > 2) s.w2 = atol(argv[2]);
    if (argc > 3) s.w3 = atol(argv[3]);
    if (argc > 4) s.reps = atoi(argv[4]);
    if (s.w1 < 1 || s.w2 < 1 || s.w3 < 1 || s.reps < 1 || s.reps > 99) {
        fprintf(stderr, "usage: %s [W1 tasks] [W2 hops] [W3 rounds] [reps 1..99], all >= 1\n", argv[0]);
        exit(2);
    }
    return s;
}

static inline double median_of(double *v, int n) {
    for (int i = 1; i < n; ++i) {
        double x = v[i];
        int j = i - 1;
        while (j >= 0 && v[j] > x) {
            v[j + 1] = v[j];
            --j;
        }
        v[j + 1] = x;
    }
    return v[n / 2];
}

static inline void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "CHECK FAILED: %s\n", what);
        exit(1);
    }
}

#endif
