#!/usr/bin/env bash
# The main job: a protected MCP server with an embedded dev issuer on loopback, and a scripted
# walk-through over real HTTP (401 challenge, metadata, filtered tools/list, allowed and denied
# calls). Pass --serve to keep the server running. Needs only cargo; builds what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --locked -q -p authsec-demo -- "$@"
