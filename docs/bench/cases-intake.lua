-- wrk script: POST /api/v1/cases (intake with routing) at varied points
-- and categories over the 20,000-grid generated city (citygrid demo
-- generated --grids 20000 --seed 1), weighted as reports come in.
-- Usage: TOKEN=... wrk -t2 -c32 -d30s -s docs/bench/cases-intake.lua http://127.0.0.1:8090
-- Prints p50/p95/p99 and the non-2xx count at the end.
local token = os.getenv("TOKEN") or "bench-admin-token"
local minx, miny, maxx, maxy = 116.915, 36.596, 117.085, 36.704
local cats = { "E0503", "E0503", "E0501", "E0101", "E0101", "E0101", "E0103", "E0504", "E0504", "E0504",
               "E0505", "E0505", "E0502", "E0201", "E0202", "E0102", "E0106", "E0110", "E0301", "E0302", "E0401" }
local sources = { "inspector", "inspector", "inspector", "hotline", "citizen", "patrol" }
local headers = { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }
local errors = 0

function setup(thread)
  thread:set("id", tostring(thread))
end

function init(args)
  math.randomseed(os.time() + #tostring(id))
end

request = function()
  local lon = minx + math.random() * (maxx - minx)
  local lat = miny + math.random() * (maxy - miny)
  local body = string.format('{"lon":%.7f,"lat":%.7f,"category":"%s","source":"%s","description":"wrk intake"}',
    lon, lat, cats[math.random(#cats)], sources[math.random(#sources)])
  return wrk.format("POST", "/api/v1/cases", headers, body)
end

response = function(status, headers, body)
  if status >= 300 then errors = errors + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("requests %d in %.1fs: %.0f/s; p50 %.1f ms p95 %.1f ms p99 %.1f ms max %.1f ms; non-2xx %d, socket errors %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
