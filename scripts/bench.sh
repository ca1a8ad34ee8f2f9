#!/usr/bin/env bash
# Every benchmark of DESIGN §7 / issue 13 in one go, on this machine, each figure beside its
# baseline measured in the same run (absolute times on shared 2-vCPU machines vary by up to 2x
# from day to day; the ratios are what to compare). Prints each section's table.
#   bash scripts/bench.sh            all sections
#   BENCH_ONLY="core abi" bash ...   a subset: core, abi, node, scale, load
# Needs what scripts/test.sh installs (cargo, node/npm, wrk for the load section).
set -euo pipefail
cd "$(dirname "$0")/.."
only="${BENCH_ONLY:-core abi node scale load}"
want() { [[ " $only " == *" $1 "* ]]; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "# authsec benchmarks, $(date -u +%Y-%m-%d), $(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"

if want core; then
  echo; echo "## core: first sight vs the parsed-key floor, repeated token, tools/list filter (criterion, medians)"
  cargo bench --locked -q -p authsec-core --bench check > "$out/core.txt" 2>&1 || { cat "$out/core.txt"; exit 1; }
  sed -n '/^summary/,$p' "$out/core.txt"
fi

if want abi; then
  echo; echo "## C ABI over the core, repeated token (criterion, medians)"
  cargo bench --locked -q -p authsec-ffi --bench abi > "$out/abi.txt" 2>&1 || { cat "$out/abi.txt"; exit 1; }
  grep -A3 '^C ABI overhead' "$out/abi.txt"
fi

if want node; then
  echo; echo "## Node binding: check vs jose + the same scope check (release build)"
  bash scripts/npm-ci.sh bindings/node
  bash bindings/node/scripts/build.sh --release > "$out/node-build.txt" 2>&1 || { cat "$out/node-build.txt"; exit 1; }
  (cd bindings/node && node bench.mjs) | sed -n '/^Node /,$p'
  bash bindings/node/scripts/build.sh > /dev/null 2>&1   # leave the debug build the tests use
fi

if want scale; then
  echo; echo "## scaling, caches at scale, memory"
  cargo bench --locked -q -p authsec-core --bench scale 2>&1 | sed -n '/^threads/,$p'
fi

if want load; then
  echo; echo "## whole servers under wrk (loopback)"
  if [ -f scripts/load.sh ]; then bash scripts/load.sh; else echo "(scripts/load.sh not present)"; fi
fi
