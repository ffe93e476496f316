/*
 * Test kernel: reports what a sim kernel sees of the simulated core.
 * args[0] -> uint64_t out[3]; args[1] = pipe key; args[2] = pipe size.
 * out[0] = pto_sim_get_subblock_id(); out[1] = pipe block address (0 if
 * NULL); out[2] = the block's first u64 before this call increments it.
 * Without WITH_HOOKS the functions are found with dlsym(RTLD_DEFAULT, ...)
 * like pto-isa's cpu_stub does; with it, through pto_sim_register_hooks.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

typedef uint32_t (*get_subblock_fn)(void);
typedef void *(*get_pipe_fn)(uint64_t, size_t);

void kernel_entry(int64_t *args);

#ifdef WITH_HOOKS
static get_subblock_fn g_get_subblock;
static get_pipe_fn g_get_pipe;

void pto_sim_register_hooks(void *get_subblock_id, void *get_pipe_shared_state);
void pto_sim_register_hooks(void *get_subblock_id, void *get_pipe_shared_state) {
    *(void **)&g_get_subblock = get_subblock_id;
    *(void **)&g_get_pipe = get_pipe_shared_state;
}
#endif

void kernel_entry(int64_t *args) {
    uint64_t *out = (uint64_t *)(uintptr_t)args[0];
    get_subblock_fn get_subblock;
    get_pipe_fn get_pipe;
#ifdef WITH_HOOKS
    get_subblock = g_get_subblock;
    get_pipe = g_get_pipe;
#else
    *(void **)&get_subblock = dlsym(RTLD_DEFAULT, "pto_sim_get_subblock_id");
    *(void **)&get_pipe = dlsym(RTLD_DEFAULT, "pto_sim_get_pipe_shared_state");
#endif
    out[0] = get_subblock != NULL ? get_subblock() : 0xFFFFu;
    uint64_t *block = get_pipe != NULL ? (uint64_t *)get_pipe((uint64_t)args[1], (size_t)args[2]) : NULL;
    out[1] = (uint64_t)(uintptr_t)block;
    out[2] = block != NULL ? __atomic_fetch_add(block, 1, __ATOMIC_SEQ_CST) : 0xDEADu;
}
