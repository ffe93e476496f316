// C++ trampolines through which the runtime calls user code (orchestration
// entries and kernels).
//
// An orchestration entry (or config function) may throw: upstream's
// always_assert throws AssertionError (a std::runtime_error) out of the
// entry. A C++ exception must never unwind into Rust frames, so the runtime
// calls user code only through these functions, which catch everything and
// report the message through a bounded buffer instead.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <atomic>
#include <exception>

namespace {

// Copies msg into err (bounded, always NUL-terminated when errlen > 0).
void copy_message(char *err, std::size_t errlen, const char *msg) noexcept {
    if (err == nullptr || errlen == 0) {
        return;
    }
    if (msg == nullptr) {
        msg = "";
    }
    std::size_t n = std::strlen(msg);
    if (n >= errlen) {
        n = errlen - 1;
    }
    std::memcpy(err, msg, n);
    err[n] = '\0';
}

// Runs call(): 0 on a normal return, 1 if a std::exception escaped (its
// what() is copied to err), 2 for any other exception. err is written only
// when something was thrown. The one catch ladder of every trampoline below.
template <typename Call>
inline int guarded(char *err, std::size_t errlen, Call call) noexcept {
    try {
        call();
        return 0;
    } catch (const std::exception &e) {
        copy_message(err, errlen, e.what());
        return 1;
    } catch (...) {
        copy_message(err, errlen, "unknown C++ exception (not derived from std::exception)");
        return 2;
    }
}

// Mirror of PTO2OrchestrationConfig (returned by value in EAX / W0).
struct OrchestrationConfig {
    int32_t expected_arg_count;
};
static_assert(sizeof(OrchestrationConfig) == 4, "PTO2OrchestrationConfig is 4 bytes");

}  // namespace

// Calls entry(args). Returns 0 on normal return, 1 if a std::exception
// escaped (its what() is copied to err), 2 for any other exception.
extern "C" int simpler_call_orch_entry(void (*entry)(const void *), const void *args, char *err,
                                       std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    return guarded(err, errlen, [&] { entry(args); });
}

// Calls config(args) and stores the expected argument count in *out.
// Same return convention as simpler_call_orch_entry.
extern "C" int simpler_call_orch_config(OrchestrationConfig (*config)(const void *), const void *args,
                                        int32_t *out, char *err, std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    return guarded(err, errlen, [&] { *out = config(args).expected_arg_count; });
}

// host_build_graph: an orchestration function `int f(rt, args)` runs on the
// calling host thread.
// Calls fn(rt, args), storing its return value in *rc. Returns 0 on a normal
// return, 1 if a std::exception escaped (what() copied to err), 2 otherwise.
extern "C" int simpler_call_hbg_entry(int (*fn)(void *, const void *), void *rt, const void *args, int *rc, char *err,
                                      std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    return guarded(err, errlen, [&] { *rc = fn(rt, args); });
}

// aicpu_build_graph: the builder plugin `int f(Runtime *rt)` runs on the
// run's builder thread. Calls fn(rt), storing its return value in *rc. Same
// return convention as simpler_call_hbg_entry.
extern "C" int simpler_call_abg_entry(int (*fn)(void *), void *rt, int *rc, char *err, std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    return guarded(err, errlen, [&] { *rc = fn(rt); });
}

// aicpu_build_graph ring form: `void aicpu_orchestration_entry(PTO2Runtime *rt,
// const ChipStorageTaskArgs &args)` runs on the run's orchestrator thread.
// Calls entry(rt, args). Same return convention as simpler_call_orch_entry.
extern "C" int simpler_call_abg_ring_entry(void (*entry)(void *, const void *), void *rt, const void *args, char *err,
                                           std::size_t errlen) noexcept {
    copy_message(err, errlen, "");
    return guarded(err, errlen, [&] { entry(rt, args); });
}

// Kernels: `void kernel_entry(int64_t *args)` runs on a scheduler thread (one
// call per subtask). Calls entry(args). Returns 0 on a normal return, 1 if a
// std::exception escaped, 2 for any other exception; the message of a thrown
// exception goes to the calling thread's kernel error buffer
// (simpler_kernel_error). The trampoline keeps nothing live across the call
// (the buffer is a thread-local, not an argument), so the non-throwing path
// costs one indirect call and no register saves.
namespace {
constexpr std::size_t kKernelErrCap = 512;
thread_local char kernel_err[kKernelErrCap];
}  // namespace

extern "C" __attribute__((noinline)) int simpler_call_kernel(void (*entry)(int64_t *), int64_t *args) noexcept {
    return guarded(kernel_err, kKernelErrCap, [&] { entry(args); });
}

// The message of the last kernel that threw on the calling thread (NUL
// terminated, at most 511 bytes; empty before any throw).
extern "C" const char *simpler_kernel_error() noexcept {
    return kernel_err;
}

// ---------------------------------------------------------------------------
// The three submitting entries of the PTO2 ops table (submit_task,
// alloc_tensors, submit_dummy_task) return the 272-byte TaskOutputTensors by
// value, through the caller's hidden result pointer. Each entry below names
// its result object and hands its address to the Rust body registered by
// src/runtime/trb/orchestration/ops.rs; C++ copy elision makes that object
// the caller's result memory, so the result is written once, in place (a
// Rust function returning the struct copies it out of a local).

namespace {

// Mirror of TaskOutputTensors (upstream c68d9bbe6, 272 B).
struct SubmitResult {
    uint64_t task_id;
    uint32_t output_count;
    uint32_t pad;
    const void *tensors[32];
};
static_assert(sizeof(SubmitResult) == 272 && alignof(SubmitResult) == 8, "TaskOutputTensors is 272 bytes");

// kind: 0 submit_task (mk = the MixedKernels), 1 alloc_tensors, 2 submit_dummy_task (mk unused).
using SubmitFill = void (*)(int32_t kind, SubmitResult *out, void *rt, const void *mk, const void *args);

std::atomic<SubmitFill> g_submit_fill{nullptr};

inline SubmitResult submit_via(int32_t kind, void *rt, const void *mk, const void *args) noexcept {
    SubmitResult r;
    SubmitFill fill = g_submit_fill.load(std::memory_order_acquire);
    if (fill == nullptr) {
        // Unreachable: the table is handed out only after registration.
        std::memset(&r, 0, sizeof r);
        r.task_id = UINT64_MAX;
        return r;
    }
    fill(kind, &r, rt, mk, args);
    return r;
}

}  // namespace

// Registers the Rust body of the submitting entries (it writes all 272
// bytes of the result and never unwinds).
extern "C" void simpler_submit_shims_register(SubmitFill fill) noexcept {
    g_submit_fill.store(fill, std::memory_order_release);
}

extern "C" SubmitResult simpler_op_submit_task(void *rt, const void *mk, const void *args) noexcept {
    return submit_via(0, rt, mk, args);
}

extern "C" SubmitResult simpler_op_alloc_tensors(void *rt, const void *args) noexcept {
    return submit_via(1, rt, nullptr, args);
}

extern "C" SubmitResult simpler_op_submit_dummy_task(void *rt, const void *args) noexcept {
    return submit_via(2, rt, nullptr, args);
}
