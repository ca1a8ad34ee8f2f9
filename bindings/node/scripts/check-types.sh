#!/usr/bin/env bash
# Types drift check: build the addon (debug, scripts/build.sh), turn the type definitions the
# napi-derive macros wrote during that build into a declaration file (scripts/gen-native-dts.mjs)
# and fail when it differs from the committed native.d.ts; check codes.js/codes.d.ts against
# include/authsec_codes.json (the core's code registry); then type-check index.d.ts
# (hand-written) and native.d.ts with tsc against a usage file. Needs `npm ci` in bindings/node.
#   --write  regenerate native.d.ts instead of checking it
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(cd ../.. && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
node scripts/gen-native-dts.mjs "$TARGET/napi-type-def/authsec-node" "$generated"

status=0
if [ "${1:-}" = "--write" ]; then
  cp "$generated" native.d.ts
elif ! cmp -s "$generated" native.d.ts; then
  echo "types drift: native.d.ts does not match the addon's exports (bash scripts/check-types.sh --write regenerates it):" >&2
  diff -u native.d.ts "$generated" >&2 || true
  status=1
fi
node scripts/gen-codes.mjs --check || status=1
npx --no-install tsc -p tsconfig.json || { echo "type check failed" >&2; status=1; }
[ "$status" -eq 0 ] && echo "types: native.d.ts and codes.js/codes.d.ts up to date; index.d.ts, native.d.ts and codes.d.ts type-check"
exit "$status"
