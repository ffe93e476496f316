/* Builder plugins of the aicpu_build_graph tests, one entry per case.
 * Tensor 0 (orch_args[0]) is a uint64_t log of LOG_CAP slots that the log
 * kernel (func 0: {log, id, sleep_us}) appends to: log[0] = count, then ids.
 * func 1 is a kernel that throws, func 2 one that does nothing. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "pto_aicpu_build_graph.h"

PTO_AICPU_BUILD_GRAPH_PLUGIN;

#define LOG_CAP 64

int chain_reverse(Runtime *rt);
int late_publish(Runtime *rt);
int mode_probe(Runtime *rt);
int cycle(Runtime *rt);
int bad_edge(Runtime *rt);
int neg_edge(Runtime *rt);
int overflow(Runtime *rt);
int fanout(Runtime *rt);
int fail_rc(Runtime *rt);
int unpublished(Runtime *rt);
int unpublished_pred(Runtime *rt);
int stuck(Runtime *rt);
int throw_task(Runtime *rt);
int slow_task(Runtime *rt);
int independent(Runtime *rt);

static void sleep_us(long us) {
    struct timespec ts;
    ts.tv_sec = us / 1000000L;
    ts.tv_nsec = (us % 1000000L) * 1000L;
    nanosleep(&ts, NULL);
}

static uint64_t *log_of(Runtime *rt) { return (uint64_t *)(uintptr_t)rt->orch_args[0]; }

static int log_task(Runtime *rt, uint64_t id, uint64_t us) {
    uint64_t args[3];
    args[0] = rt->orch_args[0];
    args[1] = id;
    args[2] = us;
    return rt->aicpu_build_api.add_task(rt, args, 3, 0, ABG_CORE_AIV, 0);
}

/* A chain 0 -> 1 -> 2 -> 3 whose successors are published before their producers. */
int chain_reverse(Runtime *rt) {
    int t[4], i;
    for (i = 0; i < 4; ++i) t[i] = log_task(rt, (uint64_t)i, 1000);
    for (i = 0; i < 3; ++i) rt->aicpu_build_api.add_successor_conditional(rt, t[i], t[i + 1]);
    for (i = 3; i >= 0; --i) rt->aicpu_build_api.publish_task(rt, t[i]);
    return 0;
}

/* Concurrent mode: t0 runs while the builder waits for it; then t1 gets an
 * edge from the completed t0 (no pending predecessor) and is published. */
int late_publish(Runtime *rt) {
    uint64_t *log = log_of(rt);
    int t0 = log_task(rt, 0, 0), t1, i;
    rt->aicpu_build_api.publish_task(rt, t0);
    for (i = 0; i < 10000 && __atomic_load_n(&log[0], __ATOMIC_SEQ_CST) < 1; ++i) sleep_us(1000);
    if (__atomic_load_n(&log[0], __ATOMIC_SEQ_CST) < 1) return 7;
    t1 = log_task(rt, 1, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, t0, t1);
    rt->aicpu_build_api.publish_task(rt, t1);
    return 0;
}

/* Publishes a task, waits 200 ms and records in log[LOG_CAP-1] how many tasks ran meanwhile. */
int mode_probe(Runtime *rt) {
    uint64_t *log = log_of(rt);
    rt->aicpu_build_api.publish_task(rt, log_task(rt, 0, 0));
    sleep_us(200000);
    log[LOG_CAP - 1] = 100 + __atomic_load_n(&log[0], __ATOMIC_SEQ_CST);
    return 0;
}

int cycle(Runtime *rt) {
    int a = log_task(rt, 0, 0), b = log_task(rt, 1, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, a, b);
    rt->aicpu_build_api.add_successor_conditional(rt, b, a);
    rt->aicpu_build_api.publish_task(rt, a);
    rt->aicpu_build_api.publish_task(rt, b);
    return 0;
}

int bad_edge(Runtime *rt) {
    int a = log_task(rt, 0, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, a, 5);
    rt->aicpu_build_api.publish_task(rt, a);
    return 0;
}

int neg_edge(Runtime *rt) {
    int a = log_task(rt, 0, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, -1, a);
    rt->aicpu_build_api.publish_task(rt, a);
    return 0;
}

int overflow(Runtime *rt) {
    int i;
    for (i = 0; i <= ABG_MAX_TASKS; ++i) {
        if (log_task(rt, 0, 0) < 0) return i == ABG_MAX_TASKS ? 0 : 9;
    }
    return 8;
}

int fanout(Runtime *rt) {
    int a = log_task(rt, 0, 0), i;
    for (i = 0; i <= ABG_MAX_FANOUT; ++i) rt->aicpu_build_api.add_successor_conditional(rt, a, log_task(rt, 1, 0));
    return 0;
}

int fail_rc(Runtime *rt) {
    rt->aicpu_build_api.publish_task(rt, log_task(rt, 0, 0));
    return 3;
}

int unpublished(Runtime *rt) {
    int a = log_task(rt, 0, 0);
    (void)log_task(rt, 1, 0);
    (void)log_task(rt, 2, 0);
    rt->aicpu_build_api.publish_task(rt, a);
    return 0;
}

int unpublished_pred(Runtime *rt) {
    int a = log_task(rt, 0, 0), b = log_task(rt, 1, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, a, b);
    rt->aicpu_build_api.publish_task(rt, b);
    return 0;
}

int stuck(Runtime *rt) {
    (void)rt;
    for (;;) sleep_us(10000);
    return 0;
}

int throw_task(Runtime *rt) {
    uint64_t args[1];
    int a = log_task(rt, 0, 0), b;
    args[0] = 0;
    b = rt->aicpu_build_api.add_task(rt, args, 1, 1, ABG_CORE_AIC, 0);
    rt->aicpu_build_api.add_successor_conditional(rt, a, b);
    rt->aicpu_build_api.publish_task(rt, a);
    rt->aicpu_build_api.publish_task(rt, b);
    return 0;
}

/* One task whose kernel sleeps 8 s. */
int slow_task(Runtime *rt) {
    rt->aicpu_build_api.publish_task(rt, log_task(rt, 0, 8000000));
    return 0;
}

/* 20000 independent tasks of the no-op kernel (func 2), each published at once. */
int independent(Runtime *rt) {
    int i;
    for (i = 0; i < 20000; ++i) {
        int t = rt->aicpu_build_api.add_task(rt, NULL, 0, 2, (i % 3) ? ABG_CORE_AIV : ABG_CORE_AIC, 0);
        if (t < 0) return 1;
        rt->aicpu_build_api.publish_task(rt, t);
    }
    return 0;
}
