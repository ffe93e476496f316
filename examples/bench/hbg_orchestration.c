/*
 * Benchmark orchestration of host_build_graph: the same no-op task graphs as
 * examples/bench/abg_orchestration.c (scalar 0 the shape: 0 independent,
 * 1 chain, 2 fan rounds of 1 -> 64 -> 1; scalar 1 the size), built on the
 * host through the ops table before the schedulers run it. No tensors.
 */
#include <stdint.h>

#include "chip_callable_builder.h"
#include "hbg_orchestration_api.h"

int hbg_bench(OrchestrationRuntime *rt, const void *orch_args);

static int noop(OrchestrationRuntime *rt) { return rt->ops->add_task(rt, NULL, 0, 0, HBG_CORE_AIV); }

int hbg_bench(OrchestrationRuntime *rt, const void *orch_args) {
    const uint8_t *args = (const uint8_t *)orch_args;
    uint64_t mode, n, i, k;
    int prev = -1, t, head, readers[64];
    if (rt == NULL || args == NULL || ccb_args_scalar_count(args) < 2) return -1;
    mode = ccb_args_scalar(args, 0);
    n = ccb_args_scalar(args, 1);
    if (mode > 2) return -2;
    for (i = 0; i < n; ++i) {
        if (mode < 2) {
            t = noop(rt);
            if (t < 0) return -3;
            if (mode == 1 && prev >= 0) rt->ops->add_successor(rt, prev, t);
            prev = t;
            continue;
        }
        head = noop(rt);
        if (head < 0) return -3;
        if (prev >= 0) rt->ops->add_successor(rt, prev, head);
        for (k = 0; k < 64; ++k) {
            readers[k] = noop(rt);
            if (readers[k] < 0) return -3;
            rt->ops->add_successor(rt, head, readers[k]);
        }
        t = noop(rt);
        if (t < 0) return -3;
        for (k = 0; k < 64; ++k) rt->ops->add_successor(rt, readers[k], t);
        prev = t;
    }
    return 0;
}
