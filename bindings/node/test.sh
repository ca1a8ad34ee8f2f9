#!/usr/bin/env bash
# Everything for the Node binding, from a fresh clone: install pinned npm dependencies, build the
# native module (debug) and the conformance fixture, then run the conformance runner (every
# vector), the API tests, the MCP SDK end-to-end test of the example, and the types drift check.
# Exits non-zero on any failure.
set -euo pipefail

NODE_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$NODE_DIR/../.." && pwd)"
export npm_config_loglevel=error npm_config_audit=false npm_config_fund=false

step() { printf '\n==> %s\n' "$*"; }

# `npm ci`; when it refuses a lock file only because the registry (a mirror without other
# platforms' optional native packages, e.g. @napi-rs/lzma-darwin-arm64) could not resolve them,
# install the locked tree with `npm install` and fail if that had to change the lock file.
npm_ci() {
  if npm ci 2>"$NODE_DIR/.npm-ci.err"; then rm -f "$NODE_DIR/.npm-ci.err"; return 0; fi
  if ! grep -q 'Missing: .* from lock file' "$NODE_DIR/.npm-ci.err"; then cat "$NODE_DIR/.npm-ci.err" >&2; rm -f "$NODE_DIR/.npm-ci.err"; return 1; fi
  rm -f "$NODE_DIR/.npm-ci.err"
  echo "npm ci: the registry lacks other platforms' optional packages; installing the locked tree with npm install"
  local lock; lock="$(mktemp)"
  cp package-lock.json "$lock"
  npm install
  if ! cmp -s "$lock" package-lock.json; then
    echo "package-lock.json is out of date with package.json:" >&2
    diff -u "$lock" package-lock.json >&2 || true
    cp "$lock" package-lock.json; rm -f "$lock"; return 1
  fi
  rm -f "$lock"
}

step "npm ci (bindings/node, tests/interop/oidc, examples/node)"
(cd "$NODE_DIR" && npm_ci)
(cd "$ROOT/tests/interop/oidc" && npm_ci)
(cd "$ROOT/examples/node" && npm_ci)

step "build the native module (debug, napi build)"
(cd "$NODE_DIR" && npm run --silent build:debug)

step "build the conformance fixture"
(cd "$ROOT" && cargo build -p authsec-fixture)

step "Rust unit tests of the binding"
(cd "$ROOT" && cargo test -p authsec-node)

step "conformance vectors, mutation check, config and API tests (node --test)"
(cd "$NODE_DIR" && node --test test/*.test.mjs)

step "example: MCP SDK client against mountMcp + oidc-provider (node --test)"
(cd "$ROOT/examples/node" && node --test test/*.test.mjs)

step "types drift check"
bash "$NODE_DIR/scripts/check-types.sh"

printf '\nnode binding: all green\n'
