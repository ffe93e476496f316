/* aicpu_build_graph kernel func 2: z[i] = x[i] * y[i]; args = {x, y, z, n} (raw device pointers). */
#include <stdint.h>

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    const float *x = (const float *)(uintptr_t)args[0];
    const float *y = (const float *)(uintptr_t)args[1];
    float *z = (float *)(uintptr_t)args[2];
    uint64_t n = (uint64_t)args[3], i;
    for (i = 0; i < n; ++i) z[i] = x[i] * y[i];
}
