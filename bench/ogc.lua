-- wrk: OGC API items pages of 1,000 grids over a new random window each
-- request (W and H: the window's size in degrees, inside the city's box),
-- as a GIS client opening a view: every window's numberMatched is counted.
dofile(os.getenv("BENCH_DIR") .. "/wrk-result.lua")
local token = os.getenv("TOKEN")
local minx, miny = tonumber(os.getenv("MINX")), tonumber(os.getenv("MINY"))
local maxx, maxy = tonumber(os.getenv("MAXX")), tonumber(os.getenv("MAXY"))
local w, h = tonumber(os.getenv("W")), tonumber(os.getenv("H"))
local headers = { ["Authorization"] = "Bearer " .. token }
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
request = function()
  local x = minx + math.random() * (maxx - minx - w)
  local y = miny + math.random() * (maxy - miny - h)
  return wrk.format("GET", string.format("/ogc/collections/grids/items?limit=1000&bbox=%.7f,%.7f,%.7f,%.7f", x, y, x + w, y + h), headers)
end
done = function(summary, latency, requests) result_line(summary, latency) end
