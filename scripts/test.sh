#!/usr/bin/env bash
# The full test suite: format, lint and header-drift gates, every Rust test (unit, conformance
# vectors through the core API and through the C ABI, remote policy and manifest against the
# fixture backend, interop with a real oidc-provider authorization server installed here with npm,
# the C programs under AddressSanitizer and valgrind, a mixed 20k-check leak run through the C
# ABI natively (RSS flat), under ASan+LSan and valgrind (scripts/leaks.sh is the 1M-check run);
# every backend fault with its exact answer (core/tests/faults.rs); a few seconds of each
# libFuzzer target (scripts/fuzz.sh on the nightly toolchain); the `authsec` command: every vector through
# `authsec proxy` over HTTP, its proxy, stdio-bridge, doctor and binary tests), the Node binding
# (every vector, the API, an MCP SDK client against an Express server behind mountMcp and an
# unprotected one behind `authsec proxy`), a 45 s soak of the Node example, the Python binding (pinned venv, mypy, pytest with
# the official mcp client, servers behind mount_mcp and behind `authsec proxy` including --stdio,
# every vector), the Go binding (vet, -race, every vector, the go-sdk end to end), each binding's
# workload-identity tests against a real SPIRE server and agent (built once by
# tests/spire/build.sh), the official MCP conformance suite against an MCP SDK server bare and
# behind authsec plus the official MCP clients of every SDK line (tests/mcp-suite), then the demo
# as a smoke test. Every install is pinned.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

echo "== system packages for the C tests and the soak (gcc, libmicrohttpd, cJSON, valgrind, wrk)"
if ! command -v gcc >/dev/null || ! command -v valgrind >/dev/null || ! command -v wrk >/dev/null || [ ! -f /usr/include/microhttpd.h ] || [ ! -f /usr/include/cjson/cJSON.h ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq gcc libc6-dev libmicrohttpd-dev libcjson-dev valgrind wrk >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq gcc libc6-dev libmicrohttpd-dev libcjson-dev valgrind wrk >/dev/null; }
fi

echo "== PostgreSQL for the tenant catalogue test (core/tests/catalogue.rs starts its own server)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq postgresql >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq postgresql >/dev/null; }
fi

echo "== redis-server for the fleet test (core/tests/fleet.rs starts its own server on a free port)"
if ! command -v redis-server >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y -qq redis-server >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server >/dev/null; }
fi
# Debian's package starts a system-wide server on 6379; the test never uses it (its own server,
# its own port).

echo "== lock files (Cargo.lock; npm locks are checked by npm ci below)"
lock_err="$(mktemp)"
cargo metadata --locked --format-version 1 >/dev/null 2>"$lock_err" || {
  echo "Cargo.lock is out of date with the Cargo.toml files: run 'cargo update --workspace', review and commit it." >&2
  sed 's/^/  /' "$lock_err" >&2; rm -f "$lock_err"; exit 1; }
rm -f "$lock_err"

echo "== npm ci: oidc-provider for the interop test"
bash scripts/npm-ci.sh tests/interop/oidc

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

echo "== core layers import only downward (scripts/check-layers.py)"
python3 scripts/check-layers.py

echo "== include/authsec.h matches ffi/src (pinned cbindgen)"
bash scripts/header.sh --check

echo "== cargo test"
cargo build --locked -p authsec-ffi   # libauthsec.a for the C programs (cargo test builds only the rlib)
cargo test --locked --workspace

echo "== benchmark workloads run and check their answers (the examples scripts/instructions.sh counts; debug, small N)"
for ex in "authsec-core hot_path 20" "authsec-core hot_path 20 session" "authsec-core first_sight 3 ES256" \
    "authsec-core filter_list 3" "authsec-ffi abi_hot_path 20 abi" "authsec-ffi abi_hot_path 20 core"; do
  set -- $ex
  pkg="$1" name="$2"; shift 2
  cargo run --locked -q -p "$pkg" --example "$name" -- "$@" | tail -n 1
done

echo "== fuzz targets: seeds match the vectors, then a bounded smoke run of each (scripts/fuzz.sh; fails on a crash)"
python3 scripts/fuzz-seeds.py --check
if [ "${AUTHSEC_FUZZ_SMOKE_SECONDS:-5}" != 0 ]; then
  bash scripts/fuzz.sh "${AUTHSEC_FUZZ_SMOKE_SECONDS:-5}"
else
  echo "fuzz smoke run skipped (AUTHSEC_FUZZ_SMOKE_SECONDS=0)"
fi

echo "== the off-by-default OTLP exporter (feature otlp): builds, lints, exports a decision span"
cargo clippy --locked -p authsec-core --features otlp --all-targets -- -D warnings
cargo test --locked -p authsec-core --features otlp --test otlp

echo "== SPIRE v1.13.3 for the workload-identity tests (tests/spire/build.sh: built once from the Go module proxy, cached in target/spire/bin)"
bash tests/spire/build.sh >/dev/null

echo "== Node binding: conformance, API, MCP SDK end-to-end, SPIRE (bindings/node/test.sh)"
bash bindings/node/test.sh

echo "== bounded soak (scripts/soak.sh 45: the Node example under wrk, rotating tokens, policy refreshes, an introspection outage; statuses, RSS, fds)"
# The fixture binary is the one cargo test built; bindings/node/test.sh built the addon and
# installed examples/node.
SOAK_SKIP_BUILD=1 bash scripts/soak.sh 45 | tail -n 1

echo "== Python binding: pinned venv, package build, mypy, pytest, conformance driver (bindings/python/test.sh)"
bash bindings/python/test.sh

echo "== Go binding: go vet, go test -race, conformance driver, go-sdk end-to-end (bindings/go/test.sh)"
bash bindings/go/test.sh

echo "== MCP conformance suite bare vs behind authsec, official MCP clients of every SDK line (tests/mcp-suite/run.sh)"
MCP_SUITE_SHARED_NPM_DONE=1 bash tests/mcp-suite/run.sh   # examples/node, oidc: installed by bindings/node/test.sh above

echo "== demo (smoke: the Rust walk-through, then the seed's story in Python)"
cargo run --locked -q -p authsec-demo > target/demo.log 2>&1 || { cat target/demo.log; exit 1; }
tail -n 1 target/demo.log
bash bindings/python/demo.sh > target/demo-python.log 2>&1 || { cat target/demo-python.log; exit 1; }
tail -n 1 target/demo-python.log
