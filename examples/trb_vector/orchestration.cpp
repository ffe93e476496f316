// TRB vector example: f = (a + b + 1) * (a + b + 2) + (a + b).
//
// Entry arguments: tensors a, b (inputs) and f (output), fp32, same shape.
// Kernels (ChipCallable children, all AIV):
//   func 0 kernel_add        {in x, in y, out z}        z = x + y
//   func 1 kernel_add_scalar {in x, out z, s, count}    z = x + s
//   func 2 kernel_mul        {in x, in y, out z, count} z = x * y
// With a = 2 and b = 3 everywhere, f = 47.
//
// Five tasks: t0 in the entry's (root) scope, t1..t4 in one nested scope.
// No explicit edges: the runtime derives t0 -> {t1, t2, t4}, {t1, t2} -> t3,
// t3 -> t4 from the tensors.
#include "pto_orchestration_api.h"

extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{3};
}

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor ext_a = from_tensor_arg(orch_args.tensor(0));
    Tensor ext_b = from_tensor_arg(orch_args.tensor(1));
    Tensor ext_f = from_tensor_arg(orch_args.tensor(2));
    const uint32_t SIZE = ext_a.shapes[0];
    const uint32_t shape[1] = {SIZE};
    TensorCreateInfo inter_ci(shape, 1, DataType::FLOAT32);

    LOG_INFO_V0("===============SIZE=%u", SIZE);

    // t0: c = a + b
    Arg args_c;
    args_c.add_input(ext_a);
    args_c.add_input(ext_b);
    args_c.add_output(inter_ci);
    TaskOutputTensors out_c = rt_submit_aiv_task(0, args_c);
    const Tensor &c = out_c.get_ref(0);

    PTO2_SCOPE() {
        // t1: d = c + 1
        Arg args_d;
        args_d.add_input(c);
        args_d.add_output(inter_ci);
        args_d.add_scalar(1.0f);
        args_d.add_scalar(3u);
        TaskOutputTensors out_d = rt_submit_aiv_task(1, args_d);
        const Tensor &d = out_d.get_ref(0);

        // t2: e = c + 2
        Arg args_e;
        args_e.add_input(c);
        args_e.add_output(inter_ci);
        args_e.add_scalar(2.0f);
        args_e.add_scalar(3u);
        TaskOutputTensors out_e = rt_submit_aiv_task(1, args_e);
        const Tensor &e = out_e.get_ref(0);

        // t3: g = d * e
        Arg args_g;
        args_g.add_input(d);
        args_g.add_input(e);
        args_g.add_output(inter_ci);
        args_g.add_scalar(3u);
        TaskOutputTensors out_g = rt_submit_aiv_task(2, args_g);
        const Tensor &g = out_g.get_ref(0);

        // t4: f = g + c (written into the caller's tensor)
        Arg args_f;
        args_f.add_input(g);
        args_f.add_input(c);
        args_f.add_output(ext_f);
        rt_submit_aiv_task(0, args_f);
    }
}
