#!/usr/bin/env bash
# Reliability suite, run by .ci/run after the tests (README "Reliability").
#
#   fuzz      every cargo-fuzz target (fuzz/) for SIMPLER_FUZZ_SECONDS each, seeded
#             with its committed corpus              needs: nightly, cargo-fuzz
#   asan      the C harnesses built with -fsanitize=address,undefined against an
#             AddressSanitizer build of libsimpler   needs: nightly
#   valgrind  the C harnesses under valgrind against the stable debug libsimpler
#             (always: it also sees reads of uninitialised memory, which ASan
#             does not; it is the memory check when the asan step cannot run)
#                                                    needs: valgrind
#   miri      cargo +nightly miri test on the pure-Rust core
#                                                    needs: nightly with the miri component
#
# Every step is bounded by a timeout; a step that cannot run prints SKIP and why;
# a step that runs and finds a problem fails the script (after the other steps ran).
# Knobs: SIMPLER_FUZZ_SECONDS (default 20), SIMPLER_RELIABILITY_STEPS (default
# "fuzz asan valgrind miri"), SIMPLER_RELIABILITY_NIGHTLY=0 (behave as without nightly),
# SIMPLER_RELIABILITY_TARGET (target dir of the nightly builds).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

FUZZ_SECONDS=${SIMPLER_FUZZ_SECONDS:-20}
STEPS=${SIMPLER_RELIABILITY_STEPS:-fuzz asan valgrind miri}
TRIPLE=x86_64-unknown-linux-gnu
# Nightly builds (ASan library, fuzz targets, Miri) share one target dir, away from
# target/debug. CI keeps it in the machine's cache so later runs build incrementally
# (a cold build costs about 4 of the suite's CPU minutes); SIMPLER_RELIABILITY_TARGET overrides.
if [ "${CI:-}" = true ]; then
  NTARGET=${SIMPLER_RELIABILITY_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/simpler/reliability-target}
else
  NTARGET=${SIMPLER_RELIABILITY_TARGET:-$ROOT/target/reliability}
fi
WORK=$ROOT/target/reliability-work
# Bound the cache: every checkout path adds its own build of simpler.
if [ -d "$NTARGET" ] && [ "$(du -sm "$NTARGET" 2>/dev/null | cut -f1)" -gt 6144 ]; then
  echo "reliability: $NTARGET exceeds 6 GiB, starting it afresh"
  rm -rf "$NTARGET"
fi
mkdir -p "$WORK"
export CARGO_TERM_COLOR=never

SUMMARY=()
FAILED=0

note() { echo "reliability: $*"; }
# has_asan_init FILE [NM_ARGS...]: FILE's symbol table names __asan_init (grep -c reads
# all of nm's output, so pipefail never sees a SIGPIPE).
has_asan_init() {
  local f=$1 n
  shift
  n=$(nm "$@" "$f" 2>/dev/null | grep -c '__asan_init' || true)
  [ "${n:-0}" -gt 0 ]
}
skip() { note "SKIP $1: $2"; SUMMARY+=("$1: skipped ($2)"); }
wanted() { [[ " $STEPS " == *" $1 "* ]]; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
finish() { # finish NAME START STATUS [DETAIL]
  local t
  t=$(elapsed "$2")
  if [ "$3" = ok ]; then
    note "PASS $1 in $t s${4:+ ($4)}"
  else
    note "FAIL $1 in $t s${4:+ ($4)}"
    FAILED=1
  fi
  SUMMARY+=("$1: $3 in $t s${4:+ ($4)}")
}

HAVE_NIGHTLY=0
if [ "${SIMPLER_RELIABILITY_NIGHTLY:-1}" = 0 ]; then
  NIGHTLY_WHY="SIMPLER_RELIABILITY_NIGHTLY=0"
elif ! command -v rustup >/dev/null; then
  NIGHTLY_WHY="rustup not found"
elif ! rustup toolchain list | grep -q '^nightly'; then
  NIGHTLY_WHY="no nightly toolchain in 'rustup toolchain list'"
elif ! cargo +nightly --version >/dev/null 2>&1; then
  NIGHTLY_WHY="'cargo +nightly' does not run"
else
  HAVE_NIGHTLY=1
  note "nightly: $(rustc +nightly --version)"
fi

# --- C harness build (shared by asan and valgrind) ---------------------------
HBG_FIXTURES=(orchestration kernel_add kernel_add_scalar kernel_mul)
HARNESSES=(chipworker_harness misuse)

# build_c_tests OUT_DIR LIB_DIR EXTRA_CFLAGS...: fixtures + harnesses (+ config_api,
# which links libsimpler from LIB_DIR directly); -Wall -Wextra -Werror as in cargo test.
build_c_tests() {
  local out=$1 libdir=$2
  shift 2
  mkdir -p "$out"
  local cflags=(-std=c11 -Wall -Wextra -Werror -O1 -g -fno-omit-frame-pointer "$@")
  local f p
  for f in "${HBG_FIXTURES[@]}"; do
    cc "${cflags[@]}" -Ic_tests/include -shared -fPIC -Wl,--build-id=sha1 \
      "c_tests/fixtures/hbg_vector/$f.c" -o "$out/lib$f.so" || return 1
  done
  for p in "${HARNESSES[@]}"; do
    cc "${cflags[@]}" -Ic_tests/include "c_tests/$p.c" -o "$out/$p" -ldl -lm || return 1
  done
  cc "${cflags[@]}" -Iinclude c_tests/config_api.c -o "$out/config_api" \
    -L"$libdir" -lsimpler -Wl,-rpath,"$libdir" || return 1
}

# run_c_tests OUT_DIR LIB WRAPPER...: every harness (and config_api), 300 s each;
# passes only when each exits 0 with its "N passed, 0 failed" summary last.
run_c_tests() {
  local out=$1 lib=$2
  shift 2
  local p log rc ok=0
  for p in "${HARNESSES[@]}" config_api; do
    log=$out/$p.log
    local args=()
    if [ "$p" != config_api ]; then
      args=("$lib")
      for f in "${HBG_FIXTURES[@]}"; do args+=("$out/lib$f.so"); done
    fi
    SIMPLER_LOG_LEVEL=off timeout 300 "$@" "$out/$p" "${args[@]}" >"$log" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$log"; then
      note "  $p: $(grep -E ' passed, [0-9]+ failed$' "$log" | tail -1)"
    else
      note "  $p FAILED (exit $rc); its output:"
      sed 's/^/    | /' "$log" | tail -80
      ok=1
    fi
  done
  return $ok
}

# --- asan ------------------------------------------------------------------
step_asan() {
  if [ $HAVE_NIGHTLY = 0 ]; then skip asan "$NIGHTLY_WHY; the valgrind step covers the C harnesses"; return; fi
  local t0 out=$WORK/asan
  t0=$(now)
  rm -rf "$out" && mkdir -p "$out/lib"
  note "asan: building libsimpler with -Zsanitizer=address (nightly, $TRIPLE, $NTARGET)"
  if ! RUSTFLAGS="-Zsanitizer=address" timeout 900 cargo +nightly build --release --lib \
    --target $TRIPLE --target-dir "$NTARGET" >"$out/build.log" 2>&1; then
    tail -30 "$out/build.log"
    skip asan "the nightly ASan build of libsimpler failed (log above); the valgrind step covers the C harnesses"
    return
  fi
  # Copy it out: the fuzz build later writes the same path with its own flags.
  cp "$NTARGET/$TRIPLE/release/libsimpler.so" "$out/lib/libsimpler.so"
  ln -sf libsimpler.so "$out/lib/libsimpler.so.0"
  local lib=$out/lib/libsimpler.so
  if ! has_asan_init "$lib" -D --undefined-only; then
    finish asan "$t0" failed "libsimpler.so references no __asan_init: not instrumented"
    return
  fi
  local san=(-fsanitize=address,undefined -fno-sanitize-recover=all)
  if ! build_c_tests "$out" "$out/lib" "${san[@]}"; then
    finish asan "$t0" failed "C harness build"
    return
  fi
  if ! has_asan_init "$out/chipworker_harness"; then
    finish asan "$t0" failed "the C harness has no __asan_init: sanitizer runtime not linked"
    return
  fi
  note "asan: __asan_init referenced by libsimpler.so and by the C harness (ASan linked)"
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if run_c_tests "$out" "$lib"; then
    finish asan "$t0" ok "${HARNESSES[*]} config_api, LeakSanitizer on"
  else
    finish asan "$t0" failed "a harness failed under ASan/UBSan"
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
}

# --- valgrind --------------------------------------------------------------
step_valgrind() {
  if ! command -v valgrind >/dev/null; then skip valgrind "valgrind not installed"; return; fi
  local t0 out=$WORK/valgrind
  t0=$(now)
  rm -rf "$out" && mkdir -p "$out"
  if ! timeout 900 cargo build --lib >"$out/build.log" 2>&1; then
    tail -30 "$out/build.log"
    finish valgrind "$t0" failed "cargo build --lib"
    return
  fi
  mkdir -p "$out/lib"
  cp "$ROOT/target/debug/libsimpler.so" "$out/lib/libsimpler.so"
  ln -sf libsimpler.so "$out/lib/libsimpler.so.0" # the soname config_api links against
  if ! build_c_tests "$out" "$out/lib"; then
    finish valgrind "$t0" failed "C harness build"
    return
  fi
  # --fair-sched=yes: valgrind runs one thread at a time and its default lock
  # is unfair, so spinning and yielding runtime threads could starve the one
  # thread with work until a run's watchdog fires (see bench/peers/callgrind.sh).
  if run_c_tests "$out" "$out/lib/libsimpler.so" valgrind -q --error-exitcode=1 --fair-sched=yes \
    --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
    --suppressions="$ROOT/.ci/valgrind.supp"; then
    finish valgrind "$t0" ok "$(valgrind --version), ${HARNESSES[*]} config_api"
  else
    finish valgrind "$t0" failed "a harness failed under valgrind"
  fi
}

# --- fuzz ------------------------------------------------------------------
step_fuzz() {
  if [ $HAVE_NIGHTLY = 0 ]; then skip fuzz "$NIGHTLY_WHY"; return; fi
  local t0 out=$WORK/fuzz
  t0=$(now)
  rm -rf "$out" && mkdir -p "$out"
  if ! command -v cargo-fuzz >/dev/null; then
    note "fuzz: installing cargo-fuzz (cargo install cargo-fuzz --locked)"
    if ! timeout 600 cargo install cargo-fuzz --locked >"$out/install.log" 2>&1; then
      tail -20 "$out/install.log"
      skip fuzz "cargo install cargo-fuzz failed (log above)"
      return
    fi
  fi
  note "fuzz: building targets ($(cargo fuzz --version 2>/dev/null))"
  if ! (cd fuzz && timeout 900 cargo +nightly fuzz build --target-dir "$NTARGET") >"$out/build.log" 2>&1; then
    tail -40 "$out/build.log"
    finish fuzz "$t0" failed "cargo fuzz build"
    return
  fi
  local targets t log rc execs details=() bad=0
  targets=$(cd fuzz && cargo +nightly fuzz list)
  for t in $targets; do
    log=$out/$t.log
    mkdir -p "$out/$t/new" "$out/$t/artifacts"
    # New inputs go to a scratch dir (first corpus arg); the committed corpus is only read.
    # A fixed seed (SIMPLER_FUZZ_SEED, default 1) makes a run's mutation sequence
    # reproducible: a longer local run with the same seed covers what CI will try.
    (cd fuzz && timeout $((FUZZ_SECONDS + 300)) cargo +nightly fuzz run --target-dir "$NTARGET" "$t" \
      "$out/$t/new" "corpus/$t" -- -max_total_time="$FUZZ_SECONDS" -seed="${SIMPLER_FUZZ_SEED:-1}" -timeout=30 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$out/$t/artifacts/") >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ $rc -eq 0 ]; then
      note "  $t: ${execs:-?} execs in ${FUZZ_SECONDS} s, $(find "$out/$t/new" -type f | wc -l) new inputs"
      details+=("$t ${execs:-?} execs")
    else
      bad=1
      note "  $t FAILED (exit $rc); end of its log:"
      tail -60 "$log" | sed 's/^/    | /'
      local a
      for a in "$out/$t/artifacts"/*; do
        [ -f "$a" ] || continue
        note "  reproducer $a (base64; save it under fuzz/corpus/$t/ once fixed):"
        base64 -w 100 "$a" | head -200 | sed 's/^/    /'
      done
      details+=("$t FAILED")
    fi
  done
  local IFS=,
  if [ $bad = 0 ]; then finish fuzz "$t0" ok "${details[*]}"; else finish fuzz "$t0" failed "${details[*]}"; fi
}

# --- miri ------------------------------------------------------------------
# The pure-Rust core: configuration, byte layouts, arena arithmetic, ring and
# queue arithmetic, the TensorMap. No FFI, no dlopen, no process spawning;
# tests Miri cannot run carry #[cfg_attr(miri, ignore)].
MIRI_FILTERS=(config:: abi:: device::arena:: runtime::trb::ring:: runtime::trb::queue::
  runtime::trb::pools:: runtime::trb::layout:: runtime::trb::tensormap::)
# Too slow under Miri (thousands of full parses), covered natively and by the fuzz step.
MIRI_SKIP=(--skip every_truncation_is_rejected)
step_miri() {
  if [ $HAVE_NIGHTLY = 0 ]; then skip miri "$NIGHTLY_WHY"; return; fi
  if ! cargo +nightly miri --version >/dev/null 2>&1; then
    skip miri "the nightly toolchain has no miri component (rustup component add miri --toolchain nightly)"
    return
  fi
  if ! rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src'; then
    skip miri "miri needs the rust-src component (rustup component add rust-src --toolchain nightly)"
    return
  fi
  local t0 out=$WORK/miri
  t0=$(now)
  rm -rf "$out" && mkdir -p "$out"
  if ! timeout 300 cargo +nightly miri setup >"$out/setup.log" 2>&1; then
    tail -20 "$out/setup.log"
    skip miri "cargo miri setup failed (log above)"
    return
  fi
  if MIRIFLAGS="${MIRIFLAGS:-}" timeout 900 cargo +nightly miri test --lib --target-dir "$NTARGET/miri" -- \
    "${MIRI_FILTERS[@]}" "${MIRI_SKIP[@]}" >"$out/test.log" 2>&1; then
    finish miri "$t0" ok "$(grep -E '^test result:' "$out/test.log" | tail -1)"
  else
    tail -60 "$out/test.log" | sed 's/^/    | /'
    finish miri "$t0" failed "cargo miri test"
  fi
}

T_ALL=$(now)
for s in asan valgrind fuzz miri; do
  if wanted $s; then "step_$s"; else skip $s "not in SIMPLER_RELIABILITY_STEPS"; fi
done
note "summary (total $(elapsed "$T_ALL") s):"
for line in "${SUMMARY[@]}"; do note "  $line"; done
# One plain closing line counting the steps (a step is one check).
n_ok=0 n_failed=0 n_skipped=0
for line in "${SUMMARY[@]}"; do
  case "$line" in
    *": ok"*) n_ok=$((n_ok + 1)) ;;
    *": skipped"*) n_skipped=$((n_skipped + 1)) ;;
    *) n_failed=$((n_failed + 1)) ;;
  esac
done
echo "reliability: $n_ok passed, $n_failed failed, $n_skipped skipped"
exit $FAILED
