#!/usr/bin/env bash
# The hot paths of DESIGN §7 in instructions (valgrind --tool=callgrind), which do not move
# with the load of a shared machine the way wall-clock figures do: each workload is a release
# example under core/examples or ffi/examples, and each figure sits beside its baseline counted
# in the same run. Prints one markdown table.
#   bash scripts/instructions.sh          (or BENCH_ONLY=instructions bash scripts/bench.sh)
#   INSTR_CHECKS=10000 INSTR_TOKENS=300 INSTR_LISTS=200
#                                         checks per repeated-token figure, tokens per first sight,
#                                         filterings of the 100-tool tools/list
# Per-check figures are differences of two runs (N and N + INSTR_CHECKS checks), so start-up,
# key generation and the warm-up request cancel out. Valgrind runs aws-lc's AVX code where the
# CPU has SHA extensions, so SHA-256 (the cache key, the RS/PS/ES256 digests) counts several
# times what it costs natively: the ratios understate what the native code achieves.
# Needs valgrind (apt-get install -y valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "scripts/instructions.sh needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
checks="${INSTR_CHECKS:-10000}"
tokens="${INSTR_TOKENS:-300}"
lists="${INSTR_LISTS:-200}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

cargo build --locked -q --release -p authsec-core --example hot_path --example first_sight --example filter_list
cargo build --locked -q --release -p authsec-ffi --example abi_hot_path

# total BIN ARGS...: every instruction of one run (all threads).
total() {
  local f="$out/cg.$RANDOM"
  valgrind --tool=callgrind --callgrind-out-file="$f" "$@" > /dev/null 2> "$f.log" \
    || { cat "$f.log" >&2; exit 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$f.log"
}
# per_check BIN [ARGS...]: instructions per check, from runs of 1000 and 1000 + $checks checks.
per_check() {
  local bin="$1"; shift
  local a b
  a="$(total "$bin" 1000 "$@")"
  b="$(total "$bin" $((1000 + checks)) "$@")"
  echo $(( (b - a) / checks ))
}
# inclusive FILE FUNCTION: a function's inclusive instruction count.
inclusive() {
  callgrind_annotate --inclusive=yes "$1" 2> /dev/null \
    | awk -v fn="::$2 " '!done && index($0, fn) { gsub(",", "", $1); print $1; done = 1 }'
}

repeated="$(per_check "$target/release/examples/hot_path")"
session="$(per_check "$target/release/examples/hot_path" session)"
core_ffi="$(per_check "$target/release/examples/abi_hot_path" core)"
abi="$(per_check "$target/release/examples/abi_hot_path" abi)"

echo "| workload | instructions | baseline, same run | ratio or difference | target |"
echo "|---|---|---|---|---|"
echo "| repeated RS256 token, 200-byte \`tools/call\` (\`hot_path\`) | $repeated per check | | | p50 <= 1 µs |"
awk -v s="$session" -v r="$repeated" 'BEGIN { printf "| the same with an `Mcp-Session-Id` (owner check) | %d per check | %d without the header | +%d (%.3fx) | |\n", s, r, s - r, s / r }'
awk -v a="$abi" -v c="$core_ffi" 'BEGIN { printf "| C ABI `authsec_runtime_check_request` + kind + free (`abi_hot_path abi`) | %d per check | %d through `Runtime::check` in the same binary | +%d (%.3fx) | <= 0.3 µs over the core |\n", a, c, a - c, a / c }'

for alg in RS256 PS256 ES256 EdDSA; do
  f="$out/first.$alg"
  valgrind --tool=callgrind --callgrind-out-file="$f" "$target/release/examples/first_sight" "$tokens" "$alg" \
    > /dev/null 2> "$f.log" || { cat "$f.log" >&2; exit 1; }
  check="$(inclusive "$f" check_all)"
  floor="$(inclusive "$f" floor_all)"
  awk -v alg="$alg" -v c="$check" -v f="$floor" -v n="$tokens" 'BEGIN {
    printf "| first sight %s (`first_sight %d %s`, `check_all`) | %d per token | %d, the signature with the key parsed once (`floor_all`) | %.3f | <= 1.10 |\n",
      alg, n, alg, c / n, f / n, c / f }'
done

f="$out/filter"
valgrind --tool=callgrind --callgrind-out-file="$f" "$target/release/examples/filter_list" "$lists" \
  > /dev/null 2> "$f.log" || { cat "$f.log" >&2; exit 1; }
filter="$(inclusive "$f" filter_all)"
baseline="$(inclusive "$f" baseline_all)"
awk -v c="$filter" -v b="$baseline" -v n="$lists" 'BEGIN {
  printf "| `tools/list` filter, 100 tools, a third kept (`filter_list %d`, `filter_all`) | %d per answer | %d, serde_json parse + serialize of the same body (`baseline_all`) | %.3f | <= 0.5 |\n",
    n, c / n, b / n, c / b }'
