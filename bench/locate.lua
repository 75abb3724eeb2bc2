-- wrk: GET /api/v1/locate at uniformly random points of the box MINX MINY
-- MAXX MAXY (the city's bounds), the full answer, no theme. ENGINE=db asks
-- the SQL path. FIELDS=grid,owners asks for less. The requests are
-- formatted once, in init (where wrk.format knows the Host header), so
-- that wrk, sharing the machine with the server, spends its time sending.
dofile(os.getenv("BENCH_DIR") .. "/wrk-result.lua")
local token = os.getenv("TOKEN")
local engine = os.getenv("ENGINE") or "index"
local fields = os.getenv("FIELDS")
local minx, miny = tonumber(os.getenv("MINX")), tonumber(os.getenv("MINY"))
local maxx, maxy = tonumber(os.getenv("MAXX")), tonumber(os.getenv("MAXY"))
local reqs, n, i = {}, 16384, 0
init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  local headers = { ["Authorization"] = "Bearer " .. token }
  for k = 1, n do
    local p = string.format("/api/v1/locate?lon=%.7f&lat=%.7f", minx + math.random() * (maxx - minx), miny + math.random() * (maxy - miny))
    if engine ~= "index" then p = p .. "&engine=" .. engine end
    if fields then p = p .. "&fields=" .. fields end
    reqs[k] = wrk.format("GET", p, headers)
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
done = function(summary, latency, requests) result_line(summary, latency) end
