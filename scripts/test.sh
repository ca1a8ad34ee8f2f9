#!/usr/bin/env bash
# The full test suite: format and lint gates, every Rust test (unit, conformance vectors through
# the core API, remote policy and manifest against the fixture backend, interop with a real
# oidc-provider authorization server, installed here with npm), then the demo as a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v rustup >/dev/null 2>&1; then
  rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi

echo "== npm: oidc-provider for the interop test"
(cd tests/interop/oidc && npm ci --no-audit --no-fund --loglevel=error)

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== demo (smoke)"
cargo run -q -p authsec-demo > target/demo.log 2>&1 || { cat target/demo.log; exit 1; }
tail -n 1 target/demo.log
