/*
 * Pure C11 consumer of an installed libsimpler, linked statically (simpler::static or the
 * pkg-config --static link line) or dynamically; it calls the library directly through the
 * declarations of simpler.h.
 *
 *   app_c ORCH_SO KERNEL_SO
 *
 * 1. Configuration API: init / set / validate / resolve / describe, error codes and messages
 *    (the last error survives pto_error_name).
 * 2. One host_build_graph run (hbg/orch.c + hbg/kernel_add.c: out = a + 2 b) through
 *    simpler_init_with_config + simpler_prepare_callable_sized + run_prepared_with_config,
 *    checking every output element; then finalize, destroy, and a stale-handle check.
 * Last line: "N passed, M failed"; exit status 0 only when nothing failed.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simpler.h"

static int g_passed, g_failed;

static void check(int ok, const char *what) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        fprintf(stderr, "FAILED: %s (last error %s: %s)\n", what, pto_error_name(pto_last_error_code()),
                pto_last_error_message());
    }
}

/* ---- part 1: configuration API ------------------------------------------------------------ */

static void config_api(void) {
    pto_runtime_config_t cfg;
    pto_resolved_config_t res;
    pto_knob_info_t info;
    char message[4096];
    size_t i, n;
    int rc, saw_heap = 0;

    check(pto_runtime_config_init(&cfg) == PTO_OK, "pto_runtime_config_init");
    check(cfg.struct_size == sizeof cfg, "struct_size set by init");
    check(pto_runtime_config_set(&cfg, "ring_heap", "1048576") == PTO_OK, "set ring_heap (all rings)");
    check(pto_runtime_config_set(&cfg, "ring_task_window", "64,128,256,512") == PTO_OK, "set per-ring windows");
    check(cfg.ring_heap == 1048576 && cfg.ring_task_windows[3] == 512, "set writes the fields");
    check(pto_runtime_config_validate(&cfg) == PTO_OK, "valid config validates");

    rc = pto_runtime_config_set(&cfg, "ring_task_window", "100");
    check(rc == PTO_ERR_INVALID_VALUE, "window 100 is PTO_ERR_INVALID_VALUE");
    snprintf(message, sizeof message, "%s", pto_last_error_message());
    check(strstr(message, "ring_task_window") != NULL, "message names the knob");
    check(strcmp(pto_error_name(rc), "PTO_ERR_INVALID_VALUE") == 0, "pto_error_name");
    check(strcmp(pto_last_error_message(), message) == 0, "the message survives pto_error_name");
    check(cfg.ring_task_windows[0] == 64, "failed set leaves cfg unchanged");

    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    check(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve");
    check(res.ring_heaps[1].value == 1048576 && res.ring_heaps[1].source == PTO_SOURCE_EXPLICIT, "resolved heap");

    n = pto_runtime_config_knob_count();
    check(n >= 7, "knob count");
    for (i = 0; i < n; ++i) {
        check(pto_runtime_config_describe(i, &info) == PTO_OK, "describe knob");
        if (strcmp(info.name, "ring_heap") == 0) saw_heap = strcmp(info.env, "PTO2_RING_HEAP") == 0;
    }
    check(saw_heap, "describe lists ring_heap / PTO2_RING_HEAP");
    check(pto_runtime_config_describe(n, &info) == PTO_ERR_INVALID_ARGUMENT, "describe out of range");
    check(strlen(simpler_version()) >= 5, "simpler_version");
}

/* ---- part 2: one host_build_graph run ----------------------------------------------------- */

enum { N = 4096, CHIP_HEADER = 8864, CORE_BINARY_OFF = 192, ARGS_SIZE = 17472, TENSOR_SIZE = 128 };
enum { DIR_IN = 1, DIR_OUT = 2 };

static void put32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }
static void put64(uint8_t *p, size_t off, uint64_t v) { memcpy(p + off, &v, 8); }

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = (uint8_t *)malloc((size_t)n);
        if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)n;
    }
    fclose(f);
    return buf;
}

/* ChipCallable image: signature [IN, IN, OUT], func_name "build_graph", the orchestration SO at
 * storage offset 0, one child (func_id 0, signature [IN, IN, OUT]) at a 64-aligned offset. */
static uint8_t *chip_callable(const uint8_t *orch, size_t orch_len, const uint8_t *kernel, size_t kernel_len,
                              size_t *len) {
    static const char func_name[] = "build_graph";
    size_t child = (orch_len + 63) / 64 * 64;
    size_t end = child + CORE_BINARY_OFF + kernel_len;
    uint8_t *img = (uint8_t *)calloc(CHIP_HEADER + end, 1);
    int s;
    if (img == NULL) return NULL;
    for (s = 0; s < 3; ++s) put32(img, 4 * (size_t)s, s < 2 ? DIR_IN : DIR_OUT);
    put32(img, 512, 3);
    put32(img, 516, (uint32_t)orch_len);
    memcpy(img + 520, func_name, sizeof func_name - 1);
    put32(img, 584, (uint32_t)(sizeof func_name - 1));
    put32(img, 588, 0);                /* child 0: func_id 0 */
    put32(img, 4684, (uint32_t)child); /* child 0: storage offset */
    put32(img, 8780, 1);               /* child count */
    memcpy(img + CHIP_HEADER, orch, orch_len);
    for (s = 0; s < 3; ++s) put32(img, CHIP_HEADER + child + 4 * (size_t)s, s < 2 ? DIR_IN : DIR_OUT);
    put32(img, CHIP_HEADER + child + 128, 3);
    put32(img, CHIP_HEADER + child + 132, (uint32_t)kernel_len);
    memcpy(img + CHIP_HEADER + child + CORE_BINARY_OFF, kernel, kernel_len);
    *len = CHIP_HEADER + end;
    return img;
}

/* A contiguous 1-D float32 host tensor (Tensor, 128 bytes) at index i of the task args. */
static void host_tensor(uint8_t *args, int i, float *data) {
    uint8_t *t = args + (size_t)i * TENSOR_SIZE;
    put64(t, 0, (uint64_t)(uintptr_t)data);
    put64(t, 8, (uint64_t)N * sizeof(float));
    put64(t, 16, UINT64_MAX); /* owner_task_id */
    put32(t, 36, 1);          /* ndims */
    t[40] = 0;                /* dtype float32 */
    t[42] = 1;                /* is_contiguous */
    put32(t, 44, N);          /* shapes[0] */
    put64(t, 64, N);          /* extent_elem_cache */
    put32(t, 72, 1);          /* strides[0] */
}

static void hbg_run(const char *orch_path, const char *kernel_path) {
    size_t orch_len = 0, kernel_len = 0, image_len = 0, i;
    uint8_t *orch = read_file(orch_path, &orch_len);
    uint8_t *kernel = read_file(kernel_path, &kernel_len);
    uint8_t *image = NULL;
    uint8_t *args = (uint8_t *)aligned_alloc(64, ARGS_SIZE);
    float *a = (float *)malloc(N * sizeof(float));
    float *b = (float *)malloc(N * sizeof(float));
    float *out = (float *)malloc(N * sizeof(float));
    void *runtime = calloc(get_runtime_size(), 1);
    pto_runtime_config_t dev;
    PtoRunTiming timing;
    DeviceContextHandle ctx = NULL;
    int correct = 1;

    check(orch != NULL && kernel != NULL, "orchestration and kernel SOs read");
    check(args && a && b && out && runtime, "host buffers allocated");
    if (orch != NULL && kernel != NULL) image = chip_callable(orch, orch_len, kernel, kernel_len, &image_len);
    if (image == NULL || !args || !a || !b || !out || !runtime) goto done;

    memset(args, 0, ARGS_SIZE);
    for (i = 0; i < N; ++i) {
        a[i] = (float)i * 0.5f;
        b[i] = 1.0f + (float)(i % 7);
        out[i] = -1.0f;
    }
    host_tensor(args, 0, a);
    host_tensor(args, 1, b);
    host_tensor(args, 2, out);
    put64(args, 16384, N);    /* scalars[0] = element count */
    put32(args, 17408, 3);    /* tensor_count */
    put32(args, 17412, 1);    /* scalar_count */

    pto_runtime_config_init(&dev);
    pto_runtime_config_set(&dev, "runtime", "host_build_graph");
    ctx = create_device_context();
    check(ctx != NULL, "create_device_context");
    if (ctx == NULL) goto done;
    check(simpler_init_with_config(ctx, 0, NULL, 0, NULL, 0, NULL, 0, &dev) == 0, "simpler_init_with_config");
    check(simpler_prepare_callable_sized(ctx, 1, image, image_len) == 0, "simpler_prepare_callable_sized");
    check(run_prepared_with_config(ctx, runtime, 1, args, NULL, NULL, &timing) == 0, "run_prepared_with_config");
    for (i = 0; i < N; ++i)
        if (out[i] != (a[i] + b[i]) + b[i]) correct = 0; /* the kernels' exact float order */
    check(correct, "out == a + 2 b, element by element");
    check(timing.host_wall_ns > 0, "host_wall_ns filled");
    check(finalize_device(ctx) == 0, "finalize_device");
    check(finalize_device(ctx) == 0, "second finalize_device");
    destroy_device_context(ctx);
    check(finalize_device(ctx) == -1, "a destroyed handle is refused");
    printf("host API: ran host_build_graph (%d elements)\n", N);

done:
    free(runtime);
    free(out);
    free(b);
    free(a);
    free(args);
    free(image);
    free(kernel);
    free(orch);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ORCH_SO KERNEL_SO\n", argv[0]);
        return 2;
    }
    printf("libsimpler %s\n", simpler_version());
    config_api();
    hbg_run(argv[1], argv[2]);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
