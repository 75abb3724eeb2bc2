-- wrk script: GET /tiles/{layer}/14/{x}/{y}.mvt round-robin over every z14
-- tile covering the 20,000-grid generated city (citygrid demo generated
-- --grids 20000, seed 1: bounds 116.9113,36.5924 - 117.0887,36.7076).
-- Usage: LAYER=grids [NOCACHE=1] [THEME=sanitation] wrk -t1 -c1 -d20s --latency -s tiles.lua http://127.0.0.1:8092
--   THEME is required by the layers drawn per duty: gaps (area duties) and
--   unassigned (any duty, e.g. LAYER=unassigned THEME=road_chief).
--   NOCACHE=1 sends Cache-Control: no-cache, so every request is rendered
--   by PostGIS (the server's uncached path); without it the server's tile
--   cache answers after the first round.
local token = os.getenv("TOKEN") or "bench-admin-token"
local layer = os.getenv("LAYER") or "grids"
local theme = os.getenv("THEME")
local z = tonumber(os.getenv("Z") or "14")
local minx, miny, maxx, maxy = 116.9113249, 36.5923924, 117.0886747, 36.7076054
local function tile(lon, lat)
  local n = 2 ^ z
  local x = math.floor((lon + 180) / 360 * n)
  local r = math.rad(lat)
  local y = math.floor((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
  return x, y
end
local x0, y0 = tile(minx, maxy)
local x1, y1 = tile(maxx, miny)
local paths = {}
for x = x0, x1 do
  for y = y0, y1 do
    local p = string.format("/tiles/%s/%d/%d/%d.mvt", layer, z, x, y)
    if theme then p = p .. "?theme=" .. theme end
    paths[#paths + 1] = p
  end
end
local headers = { ["Authorization"] = "Bearer " .. token, ["Accept-Encoding"] = "gzip" }
if os.getenv("NOCACHE") then headers["Cache-Control"] = "no-cache" end
local i = 0
init = function(args)
  io.write(string.format("%d tiles, x %d-%d, y %d-%d\n", #paths, x0, x1, y0, y1))
end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i - 1) % #paths + 1], headers)
end
response = function(status, headers, body)
  if status ~= 200 and status ~= 204 then io.write("status " .. status .. "\n") end
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d p50=%.2fms p95=%.2fms p99=%.2fms max=%.2fms errors=%d\n",
    summary.requests, latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
