-- wrk script for scripts/bench: POSTs a body template, with a key that is new in every
-- request put where the template says @KEY@, and prints wrk's figures as one JSON line.
--
--   wrk ... -s distinct.lua URL -- PATH TEMPLATE_FILE KEY_PREFIX [KEYSPACE]
--
-- The key is <KEY_PREFIX>-<thread number>-<counter>: distinct across threads and requests,
-- so every request is a new dedup key / groupKey / alert, and pager journals every one.
-- With KEYSPACE, the counter wraps at it: each thread cycles through KEYSPACE keys, so after
-- the first pass every request updates an open incident (an alert firing again).

local next_tid = 0

function setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
end

local path, prefix, head, tail
local counter = 0

function init(args)
  path = args[1]
  local f = assert(io.open(args[2], "rb"))
  local template = f:read("*a")
  f:close()
  local s, e = template:find("@KEY@", 1, true)
  assert(s, "the template has no @KEY@")
  head = template:sub(1, s - 1)
  tail = template:sub(e + 1)
  prefix = args[3] .. "-" .. tostring(tid) .. "-"
  keyspace = tonumber(args[4] or "0")
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = counter
  if keyspace > 0 then n = counter % keyspace end
  return wrk.format("POST", path, nil, head .. prefix .. n .. tail)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
