#!/usr/bin/env bash
# The "authsec proxy" load row's protected server: the Node load server's unprotected handler
# (scripts/load/node/server.mjs unprotected) with `authsec proxy` (release build) in front of it,
# configured from the AUTHSEC_* environment load.sh exports. Prints the proxy's
# `READY http://127.0.0.1:<port>` only; SIGTERM stops both (by PID).
#   proxy.sh <authsec binary> <node server.mjs> <log dir>
set -euo pipefail
AUTHSEC="$1" NODE_SERVER="$2" LOGS="$3"
node "$NODE_SERVER" unprotected >"$LOGS/proxy-upstream.log" 2>&1 </dev/null &
UP=$!
PROXY=""
trap 'kill $UP ${PROXY:+$PROXY} 2>/dev/null || true; wait 2>/dev/null || true' EXIT TERM INT
URL=""
for _ in $(seq 1 300); do
  URL="$(sed -n 's/^READY \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$LOGS/proxy-upstream.log" | head -1)"
  [ -n "$URL" ] && break
  kill -0 "$UP" 2>/dev/null || { cat "$LOGS/proxy-upstream.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the Node upstream did not start" >&2; exit 1; }
# No access log: one stderr line per request would measure the terminal, not the proxy.
"$AUTHSEC" proxy --upstream "$URL/mcp" --listen 127.0.0.1:0 --no-access-log &
PROXY=$!
wait "$PROXY"
