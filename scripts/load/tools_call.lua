-- wrk script of the whole-server load benchmark (scripts/load.sh): every request is the same
-- allowed JSON-RPC tools/call with the bearer token, and every answer must be HTTP 200 with the
-- expected body. The summary line (LOAD ...) counts the answers that were not, so load.sh fails
-- the row instead of reporting the throughput of errors.
--   LOAD_TOKEN   the bearer token (sent to the unprotected twin too, so the requests are equal)
--   LOAD_EXPECT  the exact expected response body
local token = os.getenv("LOAD_TOKEN") or ""
local expect = os.getenv("LOAD_EXPECT") or ""

wrk.method = "POST"
wrk.path = "/mcp"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues","arguments":{}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  badbody = 0
  answered = 0
  sample = ""
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 then
    non200 = non200 + 1
    if sample == "" then sample = tostring(status) end
  elseif body ~= expect then
    badbody = badbody + 1
    if sample == "" then sample = "200 " .. string.sub(body or "", 1, 200) end
  end
end

function done(summary, latency, requests)
  local non, bad, seen, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    non = non + t:get("non200")
    bad = bad + t:get("badbody")
    seen = seen + t:get("answered")
    if first == "" then first = t:get("sample") end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "LOAD requests=%d answered=%d rps=%.1f p50_us=%d p99_us=%d non200=%d badbody=%d socket_errors=%d\n",
    summary.requests, seen, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), non, bad, socket_errors))
  if first ~= "" then
    io.write("LOAD first_bad=" .. string.gsub(first, "\n", " ") .. "\n")
  end
end
