// Test orchestration misusing the orchestration API, selected at compile time
// (entry arguments: tensors a, b (IN) and f (OUT), fp32, same shape):
//   BAD_INDEX          get_tensor_data with an index past the shape
//   BIG_VIEW           submits a view of a larger than a itself
//   EXTRA_SCOPE_END    one rt_scope_end more than rt_scope_begin
//   SUBMIT_AFTER_DONE  submits after rt_orchestration_done
#include "pto_orchestration_api.h"

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor a = from_tensor_arg(orch_args.tensor(0));
    Tensor b = from_tensor_arg(orch_args.tensor(1));
    Tensor f = from_tensor_arg(orch_args.tensor(2));
    Arg args;
    args.add_input(a);
    args.add_input(b);
    args.add_output(f);
#if defined(BAD_INDEX)
    const uint32_t idx[1] = {a.shapes[0]};
    (void)get_tensor_data<float>(a, 1, idx);
#elif defined(BIG_VIEW)
    Tensor big = a;
    big.shapes[0] = a.shapes[0] * 2;
    Arg bad;
    bad.add_input(big);
    bad.add_input(b);
    bad.add_output(f);
    rt_submit_aiv_task(0, bad);
#elif defined(EXTRA_SCOPE_END)
    rt_scope_begin();
    rt_scope_end();
    rt_scope_end();
#elif defined(SUBMIT_AFTER_DONE)
    rt_orchestration_done();
    rt_submit_aiv_task(0, args);
#else
    rt_submit_aiv_task(0, args);
#endif
}
