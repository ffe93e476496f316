/*
 * fixtures_selftest.c - verifies the hbg vector fixtures and the builder header without
 * libsimpler: dlopens the orchestration SO, calls build_example_graph with a fake
 * OrchestrationRuntimeOps table that records tasks, edges and tensor pairs and does real
 * malloc/memcpy, checks the recorded graph against the call sequence of upstream tests/st/a2a3/host_build_graph/vector_example @ c68d9bbe6, executes the recorded
 * kernels (dlopen'd from the kernel SOs) in dependency order, performs the tensor-pair
 * copy-back, and checks f element by element. Also checks the ChipCallable and
 * ChipStorageTaskArgs images byte by byte.
 *
 * usage: fixtures_selftest <orchestration.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>
 */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chip_callable_builder.h"
#include "hbg_orchestration_api.h"
#include "test_report.h"

#define N_ELEMS 16384u
#define MAX_TASKS 64
#define MAX_EDGES 256
#define MAX_ALLOCS 64
#define MAX_PAIRS 16

typedef struct FakeTask {
    uint64_t args[16];
    int num_args;
    int func_id;
    HbgCoreType core_type;
} FakeTask;

typedef struct FakePair {
    void *host;
    void *dev;
    size_t size;
} FakePair;

/* `base` must stay the first member: the ops receive &base and cast back. */
typedef struct FakeRuntime {
    OrchestrationRuntime base;
    FakeTask tasks[MAX_TASKS];
    int ntasks;
    int edges[MAX_EDGES][2];
    int nedges;
    void *allocs[MAX_ALLOCS];
    size_t alloc_sizes[MAX_ALLOCS];
    int nallocs;
    FakePair pairs[MAX_PAIRS];
    int npairs;
    int ncopies;
    int nprints;
    int nfrees;
    int protocol_errors;
} FakeRuntime;

static FakeRuntime *fake_of(OrchestrationRuntime *rt) { return (FakeRuntime *)(void *)rt; }

static int fake_add_task(OrchestrationRuntime *rt, uint64_t *args, int num_args, int func_id, HbgCoreType core_type) {
    FakeRuntime *f = fake_of(rt);
    FakeTask *t;
    if (f->ntasks >= MAX_TASKS || num_args < 0 || num_args > 16 || (num_args > 0 && args == NULL)) {
        ++f->protocol_errors;
        return -1;
    }
    t = &f->tasks[f->ntasks];
    memset(t, 0, sizeof *t);
    if (num_args > 0) memcpy(t->args, args, (size_t)num_args * sizeof(uint64_t));
    t->num_args = num_args;
    t->func_id = func_id;
    t->core_type = core_type;
    return f->ntasks++;
}

static int fake_set_tensor_info(OrchestrationRuntime *rt, int task_id, const HbgTensorInfo *info, int count) {
    FakeRuntime *f = fake_of(rt);
    (void)info;
    if (task_id < 0 || task_id >= f->ntasks || count < 0 || count > 16) return -1;
    return 0;
}

static void fake_add_successor(OrchestrationRuntime *rt, int from, int to) {
    FakeRuntime *f = fake_of(rt);
    if (from < 0 || from >= f->ntasks || to < 0 || to >= f->ntasks || f->nedges >= MAX_EDGES) {
        ++f->protocol_errors;
        return;
    }
    f->edges[f->nedges][0] = from;
    f->edges[f->nedges][1] = to;
    ++f->nedges;
}

static int fake_find_alloc(const FakeRuntime *f, const void *p, size_t size) {
    int i;
    for (i = 0; i < f->nallocs; ++i) {
        if (f->allocs[i] == p && size <= f->alloc_sizes[i]) return i;
    }
    return -1;
}

static void fake_record_pair(OrchestrationRuntime *rt, void *host, void *dev, size_t size) {
    FakeRuntime *f = fake_of(rt);
    if (f->npairs >= MAX_PAIRS || host == NULL || fake_find_alloc(f, dev, size) < 0) {
        ++f->protocol_errors;
        return;
    }
    f->pairs[f->npairs].host = host;
    f->pairs[f->npairs].dev = dev;
    f->pairs[f->npairs].size = size;
    ++f->npairs;
}

static int fake_get_task_count(OrchestrationRuntime *rt) { return fake_of(rt)->ntasks; }

static void fake_print_runtime(OrchestrationRuntime *rt) {
    FakeRuntime *f = fake_of(rt);
    ++f->nprints;
    printf("  fake runtime: %d tasks, %d edges, %d allocations, %d tensor pairs\n", f->ntasks, f->nedges, f->nallocs,
           f->npairs);
}

static void *fake_device_malloc(OrchestrationRuntime *rt, size_t size) {
    FakeRuntime *f = fake_of(rt);
    void *p;
    if (f->nallocs >= MAX_ALLOCS) return NULL;
    p = malloc(size > 0 ? size : 1);
    if (p == NULL) return NULL;
    memset(p, 0xA5, size); /* garbage, like uninitialised device memory */
    f->allocs[f->nallocs] = p;
    f->alloc_sizes[f->nallocs] = size;
    ++f->nallocs;
    return p;
}

static void fake_device_free(OrchestrationRuntime *rt, void *ptr) {
    FakeRuntime *f = fake_of(rt);
    int i = fake_find_alloc(f, ptr, 0);
    if (i < 0) return;
    free(f->allocs[i]);
    f->allocs[i] = NULL;
    f->alloc_sizes[i] = 0;
    ++f->nfrees;
}

static int fake_copy_to_device(OrchestrationRuntime *rt, void *dev, const void *host, size_t size) {
    FakeRuntime *f = fake_of(rt);
    if (dev == NULL || host == NULL || fake_find_alloc(f, dev, size) < 0) {
        ++f->protocol_errors;
        return -1;
    }
    memcpy(dev, host, size);
    ++f->ncopies;
    return 0;
}

static void fake_release_all(FakeRuntime *f) {
    int i;
    for (i = 0; i < f->nallocs; ++i) {
        free(f->allocs[i]);
        f->allocs[i] = NULL;
    }
}

static int has_edge(const FakeRuntime *f, int from, int to) {
    int i;
    for (i = 0; i < f->nedges; ++i)
        if (f->edges[i][0] == from && f->edges[i][1] == to) return 1;
    return 0;
}

static void *load_sym(void *handle, const char *name) {
    void *p;
    (void)dlerror();
    p = dlsym(handle, name);
    return dlerror() == NULL ? p : NULL;
}

/* Executes the recorded tasks in dependency order (Kahn). Returns the number run. */
static int execute_graph(FakeRuntime *f, HbgKernelEntry kernels[3], int order[MAX_TASKS]) {
    int fanin[MAX_TASKS], done[MAX_TASKS];
    int executed = 0, progress = 1, i, e;
    memset(fanin, 0, sizeof fanin);
    memset(done, 0, sizeof done);
    for (e = 0; e < f->nedges; ++e) ++fanin[f->edges[e][1]];
    while (progress) {
        progress = 0;
        for (i = 0; i < f->ntasks; ++i) {
            if (done[i] || fanin[i] != 0) continue;
            if (f->tasks[i].func_id < 0 || f->tasks[i].func_id > 2) return executed;
            kernels[f->tasks[i].func_id]((int64_t *)(void *)f->tasks[i].args);
            done[i] = 1;
            order[executed++] = i;
            for (e = 0; e < f->nedges; ++e)
                if (f->edges[e][0] == i) --fanin[f->edges[e][1]];
            progress = 1;
        }
    }
    return executed;
}

static void run_graph_check(void *orch_handle, HbgKernelEntry kernels[3], unsigned variant) {
    static const OrchestrationRuntimeOps ops = {
        fake_add_task,  fake_set_tensor_info, fake_add_successor, fake_record_pair,  fake_get_task_count,
        fake_print_runtime, fake_device_malloc, fake_device_free, fake_copy_to_device,
    };
    HbgOrchestrationFunc entry;
    FakeRuntime *f = (FakeRuntime *)calloc(1, sizeof(FakeRuntime));
    float *a = (float *)malloc(N_ELEMS * sizeof(float));
    float *b = (float *)malloc(N_ELEMS * sizeof(float));
    float *out = (float *)malloc(N_ELEMS * sizeof(float));
    uint8_t *args = ccb_args_alloc();
    uint32_t shape[1] = {N_ELEMS};
    char name[160];
    int order[MAX_TASKS];
    int rc, i, executed;
    void *p = load_sym(orch_handle, "build_example_graph");

    memcpy(&entry, &p, sizeof p);
    if (!check("allocations", f != NULL && a != NULL && b != NULL && out != NULL && args != NULL, "out of memory") ||
        !check("dlsym build_example_graph", p != NULL, "missing"))
        goto done;
    f->base.ops = &ops;
    for (i = 0; i < (int)N_ELEMS; ++i) {
        a[i] = variant == 0 ? 2.0f : (float)i * 0.5f + (float)variant;
        b[i] = variant == 0 ? 3.0f : 1.0f - (float)i * 0.25f;
        out[i] = nanf("");
    }
    ccb_args_add_tensor(args, (uint64_t)(uintptr_t)a, CCB_DT_FLOAT32, 1, shape);
    ccb_args_add_tensor(args, (uint64_t)(uintptr_t)b, CCB_DT_FLOAT32, 1, shape);
    ccb_args_add_tensor(args, (uint64_t)(uintptr_t)out, CCB_DT_FLOAT32, 1, shape);

    rc = entry(&f->base, args);
    snprintf(name, sizeof name, "[variant %u] build_example_graph returns 0", variant);
    check(name, rc == 0, "returned %d", rc);
    snprintf(name, sizeof name, "[variant %u] no protocol errors in ops calls", variant);
    check(name, f->protocol_errors == 0, "%d errors", f->protocol_errors);
    snprintf(name, sizeof name, "[variant %u] 6 device_malloc of 65536 B, 2 copy_to_device, 1 print_runtime", variant);
    {
        int sizes_ok = f->nallocs == 6;
        for (i = 0; i < f->nallocs; ++i) sizes_ok = sizes_ok && f->alloc_sizes[i] == N_ELEMS * sizeof(float);
        check(name, sizes_ok && f->ncopies == 2 && f->nprints == 1, "allocs %d, copies %d, prints %d", f->nallocs,
              f->ncopies, f->nprints);
    }
    snprintf(name, sizeof name, "[variant %u] one tensor pair (host f, dev f = 3rd allocation, 65536 B)", variant);
    check(name, f->npairs == 1 && f->pairs[0].host == (void *)out && f->nallocs >= 3 && f->pairs[0].dev == f->allocs[2] &&
                    f->pairs[0].size == N_ELEMS * sizeof(float),
          "npairs %d", f->npairs);
    snprintf(name, sizeof name, "[variant %u] 4 AIV tasks with func ids 0,1,1,2 and 4 args, SIZE in args[3]", variant);
    {
        static const int want_func[4] = {0, 1, 1, 2};
        int ok = f->ntasks == 4;
        for (i = 0; ok && i < 4; ++i)
            ok = f->tasks[i].func_id == want_func[i] && f->tasks[i].core_type == HBG_CORE_AIV &&
                 f->tasks[i].num_args == 4 && f->tasks[i].args[3] == N_ELEMS;
        check(name, ok, "ntasks %d", f->ntasks);
    }
    if (f->ntasks == 4 && f->nallocs == 6) {
        /* allocation order: a, b, f, c, d, e */
        uint64_t A = (uintptr_t)f->allocs[0], B = (uintptr_t)f->allocs[1], F = (uintptr_t)f->allocs[2];
        uint64_t C = (uintptr_t)f->allocs[3], D = (uintptr_t)f->allocs[4], E = (uintptr_t)f->allocs[5];
        snprintf(name, sizeof name, "[variant %u] task args {a,b,c} {c,1.0f,d} {c,2.0f,e} {d,e,f}", variant);
        check(name,
              f->tasks[0].args[0] == A && f->tasks[0].args[1] == B && f->tasks[0].args[2] == C &&
                  f->tasks[1].args[0] == C && f->tasks[1].args[1] == 0x3F800000u && f->tasks[1].args[2] == D &&
                  f->tasks[2].args[0] == C && f->tasks[2].args[1] == 0x40000000u && f->tasks[2].args[2] == E &&
                  f->tasks[3].args[0] == D && f->tasks[3].args[1] == E && f->tasks[3].args[2] == F,
              "argument mismatch");
    }
    snprintf(name, sizeof name, "[variant %u] edges exactly 0->1, 0->2, 1->3, 2->3", variant);
    check(name, f->nedges == 4 && has_edge(f, 0, 1) && has_edge(f, 0, 2) && has_edge(f, 1, 3) && has_edge(f, 2, 3),
          "nedges %d", f->nedges);

    executed = execute_graph(f, kernels, order);
    snprintf(name, sizeof name, "[variant %u] all 4 tasks executed in dependency order", variant);
    check(name, executed == f->ntasks && executed == 4 && order[0] == 0 && order[3] == 3, "executed %d", executed);
    for (i = 0; i < f->npairs; ++i) {
        memcpy(f->pairs[i].host, f->pairs[i].dev, f->pairs[i].size);
        fake_device_free(&f->base, f->pairs[i].dev);
    }
    {
        int bad = -1;
        float expect = 0.0f;
        for (i = 0; i < (int)N_ELEMS; ++i) {
            float s = a[i] + b[i];
            expect = (s + 1.0f) * (s + 2.0f);
            if (!(fabsf(out[i] - expect) <= 1e-5f * (fabsf(expect) > 1.0f ? fabsf(expect) : 1.0f))) {
                bad = i;
                break;
            }
        }
        snprintf(name, sizeof name, "[variant %u] f = (a+b+1)*(a+b+2) element by element%s", variant,
                 variant == 0 ? " (= 42)" : "");
        check(name, bad < 0 && (variant != 0 || out[0] == 42.0f), "f[%d] = %g, expected %g", bad,
              bad >= 0 ? (double)out[bad] : (double)out[0], (double)expect);
    }

done:
    if (f != NULL) fake_release_all(f);
    free(f);
    free(a);
    free(b);
    free(out);
    ccb_free64(args);
}

static void check_bad_args(void *orch_handle) {
    static const OrchestrationRuntimeOps ops = {
        fake_add_task,  fake_set_tensor_info, fake_add_successor, fake_record_pair,  fake_get_task_count,
        fake_print_runtime, fake_device_malloc, fake_device_free, fake_copy_to_device,
    };
    HbgOrchestrationFunc entry;
    FakeRuntime *f = (FakeRuntime *)calloc(1, sizeof(FakeRuntime));
    uint8_t *args = ccb_args_alloc();
    float x[4] = {0, 0, 0, 0};
    uint32_t shape[1] = {4};
    void *p = load_sym(orch_handle, "build_example_graph");
    int rc;
    memcpy(&entry, &p, sizeof p);
    if (f == NULL || args == NULL || p == NULL) {
        check("orchestration rejects 2 tensors", 0, "setup failed");
    } else {
        f->base.ops = &ops;
        ccb_args_add_tensor(args, (uint64_t)(uintptr_t)x, CCB_DT_FLOAT32, 1, shape);
        ccb_args_add_tensor(args, (uint64_t)(uintptr_t)x, CCB_DT_FLOAT32, 1, shape);
        rc = entry(&f->base, args);
        check("orchestration with only 2 tensors returns non-zero without adding tasks", rc != 0 && f->ntasks == 0,
              "rc %d, tasks %d", rc, f->ntasks);
        fake_release_all(f);
    }
    free(f);
    ccb_free64(args);
}

/* Builds a small ChipCallable and re-reads every field at its offset in upstream callable.h @ c68d9bbe6. */
static void check_callable_image(void) {
    static const int32_t sig[3] = {CCB_ARG_IN, CCB_ARG_IN, CCB_ARG_OUT};
    static const int32_t ksig[2] = {CCB_ARG_IN, CCB_ARG_OUT};
    uint8_t orch[100], k0[130], k1[1];
    CcbChild ch[2];
    size_t size = 0, i;
    uint8_t *img;
    int ok = 1;
    for (i = 0; i < sizeof orch; ++i) orch[i] = (uint8_t)(i * 7u + 1u);
    for (i = 0; i < sizeof k0; ++i) k0[i] = (uint8_t)(i * 3u + 5u);
    k1[0] = 0xEE;
    ch[0].func_id = 5;
    ch[0].signature = ksig;
    ch[0].sig_count = 2;
    ch[0].binary = k0;
    ch[0].binary_size = sizeof k0;
    ch[1].func_id = 1023;
    ch[1].signature = ksig;
    ch[1].sig_count = 1;
    ch[1].binary = k1;
    ch[1].binary_size = sizeof k1;
    img = ccb_build_chip_callable(sig, 3, "entry_name", "cfg", orch, sizeof orch, ch, 2, &size);
    if (!check("ChipCallable image built", img != NULL, "builder returned NULL")) return;
    /* children at align64(100) = 128 and align64(128 + 192 + 130 = 450) = 512; end 512+193 */
    check("ChipCallable total size = 8864 + 705", size == 8864u + 705u, "got %zu", size);
    ok = ok && ccb_get_i32(img, 0) == 1 && ccb_get_i32(img, 4) == 1 && ccb_get_i32(img, 8) == 2 &&
         ccb_get_i32(img, 12) == 0;
    ok = ok && ccb_get_i32(img, 512) == 3 && ccb_get_u32(img, 516) == 100;
    ok = ok && memcmp(img + 520, "entry_name", 11) == 0 && ccb_get_u32(img, 584) == 10;
    ok = ok && ccb_get_i32(img, 588) == 5 && ccb_get_i32(img, 592) == 1023;
    ok = ok && ccb_get_u32(img, 4684) == 128 && ccb_get_u32(img, 4688) == 512;
    ok = ok && ccb_get_i32(img, 8780) == 2;
    ok = ok && memcmp(img + 8784, "cfg", 4) == 0 && ccb_get_u32(img, 8848) == 3;
    ok = ok && memcmp(img + 8864, orch, sizeof orch) == 0;
    check("ChipCallable header fields at upstream callable.h offsets", ok, "field mismatch");
    ok = ccb_get_i32(img, 8864 + 128 + 0) == 1 && ccb_get_i32(img, 8864 + 128 + 4) == 2 &&
         ccb_get_i32(img, 8864 + 128 + 128) == 2 && ccb_get_u32(img, 8864 + 128 + 132) == sizeof k0 &&
         ccb_get_u64(img, 8864 + 128 + 136) == 0 && memcmp(img + 8864 + 128 + 192, k0, sizeof k0) == 0 &&
         ccb_get_i32(img, 8864 + 512 + 128) == 1 && ccb_get_u32(img, 8864 + 512 + 132) == 1 &&
         img[8864 + 512 + 192] == 0xEE;
    check("CoreCallable children: header + binary at +192, 64-aligned offsets", ok, "child mismatch");
    {
        /* padding bytes between the orchestration and the first child stay zero */
        int zero = 1;
        for (i = 8864 + 100; i < 8864 + 128; ++i) zero = zero && img[i] == 0;
        check("padding between images is zero", zero, "non-zero padding");
    }
    free(img);
    {
        char long_name[100];
        memset(long_name, 'x', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        img = ccb_build_chip_callable(sig, 3, long_name, NULL, orch, sizeof orch, NULL, 0, &size);
        check("func_name truncated to 63 chars + NUL, no children -> size 8864 + orch",
              img != NULL && ccb_get_u32(img, 584) == 63 && img[520 + 62] == 'x' && img[520 + 63] == 0 &&
                  size == 8864u + sizeof orch,
              "truncation mismatch");
        free(img);
    }
    check("builder rejects sig_count 129", ccb_build_chip_callable(sig, 129, "x", NULL, orch, 1, NULL, 0, &size) == NULL,
          "accepted");
}

/* Checks the ChipStorageTaskArgs encoding (upstream tensor.h, TaskArgsTpl @ c68d9bbe6). */
static void check_args_image(void) {
    uint8_t *args = ccb_args_alloc();
    uint32_t shape[2] = {3, 5};
    int ok;
    if (!check("task args allocated 64-aligned", args != NULL && ((uintptr_t)args % 64u) == 0, "bad allocation"))
        return;
    ok = ccb_args_add_tensor(args, 0x1000, CCB_DT_FLOAT16, 2, shape) == 0;
    ok = ok && ccb_args_add_scalar(args, 0xDEADBEEFull) == 0;
    check("tensor then scalar appended", ok, "append failed");
    check("tensor after scalar rejected", ccb_args_add_tensor(args, 0x2000, CCB_DT_FLOAT32, 2, shape) == -1, "accepted");
    ok = ccb_get_u64(args, 0) == 0x1000 && ccb_get_u64(args, 8) == 30 && ccb_get_u64(args, 16) == UINT64_MAX &&
         ccb_get_u64(args, 24) == 0 && ccb_get_i32(args, 32) == 0 && ccb_get_u32(args, 36) == 2 && args[40] == 1 &&
         args[41] == 0 && args[42] == 1 && args[43] == 0 && ccb_get_u32(args, 44) == 3 && ccb_get_u32(args, 48) == 5 &&
         ccb_get_u64(args, 64) == 15 && ccb_get_u32(args, 72) == 5 && ccb_get_u32(args, 76) == 1;
    check("Tensor record fields at upstream tensor.h offsets (size, owner, strides, extent)", ok, "field mismatch");
    ok = ccb_get_u64(args, 16384) == 0xDEADBEEFull && ccb_get_i32(args, 17408) == 1 && ccb_get_i32(args, 17412) == 1;
    check("scalars at 16384, counts at 17408/17412", ok, "field mismatch");
    ccb_free64(args);
}

int main(int argc, char **argv) {
    void *orch = NULL;
    void *khandles[3] = {NULL, NULL, NULL};
    HbgKernelEntry kernels[3] = {NULL, NULL, NULL};
    int i, loaded = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: %s <orchestration.so> <kernel_add.so> <kernel_add_scalar.so> <kernel_mul.so>\n",
                argv[0]);
        return 2;
    }
    check_callable_image();
    check_args_image();

    orch = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    loaded = check("dlopen orchestration SO", orch != NULL, "%s", dlerror());
    for (i = 0; i < 3; ++i) {
        void *p = NULL;
        khandles[i] = dlopen(argv[2 + i], RTLD_NOW | RTLD_LOCAL);
        if (khandles[i] != NULL) p = load_sym(khandles[i], "kernel_entry");
        memcpy(&kernels[i], &p, sizeof p);
        loaded = check("dlopen kernel SO + dlsym kernel_entry", p != NULL, "%s", argv[2 + i]) && loaded;
    }
    if (loaded) {
        run_graph_check(orch, kernels, 0);
        run_graph_check(orch, kernels, 1);
        run_graph_check(orch, kernels, 7);
        check_bad_args(orch);
    }
    for (i = 0; i < 3; ++i)
        if (khandles[i] != NULL) dlclose(khandles[i]);
    if (orch != NULL) dlclose(orch);
    return test_report_finish();
}
