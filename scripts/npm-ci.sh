#!/usr/bin/env bash
# Installs the exact dependency tree of each given directory's committed package-lock.json with
# `npm ci`, and nothing else: no `npm install` fallback, so the result never depends on what the
# registry serves on the day. When `npm ci` refuses (the lock is out of date with package.json,
# or names a package the registry does not serve), print one line saying what to do and fail.
#   bash scripts/npm-ci.sh DIR [DIR...]
set -euo pipefail
export npm_config_loglevel=error npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
for dir in "$@"; do
  err="$(mktemp)"
  if ! (cd "$dir" && npm ci >/dev/null 2>"$err"); then
    reason="$(grep -m1 -E 'Missing: |Invalid: ' "$err" || grep -m1 -E 'npm error (code )?E[A-Z0-9]+' "$err" || true)"
    reason="${reason#npm error }"
    echo "npm ci refused $dir/package-lock.json (${reason:-see below}): regenerate it with 'npm install --package-lock-only' in $dir, review and commit it." >&2
    [ -n "${AUTHSEC_VERBOSE:-}" ] && sed 's/^/  /' "$err" >&2
    rm -f "$err"
    exit 1
  fi
  rm -f "$err"
done
