/* aicpu_build_graph kernel func 1: z[i] = x[i] + s; args = {x, float bits of s, z, n}. */
#include <stdint.h>
#include <string.h>

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) {
    const float *x = (const float *)(uintptr_t)args[0];
    uint32_t bits = (uint32_t)(uint64_t)args[1];
    float *z = (float *)(uintptr_t)args[2];
    uint64_t n = (uint64_t)args[3], i;
    float s;
    memcpy(&s, &bits, sizeof s);
    for (i = 0; i < n; ++i) z[i] = x[i] + s;
}
