/*
 * Test driver (built at test time into a shared object): calls every entry
 * of the PTO2 ops table through the table, with C's own view of the
 * layouts, the way an orchestration SO does. Returns 0 on success, else the
 * line of the first failed check (with a message in `report`).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct Tensor {
    uint64_t addr, size, owner, start_offset;
    int32_t version;
    uint32_t ndims;
    uint8_t dtype, manual_dep, is_contiguous, child_memory;
    uint32_t shapes[5];
    uint64_t extent;
    uint32_t strides[5];
    uint8_t pad[36];
} __attribute__((aligned(64))) Tensor;

typedef struct TensorCreateInfo {
    uint64_t initial_value;
    bool has_initial_value;
    uint8_t pad1[7];
    uint64_t pad2, start_offset;
    int32_t version;
    uint32_t ndims;
    uint8_t dtype, manual_dep, is_contiguous, pad_flags;
    uint32_t shapes[5];
} __attribute__((aligned(64))) TensorCreateInfo;

typedef struct Arg {
    int32_t tags[32];
    const void *refs[32];
    uint64_t scalars[16];
    int32_t tensor_count, scalar_count;
    bool has_error;
    const char *error_msg;
    int16_t block_num;
    bool require_sync_start;
    bool allow_early_resolve;
    uint8_t dump[160];
    const uint64_t *explicit_deps;
    uint32_t explicit_dep_count;
} Arg;

typedef struct MixedKernels {
    int32_t aic, aiv0, aiv1;
} MixedKernels;

typedef struct TaskOutputTensors {
    uint64_t task_id;
    uint32_t output_count;
    const Tensor *tensors[32];
} TaskOutputTensors;

typedef struct PTO2Runtime PTO2Runtime;
typedef struct Ops {
    TaskOutputTensors (*submit_task)(PTO2Runtime *, const MixedKernels *, const Arg *);
    void (*scope_begin)(PTO2Runtime *);
    void (*scope_end)(PTO2Runtime *);
    void (*orchestration_done)(PTO2Runtime *);
    bool (*is_fatal)(PTO2Runtime *);
    void (*report_fatal)(PTO2Runtime *, int32_t, const char *, const char *, ...);
    void (*log_error)(const char *, const char *, ...);
    void (*log_warn)(const char *, const char *, ...);
    void (*log_debug)(const char *, const char *, ...);
    void (*log_info_v)(const char *, int, const char *, ...);
    uint64_t (*get_tensor_data)(PTO2Runtime *, const Tensor *, uint32_t, const uint32_t *);
    void (*set_tensor_data)(PTO2Runtime *, const Tensor *, uint32_t, const uint32_t *, uint64_t);
    TaskOutputTensors (*alloc_tensors)(PTO2Runtime *, const Arg *);
    TaskOutputTensors (*submit_dummy_task)(PTO2Runtime *, const Arg *);
    void (*scope_set_site)(const char *, int);
} Ops;

struct PTO2Runtime {
    const Ops *ops;
    uint8_t pending_scope_mode;
};

_Static_assert(sizeof(Tensor) == 128, "Tensor");
_Static_assert(sizeof(TensorCreateInfo) == 64, "TensorCreateInfo");
_Static_assert(sizeof(Arg) == 720, "Arg");
_Static_assert(offsetof(Arg, block_num) == 536, "Arg.block_num");
_Static_assert(offsetof(Arg, explicit_deps) == 704, "Arg.explicit_deps");
_Static_assert(sizeof(TaskOutputTensors) == 272, "TaskOutputTensors");
_Static_assert(sizeof(Ops) == 120, "Ops");

int simpler_test_ops_table(PTO2Runtime *rt, char *report, size_t cap);

#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            snprintf(report, cap, "check failed: %s", #cond);         \
            return __LINE__;                                          \
        }                                                             \
    } while (0)

static void empty_arg(Arg *a) {
    memset(a, 0, sizeof *a);
    a->block_num = 1;
}

int simpler_test_ops_table(PTO2Runtime *rt, char *report, size_t cap) {
    const Ops *ops = rt->ops;
    CHECK(ops != NULL);
    CHECK(ops->scope_set_site != NULL);

    /* is_fatal */
    CHECK(!ops->is_fatal(rt));

    /* submit_task: a MIX-free AIV task with an input, an output, scalars,
     * SPMD launch spec and explicit deps; the result comes back via sret. */
    static Tensor input;
    memset(&input, 0, sizeof input);
    input.addr = 0x5000;
    input.owner = UINT64_MAX;
    input.ndims = 2;
    input.shapes[0] = 4;
    input.shapes[1] = 8;
    input.strides[0] = 8;
    input.strides[1] = 1;
    static TensorCreateInfo ci;
    memset(&ci, 0, sizeof ci);
    ci.ndims = 1;
    ci.shapes[0] = 256;
    ci.dtype = 2;
    ci.is_contiguous = 1;
    ci.has_initial_value = true;
    ci.initial_value = 7;
    const uint64_t deps[2] = {5, 0x100000006ull};
    Arg a;
    empty_arg(&a);
    a.tags[0] = 0;
    a.refs[0] = &input;
    a.tags[1] = 1;
    a.refs[1] = &ci;
    a.tensor_count = 2;
    a.scalars[0] = 7;
    a.scalars[1] = 0xFFFFFFFFu;
    a.scalar_count = 2;
    a.block_num = 2;
    a.require_sync_start = true;
    a.explicit_deps = deps;
    a.explicit_dep_count = 2;
    MixedKernels mk = {-1, 2, -1};
    TaskOutputTensors r = ops->submit_task(rt, &mk, &a);
    CHECK(r.task_id == 0);
    CHECK(r.output_count == 1);
    CHECK(r.tensors[0] != NULL);
    CHECK(r.tensors[0]->owner == 0);
    CHECK(((uintptr_t)r.tensors[0] % 64) == 0);

    /* scope_begin reads and resets pending_scope_mode */
    rt->pending_scope_mode = 1;
    ops->scope_set_site("ops_table_test.c", 42);
    ops->scope_begin(rt);
    CHECK(rt->pending_scope_mode == 0);

    /* submit in depth 1 -> ring 1 */
    Arg b;
    empty_arg(&b);
    b.tags[0] = 2; /* INOUT of the previous output */
    b.refs[0] = r.tensors[0];
    b.tensor_count = 1;
    MixedKernels mk2 = {1, -1, -1};
    TaskOutputTensors r2 = ops->submit_task(rt, &mk2, &b);
    CHECK(r2.task_id == 0x100000000ull);
    CHECK(r2.output_count == 0);

    ops->scope_end(rt);

    /* alloc_tensors / submit_dummy_task */
    Arg c;
    empty_arg(&c);
    c.tags[0] = 1;
    c.refs[0] = &ci;
    c.tags[1] = 1;
    c.refs[1] = &ci;
    c.tensor_count = 2;
    TaskOutputTensors r3 = ops->alloc_tensors(rt, &c);
    CHECK(r3.task_id == 1);
    CHECK(r3.output_count == 2);
    CHECK(r3.tensors[0] != r3.tensors[1]);
    Arg d;
    empty_arg(&d);
    d.tags[0] = 4;
    d.refs[0] = &input;
    d.tags[1] = 3;
    d.refs[1] = r3.tensors[1];
    d.tensor_count = 2;
    TaskOutputTensors r4 = ops->submit_dummy_task(rt, &d);
    CHECK(r4.task_id == 2);
    CHECK(r4.output_count == 0);

    /* get/set_tensor_data */
    const uint32_t idx[2] = {1, 2};
    CHECK(ops->get_tensor_data(rt, &input, 2, idx) == 0xABCD0000ull + 0x12);
    ops->set_tensor_data(rt, &input, 2, idx, 0x1234);

    /* variadic logging (formatting checked by the Rust side) */
    ops->log_error("c_test", "err %d %s", -3, "x");
    ops->log_warn("c_test", "warn %u", 7u);
    ops->log_debug("c_test", "debug %.3f", 0.125);
    ops->log_info_v("c_test", 4, "info %lld %c", (long long)-9000000000LL, 'z');

    /* has_error -> fatal 5 and an empty result */
    Arg e;
    empty_arg(&e);
    e.has_error = true;
    e.error_msg = "Too many tensor args (max 32)";
    TaskOutputTensors r5 = ops->submit_task(rt, &mk, &e);
    CHECK(r5.task_id == UINT64_MAX);
    CHECK(r5.output_count == 0);
    CHECK(ops->is_fatal(rt));

    /* report_fatal formats its varargs (first code already latched: 5) */
    ops->report_fatal(rt, 9, "c_test", "x=%d y=%s z=%.1f w=%llx", 42, "abc", 2.5, 0xdeadbeefULL);
    ops->report_fatal(rt, 9, "c_test", NULL);

    ops->orchestration_done(rt);
    snprintf(report, cap, "ok");
    return 0;
}
