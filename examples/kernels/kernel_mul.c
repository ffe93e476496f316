/* out = a * b (fp32, element-wise). args: a, b, out [, count: unused]. */
#include "pto_kernel_abi.h"

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    const KernelTensor *a = kernel_tensor(args, 0);
    const KernelTensor *b = kernel_tensor(args, 1);
    const KernelTensor *out = kernel_tensor(args, 2);
    const float *pa = kernel_f32(a);
    const float *pb = kernel_f32(b);
    float *po = kernel_f32(out);
    uint64_t begin, end;
    kernel_block_range(args, kernel_numel(out), &begin, &end);
    for (uint64_t i = begin; i < end; ++i) {
        po[i] = pa[i] * pb[i];
    }
}
