/* Peer benchmark: OpenMP tasks with `depend` (gcc/libgomp).
 * One thread (inside `parallel` + `single`) creates every task, as our
 * orchestrator does; the team (OMP_NUM_THREADS, default one per core) runs them.
 *   W1  n independent tasks, body a[i] = i
 *   W2  n tasks depend(inout: counter), body counter = counter + 1
 *   W3  rounds of 1 -> 64 -> 1: head depend(out: v) stores v = r; 64 readers
 *       depend(in: v) store s[i] = v + i; a joiner depend(inout: v) (ordered after
 *       every reader of v) checks the 64 stores and counts the round; a taskwait
 *       ends each round (see below).
 * libgomp runs a task undeferred in the creating thread once more than 64 per
 * thread are queued, which is why W1 is cheap here.
 * Times include task creation and completion (taskwait / end of single). */
#include <omp.h>

#include "common.h"

static long *a;
static volatile long counter;
static long v;
static long s[64];
static long rounds_ok;

static double w1(long n) {
    double t0 = now_ns();
#pragma omp parallel
#pragma omp single
    {
        for (long i = 0; i < n; ++i) {
#pragma omp task firstprivate(i)
            a[i] = i;
        }
#pragma omp taskwait
    }
    double t = now_ns() - t0;
    for (long i = 0; i < n; ++i) check(a[i] == i, "W1 a[i] == i");
    for (long i = 0; i < n; ++i) a[i] = -1;
    return t / (double)n;
}

static double w2(long n) {
    counter = 0;
    double t0 = now_ns();
#pragma omp parallel
#pragma omp single
    {
        for (long i = 0; i < n; ++i) {
#pragma omp task depend(inout : counter)
            counter = counter + 1;
        }
#pragma omp taskwait
    }
    double t = now_ns() - t0;
    check(counter == n, "W2 counter == hops");
    return t / (double)n;
}

static double w3(long rounds) {
    rounds_ok = 0;
    double t0 = now_ns();
#pragma omp parallel
#pragma omp single
    {
        for (long r = 0; r < rounds; ++r) {
#pragma omp task depend(out : v) firstprivate(r)
            v = r;
            for (long i = 0; i < 64; ++i) {
#pragma omp task depend(in : v) firstprivate(i)
                s[i] = v + i;
            }
#pragma omp task depend(inout : v) firstprivate(r)
            {
                int ok = 1;
                for (int i = 0; i < 64; ++i) ok &= s[i] == r + i;
                rounds_ok += ok;
            }
            /* One round at a time: libgomp 12 walks the pending dependers of `v`
             * on every new task, so creating all rounds ahead is quadratic
             * (~34 us/task at 1000 rounds; 16 rounds ahead ~11 us, 1 round ~1.2 us). */
#pragma omp taskwait
        }
#pragma omp taskwait
    }
    double t = now_ns() - t0;
    check(rounds_ok == rounds, "W3 every round saw its 64 stores");
    return t / (double)(rounds * 66);
}

int main(int argc, char **argv) {
    sizes_t z = parse_sizes(argc, argv);
    a = malloc(sizeof(long) * (size_t)z.w1);
    check(a != NULL, "allocation");
    for (long i = 0; i < z.w1; ++i) a[i] = -1;
    double m[99];
    w1(z.w1); /* warm-up: thread team, task allocator */
    for (int k = 0; k < z.reps; ++k) m[k] = w1(z.w1);
    printf("RESULT W1 omp %.1f\n", median_of(m, z.reps));
    w2(z.w2);
    for (int k = 0; k < z.reps; ++k) m[k] = w2(z.w2);
    printf("RESULT W2 omp %.1f\n", median_of(m, z.reps));
    w3(z.w3);
    for (int k = 0; k < z.reps; ++k) m[k] = w3(z.w3);
    printf("RESULT W3 omp %.1f\n", median_of(m, z.reps));
    free(a);
    return 0;
}
