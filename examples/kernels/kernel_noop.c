/* Does nothing: for dependency-only or scheduling-overhead experiments. */
#include <stdint.h>

void kernel_entry(int64_t *args);

void kernel_entry(int64_t *args) { (void)args; }
