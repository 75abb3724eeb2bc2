-- wrk: uncached vector tiles (Cache-Control: no-cache) at zoom Z, uniformly
-- random over the tiles X0–X1, Y0–Y1 that cover the city. TILE is the
-- path's format of z, x and y (default citygrid's grids layer).
dofile(os.getenv("BENCH_DIR") .. "/wrk-result.lua")
local token = os.getenv("TOKEN")
local tile, z = os.getenv("TILE") or "/tiles/grids/%d/%d/%d.mvt", tonumber(os.getenv("Z"))
local x0, x1 = tonumber(os.getenv("X0")), tonumber(os.getenv("X1"))
local y0, y1 = tonumber(os.getenv("Y0")), tonumber(os.getenv("Y1"))
local headers = { ["Authorization"] = "Bearer " .. token, ["Accept-Encoding"] = "gzip", ["Cache-Control"] = "no-cache" }
init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
request = function()
  return wrk.format("GET", string.format(tile, z, math.random(x0, x1), math.random(y0, y1)), headers)
end
done = function(summary, latency, requests) result_line(summary, latency) end
