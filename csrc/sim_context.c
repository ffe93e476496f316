/*
 * libsimpler_sim_context.so: the simulated-AICore identity that sim kernels
 * look up with dlsym(RTLD_DEFAULT, ...).
 *
 * libsimpler.so is itself loaded RTLD_LOCAL, so its own exports are not
 * visible to RTLD_DEFAULT lookups. This tiny library is therefore built
 * separately, embedded in libsimpler.so, and dlopen'ed RTLD_NOW|RTLD_GLOBAL
 * once per process. It exports exactly:
 *
 *   kernel-facing (semantics of upstream libcpu_sim_context.so @ c68d9bbe6)
 *     uint32_t pto_sim_get_subblock_id(void)
 *     void    *pto_sim_get_pipe_shared_state(uint64_t pipe_key, size_t size)
 *   runtime-facing setters
 *     void simpler_sim_set_core(uint32_t cluster_id, uint32_t subblock_id, int device_id)
 *     void simpler_sim_clear_pipe_state(int device_id)
 *
 * and deliberately none of the pto_cpu_sim_* execution-context names (their
 * presence would change kernel behaviour).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SIM_EXPORT __attribute__((visibility("default")))

/* Per simulated-core-thread identity. */
static __thread uint32_t t_subblock_id;
static __thread uint32_t t_cluster_id;
static __thread int t_device_id = -1; /* -1: no device bound */

/* One zero-initialised pipe-state block, keyed by (device, cluster, pipe_key). */
struct pipe_block {
    struct pipe_block *next;
    int device_id;
    uint32_t cluster_id;
    uint64_t pipe_key;
    size_t size;
    void *mem;
};

#define PIPE_BUCKETS 256u
static struct pipe_block *g_buckets[PIPE_BUCKETS];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned bucket_of(int device_id, uint32_t cluster_id, uint64_t pipe_key) {
    uint64_t h = pipe_key * 0x9E3779B97F4A7C15ull;
    h ^= ((uint64_t)(uint32_t)device_id << 32) ^ (uint64_t)cluster_id;
    h *= 0xBF58476D1CE4E5B9ull;
    return (unsigned)(h >> 56) % PIPE_BUCKETS;
}

SIM_EXPORT uint32_t pto_sim_get_subblock_id(void);
SIM_EXPORT void *pto_sim_get_pipe_shared_state(uint64_t pipe_key, size_t size);
SIM_EXPORT void simpler_sim_set_core(uint32_t cluster_id, uint32_t subblock_id, int device_id);
SIM_EXPORT void simpler_sim_clear_pipe_state(int device_id);

uint32_t pto_sim_get_subblock_id(void) { return t_subblock_id; }

/*
 * Returns the block for (bound device, thread's cluster, pipe_key), created
 * zeroed (64-byte aligned) on first request and stable until
 * simpler_sim_clear_pipe_state(device). NULL when size is 0, when no device
 * is bound to the calling thread, on allocation failure, or when an existing
 * block is smaller than the requested size.
 */
void *pto_sim_get_pipe_shared_state(uint64_t pipe_key, size_t size) {
    if (size == 0) {
        return NULL;
    }
    int device_id = t_device_id;
    if (device_id < 0) {
        return NULL;
    }
    uint32_t cluster_id = t_cluster_id;
    unsigned b = bucket_of(device_id, cluster_id, pipe_key);
    void *result = NULL;
    pthread_mutex_lock(&g_lock);
    struct pipe_block *blk = g_buckets[b];
    while (blk != NULL &&
           !(blk->device_id == device_id && blk->cluster_id == cluster_id && blk->pipe_key == pipe_key)) {
        blk = blk->next;
    }
    if (blk != NULL) {
        result = (size <= blk->size) ? blk->mem : NULL;
    } else {
        struct pipe_block *nb = (struct pipe_block *)malloc(sizeof *nb);
        void *mem = NULL;
        size_t rounded = (size + 63u) & ~(size_t)63u;
        if (nb != NULL && rounded >= size && posix_memalign(&mem, 64, rounded) == 0) {
            memset(mem, 0, rounded);
            nb->device_id = device_id;
            nb->cluster_id = cluster_id;
            nb->pipe_key = pipe_key;
            nb->size = size;
            nb->mem = mem;
            nb->next = g_buckets[b];
            g_buckets[b] = nb;
            result = mem;
        } else {
            free(nb);
        }
    }
    pthread_mutex_unlock(&g_lock);
    return result;
}

/* Sets the calling thread's cluster, lane and bound device (-1 unbinds). */
void simpler_sim_set_core(uint32_t cluster_id, uint32_t subblock_id, int device_id) {
    t_cluster_id = cluster_id;
    t_subblock_id = subblock_id;
    t_device_id = device_id < 0 ? -1 : device_id;
}

/* Frees every pipe-state block of device_id (a negative id clears all devices). */
void simpler_sim_clear_pipe_state(int device_id) {
    pthread_mutex_lock(&g_lock);
    for (unsigned b = 0; b < PIPE_BUCKETS; ++b) {
        struct pipe_block **link = &g_buckets[b];
        while (*link != NULL) {
            struct pipe_block *blk = *link;
            if (device_id < 0 || blk->device_id == device_id) {
                *link = blk->next;
                free(blk->mem);
                free(blk);
            } else {
                link = &blk->next;
            }
        }
    }
    pthread_mutex_unlock(&g_lock);
}
