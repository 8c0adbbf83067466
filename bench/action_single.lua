-- wrk script of bench/action_single.py: every request executes "mark as live" on one random
-- record, with the Forest JSON:API body and a bearer token, the same for every system.
-- Configured by the environment: BENCH_PATH, BENCH_TOKEN, BENCH_ROWS. Prints one line
-- "BENCH_RESULT {json}" at the end for the benchmark to read.

local path = os.getenv("BENCH_PATH")
local token = os.getenv("BENCH_TOKEN")
local rows = tonumber(os.getenv("BENCH_ROWS"))

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

function init(args)
  -- Each thread its own sequence, different on every run.
  math.randomseed(os.time() * 1000 + number)
end

function request()
  local id = math.random(1, rows)
  local body = '{"data":{"type":"custom-action-requests","attributes":{"ids":["'
    .. id .. '"],"values":{}}}}'
  return wrk.format(nil, path, nil, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"non_2xx_3xx":%d,"connect_errors":%d,'
      .. '"read_errors":%d,"write_errors":%d,"timeouts":%d,"p50_us":%d,"p99_us":%d,'
      .. '"max_us":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
