/*
 * Simulated AICore kernel of the example (host_build_graph kernel ABI @ c68d9bbe6):
 * args = {const float *x, const float *y, float *z, uint64_t n}; z[i] = x[i] + y[i].
 */
#include <stdint.h>

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    const float *x = (const float *)(uintptr_t)args[0];
    const float *y = (const float *)(uintptr_t)args[1];
    float *z = (float *)(uintptr_t)args[2];
    uint64_t n = (uint64_t)args[3];
    for (uint64_t i = 0; i < n; ++i) {
        z[i] = x[i] + y[i];
    }
}
