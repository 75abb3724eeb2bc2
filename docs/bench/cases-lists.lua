-- wrk script: one realistic case list, varied per request. FILTER picks it:
--   queue    a unit's open queue by deadline (UNITS: comma-separated unit codes)
--   overdue  overdue cases in a district (DISTRICTS: comma-separated codes)
--   bbox     cases in a random 1 km box, newest first
--   month    a month's cases of a category (MONTHS: comma-separated YYYY-MM)
--   geojson  the map: open cases in a random 2 km box as GeoJSON
-- ACCEPT_ENCODING (e.g. gzip) asks compressed answers, as browsers, GDAL and QGIS do.
-- Usage: TOKEN=... FILTER=queue UNITS=JD370102001000 wrk -t2 -c8 -d20s -s docs/bench/cases-lists.lua http://127.0.0.1:8090
local token = os.getenv("TOKEN") or "bench-admin-token"
local filter = os.getenv("FILTER") or "bbox"
local minx, miny, maxx, maxy = 116.915, 36.596, 117.085, 36.704
local headers = { ["Authorization"] = "Bearer " .. token }
if os.getenv("ACCEPT_ENCODING") then headers["Accept-Encoding"] = os.getenv("ACCEPT_ENCODING") end
local function split(s)
  local t = {}
  for x in string.gmatch(s or "", "[^,]+") do t[#t + 1] = x end
  return t
end
local units, districts, months = split(os.getenv("UNITS")), split(os.getenv("DISTRICTS")), split(os.getenv("MONTHS"))
local cats = { "E0101", "E0503", "E0504", "E0505", "E0501", "E0103" }

local function box(km)
  local dx, dy = km * 0.0112, km * 0.009
  local x = minx + math.random() * (maxx - minx - dx)
  local y = miny + math.random() * (maxy - miny - dy)
  return string.format("%.5f,%.5f,%.5f,%.5f", x, y, x + dx, y + dy)
end

request = function()
  local path
  if filter == "queue" then
    path = "/api/v1/cases?status=dispatched,handling&sort=deadline&unit=" .. units[math.random(#units)]
  elseif filter == "overdue" then
    path = "/api/v1/cases?overdue=true&sort=deadline&region=" .. districts[math.random(#districts)]
  elseif filter == "month" then
    local m = months[math.random(#months)]
    local y, mo = string.match(m, "(%d+)-(%d+)")
    local ny, nm = tonumber(y), tonumber(mo) + 1
    if nm == 13 then ny, nm = ny + 1, 1 end
    path = string.format("/api/v1/cases?from=%s-01T00:00:00%%2B08:00&to=%04d-%02d-01T00:00:00%%2B08:00&category=%s",
      m, ny, nm, cats[math.random(#cats)])
  elseif filter == "geojson" then
    path = "/api/v1/cases.geojson?status=registered,dispatched,handling,handled,suspended&bbox=" .. box(2)
  else
    path = "/api/v1/cases?bbox=" .. box(1)
  end
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  io.write(string.format("%s: requests %d in %.1fs: %.0f/s; p50 %.1f ms p95 %.1f ms p99 %.1f ms max %.1f ms; non-2xx %d\n",
    filter, summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status))
end
