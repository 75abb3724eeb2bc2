-- wrk: OGC API items pages of 1,000 grids over a new random window each
-- request (W and H: the window's size in degrees, inside the city's box),
-- as a GIS client opening a view: every window's numberMatched is counted.
-- ITEMS and EXTRA ask another server (pg_featureserv) for the same page.
dofile(os.getenv("BENCH_DIR") .. "/wrk-result.lua")
local token = os.getenv("TOKEN")
local minx, miny = tonumber(os.getenv("MINX")), tonumber(os.getenv("MINY"))
local maxx, maxy = tonumber(os.getenv("MAXX")), tonumber(os.getenv("MAXY"))
local w, h = tonumber(os.getenv("W")), tonumber(os.getenv("H"))
local items = os.getenv("ITEMS") or "/ogc/collections/grids/items"
local extra = os.getenv("EXTRA") or ""
local headers = { ["Authorization"] = "Bearer " .. token }
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
request = function()
  local x = minx + math.random() * (maxx - minx - w)
  local y = miny + math.random() * (maxy - miny - h)
  return wrk.format("GET", string.format("%s?limit=1000&bbox=%.7f,%.7f,%.7f,%.7f%s", items, x, y, x + w, y + h, extra), headers)
end
done = function(summary, latency, requests) result_line(summary, latency) end
