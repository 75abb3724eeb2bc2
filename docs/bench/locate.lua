-- wrk script: GET /api/v1/locate at random points over the 20,000-grid
-- generated city (citygrid demo generated --grids 20000, seed 1).
-- Usage: wrk -t2 -c64 -d30s -s docs/bench/locate.lua http://127.0.0.1:8090
--        (ENGINE=db for the PostGIS engine; THEME= (empty) for the owners
--        of every duty, default sanitation; FIELDS=grid,owners to ask for
--        part of the answer; TOKEN must be a valid token)
-- The requests are formatted once, before the run, so that wrk, which
-- shares the machine with the server, spends its time sending them.
local token = os.getenv("TOKEN") or "bench-admin-token"
local engine = os.getenv("ENGINE") or "index"
local theme = os.getenv("THEME") or "sanitation"
local fields = os.getenv("FIELDS") or ""
local minx, miny, maxx, maxy = 116.915, 36.596, 117.085, 36.704
local extra = ""
if theme ~= "" then extra = extra .. "&theme=" .. theme end
if fields ~= "" then extra = extra .. "&fields=" .. fields end
local reqs, n, i = {}, 16384, 0
-- in init, where wrk.format knows the Host header
init = function(args)
  math.randomseed(42)
  for k = 1, n do
    local lon = minx + math.random() * (maxx - minx)
    local lat = miny + math.random() * (maxy - miny)
    local path = string.format("/api/v1/locate?lon=%.7f&lat=%.7f&engine=%s%s", lon, lat, engine, extra)
    reqs[k] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
