#!/usr/bin/env python3
"""Turns the result lines of bench/peers/run.sh into one Markdown table.

Input (file argument or stdin): lines `R<round> <W1|W2|W3> <runtime> <ns>`;
other lines are ignored. Output: per workload x runtime the median over
rounds, the min-max, and the ratio ours/peer (our median / the peer's median;
below 1 means ours is faster)."""
import statistics
import sys

WORKLOADS = [
    ("W1", "W1 independent tasks, ns/task"),
    ("W2", "W2 chain on one counter/tensor, ns/hop"),
    ("W3", "W3 rounds of 1 -> 64 -> 1, ns/task"),
]
RUNTIMES = [
    ("omp", "libgomp `depend`"),
    ("tbb-run", "oneTBB flow graph, run"),
    ("tbb-build", "oneTBB, build"),
    ("tbb-total", "oneTBB, build+run"),
    ("rayon", "rayon, explicit edges"),
    ("ours", "ours (`simpler bench`)"),
]


def parse(lines):
    """{(workload, runtime): [ns, ...]} from the result lines."""
    data = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not parts[0].startswith("R") or not parts[0][1:].isdigit():
            continue
        try:
            ns = float(parts[3])
        except ValueError:
            continue
        data.setdefault((parts[1], parts[2]), []).append(ns)
    return data


def fmt(x):
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def table(data):
    runtimes = [r for r in RUNTIMES if any((w, r[0]) in data for w, _ in WORKLOADS)]
    rows = ["| workload | " + " | ".join(name for _, name in runtimes) + " |",
            "|---|" + "---|" * len(runtimes)]
    for w, wname in WORKLOADS:
        ours = data.get((w, "ours"))
        ours_med = statistics.median(ours) if ours else None
        cells = []
        for key, _ in runtimes:
            v = data.get((w, key))
            if not v:
                cells.append("")
                continue
            med = statistics.median(v)
            cell = f"{fmt(med)} ({fmt(min(v))}-{fmt(max(v))})"
            if key not in ("ours", "tbb-build") and ours_med is not None and med > 0:
                cell += f" · ours/peer {ours_med / med:.2f}"
            cells.append(cell)
        rows.append(f"| {wname} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main():
    src = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    data = parse(src)
    if not data:
        sys.exit("table.py: no result lines (expected `R<round> <W1|W2|W3> <runtime> <ns>`)")
    print(table(data))


if __name__ == "__main__":
    main()
