#!/usr/bin/env bash
# The main job: a protected MCP server with an embedded dev issuer on loopback, and a scripted
# walk-through over real HTTP (401 challenge, metadata, filtered tools/list, allowed and denied
# calls), first the Rust server, then the seed's own story in Python (the quickstart app, an
# MCPServer behind mount_mcp, driven by the official mcp client). Pass --serve to keep the Rust
# server running instead. Needs cargo and python3; builds what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then exec cargo run --locked -q -p authsec-demo -- "$@"; fi
cargo run --locked -q -p authsec-demo
echo
bash bindings/python/demo.sh
