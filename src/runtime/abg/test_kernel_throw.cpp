// Test kernel of the aicpu_build_graph tests: a kernel fault (a C++ exception).
#include <cstdint>
#include <stdexcept>

extern "C" void kernel_entry(int64_t *args) {
    (void)args;
    throw std::runtime_error("kernel fault on purpose");
}
