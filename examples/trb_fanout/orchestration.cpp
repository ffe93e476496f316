// TRB fan-out / fan-in example (a stress demo with thousands of tasks).
//
// Entry arguments: tensors x (input) and out (output), fp32, same shape;
// scalars: N = fan-out width (u64), C = chunk size (u64, 1..1024; 0 -> 64).
// Kernels: func 0 kernel_add, func 1 kernel_add_scalar.
//
//   for each chunk k of C consecutive i in [0, N):
//     partial_k = alloc_tensors(ci)              (root scope)
//     scope { y_i = x + (i mod 64) for i in chunk   (fan-out)
//             partial_k = pairwise-sum tree of the y_i }   (fan-in)
//   scope { out = pairwise-sum tree of all partial_k }
//
// Result: out = N * x + sum_{i<N} (i mod 64) element-wise: exact in fp32 in
// any summation order while every partial sum stays below 2^24 (small
// integer x, N up to a few hundred thousand). Tasks: about 2N + 2 * ceil(N / C).
#include <vector>

#include "pto_orchestration_api.h"

namespace {

// Sums `level` into `dest` (OUTPUT_EXISTING) with a pairwise tree of
// kernel_add tasks; intermediates are OUTPUTs of `ci`.
void reduce_into(std::vector<Tensor> level, const Tensor &dest, const TensorCreateInfo &ci) {
    while (level.size() > 2 && !rt_is_fatal()) {
        std::vector<Tensor> next;
        next.reserve(level.size() / 2 + 1);
        for (size_t i = 0; i + 1 < level.size(); i += 2) {
            Arg args;
            args.add_input(level[i]);
            args.add_input(level[i + 1]);
            args.add_output(ci);
            TaskOutputTensors out = rt_submit_aiv_task(0, args);
            if (out.empty()) {
                return;
            }
            next.push_back(out.get_ref(0));
        }
        if (level.size() % 2 == 1) {
            next.push_back(level.back());
        }
        level.swap(next);
    }
    Arg args;
    if (level.size() == 2) {
        args.add_input(level[0]);
        args.add_input(level[1]);
        args.add_output(dest);
        rt_submit_aiv_task(0, args);
    } else if (level.size() == 1) {
        args.add_input(level[0]);
        args.add_output(dest);
        args.add_scalar(0.0f);
        rt_submit_aiv_task(1, args);
    }
}

}  // namespace

extern "C" PTO2OrchestrationConfig aicpu_orchestration_config(const ChipStorageTaskArgs &orch_args) {
    (void)orch_args;
    return PTO2OrchestrationConfig{4};
}

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor x = from_tensor_arg(orch_args.tensor(0));
    Tensor out = from_tensor_arg(orch_args.tensor(1));
    const uint64_t n = orch_args.scalar(0);
    uint64_t chunk = orch_args.scalar(1);
    if (chunk == 0) {
        chunk = 64;
    }
    if (n == 0 || chunk > 1024) {
        rt_report_fatal(PTO2_ERROR_INVALID_ARGS, "bad parameters: N=%llu C=%llu", static_cast<unsigned long long>(n),
                        static_cast<unsigned long long>(chunk));
        return;
    }
    TensorCreateInfo ci(x.shapes, x.ndims, x.dtype);
    LOG_INFO_V0("fan-out %llu, chunk %llu", static_cast<unsigned long long>(n), static_cast<unsigned long long>(chunk));

    std::vector<Tensor> partials;
    for (uint64_t base = 0; base < n && !rt_is_fatal(); base += chunk) {
        TaskOutputTensors acc = alloc_tensors(ci);
        if (acc.empty()) {
            return;
        }
        const Tensor &partial = acc.get_ref(0);
        partials.push_back(partial);
        PTO2_SCOPE() {
            std::vector<Tensor> ys;
            const uint64_t end = base + chunk < n ? base + chunk : n;
            for (uint64_t i = base; i < end; ++i) {
                Arg args;
                args.add_input(x);
                args.add_output(ci);
                args.add_scalar(static_cast<float>(i % 64));
                TaskOutputTensors y = rt_submit_aiv_task(1, args);
                if (y.empty()) {
                    break;
                }
                ys.push_back(y.get_ref(0));
            }
            reduce_into(ys, partial, ci);
        }
    }
    PTO2_SCOPE() { reduce_into(partials, out, ci); }
}
