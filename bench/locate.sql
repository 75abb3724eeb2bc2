-- pgbench: the bare PostGIS lookup a point-in-polygon server runs: the live
-- grid covering a random point of the city's box (-D minx= … maxy=).
\set lon :minx + random(0, 1000000) / 1000000.0 * (:maxx - :minx)
\set lat :miny + random(0, 1000000) / 1000000.0 * (:maxy - :miny)
SELECT code FROM grids WHERE valid_to IS NULL AND ST_Covers(geom, ST_SetSRID(ST_Point(:lon, :lat), 4326));
