/* out = in + s (fp32). args: in, out, s (float bits) [, count: unused]. */
#include "pto_kernel_abi.h"

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    const KernelTensor *in = kernel_tensor(args, 0);
    const KernelTensor *out = kernel_tensor(args, 1);
    float s = kernel_scalar_f32(args, 2);
    const float *pi = kernel_f32(in);
    float *po = kernel_f32(out);
    uint64_t begin, end;
    kernel_block_range(args, kernel_numel(out), &begin, &end);
    for (uint64_t i = begin; i < end; ++i) {
        po[i] = pi[i] + s;
    }
}
