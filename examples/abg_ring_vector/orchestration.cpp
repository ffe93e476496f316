// aicpu_build_graph vector example, ring form: f = (a + b + 1) * (a + b + 2).
//
// Entry arguments: tensors a, b (inputs) and f (written in place), fp32,
// same shape. Kernels (ChipCallable children, all AIV, examples/kernels):
//   func 0 kernel_add        {in x, in y, out z}        z = x + y
//   func 1 kernel_add_scalar {in x, out z, s, count}    z = x + s
//   func 2 kernel_mul        {in x, in y, out z, count} z = x * y
// With a = 2 and b = 3 everywhere, f = 42.
//
// Four tasks in one scope, edges added explicitly (the runtime derives
// none): t0 -> t1, t0 -> t2, t1 -> t3, t2 -> t3. The scope's end publishes
// the four tasks to the schedulers.
#include "pto_aicpu_build_graph_ring.h"

extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{3};
}

extern "C" void aicpu_orchestration_entry(PTO2Runtime *rt, const ChipStorageTaskArgs &orch_args) {
    Tensor ext_a = from_tensor_arg(orch_args.tensor(0));
    Tensor ext_b = from_tensor_arg(orch_args.tensor(1));
    Tensor ext_f = from_tensor_arg(orch_args.tensor(2));
    const uint32_t SIZE = ext_a.shapes[0];
    const uint32_t shape[1] = {SIZE};
    TensorCreateInfo inter_ci(shape, 1, DataType::FLOAT32);

    LOG_INFO(rt, "===============SIZE=%u", SIZE);

    PTO2_SCOPE(rt) {
        // t0: c = a + b
        Arg args_c;
        args_c.add_input(ext_a);
        args_c.add_input(ext_b);
        args_c.add_output(inter_ci);
        SubmitResult r0 = pto2_rt_submit_aiv_task(rt, 0, args_c);
        const Tensor &c = r0.outputs.get_ref(0);

        // t1: d = c + 1
        Arg args_d;
        args_d.add_input(c);
        args_d.add_output(inter_ci);
        args_d.add_scalar(1.0f);
        args_d.add_scalar(3u);
        SubmitResult r1 = pto2_rt_submit_aiv_task(rt, 1, args_d);
        const Tensor &d = r1.outputs.get_ref(0);

        // t2: e = c + 2
        Arg args_e;
        args_e.add_input(c);
        args_e.add_output(inter_ci);
        args_e.add_scalar(2.0f);
        args_e.add_scalar(3u);
        SubmitResult r2 = pto2_rt_submit_aiv_task(rt, 1, args_e);
        const Tensor &e = r2.outputs.get_ref(0);

        // t3: f = d * e (f written in place)
        Arg args_f;
        args_f.add_input(d);
        args_f.add_input(e);
        args_f.add_inout(ext_f);
        args_f.add_scalar(3u);
        SubmitResult r3 = pto2_rt_submit_aiv_task(rt, 2, args_f);

        pto2_rt_add_dependency(rt, r0.task_id, r1.task_id);
        pto2_rt_add_dependency(rt, r0.task_id, r2.task_id);
        pto2_rt_add_dependency(rt, r1.task_id, r3.task_id);
        pto2_rt_add_dependency(rt, r2.task_id, r3.task_id);
    }
}
