// The aicpu_build_graph plugin header compiled as C++ (its static assertions
// hold): a plugin that publishes one task with no arguments on func 0.
#include "pto_aicpu_build_graph.h"

PTO_AICPU_BUILD_GRAPH_PLUGIN;

extern "C" int orchestration(Runtime *rt) {
    const AicpuBuildApi &api = rt->aicpu_build_api;
    int t = api.add_task(rt, nullptr, 0, 0, ABG_CORE_AIC, 0);
    api.publish_task(rt, t);
    return t < 0 ? 1 : 0;
}
