#!/usr/bin/env bash
# Whole-server load benchmark (issue 13, "Whole servers"): the same trivial MCP handler served
# protected and unprotected, one pair after the other in one run, loaded with wrk on 127.0.0.1
# with an allowed tools/call, and a markdown table of the ratios against the targets, beside the
# peers users pick today (the MCP TypeScript SDK's requireBearerAuth with jose; the reference
# Python SDK 4.7.3 on uvicorn). The python-mcp rows serve the seed's own app instead (issue 14):
# an official mcp MCPServer on FastAPI (scripts/load/python/mcp_server.py), with this project's
# mount_mcp and with the reference SDK's.
#
#   bash scripts/load.sh
#
# Environment:
#   LOAD_SECONDS    seconds of measured load per server (default 10)
#   LOAD_WARMUP     seconds of unmeasured load before each measurement (default 2)
#   LOAD_THREADS    wrk threads (default 2)    LOAD_CONNECTIONS  wrk connections (default 16)
#   LOAD_SCENARIOS  comma-separated subset of: node,node-check,rust,c,proxy,node-sdk,python,python-ours,
#                   python-mcp-ours,python-mcp (default: all)
#   LOAD_SKIP_BUILD 1: use what is built (release builds, the venv, node_modules)
#   LOAD_CALLGRIND  1: instead of wrk, count the instructions per request of the Python rows'
#                   apps (python-ours, python, python-mcp-ours, python-mcp) with valgrind
#                   callgrind, driven in process by scripts/load/python/instructions.py
#                   (LOAD_CALLGRIND_REQUESTS, default 100: the difference between that count
#                   and 5 times it), repeatable where req/s on a shared machine is not
#
# Each row also gives the server's CPU time per request (user + system, from /proc, the server
# process and its children, over the measured run): the figure to compare on a shared machine.
#
# Every answer must be HTTP 200 with the expected body (counted by the wrk script's response
# callback); a row with any other answer, a socket error or a server that did not start is marked
# FAIL and the script exits 1. Servers listen on 127.0.0.1 only and are stopped by PID.
# Needs wrk (apt-get install wrk), curl, a C compiler with libmicrohttpd-dev and libcjson-dev,
# node >= 20 and python3.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
LOAD="$ROOT/scripts/load"
OUT="$TARGET/load"
VENV="$TARGET/load-venv"
OURS_VENV="$TARGET/load-venv-ours"
SECONDS_PER_RUN="${LOAD_SECONDS:-10}"
WARMUP="${LOAD_WARMUP:-2}"
THREADS="${LOAD_THREADS:-2}"
CONNECTIONS="${LOAD_CONNECTIONS:-16}"
SCENARIOS="${LOAD_SCENARIOS:-node,node-check,rust,c,proxy,python-ours,node-sdk,python,python-mcp-ours,python-mcp}"
RESOURCE="http://127.0.0.1/mcp"
SUBJECT="load-user"
mkdir -p "$OUT"

step() { printf '==> %s\n' "$*" >&2; }
want() { [[ ",$SCENARIOS," == *",$1,"* ]]; }
command -v wrk >/dev/null || { echo "wrk is required (apt-get install -y wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is required" >&2; exit 2; }

# ---- build ------------------------------------------------------------------------------------
if [ "${LOAD_SKIP_BUILD:-}" != 1 ]; then
  step "release builds: libauthsec, the fixture, the Rust load server"
  (cd "$ROOT" && cargo build --locked --release -p authsec-ffi -p authsec-fixture)
  (cd "$ROOT" && cargo build --locked --release -p authsec-demo --example load_server)
  if want proxy; then
    step "release build of the authsec command (the proxy row)"
    (cd "$ROOT" && cargo build --locked --release -p authsec-cli)
  fi
  if want node || want node-check; then
    # Into target/load/node-runtime (index.js, codes.js and the release addon), so the debug
    # addon the tests use in bindings/node stays as it is.
    step "release build of the Node addon ($OUT/node-runtime)"
    export NAPI_TYPE_DEF_TMP_FOLDER="$TARGET/napi-type-def"   # as bindings/node/scripts/build.sh
    (cd "$ROOT" && cargo build --locked --release -p authsec-node)
    mkdir -p "$OUT/node-runtime"
    # Every JavaScript file the package ships (package.json "files"), so a new module cannot be
    # left behind.
    node -e 'for (const f of require(process.argv[1]).files) if (f.endsWith(".js")) console.log(f)' \
      "$ROOT/bindings/node/package.json" | while read -r f; do cp "$ROOT/bindings/node/$f" "$OUT/node-runtime/"; done
    cp "$TARGET/release/libauthsec_node.so" "$OUT/node-runtime/authsec.node"
  fi
  if want c; then
    step "the C example (examples/c/server.c) and its unprotected twin"
    CFLAGS=(-std=c11 -D_DEFAULT_SOURCE -Wall -Wextra -Werror -pedantic -O2)
    cc "${CFLAGS[@]}" -I"$ROOT/include" "$ROOT/examples/c/server.c" "$TARGET/release/libauthsec.a" \
      -lmicrohttpd -lcjson -lpthread -ldl -lm -o "$OUT/c-protected"
    cc "${CFLAGS[@]}" "$LOAD/c/unprotected.c" -lmicrohttpd -lcjson -lpthread -o "$OUT/c-unprotected"
  fi
  if want node-sdk; then
    step "scripts/load/node dependencies (npm ci)"
    bash "$ROOT/scripts/npm-ci.sh" "$LOAD/node"
  fi
  if want python-ours || want python-mcp-ours; then
    # The same servers and pins as the reference SDK's rows (uvicorn, uvloop, httptools, mcp),
    # with this project's authsec_sdk (bindings/python, release library) instead of
    # authsec-sdk 4.7.3.
    step "this project's Python binding venv ($OURS_VENV, pinned, --no-deps, release build)"
    [ -x "$OURS_VENV/bin/python" ] || python3 -m venv "$OURS_VENV"
    grep -v '^authsec-sdk==' "$LOAD/python/requirements.txt" > "$OUT/python-ours-requirements.txt"
    "$OURS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$OUT/python-ours-requirements.txt"
    bash "$ROOT/bindings/python/scripts/build-deps.sh" "$OURS_VENV/bin/python"
    AUTHSEC_CARGO_PROFILE=release "$OURS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      --no-deps --no-build-isolation --force-reinstall "$ROOT/bindings/python"
    "$OURS_VENV/bin/python" -m pip check >/dev/null || { echo "scripts/load/python/requirements.txt is incomplete for this project's binding: $("$OURS_VENV/bin/python" -m pip check | head -1)" >&2; exit 1; }
  fi
  if want python || want python-mcp; then
    step "the reference Python SDK venv ($VENV, pinned, --no-deps)"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$LOAD/python/requirements.txt"
    "$VENV/bin/python" -m pip check >/dev/null || { echo "scripts/load/python/requirements.txt is incomplete: $("$VENV/bin/python" -m pip check | head -1)" >&2; exit 1; }
  fi
fi

# ---- processes --------------------------------------------------------------------------------
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# start NAME CMD...: run CMD in the background (stdout+stderr to $OUT/NAME.log), wait for its
# READY line, set URL and PID. Fails when it exits or is not ready within 60 s.
start() {
  local name="$1"; shift
  local log="$OUT/$name.log"
  : >"$log"
  "$@" >"$log" 2>&1 </dev/null &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    URL="$(sed -n 's/^READY \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -1)"
    if [ -n "$URL" ]; then return 0; fi
    if ! kill -0 "$PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "$name did not start; its log ($log):" >&2
  sed 's/^/  /' "$log" | tail -20 >&2
  stop "$PID"
  return 1
}

stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# cpu_ticks PID: user + system CPU clock ticks of PID and its descendants (/proc), so a server's
# CPU time per request can be read over the measured run (less noisy than req/s on a shared
# machine, where wrk and other work take turns on the cores).
cpu_ticks() {
  local total=0 p t
  for p in "$1" $(pgrep -P "$1" 2>/dev/null || true); do
    if [ "$p" != "$1" ]; then t="$(cpu_ticks "$p")"
    else t="$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }' || echo 0)"; fi
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
CLK_TCK="$(getconf CLK_TCK)"

# ---- the fixture (JWKS and the token) ---------------------------------------------------------
step "fixture backend"
start fixture "$TARGET/release/authsec-fixture" --port 0 --ignore-stdin
BASE="$URL"
MINT='{"kid":"rsa-1","header":{"typ":"at+jwt"},"claims":{"iss":"'"$BASE"'","sub":"'"$SUBJECT"'","client_id":"load-client","aud":"'"$RESOURCE"'","scope":"issues:read","iat":{"$now":0},"exp":{"$now":3600}}}'
TOKEN="$(curl -sf -X POST "$BASE/_control/mint" -H 'content-type: application/json' -d "$MINT" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "could not mint a token at $BASE" >&2; exit 1; }

export AUTHSEC_ISSUER="$BASE" AUTHSEC_JWKS_URL="$BASE/jwks" AUTHSEC_RESOURCE_URI="$RESOURCE"
export AUTHSEC_TOOL_SCOPES_JSON='{"list_issues":["issues:read"]}'
export AUTHSEC_POLICY_MODE=local_only AUTHSEC_VALIDATION_MODE=jwt_only
export LOAD_SUBJECT="$SUBJECT" LOAD_TOKEN="$TOKEN" AUTHSEC_LOAD_NODE_RUNTIME="$OUT/node-runtime"
# mcp_server.py and instructions.py import server.py: no __pycache__ written into the source tree.
export PYTHONDONTWRITEBYTECODE=1

REQUEST='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues","arguments":{}}}'
OK_BODY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}'
C_BODY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"list_issues ran for '"$SUBJECT"'"}]}}'
# The MCP SDK's answer (mcp_server.py's list_issues, unstructured output): the CallToolResult
# with its one text block and isError false; mcp 2.3.0 writes the block's "text" before "type".
MCP_BODY='{"jsonrpc":"2.0","id":1,"result":{"content":[{"text":"#1 open: login fails","type":"text"}],"isError":false}}'

MCP_APP="$LOAD/python/mcp_server.py"

# ---- LOAD_CALLGRIND=1: instructions per request of the Python apps ----------------------------
if [ "${LOAD_CALLGRIND:-}" = 1 ]; then
  command -v valgrind >/dev/null || { echo "LOAD_CALLGRIND=1 needs valgrind (apt-get install -y valgrind)" >&2; exit 2; }
  N1="${LOAD_CALLGRIND_REQUESTS:-100}"; N2=$((5 * N1))
  # collected PY APP MODE N: the instructions valgrind counted for one in-process run.
  collected() {
    local log="$OUT/callgrind-$2-$3-$4.log"
    if ! LOAD_EXPECT="$EXPECT" valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$1" "$LOAD/python/instructions.py" "$2" "$3" "$4" >"$log" 2>&1; then
      echo "instructions.py $2 $3 $4 failed ($log):" >&2; tail -5 "$log" >&2; return 1
    fi
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$log"
  }
  per_request() {  # PY APP MODE
    local a b
    a="$(collected "$1" "$2" "$3" "$N1")" && b="$(collected "$1" "$2" "$3" "$N2")" || return 1
    echo $(((b - a) / (N2 - N1)))
  }
  echo "| app | unprotected instr/req | protected instr/req | added by the guard | unprotected / protected |"
  echo "|---|---|---|---|---|"
  for s in python-ours:trivial:"$OURS_VENV" python:trivial:"$VENV" python-mcp-ours:mcp:"$OURS_VENV" python-mcp:mcp:"$VENV"; do
    name="${s%%:*}"; rest="${s#*:}"; app="${rest%%:*}"; py="${rest#*:}/bin/python"
    want "$name" || continue
    EXPECT="$OK_BODY"; [ "$app" = mcp ] && EXPECT="$MCP_BODY"
    step "callgrind: $name ($app app), $N1 and $N2 requests each"
    u="$(per_request "$py" "$app" unprotected)" && p="$(per_request "$py" "$app" protected)" || exit 1
    echo "| $name | $u | $p | +$((p - u)) | $(awk -v u="$u" -v p="$p" 'BEGIN { printf "%.3f", u / p }') |"
  done
  exit 0
fi

# measure NAME EXPECT CMD...: start the server, check one answer by hand, warm up, load it, stop
# it. Sets RPS, P99 (µs) and BAD (empty when every answer was right, else why not).
measure() {
  local name="$1" expect="$2"; shift 2
  RPS=0 P99=0 CPU=0 BAD=""
  if ! start "$name" "$@"; then BAD="did not start"; return 0; fi
  local pid="$PID" got
  got="$(curl -s -o "$OUT/$name.probe" -w '%{http_code}' -X POST "$URL/mcp" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H "authorization: Bearer $TOKEN" -d "$REQUEST" || true)"
  if [ "$got" != 200 ] || [ "$(cat "$OUT/$name.probe")" != "$expect" ]; then
    BAD="probe answered $got $(head -c 200 "$OUT/$name.probe")"
    stop "$pid"
    return 0
  fi
  local wrk=(wrk -t"$THREADS" -c"$CONNECTIONS" --latency -s "$LOAD/tools_call.lua")
  if [ "$WARMUP" != 0 ]; then
    LOAD_EXPECT="$expect" "${wrk[@]}" -d"${WARMUP}s" "$URL/mcp" >"$OUT/$name.warmup" 2>&1 || true
  fi
  local ticks0 ticks1
  ticks0="$(cpu_ticks "$pid")"
  LOAD_EXPECT="$expect" "${wrk[@]}" -d"${SECONDS_PER_RUN}s" "$URL/mcp" >"$OUT/$name.wrk" 2>&1 || true
  ticks1="$(cpu_ticks "$pid")"
  stop "$pid"
  local line
  line="$(grep '^LOAD requests=' "$OUT/$name.wrk" || true)"
  if [ -z "$line" ]; then BAD="wrk printed no summary (see $OUT/$name.wrk)"; return 0; fi
  field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$line"; }
  RPS="$(field rps)"; P99="$(field p99_us)"
  CPU="$(awk -v t="$((ticks1 - ticks0))" -v hz="$CLK_TCK" -v n="$(field answered)" 'BEGIN { printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0) }')"
  local non200 badbody sockerr
  non200="$(field non200)"; badbody="$(field badbody)"; sockerr="$(field socket_errors)"
  if [ "$non200" != 0 ] || [ "$badbody" != 0 ] || [ "$sockerr" != 0 ]; then
    BAD="non-200: $non200, wrong body: $badbody, socket errors: $sockerr; first: $(sed -n 's/^LOAD first_bad=//p' "$OUT/$name.wrk" | head -c 120)"
  fi
}

ROWS=()
FAILED=0
# row TITLE TARGET PROT_NAME PROT_EXPECT PROT_CMD -- UNPROT_NAME UNPROT_EXPECT UNPROT_CMD
row() {
  local title="$1" target="$2"; shift 2
  local pcmd=() ucmd=()
  while [ "$1" != -- ]; do pcmd+=("$1"); shift; done
  shift
  ucmd=("$@")
  step "$title: unprotected"
  measure "${ucmd[@]}"
  local urps="$RPS" up99="$P99" ucpu="$CPU" ubad="$BAD"
  step "$title: protected"
  measure "${pcmd[@]}"
  local prps="$RPS" pp99="$P99" pcpu="$CPU" pbad="$BAD"
  local verdict ratio added
  if [ -n "$pbad$ubad" ]; then
    FAILED=1
    verdict="FAIL (${pbad:+protected: $pbad}${pbad:+${ubad:+; }}${ubad:+unprotected: $ubad})"
    ratio="-"; added="-"
  else
    ratio="$(awk -v p="$prps" -v u="$urps" 'BEGIN { printf "%.2f", (u > 0 ? p / u : 0) }')"
    added="$(awk -v p="$pp99" -v u="$up99" 'BEGIN { printf "%+.2f ms", (p - u) / 1000 }')"
    if [ "$target" = "-" ]; then verdict="$( [[ "$title" == peer:* ]] && echo peer || echo "no target" )"
    elif awk -v r="$ratio" -v t="${target#>= }" 'BEGIN { exit !(r + 0 >= t + 0) }'; then verdict="met"
    else verdict="below target"; fi
  fi
  ROWS+=("| $title | $(printf '%.0f' "$prps") | $(printf '%.0f' "$urps") | $ratio | $target | $(awk -v p="$up99" 'BEGIN{printf "%.2f", p/1000}') / $(awk -v p="$pp99" 'BEGIN{printf "%.2f", p/1000}') ms | $added | $ucpu / $pcpu | $verdict |")
}

NODE="$LOAD/node/server.mjs"
RUST="$TARGET/release/examples/load_server"
if want node; then
  row "Node \`protect()\` around a node:http handler" ">= 0.90" \
    node-protect "$OK_BODY" node "$NODE" protect -- node-unprotected "$OK_BODY" node "$NODE" unprotected
fi
if want node-check; then
  row "Node \`runtime.check\` by hand in the handler" "-" \
    node-check "$OK_BODY" node "$NODE" runtime-check -- node-unprotected "$OK_BODY" node "$NODE" unprotected
fi
if want rust; then
  row "Rust axum, \`Runtime::check\`" ">= 0.95" \
    rust-protected "$OK_BODY" "$RUST" --protected -- rust-unprotected "$OK_BODY" "$RUST" --unprotected
fi
if want c; then
  row "C example (libmicrohttpd, libauthsec)" ">= 0.95" \
    c-protected "$C_BODY" "$OUT/c-protected" 0 -- c-unprotected "$C_BODY" "$OUT/c-unprotected" 0
fi
if want proxy; then
  # The same node:http handler as the Node rows, direct and behind `authsec proxy` (a second
  # process and a second loopback hop: the cost of protecting a server without touching it).
  row "\`authsec proxy\` in front of the Node server (vs the Node server direct)" ">= 0.85" \
    proxy-protected "$OK_BODY" bash "$LOAD/proxy.sh" "$TARGET/release/authsec" "$NODE" "$OUT" -- \
    proxy-unprotected "$OK_BODY" node "$NODE" unprotected
fi
if want node-sdk; then
  row "peer: Express + MCP SDK \`requireBearerAuth\` + jose (vs Express unprotected)" "-" \
    node-sdk "$OK_BODY" node "$NODE" sdk -- node-express "$OK_BODY" node "$NODE" express
fi
if want python-ours; then
  row "Python \`mount_mcp\` (this project's binding), uvicorn 1 worker" ">= 0.95" \
    python-ours-protected "$OK_BODY" "$OURS_VENV/bin/python" "$LOAD/python/server.py" --protected -- \
    python-ours-unprotected "$OK_BODY" "$OURS_VENV/bin/python" "$LOAD/python/server.py" --unprotected
fi
if want python; then
  row "peer: reference Python SDK 4.7.3 \`mount_mcp\`, uvicorn 1 worker" "-" \
    python-protected "$OK_BODY" "$VENV/bin/python" "$LOAD/python/server.py" --protected -- \
    python-unprotected "$OK_BODY" "$VENV/bin/python" "$LOAD/python/server.py" --unprotected
fi
if want python-mcp-ours; then
  row "Python \`mount_mcp\` (this project's binding), the seed's app: \`mcp\` MCPServer on FastAPI, uvicorn 1 worker" ">= 0.95" \
    python-mcp-ours-protected "$MCP_BODY" "$OURS_VENV/bin/python" "$MCP_APP" --protected -- \
    python-mcp-ours-unprotected "$MCP_BODY" "$OURS_VENV/bin/python" "$MCP_APP" --unprotected
fi
if want python-mcp; then
  row "peer: reference Python SDK 4.7.3 \`mount_mcp\`, the seed's app: \`mcp\` MCPServer on FastAPI, uvicorn 1 worker" "-" \
    python-mcp-protected "$MCP_BODY" "$VENV/bin/python" "$MCP_APP" --protected -- \
    python-mcp-unprotected "$MCP_BODY" "$VENV/bin/python" "$MCP_APP" --unprotected
fi

printf '\nwrk -t%s -c%s -d%ss (warm-up %ss) on 127.0.0.1, allowed tools/call, %s, %s, %s cores\n\n' \
  "$THREADS" "$CONNECTIONS" "$SECONDS_PER_RUN" "$WARMUP" "$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)"
echo "| scenario | protected req/s | unprotected req/s | ratio | target | p99 unprotected / protected | added p99 | server CPU µs/req unprotected / protected | result |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${ROWS[@]}"; do echo "$r"; done
exit "$FAILED"
