-- wrk script: OGC API items pages of LIMIT features (default 1,000) at
-- random paging keys, as a client following next links deep into a layer.
-- Usage: COLLECTION=objects MAXID=197782 wrk -t2 -c8 -d20s -s docs/bench/ogc.lua http://127.0.0.1:8090
--        (TOKEN must be a valid token; MAXID the largest key of the layer)
local token = os.getenv("TOKEN") or "bench-admin-token"
local collection = os.getenv("COLLECTION") or "objects"
local limit = tonumber(os.getenv("LIMIT") or "1000")
local maxid = tonumber(os.getenv("MAXID") or "197782")
math.randomseed(7)
request = function()
  local after = math.random(0, math.max(0, maxid - limit))
  local path = string.format("/ogc/collections/%s/items?limit=%d&after=%d", collection, limit, after)
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("requests %d, errors %d; latency ms p50 %.1f p95 %.1f p99 %.1f max %.1f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
