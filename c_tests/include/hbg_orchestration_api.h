/*
 * hbg_orchestration_api.h - C mirror of upstream host_build_graph's orchestration
 * interface (upstream host_build_graph orchestration API @ c68d9bbe6): the 9-entry, 72-byte OrchestrationRuntimeOps table
 * and the OrchestrationRuntime object whose first member points at it.
 *
 * The orchestration entry's C++ signature is
 *   int f(OrchestrationRuntime *runtime, const ChipStorageTaskArgs &orch_args);
 * a reference is passed as a plain pointer, so the C view takes `const void *`.
 */
#ifndef SIMPLER_CTESTS_HBG_ORCHESTRATION_API_H
#define SIMPLER_CTESTS_HBG_ORCHESTRATION_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CoreType travels as a 32-bit int (enum class CoreType : int32_t { AIC = 0, AIV = 1 }). */
typedef int32_t HbgCoreType;
#define HBG_CORE_AIC ((HbgCoreType)0)
#define HBG_CORE_AIV ((HbgCoreType)1)

/* TensorInfo (64 bytes, align 4): opaque to these tests, only passed through. */
typedef struct HbgTensorInfo {
    uint8_t bytes[64];
} HbgTensorInfo;

typedef struct OrchestrationRuntime OrchestrationRuntime;

/* Exactly upstream's order of OrchestrationRuntimeOps (offsets 0, 8, ..., 64). */
typedef struct OrchestrationRuntimeOps {
    int (*add_task)(OrchestrationRuntime *runtime, uint64_t *args, int num_args, int func_id, HbgCoreType core_type);
    int (*set_tensor_info_to_task)(OrchestrationRuntime *runtime, int task_id, const HbgTensorInfo *tensor_info,
                                   int tensor_count);
    void (*add_successor)(OrchestrationRuntime *runtime, int from_task, int to_task);
    void (*record_tensor_pair)(OrchestrationRuntime *runtime, void *host_ptr, void *dev_ptr, size_t size);
    int (*get_task_count)(OrchestrationRuntime *runtime);
    void (*print_runtime)(OrchestrationRuntime *runtime);
    void *(*device_malloc)(OrchestrationRuntime *runtime, size_t size);
    void (*device_free)(OrchestrationRuntime *runtime, void *ptr);
    int (*copy_to_device)(OrchestrationRuntime *runtime, void *dev_ptr, const void *host_ptr, size_t size);
} OrchestrationRuntimeOps;

struct OrchestrationRuntime {
    const OrchestrationRuntimeOps *ops;
};

/* Layout pins (C11 / C++17 static assertions; the fixtures are never built as C99). */
#if defined(__cplusplus)
static_assert(sizeof(OrchestrationRuntimeOps) == 72, "OrchestrationRuntimeOps must be 72 bytes");
static_assert(offsetof(OrchestrationRuntimeOps, copy_to_device) == 64, "copy_to_device must be at 64");
static_assert(sizeof(HbgTensorInfo) == 64, "TensorInfo must be 64 bytes");
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(OrchestrationRuntimeOps) == 72, "OrchestrationRuntimeOps must be 72 bytes");
_Static_assert(offsetof(OrchestrationRuntimeOps, copy_to_device) == 64, "copy_to_device must be at 64");
_Static_assert(sizeof(HbgTensorInfo) == 64, "TensorInfo must be 64 bytes");
#endif

/* The hbg vector example entry (fixtures/hbg_vector/orchestration.c). */
typedef int (*HbgOrchestrationFunc)(OrchestrationRuntime *runtime, const void *orch_args);
int build_example_graph(OrchestrationRuntime *runtime, const void *orch_args);

/* hbg kernel ABI: kernel_entry receives the task's raw uint64_t[16] args. */
typedef void (*HbgKernelEntry)(int64_t *args);
void kernel_entry(int64_t *args);

#ifdef __cplusplus
}
#endif

#endif /* SIMPLER_CTESTS_HBG_ORCHESTRATION_API_H */
