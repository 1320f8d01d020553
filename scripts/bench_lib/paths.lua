-- wrk script for scripts/bench: GETs the paths of a file (one a line) in turn, with a bearer
-- token, and prints wrk's figures as one JSON line (the same BENCH_RESULT as distinct.lua).
--
--   wrk ... -s paths.lua URL -- PATHS_FILE TOKEN

local paths = {}
local i = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  assert(#paths > 0, "no paths in " .. args[1])
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
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
