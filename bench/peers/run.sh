#!/usr/bin/env bash
# Peer benchmark suite: W1/W2/W3 on libgomp, oneTBB flow graph, rayon and ours,
# interleaved over ROUNDS rounds; prints one Markdown table plus the machine.
#   bench/peers/run.sh                 5 rounds, full sizes
#   ROUNDS=1 bench/peers/run.sh        a smoke run
# Knobs (environment): ROUNDS (5), REPS timed runs per program and round, median
# taken (3), W1 tasks (1000000), W2 hops (100000), W3 rounds (1000),
# THREADS our aicpu_thread_num (3 = 2 schedulers + 1 orchestrator),
# OURS_BIN our binary (default: cargo build --release, target/release/simpler).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-5} REPS=${REPS:-3} W1=${W1:-1000000} W2=${W2:-100000} W3=${W3:-1000} THREADS=${THREADS:-3}
out=${BENCH_OUT:-$(mktemp -d)}
mkdir -p "$out"

# Debian packages: gcc/g++ with libgomp, oneTBB headers and library.
need=()
for p in gcc g++ libgomp1 libtbb-dev python3; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    else
        echo "run.sh: missing Debian packages: ${need[*]} (run as root to install them)" >&2
        exit 1
    fi
fi

echo "building into $out ..." >&2
gcc -O2 -fopenmp -Wall -Wextra -Werror -o "$out/omp" "$here/omp.c"
gcc -O2 -pthread -Wall -Wextra -Werror -o "$out/line_rtt" "$here/line_rtt.c"
g++ -O2 -std=c++17 -Wall -Wextra -Werror -o "$out/tbb" "$here/tbb.cpp" -ltbb
(cd "$here/rayon" && cargo build --release --quiet)
rayon_bin="$here/rayon/target/release/peers-rayon"
if [ -z "${OURS_BIN:-}" ]; then
    (cd "$repo" && cargo build --release --quiet --bin simpler)
    OURS_BIN="$repo/target/release/simpler"
fi

ours() { # one invocation per workload: warm-up run, then REPS timed runs (median)
    local w key size
    for w in W1 W2 W3; do
        case $w in
            W1) key=independent size=$W1 ;;
            W2) key=chain size=$W2 ;;
            W3) key=fan size=$W3 ;;
        esac
        "$OURS_BIN" bench --workload "$key" --size "$size" --warmup 1 --reps "$REPS" --threads "$THREADS" --json |
            python3 -c 'import json,sys; f=json.load(sys.stdin)["figures"]["'"$key"'"]; print("RESULT '"$w"' ours", f.get("ns_per_task", f.get("ns_per_hop")))'
    done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The inter-core line round trip before every round and after the last (see
# line_rtt.c: it moves 5x between minutes on the 2-vCPU VMs).
rtt() { timeout 20 "$out/line_rtt" 2>/dev/null || echo "?"; }
rtts=()
results="$out/results.txt"
: >"$results"
for r in $(seq 1 "$ROUNDS"); do
    echo "round $r/$ROUNDS ..." >&2
    rtts+=("$(rtt)")
    for prog in omp tbb rayon ours; do
        case $prog in
            omp) lines=$("$out/omp" "$W1" "$W2" "$W3" "$REPS") ;;
            tbb) lines=$("$out/tbb" "$W1" "$W2" "$W3" "$REPS") ;;
            rayon) lines=$("$rayon_bin" "$W1" "$W2" "$W3" "$REPS") ;;
            ours) lines=$(ours) ;;
        esac
        grep '^RESULT ' <<<"$lines" | sed "s/^RESULT /R$r /" >>"$results"
    done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
rtts+=("$(rtt)")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $cpu, $(nproc) logical CPUs;" \
    "load average (1/5/15 min) before $load_before, after $load_after."
echo "Rounds: $ROUNDS, interleaved (omp, tbb, rayon, ours); each cell: median over rounds" \
    "(min-max) of each program's median of $REPS timed runs after one warm-up run;" \
    "sizes W1 $W1, W2 $W2, W3 $W3 rounds; ours with aicpu_thread_num $THREADS."
echo "Cache-line round trip CPU 0 <-> 1 (\`bench/peers/line_rtt.c\`) before each round and after" \
    "the last: $(IFS=/; echo "${rtts[*]}") ns (the rounds compare like machines only where these agree)."
echo
python3 "$here/table.py" "$results"
echo "raw results: $results" >&2
