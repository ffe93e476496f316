// TRB nested-scope example: one task on each of the four rings.
//
// Entry arguments: tensors a, b (inputs) and f (output), fp32, same shape.
// Kernels: func 0 kernel_add, func 1 kernel_add_scalar, func 2 kernel_mul
// (as in trb_vector). Rings follow scope depth (root = 0, clamped to 3):
//
//   depth 0 (ring 0)  t0: c = a + b
//   depth 1 (ring 1)  t1: d = c + 1
//   depth 2 (ring 2)  t2: e = d + 2           + a dummy task depending on d
//   depth 3 (ring 3)  t3: g = e * c
//   depth 4 (ring 3, MANUAL scope, explicit deps on t3 and t0)
//                     t4: f = g + c           (into the caller's f)
//
// With a = 2, b = 3: c = 5, d = 6, e = 8, g = 40, f = 45. After the scopes
// the orchestration reads back c[0] with get_tensor_data (c's owner task is
// tracked, so the read waits for it) and checks it. It does not read f: f is
// written inside the MANUAL scope, where no TensorMap entry is recorded, so
// nothing would make the read wait for its writer.
#include "pto_orchestration_api.h"

extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{3};
}

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor a = from_tensor_arg(orch_args.tensor(0));
    Tensor b = from_tensor_arg(orch_args.tensor(1));
    Tensor f = from_tensor_arg(orch_args.tensor(2));
    const uint32_t shape[1] = {a.shapes[0]};
    TensorCreateInfo ci(shape, 1, DataType::FLOAT32);

    Arg args_c;
    args_c.add_input(a);
    args_c.add_input(b);
    args_c.add_output(ci);
    TaskOutputTensors out_c = rt_submit_aiv_task(0, args_c);
    const Tensor &c = out_c.get_ref(0);

    PTO2_SCOPE() {
        Arg args_d;
        args_d.add_input(c);
        args_d.add_output(ci);
        args_d.add_scalar(1.0f);
        TaskOutputTensors out_d = rt_submit_aiv_task(1, args_d);
        const Tensor &d = out_d.get_ref(0);

        PTO2_SCOPE() {
            Arg args_e;
            args_e.add_input(d);
            args_e.add_output(ci);
            args_e.add_scalar(2.0f);
            TaskOutputTensors out_e = rt_submit_aiv_task(1, args_e);
            const Tensor &e = out_e.get_ref(0);

            Arg args_dummy;
            args_dummy.add_input(d);
            rt_submit_dummy_task(args_dummy);

            PTO2_SCOPE() {
                Arg args_g;
                args_g.add_input(e);
                args_g.add_input(c);
                args_g.add_output(ci);
                TaskOutputTensors out_g = rt_submit_aiv_task(2, args_g);
                const Tensor &g = out_g.get_ref(0);

                PTO2_SCOPE(PTO2ScopeMode::MANUAL) {
                    const PTO2TaskId deps[2] = {out_g.task_id(), out_c.task_id()};
                    Arg args_f;
                    args_f.add_input(g);
                    args_f.add_input(c);
                    args_f.add_output(f);
                    args_f.set_dependencies(deps, 2);
                    rt_submit_aiv_task(0, args_f);
                }
            }
        }
    }

    const uint32_t first[1] = {0};
    float c0 = get_tensor_data<float>(c, 1, first);
    if (!rt_is_fatal() && c0 != 5.0f) {
        rt_report_fatal(PTO2_ERROR_EXPLICIT_ORCH_FATAL, "c[0] = %f, expected 5", static_cast<double>(c0));
    }
    LOG_INFO_V1("nested example done, c[0] = %f", static_cast<double>(c0));
}
