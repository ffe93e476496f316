// pto_aicpu_build_graph_ring.h — orchestration API of aicpu_build_graph in its
// ring form (upstream hw-native-sys/simpler a21caa1ba .. acf39009b^): the graph
// is built on the device with explicit dependencies (no TensorMap), on the
// tensormap_and_ringbuffer rings, heaps and schedulers of simpler's runtime.
//
// The argument types (Tensor, TensorCreateInfo, Arg, MixedKernels,
// TaskOutputTensors, ChipStorageTaskArgs, PTO2TaskId, PTO2OrchestrationConfig)
// are those of pto_orchestration_api.h (included in its types-only mode, so
// the layouts are defined and pinned once). This header adds the form's
// runtime object, its 11-entry ops table and SubmitResult. C++17.
//
// An orchestration SO built from this header:
//   * defines `extern "C" void aicpu_orchestration_entry(PTO2Runtime *rt, const ChipStorageTaskArgs &args)`
//     and optionally `extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &)`;
//   * exports no framework_bind_runtime (the runtime arrives as `rt`), which
//     is how simpler tells this form from a tensormap_and_ringbuffer SO;
//   * reaches the runtime only through `rt->ops`.
// Build: g++ -std=c++17 -shared -fPIC -fno-gnu-unique -O2 orchestration.cpp
//
// Semantics: submit_task returns the new task's id and its OUTPUT tensors; a
// task runs once every producer named by pto2_rt_add_dependency (or by the
// Arg's explicit dependencies) completed, and reaches the schedulers when its
// scope ends. Edges must target a task whose scope is still open; an edge
// naming an unknown task, into a task whose scope ended, or closing a cycle
// is a fatal INVALID_ARGS (5): later submits return an invalid id and the run
// fails with that code and a message.
#ifndef PTO_AICPU_BUILD_GRAPH_RING_H
#define PTO_AICPU_BUILD_GRAPH_RING_H

#ifndef __cplusplus
/* The ring-form orchestration API is C++17 (its ops table takes C++
 * references). Included from C, this header provides the kernel-side
 * argument ABI only (pto_kernel_abi.h). */
#include "pto_kernel_abi.h"
#else
#if __cplusplus < 201703L
#error "pto_aicpu_build_graph_ring.h requires C++17"
#endif

#if defined(PTO_ORCHESTRATION_API_H) && !defined(PTO_ORCHESTRATION_TYPES_ONLY)
#error "pto_aicpu_build_graph_ring.h cannot be combined with the tensormap_and_ringbuffer API in one translation unit"
#endif
#ifndef PTO_ORCHESTRATION_TYPES_ONLY
#define PTO_ORCHESTRATION_TYPES_ONLY 1
#endif
#include "pto_orchestration_api.h"

// Failed checks of the shared types (PTO_CHECK) throw AssertionError; the
// runtime calls the entry through a C++ trampoline that catches it and fails
// the run with the message.
namespace pto_detail {
[[noreturn]] inline void fail(const char *func, const char *message) {
    (void)func;
    throw AssertionError(message);
}
}  // namespace pto_detail

// ---------------------------------------------------------------------------
// SubmitResult (280 B): the new task's id (UINT64_MAX after a fatal error)
// and its materialized OUTPUT tensors (valid until the creating scope ends).

struct SubmitResult {
    PTO2TaskId task_id;
    TaskOutputTensors outputs;
};
static_assert(sizeof(SubmitResult) == 280 && alignof(SubmitResult) == 8, "SubmitResult is 280 bytes");
static_assert(offsetof(SubmitResult, task_id) == 0, "SubmitResult.task_id @0");
static_assert(offsetof(SubmitResult, outputs) == 8, "SubmitResult.outputs @8");
static_assert(std::is_trivially_copyable<SubmitResult>::value && std::is_trivially_destructible<SubmitResult>::value,
              "SubmitResult must be returned through the hidden result pointer");

// ---------------------------------------------------------------------------
// The runtime object and its ops table (11 entries, 88 B).

struct PTO2Runtime;

struct PTO2RuntimeOps {
    SubmitResult (*submit_task)(PTO2Runtime *rt, const MixedKernels &mixed_kernels, const Arg &args);
    void (*add_dependency)(PTO2Runtime *rt, PTO2TaskId producer, PTO2TaskId consumer);
    void (*scope_begin)(PTO2Runtime *rt);
    void (*scope_end)(PTO2Runtime *rt);
    void (*orchestration_done)(PTO2Runtime *rt);
    bool (*is_fatal)(PTO2Runtime *rt);
    void (*log_error)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_warn)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_info)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_debug)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    void (*log_always)(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};
static_assert(sizeof(PTO2RuntimeOps) == 88, "PTO2RuntimeOps has 11 entries");
static_assert(offsetof(PTO2RuntimeOps, add_dependency) == 8, "ops.add_dependency @8");
static_assert(offsetof(PTO2RuntimeOps, scope_begin) == 16, "ops.scope_begin @16");
static_assert(offsetof(PTO2RuntimeOps, scope_end) == 24, "ops.scope_end @24");
static_assert(offsetof(PTO2RuntimeOps, orchestration_done) == 32, "ops.orchestration_done @32");
static_assert(offsetof(PTO2RuntimeOps, is_fatal) == 40, "ops.is_fatal @40");
static_assert(offsetof(PTO2RuntimeOps, log_error) == 48, "ops.log_error @48");
static_assert(offsetof(PTO2RuntimeOps, log_warn) == 56, "ops.log_warn @56");
static_assert(offsetof(PTO2RuntimeOps, log_info) == 64, "ops.log_info @64");
static_assert(offsetof(PTO2RuntimeOps, log_debug) == 72, "ops.log_debug @72");
static_assert(offsetof(PTO2RuntimeOps, log_always) == 80, "ops.log_always @80");

// The orchestration sees only the ops pointer.
struct PTO2Runtime {
    const PTO2RuntimeOps *ops;
};
static_assert(sizeof(PTO2Runtime) == 8, "PTO2Runtime head is the ops pointer");

// ---------------------------------------------------------------------------
// Wrappers (straight calls through the ops table).

inline SubmitResult pto2_rt_submit_task(PTO2Runtime *rt, const MixedKernels &mixed_kernels, const Arg &args) {
    return rt->ops->submit_task(rt, mixed_kernels, args);
}
// An AIC-only task.
inline SubmitResult pto2_rt_submit_aic_task(PTO2Runtime *rt, int32_t kernel_id, const Arg &args) {
    MixedKernels mk;
    mk.aic_kernel_id = kernel_id;
    return rt->ops->submit_task(rt, mk, args);
}
// An AIV-only task (AIV0 slot).
inline SubmitResult pto2_rt_submit_aiv_task(PTO2Runtime *rt, int32_t kernel_id, const Arg &args) {
    MixedKernels mk;
    mk.aiv0_kernel_id = kernel_id;
    return rt->ops->submit_task(rt, mk, args);
}
// `consumer` runs after `producer` completed (consumer's scope must be open).
inline void pto2_rt_add_dependency(PTO2Runtime *rt, PTO2TaskId producer, PTO2TaskId consumer) {
    rt->ops->add_dependency(rt, producer, consumer);
}
inline void pto2_rt_scope_begin(PTO2Runtime *rt) { rt->ops->scope_begin(rt); }
inline void pto2_rt_scope_end(PTO2Runtime *rt) { rt->ops->scope_end(rt); }
inline void pto2_rt_orchestration_done(PTO2Runtime *rt) { rt->ops->orchestration_done(rt); }
inline bool pto2_rt_is_fatal(PTO2Runtime *rt) { return rt->ops->is_fatal(rt); }

// RAII scope: scope_begin now, scope_end (which publishes the scope's tasks)
// on exit.
class PTO2ScopeGuard {
public:
    explicit PTO2ScopeGuard(PTO2Runtime *rt) : rt_(rt) { rt_->ops->scope_begin(rt_); }
    ~PTO2ScopeGuard() { rt_->ops->scope_end(rt_); }
    PTO2ScopeGuard(const PTO2ScopeGuard &) = delete;
    PTO2ScopeGuard &operator=(const PTO2ScopeGuard &) = delete;

private:
    PTO2Runtime *rt_;
};

#define PTO2_CONCAT_INNER_(a, b) a##b
#define PTO2_CONCAT_(a, b) PTO2_CONCAT_INNER_(a, b)
// A scope lasting until the end of the enclosing block.
#define PTO2_SCOPE_GUARD(rt) [[maybe_unused]] PTO2ScopeGuard PTO2_CONCAT_(pto2_scope_guard_, __LINE__)(rt)
// `PTO2_SCOPE(rt) { ... }`
#define PTO2_SCOPE(rt) if (PTO2ScopeGuard pto2_scope_guard_{rt}; true)

// Logging through the ops table.
#define LOG_ERROR(rt, fmt, ...) (rt)->ops->log_error(__FUNCTION__, fmt, ##__VA_ARGS__)
#define LOG_WARN(rt, fmt, ...) (rt)->ops->log_warn(__FUNCTION__, fmt, ##__VA_ARGS__)
#define LOG_INFO(rt, fmt, ...) (rt)->ops->log_info(__FUNCTION__, fmt, ##__VA_ARGS__)
#define LOG_DEBUG(rt, fmt, ...) (rt)->ops->log_debug(__FUNCTION__, fmt, ##__VA_ARGS__)
#define LOG_ALWAYS(rt, fmt, ...) (rt)->ops->log_always(__FUNCTION__, fmt, ##__VA_ARGS__)

#endif  // __cplusplus

#endif  // PTO_AICPU_BUILD_GRAPH_RING_H
