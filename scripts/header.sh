#!/usr/bin/env bash
# Regenerate include/authsec.h from ffi/src with the pinned cbindgen (installed on first use into
# target/tools). `--check` fails when the committed header differs from a fresh generation.
set -euo pipefail
cd "$(dirname "$0")/.."
CBINDGEN_VERSION=0.29.2
TOOLS="${CARGO_TARGET_DIR:-$PWD/target}/tools/cbindgen-$CBINDGEN_VERSION"
if [ ! -x "$TOOLS/bin/cbindgen" ]; then
  echo "installing cbindgen $CBINDGEN_VERSION into $TOOLS" >&2
  cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION" --root "$TOOLS"
fi
out=include/authsec.h
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
fi
"$TOOLS/bin/cbindgen" --quiet --config ffi/cbindgen.toml --crate authsec-ffi --output "$out" ffi
if [ "${1:-}" = "--check" ]; then
  if ! diff -u include/authsec.h "$out"; then
    echo "include/authsec.h is out of date: run scripts/header.sh and commit it" >&2
    exit 1
  fi
  echo "header: include/authsec.h matches ffi/src (cbindgen $CBINDGEN_VERSION)"
fi
