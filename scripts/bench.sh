#!/usr/bin/env bash
# Every benchmark of DESIGN §7 / issue 13 in one go, on this machine, each figure beside its
# baseline measured in the same run (absolute times on shared 2-vCPU machines vary by up to 2x
# from day to day; the ratios are what to compare). Prints each section's table.
#   bash scripts/bench.sh            all sections
#   BENCH_ONLY="core abi" bash ...   a subset: core, abi, node, scale, load, python, instructions
# The instructions section (scripts/instructions.sh, valgrind) counts the same hot paths in
# instructions, which load does not move: the figures to compare two versions with.
# Needs what scripts/test.sh installs (cargo, node/npm, wrk for the load section).
set -euo pipefail
cd "$(dirname "$0")/.."
only="${BENCH_ONLY:-core abi node scale load python instructions}"
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
  echo; echo "What \`protect()\` adds per request in process (bindings/node/bench-protect.mjs, CPU time, alternating):"
  (cd bindings/node && node bench-protect.mjs) | sed -n '/^CPU per request/,$p'
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

if want python; then
  echo; echo "## Python: in-process authorize of a repeated RS256 token, this binding vs the reference SDK 4.7.3"
  target="${CARGO_TARGET_DIR:-$PWD/target}"
  if [ ! -x "$target/load-venv/bin/python" ] || [ ! -x "$target/load-venv-ours/bin/python" ]; then
    # The two venvs (pinned) come from the load harness's set-up.
    LOAD_SCENARIOS=python,python-ours LOAD_SECONDS=1 LOAD_WARMUP=0 bash scripts/load.sh > "$out/py-setup.txt" 2>&1 \
      || { cat "$out/py-setup.txt"; exit 1; }
  fi
  cargo build --locked -q --release -p authsec-fixture
  "$target/release/authsec-fixture" --port 0 --ignore-stdin > "$out/fixture.txt" 2>&1 &
  fx=$!
  for _ in $(seq 1 100); do grep -q '^READY' "$out/fixture.txt" && break; sleep 0.05; done
  base="$(sed -n 's/^READY \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$out/fixture.txt")"
  mint='{"kid":"rsa-1","claims":{"iss":"'"$base"'","sub":"bench","aud":"http://127.0.0.1/mcp","scope":"issues:read","exp":{"$now":3600}}}'
  token="$(curl -sf -X POST "$base/_control/mint" -H 'content-type: application/json' -d "$mint" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')"
  ours="$("$target/load-venv-ours/bin/python" bindings/python/bench/check_bench.py "$base" "$token" | sed -n 's/^authorize_us //p')"
  reference="$("$target/load-venv/bin/python" bindings/python/bench/check_bench.py "$base" "$token" | sed -n 's/^authorize_us //p')"
  kill "$fx"; wait "$fx" 2>/dev/null || true
  echo "| \`await Runtime(cfg).authorize(token, tool)\` | this binding (µs) | reference authsec-sdk 4.7.3 (µs) | ratio |"
  echo "|---|---|---|---|"
  awk -v o="$ours" -v r="$reference" 'BEGIN { printf "| repeated RS256 token | %.2f | %.2f | %.4f (%.0fx faster) |\n", o, r, o / r, r / o }'
fi

if want instructions; then
  echo; echo "## hot paths in instructions (valgrind callgrind; repeatable under load)"
  bash scripts/instructions.sh
fi
