/*
 * Benchmark builder plugin of aicpu_build_graph (original form): no-op
 * tasks (kernel func 0) in the shapes of the bench's workloads, selected by
 * scalar 0; scalar 1 is the size. No tensors.
 *   0 independent: n tasks, no edges
 *   1 chain:       n tasks, task i -> task i+1
 *   2 fan:         n rounds of head -> 64 readers -> joiner; each round's
 *                  head depends on the previous round's joiner (66 tasks/round)
 * Every task is published right after its incoming edges are added, so with
 * build_mode 1 the schedulers run tasks while the graph is still growing.
 */
#include "pto_aicpu_build_graph.h"

PTO_AICPU_BUILD_GRAPH_PLUGIN;

int abg_bench(Runtime *rt);

static int noop(Runtime *rt) { return rt->aicpu_build_api.add_task(rt, NULL, 0, 0, ABG_CORE_AIV, 0); }

int abg_bench(Runtime *rt) {
    const AicpuBuildApi *api = &rt->aicpu_build_api;
    uint64_t mode, n, i, k;
    int prev = -1, t, head, readers[64];
    if (rt->scalar_count < 2) return -1;
    mode = rt->orch_args[rt->tensor_count];
    n = rt->orch_args[rt->tensor_count + 1];
    if (mode > 2) return -2;
    for (i = 0; i < n; ++i) {
        if (mode < 2) {
            t = noop(rt);
            if (t < 0) return -3;
            if (mode == 1 && prev >= 0) api->add_successor_conditional(rt, prev, t);
            api->publish_task(rt, t);
            prev = t;
            continue;
        }
        head = noop(rt);
        if (head < 0) return -3;
        if (prev >= 0) api->add_successor_conditional(rt, prev, head);
        api->publish_task(rt, head);
        for (k = 0; k < 64; ++k) {
            readers[k] = noop(rt);
            if (readers[k] < 0) return -3;
            api->add_successor_conditional(rt, head, readers[k]);
            api->publish_task(rt, readers[k]);
        }
        t = noop(rt);
        if (t < 0) return -3;
        for (k = 0; k < 64; ++k) api->add_successor_conditional(rt, readers[k], t);
        api->publish_task(rt, t);
        prev = t;
    }
    return 0;
}
