// Test orchestration: its Arg is built over storage filled with 0xA5 bytes
// (placement new), so what a new Arg leaves unwritten (the tag, ref and
// scalar arrays past the counts, the dump selection's arrays) holds stale
// bytes, as a stack Arg reused by a loop does. The runtime must read only
// what the add_* calls wrote. Entry arguments: tensors a, b (IN) and f (OUT),
// fp32, same shape; one kernel-0 task (f = a + b).
#include <cstring>
#include <new>

#include "pto_orchestration_api.h"

extern "C" void aicpu_orchestration_entry(const ChipStorageTaskArgs &orch_args) {
    Tensor a = from_tensor_arg(orch_args.tensor(0));
    Tensor b = from_tensor_arg(orch_args.tensor(1));
    Tensor f = from_tensor_arg(orch_args.tensor(2));
    alignas(Arg) unsigned char storage[sizeof(Arg)];
    std::memset(storage, 0xA5, sizeof storage);
    Arg *args = new (storage) Arg;
    args->add_input(a);
    args->add_input(b);
    args->add_output(f);
    rt_submit_aiv_task(0, *args);
    args->~Arg();
}
