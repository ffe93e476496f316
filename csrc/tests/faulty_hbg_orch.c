/*
 * Test host_build_graph orchestrations (entry `build_graph`, the arguments of the cmake/example/hbg
 * example: tensors a, b, out of n floats, scalar 0 = n), selected at compile time:
 *   HANG  allocates one device buffer, then never returns and never calls the ops table again
 *   SLOW  computes out = a + 2 b like the example, but as 30 tasks whose add_task calls are 20 ms
 *         apart: tmp = a + b (29 chained tasks), then out = tmp + b
 */
#define _POSIX_C_SOURCE 199309L
#include <string.h>
#include <time.h>

#include "abi_mirror.h"

int build_graph(OrchestrationRuntime *rt, const void *orch_args);

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

#if defined(HANG)
int build_graph(OrchestrationRuntime *rt, const void *orch_args) {
    (void)orch_args;
    if (rt->ops->device_malloc(rt, 4096) == NULL) {
        return 1;
    }
    for (;;) {
        sleep_ms(1000);
    }
}
#elif defined(SLOW)
static uint64_t read_u64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int build_graph(OrchestrationRuntime *rt, const void *orch_args) {
    const unsigned char *args = (const unsigned char *)orch_args;
    const OrchestrationRuntimeOps *ops = rt->ops;
    void *host[3];
    for (int i = 0; i < 3; ++i) {
        host[i] = (void *)(uintptr_t)read_u64(args + i * EXAMPLE_TENSOR_SIZE + EXAMPLE_TENSOR_OFF_ADDR);
    }
    size_t size = (size_t)read_u64(args + EXAMPLE_TENSOR_OFF_SIZE);
    uint64_t n = read_u64(args + EXAMPLE_ARGS_OFF_SCALARS);
    void *dev_a = ops->device_malloc(rt, size);
    void *dev_b = ops->device_malloc(rt, size);
    void *dev_tmp = ops->device_malloc(rt, size);
    void *dev_out = ops->device_malloc(rt, size);
    if (!dev_a || !dev_b || !dev_tmp || !dev_out) {
        return 12;
    }
    if (ops->copy_to_device(rt, dev_a, host[0], size) != 0 || ops->copy_to_device(rt, dev_b, host[1], size) != 0) {
        return 13;
    }
    ops->record_tensor_pair(rt, host[2], dev_out, size);
    uint64_t sum[4] = {(uint64_t)(uintptr_t)dev_a, (uint64_t)(uintptr_t)dev_b, (uint64_t)(uintptr_t)dev_tmp, n};
    uint64_t last[4] = {(uint64_t)(uintptr_t)dev_tmp, (uint64_t)(uintptr_t)dev_b, (uint64_t)(uintptr_t)dev_out, n};
    int prev = -1;
    for (int i = 0; i < 30; ++i) {
        sleep_ms(20);
        int t = ops->add_task(rt, i < 29 ? sum : last, 4, 0, EXAMPLE_CORE_AIV);
        if (t < 0) {
            return 14;
        }
        if (prev >= 0) {
            ops->add_successor(rt, prev, t);
        }
        prev = t;
    }
    return ops->get_task_count(rt) == 30 ? 0 : 15;
}
#else
#error "define HANG or SLOW"
#endif
