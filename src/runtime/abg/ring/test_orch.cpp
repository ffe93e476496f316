// Test orchestration of the aicpu_build_graph ring form: scalar 0 selects a
// case (0 logs through every log entry, 1 closes a cycle, 2 throws from
// get_ref, 3 names an unknown producer, 4 an edge from a task of an earlier,
// already ended scope into a new task).
#include "pto_aicpu_build_graph_ring.h"

namespace {
SubmitResult tag_task(PTO2Runtime *rt, uint64_t tag) {
    Arg a;
    a.add_scalar(tag);
    return pto2_rt_submit_aiv_task(rt, 0, a);
}
}  // namespace

extern "C" void aicpu_orchestration_entry(PTO2Runtime *rt, const ChipStorageTaskArgs &orch_args) {
    switch (orch_args.scalar(0)) {
    case 0:
        LOG_ERROR(rt, "e%d", 1);
        LOG_WARN(rt, "w%s", "2");
        LOG_INFO(rt, "i%u", 3u);
        LOG_DEBUG(rt, "d%d", 4);
        LOG_ALWAYS(rt, "a%d", 5);
        break;
    case 1:
        PTO2_SCOPE(rt) {
            SubmitResult a = tag_task(rt, 1);
            SubmitResult b = tag_task(rt, 2);
            pto2_rt_add_dependency(rt, a.task_id, b.task_id);
            pto2_rt_add_dependency(rt, b.task_id, a.task_id);
            if (!pto2_rt_is_fatal(rt) || tag_task(rt, 3).task_id.raw != UINT64_MAX) {
                throw std::runtime_error("a cycle must be fatal and later submits empty");
            }
        }
        break;
    case 2:
        PTO2_SCOPE(rt) {
            SubmitResult a = tag_task(rt, 1);
            (void)a.outputs.get_ref(0);
        }
        break;
    case 3:
        PTO2_SCOPE(rt) {
            SubmitResult a = tag_task(rt, 1);
            PTO2TaskId unknown;
            unknown.raw = 0xdead;
            pto2_rt_add_dependency(rt, unknown, a.task_id);
        }
        break;
    default: {
        SubmitResult first = tag_task(rt, 1);
        PTO2_SCOPE(rt) {
            SubmitResult second = tag_task(rt, 2);
            pto2_rt_add_dependency(rt, first.task_id, second.task_id);
        }
        break;
    }
    }
}
