/*
 * aicpu_build_graph vector example (the original device-built form):
 * f = (a + b + 1) * (a + b + 2), built on the device by this plugin.
 *
 * Entry arguments: tensors a, b (IN) and f (OUT), fp32, same element count.
 * Kernels (ChipCallable children, raw-argument ABI, all AIV):
 *   func 0 kernel_add        {x, y, z, n}        z = x + y
 *   func 1 kernel_add_scalar {x, s bits, z, n}   z = x + s
 *   func 2 kernel_mul        {x, y, z, n}        z = x * y
 * Graph: t0 c = a + b; t1 d = c + 1; t2 e = c + 2; t3 f = d * e, edges
 * t0->t1, t0->t2, t1->t3, t2->t3. With a = 2 and b = 3, f = 42.
 * The intermediates c, d, e come from device_malloc (freed after the run).
 */
#include "pto_aicpu_build_graph.h"

PTO_AICPU_BUILD_GRAPH_PLUGIN;

#define F32_ONE_BITS 0x3F800000u
#define F32_TWO_BITS 0x40000000u

int orchestration(Runtime *rt);

int orchestration(Runtime *rt) {
    const AicpuBuildApi *api;
    uint64_t bytes, n, a, b, f, c, d, e;
    int t0, t1, t2, t3;

    if (rt == NULL || rt->tensor_count < 3) return -1;
    api = &rt->aicpu_build_api;
    bytes = rt->orch_arg_sizes[0];
    if (bytes == 0 || bytes % 4 != 0 || rt->orch_arg_sizes[1] != bytes || rt->orch_arg_sizes[2] != bytes) return -2;
    n = bytes / 4;
    a = rt->orch_args[0];
    b = rt->orch_args[1];
    f = rt->orch_args[2];
    c = (uint64_t)(uintptr_t)api->device_malloc((size_t)bytes);
    d = (uint64_t)(uintptr_t)api->device_malloc((size_t)bytes);
    e = (uint64_t)(uintptr_t)api->device_malloc((size_t)bytes);
    if (c == 0 || d == 0 || e == 0) return -3;
    {
        uint64_t a0[4], a1[4], a2[4], a3[4];
        a0[0] = a; a0[1] = b; a0[2] = c; a0[3] = n;
        a1[0] = c; a1[1] = F32_ONE_BITS; a1[2] = d; a1[3] = n;
        a2[0] = c; a2[1] = F32_TWO_BITS; a2[2] = e; a2[3] = n;
        a3[0] = d; a3[1] = e; a3[2] = f; a3[3] = n;
        t0 = api->add_task(rt, a0, 4, 0, ABG_CORE_AIV, 0);
        t1 = api->add_task(rt, a1, 4, 1, ABG_CORE_AIV, 0);
        t2 = api->add_task(rt, a2, 4, 1, ABG_CORE_AIV, 0);
        t3 = api->add_task(rt, a3, 4, 2, ABG_CORE_AIV, rt->kernel_addrs[2]);
    }
    if (t0 < 0 || t1 < 0 || t2 < 0 || t3 < 0) return -4;
    api->add_successor_conditional(rt, t0, t1);
    api->add_successor_conditional(rt, t0, t2);
    api->add_successor_conditional(rt, t1, t3);
    api->add_successor_conditional(rt, t2, t3);
    api->publish_task(rt, t0);
    api->publish_task(rt, t1);
    api->publish_task(rt, t2);
    api->publish_task(rt, t3);
    return 0;
}
