#!/usr/bin/env bash
# Types drift check: regenerate native.d.ts with napi build (debug) and fail when it differs from
# the committed file; then type-check index.d.ts (hand-written) and native.d.ts with tsc against a
# usage file. Run from anywhere; needs `npm ci` in bindings/node.
set -euo pipefail
cd "$(dirname "$0")/.."

before="$(mktemp)"
trap 'rm -f "$before"' EXIT
if [ -f native.d.ts ]; then cp native.d.ts "$before"; else : >"$before"; fi

npx napi build --no-js --dts native.d.ts --no-dts-header >/dev/null

status=0
if ! cmp -s "$before" native.d.ts; then
  echo "types drift: native.d.ts changed when regenerated:" >&2
  diff -u "$before" native.d.ts >&2 || true
  status=1
fi
if git ls-files --error-unmatch native.d.ts >/dev/null 2>&1; then
  git diff --exit-code -- native.d.ts || { echo "types drift: native.d.ts differs from the committed file" >&2; status=1; }
fi
npx tsc -p tsconfig.json || { echo "type check failed" >&2; status=1; }
[ "$status" -eq 0 ] && echo "types: native.d.ts up to date; index.d.ts and native.d.ts type-check"
exit "$status"
