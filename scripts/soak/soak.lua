-- wrk script of the soak run (scripts/soak.sh): allowed tools/call requests cycling through many
-- tokens (one per line in SOAK_TOKENS, minted by the fixture), each answer checked against what
-- the validation mode (jwt_and_introspect) says at the time it arrives:
--   outside the introspection outage: 200 with the tool's result (SOAK_OK, a substring);
--   during it: 200 with the in-band tool error naming the failed introspection (SOAK_DOWN).
-- The outage runs from SOAK_OUTAGE_FROM to SOAK_OUTAGE_TO (Unix seconds); within SOAK_GRACE
-- seconds of either edge both answers are accepted (a request in flight when it flips).
-- Anything else is unexpected and counted with the first sample. The summary line starts SOAK.
local tokens = {}
for line in io.lines(os.getenv("SOAK_TOKENS")) do
  if line ~= "" then table.insert(tokens, line) end
end
local ok_text = os.getenv("SOAK_OK")
local down_text = os.getenv("SOAK_DOWN")
local from = tonumber(os.getenv("SOAK_OUTAGE_FROM"))
local to = tonumber(os.getenv("SOAK_OUTAGE_TO"))
local grace = tonumber(os.getenv("SOAK_GRACE") or "2")
local body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_issues","arguments":{}}}'
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  n = id * 7919
  ok = 0
  down = 0
  unexpected = 0
  sample = ""
end

function request()
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["Authorization"] = "Bearer " .. tokens[(n % #tokens) + 1],
  }
  return wrk.format("POST", "/mcp", headers, body)
end

local function contains(s, needle)
  return s ~= nil and string.find(s, needle, 1, true) ~= nil
end

function response(status, headers, resp)
  local t = os.time()
  local inside = t >= from + grace and t < to - grace
  local outside = t < from - grace or t >= to + grace
  local is_ok = status == 200 and contains(resp, ok_text)
  local is_down = status == 200 and contains(resp, down_text)
  if is_ok and not inside then
    ok = ok + 1
  elseif is_down and not outside then
    down = down + 1
  else
    unexpected = unexpected + 1
    if sample == "" then
      sample = tostring(t) .. " " .. tostring(status) .. " " .. string.sub(resp or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local o, d, u, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    d = d + t:get("down")
    u = u + t:get("unexpected")
    if first == "" then first = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    "SOAK requests=%d ok=%d outage=%d unexpected=%d socket_errors=%d rps=%.1f p99_us=%d\n",
    summary.requests, o, d, u, e.connect + e.read + e.write + e.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(99)))
  if first ~= "" then
    io.write("SOAK first_unexpected=" .. string.gsub(first, "\n", " ") .. "\n")
  end
end
