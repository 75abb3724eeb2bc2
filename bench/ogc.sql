-- pgbench: what a feature server does in PostgreSQL for the same page: the
-- first 1,000 live grids of a random window by key, with the collection's
-- properties, as GeoJSON built by ST_AsGeoJSON (-D minx= … maxy= w= h=).
\set bx :minx + random(0, 1000000) / 1000000.0 * (:maxx - :minx - :w)
\set by :miny + random(0, 1000000) / 1000000.0 * (:maxy - :miny - :h)
\set bx2 :bx + :w
\set by2 :by + :h
SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(ST_AsGeoJSON(t.*, 'geom', 9)::json), '[]'))::text
FROM (SELECT g.geom, g.code, g.name, c.code AS community, round(g.area_m2::numeric, 2) AS area_m2, g.version, g.valid_from, g.valid_to
      FROM grids g JOIN regions c ON c.id = g.community_id
      WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, ST_MakeEnvelope(:bx, :by, :bx2, :by2, 4326)) AND g.id > 0
      ORDER BY g.id LIMIT 1000) t;
