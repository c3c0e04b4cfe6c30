-- wrk's report as one JSON line, read by bench/web_load.py: request count, errors by kind, and the
-- latency percentiles wrk measured (microseconds). wrk itself counts only statuses of 400 and up as
-- errors; answers other than 200 (a redirect, say) are counted here, per thread, as "not_200".
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local not_200 = 0
  for _, thread in ipairs(threads) do
    not_200 = not_200 + thread:get("not_200")
  end
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "not_200": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout, not_200,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
