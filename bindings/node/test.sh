#!/usr/bin/env bash
# Everything for the Node binding, from a fresh clone: install the locked npm dependencies
# (`npm ci` only), build the native module with cargo (debug) and the conformance fixture, then
# run every conformance vector through the Node driver (the shared Rust runner spawning
# test/conformance-driver.mjs) with the runner-level mutation check, the config and API tests,
# the MCP SDK end-to-end test of the example, and the types drift check. Exits non-zero on any
# failure.
set -euo pipefail

NODE_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$NODE_DIR/../.." && pwd)"

step() { printf '\n==> %s\n' "$*"; }

step "npm ci (bindings/node, tests/interop/oidc, examples/node)"
bash "$ROOT/scripts/npm-ci.sh" "$NODE_DIR" "$ROOT/tests/interop/oidc" "$ROOT/examples/node"

step "build the native module (debug, cargo) and the conformance fixture"
bash "$NODE_DIR/scripts/build.sh"
(cd "$ROOT" && cargo build --locked -p authsec-fixture)

step "Rust unit tests of the binding; every vector through the Node driver; mutation check"
(cd "$ROOT" && cargo test --locked -p authsec-node)

step "config and API tests (node --test)"
(cd "$NODE_DIR" && node --test test/*.test.mjs)

step "example: MCP SDK client against mountMcp, and against an unprotected server behind authsec proxy, with oidc-provider tokens (node --test)"
(cd "$ROOT" && cargo build --locked -p authsec-cli)
(cd "$ROOT/examples/node" && node --test test/*.test.mjs)

step "types drift check"
bash "$NODE_DIR/scripts/check-types.sh"

printf '\nnode binding: all green\n'
