// Peer benchmark: oneTBB flow graph (continue_node, explicit edges).
// Each workload builds a graph of one node per task, then runs it with one
// try_put per source node and wait_for_all. Build and run are timed
// separately; "total" is build + run (the graph is destroyed outside the timing).
//   W1  n unconnected nodes, body a[i] = i; run = try_put to every node
//   W2  a chain of n nodes, body counter = counter + 1
//   W3  rounds of 1 -> 64 -> 1: head stores v = r, 64 readers store s[i] = v + i,
//       the joiner checks the 64 stores and counts the round, then feeds the next head
#include <oneapi/tbb/flow_graph.h>

#include <memory>
#include <vector>

#include "common.h"

namespace {

using namespace oneapi::tbb::flow;
using Node = continue_node<continue_msg>;

struct Times {
    double build, run;
};

std::vector<long> a;
long counter;
long v;
long s[64];
long rounds_ok;

Times w1(long n) {
    double t0 = now_ns();
    auto g = std::make_unique<graph>();
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.reserve(static_cast<size_t>(n));
    for (long i = 0; i < n; ++i) nodes.emplace_back(new Node(*g, [i](const continue_msg &) { a[static_cast<size_t>(i)] = i; }));
    double t1 = now_ns();
    for (auto &node : nodes) node->try_put(continue_msg());
    g->wait_for_all();
    double t2 = now_ns();
    for (long i = 0; i < n; ++i) check(a[static_cast<size_t>(i)] == i, "W1 a[i] == i");
    for (auto &x : a) x = -1;
    return {(t1 - t0) / static_cast<double>(n), (t2 - t1) / static_cast<double>(n)};
}

Times w2(long n) {
    counter = 0;
    double t0 = now_ns();
    auto g = std::make_unique<graph>();
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.reserve(static_cast<size_t>(n));
    for (long i = 0; i < n; ++i) {
        nodes.emplace_back(new Node(*g, [](const continue_msg &) { counter = counter + 1; }));
        if (i > 0) make_edge(*nodes[static_cast<size_t>(i - 1)], *nodes[static_cast<size_t>(i)]);
    }
    double t1 = now_ns();
    nodes[0]->try_put(continue_msg());
    g->wait_for_all();
    double t2 = now_ns();
    check(counter == n, "W2 counter == hops");
    return {(t1 - t0) / static_cast<double>(n), (t2 - t1) / static_cast<double>(n)};
}

Times w3(long rounds) {
    rounds_ok = 0;
    double t0 = now_ns();
    auto g = std::make_unique<graph>();
    std::vector<std::unique_ptr<Node>> nodes;
    nodes.reserve(static_cast<size_t>(rounds * 66));
    Node *prev_join = nullptr;
    for (long r = 0; r < rounds; ++r) {
        Node *head = new Node(*g, [r](const continue_msg &) { v = r; });
        nodes.emplace_back(head);
        if (prev_join) make_edge(*prev_join, *head);
        Node *join = new Node(*g, [r](const continue_msg &) {
            int ok = 1;
            for (int i = 0; i < 64; ++i) ok &= s[i] == r + i;
            rounds_ok += ok;
        });
        for (int i = 0; i < 64; ++i) {
            Node *reader = new Node(*g, [i](const continue_msg &) { s[i] = v + i; });
            nodes.emplace_back(reader);
            make_edge(*head, *reader);
            make_edge(*reader, *join);
        }
        nodes.emplace_back(join);
        prev_join = join;
    }
    double t1 = now_ns();
    nodes[0]->try_put(continue_msg());
    g->wait_for_all();
    double t2 = now_ns();
    check(rounds_ok == rounds, "W3 every round saw its 64 stores");
    return {(t1 - t0) / static_cast<double>(rounds * 66), (t2 - t1) / static_cast<double>(rounds * 66)};
}

void report(const char *w, Times (*f)(long), long n, int reps) {
    f(n);  // warm-up: worker threads, allocator
    double b[99], r[99], t[99];
    for (int k = 0; k < reps; ++k) {
        Times x = f(n);
        b[k] = x.build;
        r[k] = x.run;
        t[k] = x.build + x.run;
    }
    printf("RESULT %s tbb-run %.1f\n", w, median_of(r, reps));
    printf("RESULT %s tbb-build %.1f\n", w, median_of(b, reps));
    printf("RESULT %s tbb-total %.1f\n", w, median_of(t, reps));
}

}  // namespace

int main(int argc, char **argv) {
    sizes_t z = parse_sizes(argc, argv);
    a.assign(static_cast<size_t>(z.w1), -1);
    report("W1", w1, z.w1, z.reps);
    report("W2", w2, z.w2, z.reps);
    report("W3", w3, z.w3, z.reps);
    return 0;
}
