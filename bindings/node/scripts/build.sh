#!/usr/bin/env bash
# Builds the native module with cargo alone (no @napi-rs/cli) and copies it to authsec.node.
#   bash scripts/build.sh            debug build (what the tests use)
#   bash scripts/build.sh --release  release build (benchmarks, packaging)
# The napi-derive macros write the TypeScript type definitions of every exported item to
# $TARGET/napi-type-def/authsec-node while the crate compiles; scripts/check-types.sh turns them
# into native.d.ts. Run from anywhere; needs only cargo and a C toolchain's linker.
set -euo pipefail
NODE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="$(cd "$NODE_DIR/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

profile=debug; flags=()
case "${1:-}" in
  "") ;;
  --release) profile=release; flags=(--release) ;;
  *) echo "usage: bash scripts/build.sh [--release]" >&2; exit 2 ;;
esac

export NAPI_TYPE_DEF_TMP_FOLDER="$TARGET/napi-type-def"
mkdir -p "$NAPI_TYPE_DEF_TMP_FOLDER"
# The type definitions are written only when the crate compiles: force that when they are missing.
[ -s "$NAPI_TYPE_DEF_TMP_FOLDER/authsec-node" ] || export NAPI_FORCE_BUILD_AUTHSEC_NODE="$(date +%s%N)"

(cd "$ROOT" && cargo build --locked -p authsec-node "${flags[@]}")

case "$(uname -s)" in
  Darwin) lib="libauthsec_node.dylib" ;;
  *) lib="libauthsec_node.so" ;;
esac
cp "$TARGET/$profile/$lib" "$NODE_DIR/authsec.node"
