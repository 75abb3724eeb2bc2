-- wrk: GET /api/v1/locate at uniformly random points of the box MINX MINY
-- MAXX MAXY (the city's bounds), the full answer, no theme. ENGINE=db asks
-- the SQL path. FIELDS=grid,owners asks for less.
dofile(os.getenv("BENCH_DIR") .. "/wrk-result.lua")
local token = os.getenv("TOKEN")
local engine = os.getenv("ENGINE") or "index"
local fields = os.getenv("FIELDS")
local minx, miny = tonumber(os.getenv("MINX")), tonumber(os.getenv("MINY"))
local maxx, maxy = tonumber(os.getenv("MAXX")), tonumber(os.getenv("MAXY"))
local headers = { ["Authorization"] = "Bearer " .. token }
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
request = function()
  local p = string.format("/api/v1/locate?lon=%.7f&lat=%.7f", minx + math.random() * (maxx - minx), miny + math.random() * (maxy - miny))
  if engine ~= "index" then p = p .. "&engine=" .. engine end
  if fields then p = p .. "&fields=" .. fields end
  return wrk.format("GET", p, headers)
end
done = function(summary, latency, requests) result_line(summary, latency) end
