/*
 * Minimal C mirror of the host_build_graph orchestration ABI (upstream host_build_graph orchestration API @ c68d9bbe6) and of the
 * argument layouts it reads (Tensor, ChipStorageTaskArgs @ c68d9bbe6), as an orchestration SO declares it for itself.
 * Layouts are pinned with static assertions.
 */
#ifndef SIMPLER_EXAMPLE_ABI_MIRROR_H
#define SIMPLER_EXAMPLE_ABI_MIRROR_H

#include <stddef.h>
#include <stdint.h>

typedef struct OrchestrationRuntime OrchestrationRuntime;

/* The 9-entry ops table (72 bytes), in upstream's order. */
typedef struct OrchestrationRuntimeOps {
    int (*add_task)(OrchestrationRuntime *rt, uint64_t *args, int num_args, int func_id, int core_type);
    int (*set_tensor_info_to_task)(OrchestrationRuntime *rt, int task_id, const void *tensor_info, int tensor_count);
    void (*add_successor)(OrchestrationRuntime *rt, int from_task, int to_task);
    void (*record_tensor_pair)(OrchestrationRuntime *rt, void *host_ptr, void *dev_ptr, size_t size);
    int (*get_task_count)(OrchestrationRuntime *rt);
    void (*print_runtime)(OrchestrationRuntime *rt);
    void *(*device_malloc)(OrchestrationRuntime *rt, size_t size);
    void (*device_free)(OrchestrationRuntime *rt, void *ptr);
    int (*copy_to_device)(OrchestrationRuntime *rt, void *dev_ptr, const void *host_ptr, size_t size);
} OrchestrationRuntimeOps;

/* What the orchestration sees: an object whose first member is the ops pointer. */
struct OrchestrationRuntime {
    const OrchestrationRuntimeOps *ops;
};

/* CoreType values. */
enum { EXAMPLE_CORE_AIC = 0, EXAMPLE_CORE_AIV = 1 };

/* Offsets inside a 128-byte Tensor and a 17472-byte ChipStorageTaskArgs. */
enum {
    EXAMPLE_TENSOR_SIZE = 128,
    EXAMPLE_TENSOR_OFF_ADDR = 0,
    EXAMPLE_TENSOR_OFF_SIZE = 8,
    EXAMPLE_ARGS_OFF_SCALARS = 16384,
    EXAMPLE_ARGS_OFF_TENSOR_COUNT = 17408,
    EXAMPLE_ARGS_OFF_SCALAR_COUNT = 17412
};

_Static_assert(sizeof(OrchestrationRuntimeOps) == 72, "OrchestrationRuntimeOps is 72 bytes");
_Static_assert(offsetof(OrchestrationRuntimeOps, add_successor) == 16, "add_successor at 16");
_Static_assert(offsetof(OrchestrationRuntimeOps, device_malloc) == 48, "device_malloc at 48");
_Static_assert(offsetof(OrchestrationRuntimeOps, copy_to_device) == 64, "copy_to_device at 64");

#endif /* SIMPLER_EXAMPLE_ABI_MIRROR_H */
