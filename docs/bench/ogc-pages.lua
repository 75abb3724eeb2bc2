-- wrk script: OGC API items pages of LIMIT features (default 1,000) of a
-- collection (default grids) in a random bbox, new on every request, so
-- that no count is served from the cache: what a GIS client panning over
-- the city asks. The window (W by H degrees) sits inside the bounds
-- XMIN,YMIN,XMAX,YMAX (the collection's extent from /ogc/collections).
-- The defaults fit the 20,000-grid generated city: a 0.05° × 0.033° window
-- holds 1,677–1,748 live grids (200 random windows).
-- Usage: wrk -t1 -c1 -d10s -s docs/bench/ogc-pages.lua http://127.0.0.1:8101
--        (TOKEN a valid token; SEED fixes the windows, by default the clock)
local token = os.getenv("TOKEN") or "bench-admin-token"
local collection = os.getenv("COLLECTION") or "grids"
local limit = tonumber(os.getenv("LIMIT") or "1000")
local xmin = tonumber(os.getenv("XMIN") or "116.9113249")
local ymin = tonumber(os.getenv("YMIN") or "36.5923924")
local xmax = tonumber(os.getenv("XMAX") or "117.0886747")
local ymax = tonumber(os.getenv("YMAX") or "36.7076054")
local w = tonumber(os.getenv("W") or "0.05")
local h = tonumber(os.getenv("H") or "0.033")
math.randomseed(tonumber(os.getenv("SEED") or "") or os.time())
request = function()
  local x = xmin + math.random() * (xmax - xmin - w)
  local y = ymin + math.random() * (ymax - ymin - h)
  local path = string.format("/ogc/collections/%s/items?limit=%d&bbox=%.6f,%.6f,%.6f,%.6f", collection, limit, x, y, x + w, y + h)
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors %d, %.1f req/s; latency ms p50 %.1f p95 %.1f p99 %.1f max %.1f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
