// Test orchestration: throws a C++ exception out of the entry (through the
// header's assertion path) after one successful submit.
#include "pto_orchestration_api.h"

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Arg args;
    args.add_input(orch_args.tensor(0));
    rt_submit_aiv_task(0, args);
#ifdef THROW_NON_STD
    throw 42;
#else
    TaskOutputTensors none;
    (void)none.get_ref(0);  // out of range: logs and throws AssertionError
#endif
}

#ifdef BAD_CONFIG
extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{5};
}
#endif

#ifdef CONFIG_THROWS
extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args.tensor(99);  // out of range
    return PTO2OrchestrationConfig{0};
}
#endif
