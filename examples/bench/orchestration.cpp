// Benchmark orchestration: no-op tasks in three shapes, selected by scalar 0.
//
// Entry arguments: tensor 0 `t` (any fp32 tensor, used as the dependency
// carrier), scalars: mode, n, chunk.
//   mode 0  independent: n tasks with no dependencies
//   mode 1  chain:       n tasks, each INOUT on `t` (every task depends on the previous)
//   mode 2  fan:         n rounds of 1 -> 64 -> 1: a producer INOUT on `t`, 64
//                        readers of `t`, and a joiner with explicit dependencies
//                        on the 64 readers that is INOUT on `t` again
// Tasks are submitted in scopes of `chunk` tasks (a scope may hold at most
// window-1 tasks). Kernel func 0 is a no-op.
#include "pto_orchestration_api.h"

extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{4};
}

namespace {

void independent(uint64_t n, uint64_t chunk) {
    for (uint64_t base = 0; base < n && !rt_is_fatal(); base += chunk) {
        PTO2_SCOPE() {
            const uint64_t end = base + chunk < n ? base + chunk : n;
            for (uint64_t i = base; i < end; ++i) {
                Arg args;
                args.add_scalar(i);
                rt_submit_aiv_task(0, args);
            }
        }
    }
}

void chain(const Tensor &t, uint64_t n, uint64_t chunk) {
    for (uint64_t base = 0; base < n && !rt_is_fatal(); base += chunk) {
        PTO2_SCOPE() {
            const uint64_t end = base + chunk < n ? base + chunk : n;
            for (uint64_t i = base; i < end; ++i) {
                Arg args;
                args.add_inout(t);
                rt_submit_aiv_task(0, args);
            }
        }
    }
}

void fan(const Tensor &t, uint64_t rounds) {
    for (uint64_t r = 0; r < rounds && !rt_is_fatal(); ++r) {
        PTO2_SCOPE() {
            Arg head;
            head.add_inout(t);
            rt_submit_aiv_task(0, head);
            PTO2TaskId readers[64];
            for (int i = 0; i < 64; ++i) {
                Arg args;
                args.add_input(t);
                readers[i] = rt_submit_aiv_task(0, args).task_id();
            }
            Arg join;
            join.add_inout(t);
            join.set_dependencies(readers, 64);
            rt_submit_aiv_task(0, join);
        }
    }
}

}  // namespace

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor t = from_tensor_arg(orch_args.tensor(0));
    const uint64_t mode = orch_args.scalar(0);
    const uint64_t n = orch_args.scalar(1);
    uint64_t chunk = orch_args.scalar(2);
    if (chunk == 0) {
        chunk = 4096;
    }
    switch (mode) {
        case 0:
            independent(n, chunk);
            break;
        case 1:
            chain(t, n, chunk);
            break;
        case 2:
            fan(t, n);
            break;
        default:
            rt_report_fatal(PTO2_ERROR_INVALID_ARGS, "unknown bench mode %llu", static_cast<unsigned long long>(mode));
    }
}
