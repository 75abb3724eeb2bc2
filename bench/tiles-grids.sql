-- pgbench: the bare tile query a tile server (pg_tileserv) runs for the grids
-- layer on the grids table (geometry in WGS84, transformed per feature):
-- the same properties and buffer as citygrid's grids tiles, one
-- random tile of the city at zoom :z (-D z= x0= x1= y0= y1=).
\set x random(:x0, :x1)
\set y random(:y0, :y1)
SELECT ST_AsMVT(t, 'grids', 4096, 'geom', 'fid') FROM (
  SELECT ST_AsMVTGeom(ST_Transform(g.geom, 3857), ST_TileEnvelope(:z, :x, :y), 4096, 64, true) AS geom,
         g.id AS fid, g.code, g.name, g.community_code AS community, round(g.area_m2) AS area_m2
  FROM grids g
  WHERE g.valid_to IS NULL AND g.geom && ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.015625), 4326)
) t WHERE t.geom IS NOT NULL;
