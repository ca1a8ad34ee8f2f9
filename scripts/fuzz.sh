#!/usr/bin/env bash
# Build and run the coverage-guided fuzz targets of fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer
# on the nightly toolchain; see docs/fuzzing.md).
#
#   bash scripts/fuzz.sh [seconds] [target...]
#
# runs each target (all by default) for `seconds` (default 60) on its committed seeds
# (fuzz/seeds/<target>), the inputs that once stopped it (fuzz/regressions/<target>) and the corpus
# it grew before (target/fuzz/corpus/<target>, never committed), then prints libFuzzer's final
# figures: executions, exec/s, cov, ft, corpus size.
# A crash or a broken invariant fails the run; the input is kept in target/fuzz/artifacts/<target>/
# (reproduce with `target/fuzz/x86_64-unknown-linux-gnu/release/<target> <file>`).
# FUZZ_PARALLEL=1 runs the targets at once (each at `nice -n ${FUZZ_NICE:-10}`), else one after
# the other. Installs the pinned cargo-fuzz into target/tools on first use.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
ALL=(jsonrpc_envelope tools_list_filter jwt_header challenge config c_abi)
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_targets/$t.rs" ] || { echo "fuzz: no target $t (have: ${ALL[*]})" >&2; exit 2; }
done

export CARGO_INCREMENTAL=0
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: installing the nightly toolchain (rustup, minimal profile)" >&2
  rustup toolchain install nightly --profile minimal >/dev/null
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
TOOLS="$TARGET_DIR/tools/cargo-fuzz-$CARGO_FUZZ_VERSION"
if [ ! -x "$TOOLS/bin/cargo-fuzz" ]; then
  echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION into $TOOLS" >&2
  cargo install --quiet --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"

# fuzz/Cargo.lock is committed: refuse to build when it would change.
cargo +nightly metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
FUZZ_TARGET_DIR="$TARGET_DIR/fuzz"
echo "== fuzz: building ${#targets[@]} target(s) (nightly, ASan, libFuzzer)"
cargo +nightly fuzz build --fuzz-dir fuzz --target-dir "$FUZZ_TARGET_DIR" --codegen-units 16 >/dev/null
BIN="$FUZZ_TARGET_DIR/x86_64-unknown-linux-gnu/release"

run_one() {
  local t="$1" corpus="$FUZZ_TARGET_DIR/corpus/$1" art="$FUZZ_TARGET_DIR/artifacts/$1/"
  mkdir -p "$corpus" "$art" "$FUZZ_TARGET_DIR/logs"
  # Inputs that once stopped this target (fuzz/regressions/<target>), replayed on every run.
  local regressions=()
  [ -d "fuzz/regressions/$t" ] && regressions=("fuzz/regressions/$t")
  nice -n "${FUZZ_NICE:-0}" "$BIN/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=20 \
    -rss_limit_mb=2048 -artifact_prefix="$art" "$corpus" "fuzz/seeds/$t" "${regressions[@]}" \
    >"$FUZZ_TARGET_DIR/logs/$t.log" 2>&1
}

summary() {
  local t="$1" log="$FUZZ_TARGET_DIR/logs/$1.log" rc="$2"
  local execs rate done_line
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  done_line="$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE).*cov:' "$log" | tail -n 1 || true)"
  local cov ft corp
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
  corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$done_line")"
  local status=ok
  [ "$rc" = 0 ] || status="FAILED (exit $rc, log $log)"
  printf '%-18s %ss executions=%s exec/s=%s cov=%s ft=%s corpus=%s %s\n' \
    "$t" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status"
}

failed=0
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
  declare -A pids
  for t in "${targets[@]}"; do
    FUZZ_NICE="${FUZZ_NICE:-10}" run_one "$t" & pids[$t]=$!
  done
  for t in "${targets[@]}"; do
    rc=0; wait "${pids[$t]}" || rc=$?
    summary "$t" "$rc"; [ "$rc" = 0 ] || failed=1
  done
else
  for t in "${targets[@]}"; do
    rc=0; run_one "$t" || rc=$?
    summary "$t" "$rc"; [ "$rc" = 0 ] || failed=1
  done
fi
if [ "$failed" = 1 ]; then
  echo "fuzz: a target crashed or broke its invariant; see the logs and artifacts above" >&2
  for t in "${targets[@]}"; do grep -h -m 3 -E 'panicked|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY' "$FUZZ_TARGET_DIR/logs/$t.log" >&2 || true; done
  exit 1
fi
