// Example consumer of an installed libsimpler.
//
//   app [--require-host-api] [ORCH_SO KERNEL_SO]
//
// 1. Exercises the typed configuration API of simpler.h (init / set / validate / resolve /
//    describe, error codes and messages).
// 2. Runs a host_build_graph callable (hbg/orch.c + hbg/kernel_add.c: out = a + 2 b) on the
//    simulated device twice: through the config-taking entries (simpler_init_with_config +
//    run_prepared_with_config) and through upstream's legacy entries (simpler_init +
//    prepare_callable + run_prepared), checking every output element.
//
// The host entries are resolved from the linked library at run time (like upstream's ChipWorker
// does), so this file compiles against any simpler.h. If the library does not export them, part 2
// is reported as unavailable: a failure with --require-host-api, a note without it.
#include <dlfcn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "chip_image.hpp"
#include "simpler.h"

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool ok, const std::string &what) {
    if (ok) {
        ++g_passed;
    } else {
        ++g_failed;
        std::fprintf(stderr, "FAILED: %s (last error %d: %s)\n", what.c_str(), pto_last_error_code(),
                     pto_last_error_message());
    }
}

// ---------------------------------------------------------------------------------------------
// Part 1: configuration API
// ---------------------------------------------------------------------------------------------

void config_api() {
    pto_runtime_config_t cfg;
    check(pto_runtime_config_init(&cfg) == PTO_OK, "pto_runtime_config_init");
    check(cfg.struct_size == sizeof cfg, "struct_size set by init");
    check(cfg.orch_to_sched == PTO_BOOL_UNSET && cfg.runtime == PTO_RUNTIME_UNSET, "init leaves knobs unset");

    check(pto_runtime_config_set(&cfg, "ring_heap", "1048576") == PTO_OK, "set ring_heap (all rings)");
    check(pto_runtime_config_set(&cfg, "ring_task_window", "64,128,256,512") == PTO_OK, "set per-ring windows");
    check(pto_runtime_config_set(&cfg, "runtime", "host_build_graph") == PTO_OK, "set runtime");
    check(pto_runtime_config_set(&cfg, "orch_to_sched", "true") == PTO_OK, "set orch_to_sched");
    check(cfg.ring_heap == 1048576 && cfg.ring_task_windows[3] == 512, "set writes the fields");
    check(cfg.runtime == PTO_RUNTIME_HOST_BUILD_GRAPH && cfg.orch_to_sched == 1, "set writes enum/bool fields");
    check(pto_runtime_config_validate(&cfg) == PTO_OK, "valid config validates");

    // Invalid values: an error code and a message naming the knob; cfg unchanged.
    int rc = pto_runtime_config_set(&cfg, "ring_task_window", "100");
    check(rc == PTO_ERR_INVALID_VALUE, "window 100 (not a power of two) is PTO_ERR_INVALID_VALUE");
    check(std::strstr(pto_last_error_message(), "ring_task_window") != nullptr, "message names the knob");
    check(std::strcmp(pto_error_name(rc), "PTO_ERR_INVALID_VALUE") == 0, "pto_error_name");
    check(cfg.ring_task_window == 0 && cfg.ring_task_windows[0] == 64, "failed set leaves cfg unchanged");
    check(pto_runtime_config_set(&cfg, "no_such_knob", "1") == PTO_ERR_UNKNOWN_KNOB, "unknown knob");
    check(pto_runtime_config_set(&cfg, nullptr, "1") == PTO_ERR_NULL_POINTER, "NULL knob");
    check(pto_last_error_code() == PTO_ERR_NULL_POINTER, "pto_last_error_code");

    pto_runtime_config_t bad = cfg;
    bad.ring_dep_pools[2] = 3; // direct field write below the minimum
    check(pto_runtime_config_validate(&bad) == PTO_ERR_INVALID_VALUE, "validate catches a bad field write");
    check(std::strstr(pto_last_error_message(), "ring_dep_pool") != nullptr, "validate message names the knob");

    pto_resolved_config_t res;
    std::memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    check(pto_runtime_config_resolve(&cfg, &res) == PTO_OK, "resolve");
    check(res.ring_heaps[1].value == 1048576 && res.ring_heaps[1].source == PTO_SOURCE_EXPLICIT, "resolved heap");
    check(res.ring_task_windows[2].value == 256 && res.ring_task_windows[2].source == PTO_SOURCE_EXPLICIT_PER_RING,
          "resolved per-ring window");
    check(res.runtime.value == PTO_RUNTIME_HOST_BUILD_GRAPH, "resolved runtime");
    check(res.ready_queue_shards.source == PTO_SOURCE_DEFAULT || res.ready_queue_shards.source == PTO_SOURCE_ENV,
          "unset knob comes from the environment or the default");

    size_t n = pto_runtime_config_knob_count();
    check(n >= 7, "knob count");
    bool saw_heap = false;
    for (size_t i = 0; i < n; ++i) {
        pto_knob_info_t info;
        check(pto_runtime_config_describe(i, &info) == PTO_OK, "describe knob");
        check(info.name && info.env && info.rule && info.doc && info.default_value, "describe strings");
        if (std::strcmp(info.name, "ring_heap") == 0) {
            saw_heap = std::strcmp(info.env, "PTO2_RING_HEAP") == 0 && info.per_ring == 1;
        }
    }
    check(saw_heap, "describe lists ring_heap / PTO2_RING_HEAP, per ring");
    pto_knob_info_t info;
    check(pto_runtime_config_describe(n, &info) == PTO_ERR_INVALID_ARGUMENT, "describe out of range");
    check(std::strlen(simpler_version()) >= 5, "simpler_version");
}

// ---------------------------------------------------------------------------------------------
// Part 2: host API (upstream signatures of src/common/worker/pto_runtime_c_api.h @ c68d9bbe6, plus the config-taking entries)
// ---------------------------------------------------------------------------------------------

struct HostApi {
    void *(*create_device_context)();
    void (*destroy_device_context)(void *);
    size_t (*get_runtime_size)();
    int (*simpler_init)(void *, int, const uint8_t *, size_t, const uint8_t *, size_t, const uint8_t *, size_t);
    int (*prepare_callable)(void *, int32_t, const void *);
    int (*run_prepared)(void *, void *, int32_t, const void *, int, int, int, int, int, int, int, uint64_t, uint64_t,
                        uint64_t, const uint64_t *, const uint64_t *, const uint64_t *, const char *,
                        example::RunTiming *);
    int (*unregister_callable)(void *, int32_t);
    int (*finalize_device)(void *);
    int (*simpler_init_with_config)(void *, int, const uint8_t *, size_t, const uint8_t *, size_t, const uint8_t *,
                                    size_t, const pto_runtime_config_t *);
    int (*run_prepared_with_config)(void *, void *, int32_t, const void *, const void *, const pto_runtime_config_t *,
                                    example::RunTiming *);
    int (*simpler_prepare_callable_sized)(void *, int32_t, const void *, size_t);
};

template <typename F>
bool resolve(F &slot, const char *name, std::string &missing) {
    void *sym = dlsym(RTLD_DEFAULT, name);
    if (!sym) {
        missing += std::string(missing.empty() ? "" : ", ") + name;
        return false;
    }
    static_assert(sizeof(F) == sizeof(void *), "function pointer size");
    std::memcpy(&slot, &sym, sizeof sym);
    return true;
}

bool load_host_api(HostApi &api, std::string &missing) {
    bool ok = true;
    ok &= resolve(api.create_device_context, "create_device_context", missing);
    ok &= resolve(api.destroy_device_context, "destroy_device_context", missing);
    ok &= resolve(api.get_runtime_size, "get_runtime_size", missing);
    ok &= resolve(api.simpler_init, "simpler_init", missing);
    ok &= resolve(api.prepare_callable, "prepare_callable", missing);
    ok &= resolve(api.run_prepared, "run_prepared", missing);
    ok &= resolve(api.unregister_callable, "unregister_callable", missing);
    ok &= resolve(api.finalize_device, "finalize_device", missing);
    ok &= resolve(api.simpler_init_with_config, "simpler_init_with_config", missing);
    ok &= resolve(api.run_prepared_with_config, "run_prepared_with_config", missing);
    ok &= resolve(api.simpler_prepare_callable_sized, "simpler_prepare_callable_sized", missing);
    return ok;
}

std::vector<uint8_t> read_file(const char *path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", path);
        std::exit(2);
    }
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

constexpr uint32_t kN = 1000;

struct Buffers {
    std::vector<float> a, b, out;
    example::ChipStorageTaskArgs args;
    Buffers() : a(kN), b(kN), out(kN, -1.0f) {
        for (uint32_t i = 0; i < kN; ++i) {
            a[i] = static_cast<float>(i);
            b[i] = 0.5f * static_cast<float>(i) + 1.0f;
        }
        std::memset(&args, 0, sizeof args);
        args.tensors[0] = example::host_tensor_f32(a.data(), kN);
        args.tensors[1] = example::host_tensor_f32(b.data(), kN);
        args.tensors[2] = example::host_tensor_f32(out.data(), kN);
        args.scalars[0] = kN;
        args.tensor_count = 3;
        args.scalar_count = 1;
    }
    bool correct() const {
        for (uint32_t i = 0; i < kN; ++i)
            if (out[i] != (a[i] + b[i]) + b[i]) return false; // the kernels' exact float order
        return true;
    }
};

void run_with_config(const HostApi &api, const std::vector<uint8_t> &image) {
    pto_runtime_config_t dev;
    pto_runtime_config_init(&dev);
    pto_runtime_config_set(&dev, "runtime", "host_build_graph");
    pto_runtime_config_set(&dev, "scheduler_timeout_ms", "20000");
    void *ctx = api.create_device_context();
    check(ctx != nullptr, "create_device_context");
    if (!ctx) return;
    check(api.simpler_init_with_config(ctx, 0, nullptr, 0, nullptr, 0, nullptr, 0, &dev) == 0,
          "simpler_init_with_config(runtime=host_build_graph)");
    check(api.simpler_prepare_callable_sized(ctx, 5, image.data(), image.size()) == 0,
          "simpler_prepare_callable_sized");
    check(api.simpler_prepare_callable_sized(ctx, 5, image.data(), image.size()) != 0, "duplicate id rejected");
    check(api.simpler_prepare_callable_sized(ctx, 6, image.data(), 100) < 0, "truncated image rejected");

    std::vector<uint8_t> runtime(std::max<size_t>(api.get_runtime_size(), 1));
    pto_runtime_config_t run;
    pto_runtime_config_init(&run);
    pto_runtime_config_set(&run, "ring_heap", "4194304");
    pto_runtime_config_set(&run, "ready_queue_shards", "2");
    example::CallConfig call;
    Buffers buf;
    example::RunTiming timing{1, 1};
    int rc = api.run_prepared_with_config(ctx, runtime.data(), 5, &buf.args, &call, &run, &timing);
    check(rc == 0, "run_prepared_with_config");
    check(buf.correct(), "config run: out == a + 2 b");
    check(timing.host_wall_ns > 0, "config run: host_wall_ns filled");

    // An invalid per-run value is an error before anything runs.
    Buffers buf2;
    run.ring_task_window = 3;
    rc = api.run_prepared_with_config(ctx, runtime.data(), 5, &buf2.args, nullptr, &run, nullptr);
    check(rc == PTO_ERR_INVALID_VALUE, "invalid per-run config is PTO_ERR_INVALID_VALUE");
    check(buf2.out[0] == -1.0f, "invalid per-run config: nothing ran");

    // NULL call config and NULL run config mean defaults.
    Buffers buf3;
    check(api.run_prepared_with_config(ctx, runtime.data(), 5, &buf3.args, nullptr, nullptr, nullptr) == 0,
          "run_prepared_with_config with defaults");
    check(buf3.correct(), "default run: out == a + 2 b");

    check(api.unregister_callable(ctx, 5) == 0, "unregister_callable");
    check(api.finalize_device(ctx) == 0, "finalize_device");
    api.destroy_device_context(ctx);
}

void run_legacy(const HostApi &api, const std::vector<uint8_t> &image) {
    // Legacy entries take no config: the per-device runtime variant comes from the environment.
    setenv("SIMPLER_RUNTIME", "host_build_graph", 1);
    void *ctx = api.create_device_context();
    check(ctx != nullptr, "create_device_context (legacy)");
    if (!ctx) return;
    check(api.simpler_init(ctx, 0, nullptr, 0, nullptr, 0, nullptr, 0) == 0, "simpler_init");
    check(api.prepare_callable(ctx, 0, image.data()) == 0, "prepare_callable");
    check(api.prepare_callable(ctx, 64, image.data()) == -1, "prepare_callable id 64 is -1");

    std::vector<uint8_t> runtime(std::max<size_t>(api.get_runtime_size(), 1));
    example::CallConfig call;
    uint64_t windows[4] = {0, 0, 0, 0}, heaps[4] = {0, 0, 0, 0}, pools[4] = {0, 0, 0, 0};
    Buffers buf;
    example::RunTiming timing{7, 7};
    int rc = api.run_prepared(ctx, runtime.data(), 0, &buf.args, call.block_dim, call.aicpu_thread_num,
                              call.enable_l2_swimlane, call.enable_dump_tensor, call.enable_pmu, call.enable_dep_gen,
                              call.enable_scope_stats, 0, 0, 0, windows, heaps, pools, call.output_prefix, &timing);
    check(rc == 0, "run_prepared");
    check(buf.correct(), "legacy run: out == a + 2 b");
    check(timing.host_wall_ns > 0, "legacy run: host_wall_ns filled");

    Buffers buf2;
    rc = api.run_prepared(ctx, runtime.data(), 9, &buf2.args, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, nullptr, nullptr,
                          nullptr, "", &timing);
    check(rc == -1, "run_prepared of an unknown callable id is -1");
    check(timing.host_wall_ns == 0 && timing.device_wall_ns == 0, "out_timing zeroed on failure");

    check(api.unregister_callable(ctx, 0) == 0, "unregister_callable (legacy)");
    check(api.finalize_device(ctx) == 0, "finalize_device (legacy)");
    api.destroy_device_context(ctx);
    unsetenv("SIMPLER_RUNTIME");
}

} // namespace

int main(int argc, char **argv) {
    bool require_host = false;
    std::vector<const char *> paths;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--require-host-api") == 0)
            require_host = true;
        else
            paths.push_back(argv[i]);
    }
#if defined(EXAMPLE_ORCH_SO) && defined(EXAMPLE_KERNEL_SO)
    if (paths.empty()) paths = {EXAMPLE_ORCH_SO, EXAMPLE_KERNEL_SO};
#endif

    std::printf("libsimpler %s\n", simpler_version());
    config_api();

    HostApi api{};
    std::string missing;
    if (load_host_api(api, missing)) {
        if (paths.size() != 2) {
            std::fprintf(stderr, "usage: %s [--require-host-api] ORCH_SO KERNEL_SO\n", argv[0]);
            return 2;
        }
        std::vector<uint8_t> orch = read_file(paths[0]);
        std::vector<uint8_t> kernel = read_file(paths[1]);
        using example::ArgDirection;
        std::vector<uint8_t> image = example::build_chip_callable(
            {ArgDirection::In, ArgDirection::In, ArgDirection::Out}, "build_graph", "", orch,
            {example::Kernel{0, {ArgDirection::In, ArgDirection::In, ArgDirection::Out}, kernel}});
        run_with_config(api, image);
        run_legacy(api, image);
        std::printf("host API: ran host_build_graph through the config and legacy entries\n");
    } else if (require_host) {
        check(false, "host API exported (missing: " + missing + ")");
    } else {
        std::printf("host API: not exported by this libsimpler (missing: %s); runs not attempted\n", missing.c_str());
    }

    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
