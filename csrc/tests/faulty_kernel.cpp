// Test kernel that misbehaves, selected at compile time:
//   THROW_STD  throws std::runtime_error("kernel boom")
//   THROW_INT  throws an int (not derived from std::exception)
//   HANG       never returns
// Without a define it computes out = a + b like kernel_add (args: a, b, out).
#include <stdexcept>
#include <thread>
#include <chrono>

#include "pto_kernel_abi.h"

extern "C" void kernel_entry(int64_t *args) {
#if defined(THROW_STD)
    (void)args;
    throw std::runtime_error("kernel boom");
#elif defined(THROW_INT)
    (void)args;
    throw 7;
#elif defined(HANG)
    (void)args;
    for (;;) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
#else
    const KernelTensor *a = kernel_tensor(args, 0);
    const KernelTensor *b = kernel_tensor(args, 1);
    const KernelTensor *out = kernel_tensor(args, 2);
    const float *pa = kernel_f32(a);
    const float *pb = kernel_f32(b);
    float *po = kernel_f32(out);
    uint64_t begin, end;
    kernel_block_range(args, kernel_numel(out), &begin, &end);
    for (uint64_t i = begin; i < end; ++i) {
        po[i] = pa[i] + pb[i];
    }
#endif
}
