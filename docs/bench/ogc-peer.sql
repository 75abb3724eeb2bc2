-- pgbench script: what a peer (pg_featureserv) runs for an OGC items page of
-- the grids collection, the plain keyset query building the same 1,000
-- features with ST_AsGeoJSON, over a random 0.05° × 0.033° window of the
-- 20,000-grid generated city, as docs/bench/ogc-pages.lua asks citygrid.
-- Usage: pgbench -n -c1 -T10 -f docs/bench/ogc-peer.sql "$URL"
\set x0 random(0, 1273498)
\set y0 random(0, 822130)
SELECT json_build_object('type', 'Feature', 'id', g.code, 'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(g.geom), 7)::json,
       'properties', json_build_object('code', g.code, 'name', g.name, 'community', c.code, 'area_m2', round(g.area_m2::numeric, 2),
                                       'version', g.version, 'valid_from', g.valid_from, 'valid_to', g.valid_to))::text
FROM grids g JOIN regions c ON c.id = g.community_id
WHERE g.valid_to IS NULL
  AND ST_Intersects(g.geom, ST_MakeEnvelope(116.9113249 + :x0 / 1e7, 36.5923924 + :y0 / 1e7, 116.9613249 + :x0 / 1e7, 36.6253924 + :y0 / 1e7, 4326))
ORDER BY g.id LIMIT 1000;
