/*
 * pto_aicpu_build_graph.h: the builder-plugin interface of the
 * aicpu_build_graph runtime of libsimpler, in its original form (upstream
 * hw-native-sys/simpler before a21caa1ba): the graph is built on the device
 * by one builder thread, with explicit edges, while (build_mode 1) or after
 * which (build_mode 0) the scheduler threads run the published tasks.
 * C99+ / C++11+; every layout is pinned by the static assertions below.
 *
 * A plugin SO defines the entry named by the callable's func_name
 * (default "orchestration"):
 *
 *     int orchestration(Runtime *rt);      // 0 = success, non-zero aborts the run
 *
 * and, once in the SO, the marker that tells libsimpler the SO is an
 * aicpu_build_graph plugin (a host_build_graph orchestration exports the
 * same kind of entry, and nothing else in the binary tells them apart):
 *
 *     PTO_AICPU_BUILD_GRAPH_PLUGIN;        // exports simpler_aicpu_build_graph_abi
 *
 * Without the marker, the binary is taken for host_build_graph unless the
 * runtime override (knob `runtime`, env SIMPLER_RUNTIME) is
 * aicpu_build_graph, which routes a binary exporting only its entry here.
 *
 * The entry builds the graph through rt->aicpu_build_api:
 *
 *     int t = api->add_task(rt, args, n, func_id, ABG_CORE_AIV, 0);  // id, or -1
 *     api->add_successor_conditional(rt, producer, t);  // before t is dispatched
 *     api->publish_task(rt, t);                         // t may run once ready
 *
 * Semantics:
 *   - add_task copies up to ABG_MAX_ARGS raw uint64_t arguments; the kernel
 *     receives them as `void kernel_entry(int64_t *args)` (16 slots, raw
 *     device pointers and scalars). function_bin_addr 0 binds the kernel
 *     through rt->kernel_addrs[func_id]; another value must be one of the
 *     kernel_addrs entries. Task ids are indices, never reused in a run.
 *   - add_successor_conditional(from, to) always records the edge; it makes
 *     `to` wait for `from` only if `from` has not completed yet.
 *   - publish_task marks a task published (a repeat does nothing); it runs
 *     once it has no pending predecessor. Completion releases published
 *     successors only.
 *   - The run ends when the builder returned and every published task
 *     completed. It fails (numbered error code + message, never a hang) on:
 *     the entry returning non-zero; an id add_task never returned; an edge to
 *     a task already dispatched; more than ABG_MAX_TASKS tasks or
 *     ABG_MAX_FANOUT successors; an unknown kernel; published tasks that can
 *     never become ready (a cycle, an unpublished predecessor); tasks added
 *     but never published; a kernel throwing; a builder making no API call
 *     for 1.5 x scheduler_timeout_ms while no task completes (status -100).
 *
 * Arguments: before the builder starts, the run's ChipStorageTaskArgs are
 * staged by the callable's signature: IN and INOUT tensors are copied to
 * device memory, OUT tensors get zero-filled device memory, child-memory
 * tensors pass through. rt->orch_args[i] is the device address of tensor i
 * (i < tensor_count), then the scalars' bits; rt->orch_arg_sizes[i] the
 * tensor's bytes (0 for scalars); at most ABG_MAX_ORCH_ARGS entries in all.
 * rt->task_args points to the staged ChipStorageTaskArgs (device addresses;
 * see pto_orchestration_api.h for its C++ layout). OUT and INOUT tensors are
 * copied back to the host only when the whole run succeeded.
 * device_malloc / device_free manage device memory of the run: what is still
 * allocated when the run ends is freed (also on failure). They may be called
 * from the builder thread only.
 */
#ifndef PTO_AICPU_BUILD_GRAPH_H
#define PTO_AICPU_BUILD_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define PTO_ABG_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
extern "C" {
#else
#define PTO_ABG_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Task array: tasks per run, raw arguments per task, successors per task. */
#define ABG_MAX_TASKS 131072
#define ABG_MAX_ARGS 16
#define ABG_MAX_FANOUT 512
/* Size of the kernel address table (func ids 0..63). */
#define ABG_MAX_FUNC_ID 64
/* Entries of orch_args (tensors then scalars). */
#define ABG_MAX_ORCH_ARGS 64

/* Core types (the CoreType argument of add_task). */
#define ABG_CORE_AIC 0
#define ABG_CORE_AIV 1
typedef int32_t AbgCoreType;

/* build_mode values. */
#define ABG_BUILD_SEQUENTIAL 0
#define ABG_BUILD_CONCURRENT 1

typedef struct Runtime Runtime;

typedef struct AicpuBuildApi {
    int (*add_task)(Runtime *rt, uint64_t *args, int num_args, int func_id, AbgCoreType core_type,
                    uint64_t function_bin_addr);
    void (*add_successor_conditional)(Runtime *rt, int from_task, int to_task);
    void (*publish_task)(Runtime *rt, int task_id);
    void *(*device_malloc)(size_t size);
    void (*device_free)(void *ptr);
} AicpuBuildApi;

struct Runtime {
    AicpuBuildApi aicpu_build_api;
    int32_t build_mode;
    int32_t orch_arg_count;
    int32_t tensor_count;
    int32_t scalar_count;
    uint64_t orch_args[ABG_MAX_ORCH_ARGS];
    uint64_t orch_arg_sizes[ABG_MAX_ORCH_ARGS];
    uint64_t kernel_addrs[ABG_MAX_FUNC_ID];
    const void *task_args; /* const ChipStorageTaskArgs * */
    int32_t scheduler_thread_num;
    int32_t block_dim;
    void *reserved_state; /* the runtime's own; do not touch */
};

typedef int (*AbgOrchestrationFunc)(Runtime *rt);

/* The plugin marker (see the top of this file): its presence in the SO's
 * dynamic symbol table selects aicpu_build_graph, original form; the value
 * is the version of this interface. */
#define PTO_AICPU_BUILD_GRAPH_ABI_VERSION 1u
extern const uint32_t simpler_aicpu_build_graph_abi;
#ifdef __cplusplus
#define PTO_AICPU_BUILD_GRAPH_PLUGIN                                                              \
    extern "C" __attribute__((visibility("default"), used)) const uint32_t simpler_aicpu_build_graph_abi = \
        PTO_AICPU_BUILD_GRAPH_ABI_VERSION
#else
#define PTO_AICPU_BUILD_GRAPH_PLUGIN                                                              \
    __attribute__((visibility("default"), used)) const uint32_t simpler_aicpu_build_graph_abi =   \
        PTO_AICPU_BUILD_GRAPH_ABI_VERSION
#endif

PTO_ABG_STATIC_ASSERT(sizeof(void *) == 8, "a 64-bit target");
PTO_ABG_STATIC_ASSERT(sizeof(AicpuBuildApi) == 40, "AicpuBuildApi is 40 bytes");
PTO_ABG_STATIC_ASSERT(offsetof(AicpuBuildApi, add_successor_conditional) == 8, "add_successor_conditional @8");
PTO_ABG_STATIC_ASSERT(offsetof(AicpuBuildApi, publish_task) == 16, "publish_task @16");
PTO_ABG_STATIC_ASSERT(offsetof(AicpuBuildApi, device_malloc) == 24, "device_malloc @24");
PTO_ABG_STATIC_ASSERT(offsetof(AicpuBuildApi, device_free) == 32, "device_free @32");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, build_mode) == 40, "Runtime.build_mode @40");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, orch_arg_count) == 44, "Runtime.orch_arg_count @44");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, tensor_count) == 48, "Runtime.tensor_count @48");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, scalar_count) == 52, "Runtime.scalar_count @52");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, orch_args) == 56, "Runtime.orch_args @56");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, orch_arg_sizes) == 568, "Runtime.orch_arg_sizes @568");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, kernel_addrs) == 1080, "Runtime.kernel_addrs @1080");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, task_args) == 1592, "Runtime.task_args @1592");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, scheduler_thread_num) == 1600, "Runtime.scheduler_thread_num @1600");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, block_dim) == 1604, "Runtime.block_dim @1604");
PTO_ABG_STATIC_ASSERT(offsetof(Runtime, reserved_state) == 1608, "Runtime.reserved_state @1608");
PTO_ABG_STATIC_ASSERT(sizeof(Runtime) == 1616, "Runtime is 1616 bytes");

#ifdef __cplusplus
}
#endif

#endif /* PTO_AICPU_BUILD_GRAPH_H */
