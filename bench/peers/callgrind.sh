#!/usr/bin/env bash
# Deterministic-ish cost of our runtime: instructions per task of W1/W2/W3
# under valgrind --tool=callgrind. For each workload it runs
#   simpler bench --workload W --size N --reps 1 --threads T
# and the same with --size 0 (an empty run: context, threads, one run that
# submits nothing), and prints (Ir(N) - Ir(0)) / tasks, all threads summed.
# Scheduler threads that wait spin for a bounded time before parking, so
# their idle instructions vary a little between runs: REPEAT runs each and
# reports the median and the spread.
# --fair-sched=yes: valgrind runs one thread at a time, and its default lock
# is unfair: threads that spin and yield (an idle scheduler, an orchestrator
# waiting for the wiring queue) can keep a thread that is in the middle of
# wiring from running for seconds, until the run trips its watchdog
# (TIMEOUT_EXIT ... S3:ready-but-all-idle; seen with THREADS=3). The fair
# (ticket) lock runs the threads in turn, as the kernel would.
# Knobs: N1 tasks (20000), N2 hops (20000), N3 rounds (100, 66 tasks each),
# THREADS aicpu_thread_num (2), REPEAT (3), OURS_BIN (target/release/simpler).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
N1=${N1:-20000} N2=${N2:-20000} N3=${N3:-100} THREADS=${THREADS:-2} REPEAT=${REPEAT:-3}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
if [ -z "${OURS_BIN:-}" ]; then
    (cd "$repo" && cargo build --release --quiet --bin simpler)
    OURS_BIN="$repo/target/release/simpler"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # ir WORKLOAD SIZE -> total instructions of one run
    valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file="$tmp/cg.out" "$OURS_BIN" bench \
        --workload "$1" --size "$2" --reps 1 --threads "$THREADS" --json >/dev/null 2>"$tmp/vg.err" ||
        { cat "$tmp/vg.err" >&2; exit 1; }
    awk '/^(summary|totals):/{print $2; exit}' "$tmp/cg.out"
}

echo "| workload | size | tasks | Ir per task (median of $REPEAT) | min-max |"
echo "|---|---|---|---|---|"
for w in independent chain fan; do
    case $w in
        independent) size=$N1 tasks=$N1 ;;
        chain) size=$N2 tasks=$N2 ;;
        fan) size=$N3 tasks=$((N3 * 66)) ;;
    esac
    per=()
    for _ in $(seq 1 "$REPEAT"); do
        base=$(ir "$w" 0)
        full=$(ir "$w" "$size")
        per+=("$(( (full - base) / tasks ))")
    done
    sorted=($(printf '%s\n' "${per[@]}" | sort -n))
    echo "| $w | $size | $tasks | ${sorted[$((REPEAT / 2))]} | ${sorted[0]}-${sorted[$((REPEAT - 1))]} |"
done
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $("$OURS_BIN" --version); valgrind $(valgrind --version | sed 's/valgrind-//'); aicpu_thread_num $THREADS"
