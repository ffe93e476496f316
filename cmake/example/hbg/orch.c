/*
 * host_build_graph orchestration of the example: out = a + 2 * b, as two dependent tasks of the
 * `kernel_add` kernel (func_id 0):
 *   t0: tmp = a + b
 *   t1: out = tmp + b      (after t0)
 * Arguments: tensors a (IN), b (IN), out (OUT), all float32 with the same element count; scalar 0
 * is the element count. The tensors hold host pointers: the orchestration moves a and b to device
 * memory itself and registers `out` for copy-back (upstream host_build_graph orchestration API @ c68d9bbe6).
 */
#include <string.h>

#include "abi_mirror.h"

static uint64_t read_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int32_t read_i32(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int build_graph(OrchestrationRuntime *rt, const void *orch_args);

int build_graph(OrchestrationRuntime *rt, const void *orch_args) {
    const unsigned char *args = (const unsigned char *)orch_args;
    const OrchestrationRuntimeOps *ops = rt->ops;
    if (read_i32(args + EXAMPLE_ARGS_OFF_TENSOR_COUNT) != 3 || read_i32(args + EXAMPLE_ARGS_OFF_SCALAR_COUNT) < 1) {
        return 10; /* non-zero aborts the run */
    }
    void *host[3];
    size_t size[3];
    for (int i = 0; i < 3; ++i) {
        host[i] = (void *)(uintptr_t)read_u64(args + i * EXAMPLE_TENSOR_SIZE + EXAMPLE_TENSOR_OFF_ADDR);
        size[i] = (size_t)read_u64(args + i * EXAMPLE_TENSOR_SIZE + EXAMPLE_TENSOR_OFF_SIZE);
    }
    uint64_t n = read_u64(args + EXAMPLE_ARGS_OFF_SCALARS);
    if (size[0] != n * sizeof(float) || size[1] != size[0] || size[2] != size[0]) {
        return 11;
    }

    void *dev_a = ops->device_malloc(rt, size[0]);
    void *dev_b = ops->device_malloc(rt, size[0]);
    void *dev_tmp = ops->device_malloc(rt, size[0]);
    void *dev_out = ops->device_malloc(rt, size[0]);
    if (!dev_a || !dev_b || !dev_tmp || !dev_out) {
        return 12;
    }
    if (ops->copy_to_device(rt, dev_a, host[0], size[0]) != 0 || ops->copy_to_device(rt, dev_b, host[1], size[1]) != 0) {
        return 13;
    }
    ops->record_tensor_pair(rt, host[2], dev_out, size[2]);

    uint64_t t0_args[4] = {(uint64_t)(uintptr_t)dev_a, (uint64_t)(uintptr_t)dev_b, (uint64_t)(uintptr_t)dev_tmp, n};
    uint64_t t1_args[4] = {(uint64_t)(uintptr_t)dev_tmp, (uint64_t)(uintptr_t)dev_b, (uint64_t)(uintptr_t)dev_out, n};
    int t0 = ops->add_task(rt, t0_args, 4, 0, EXAMPLE_CORE_AIV);
    int t1 = ops->add_task(rt, t1_args, 4, 0, EXAMPLE_CORE_AIV);
    if (t0 < 0 || t1 < 0) {
        return 14;
    }
    ops->add_successor(rt, t0, t1);
    return ops->get_task_count(rt) == 2 ? 0 : 15;
}
