-- The rule of ownership, in SQL: what a live lead answers for. Coverage,
-- the gaps and unassigned tile layers and analysts (through a direct
-- QGIS/GDAL connection) read these views, so that "led" has one SQL
-- definition; the locate path applies the same rule in Go
-- (grids/ownership.go), over the same assignments ("live" here: without an
-- end; the locate snapshot takes those in force now, the same rows while
-- no assignment is written with a future start or end).
--
--   live_assignments  the assignments in force, lead or support
--   live_leads    the lead assignments in force
--   lead_areas    each live lead of an area: a live grid, a region or a
--                 polygon object, with the carrier's geometry; a grid's
--                 community is grp, for unions by community
--   object_leads  each live lead of an object itself, with the stretch in
--                 metres along a line it answers for (the whole object when
--                 no stretch is given) and the object's geometry
--   citygrid_middle(g)  the point that decides which area holds an object:
--                 a point itself, else a point on its surface (not STRICT:
--                 PostgreSQL never inlines a STRICT SQL function around a
--                 CASE, and the call then costs four times the expression)
--
-- A query's own filters on lead_areas (theme, a tile's box, a region's
-- geometry) reach each branch and its indexes when they compare with a
-- value: a constant, a parameter, a scalar subquery. A filter that joins
-- (lead_areas a JOIN some_table r ON a.geom && r.geom) does not: each
-- branch is itself a join, so the planner keeps the UNION ALL as a
-- subquery and can only filter its whole output.

-- +goose Up
CREATE VIEW live_assignments AS
SELECT id, theme_code AS theme, unit_id, role, target_kind, grid_code, region_id, object_id, from_m, to_m
FROM assignments
WHERE valid_to IS NULL;

CREATE VIEW live_leads AS
SELECT id, theme, unit_id, target_kind, grid_code, region_id, object_id, from_m, to_m
FROM live_assignments
WHERE role = 'lead';

CREATE VIEW lead_areas AS
SELECT l.theme, 'grid'::text AS kind, l.unit_id, l.id AS assignment_id, g.community_id AS grp, g.area_m2, g.geom::geometry AS geom
FROM live_leads l JOIN grids g ON g.code = l.grid_code AND g.valid_to IS NULL
UNION ALL
SELECT l.theme, 'region', l.unit_id, l.id, NULL::bigint, x.area_m2, x.geom::geometry
FROM live_leads l JOIN regions x ON x.id = l.region_id
UNION ALL
SELECT l.theme, 'object', l.unit_id, l.id, NULL::bigint, NULL::double precision, o.geom::geometry
FROM live_leads l JOIN objects o ON o.id = l.object_id
WHERE ST_Dimension(o.geom) = 2;

CREATE VIEW object_leads AS
SELECT l.theme, l.object_id, l.unit_id, l.id AS assignment_id,
       COALESCE(l.from_m, 0) AS from_m, COALESCE(l.to_m, o.length_m, 0) AS to_m, o.geom
FROM live_leads l JOIN objects o ON o.id = l.object_id;

-- Not STRICT: PostgreSQL inlines a SQL function only if it can prove a
-- STRICT one's body strict, which a CASE is not; called, not inlined, it
-- costs about 2 µs a row (a z14 unassigned tile asks it for 4,000
-- objects). It still answers NULL for NULL.
CREATE FUNCTION citygrid_middle(g geometry) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN ST_Dimension(g) = 0 THEN g ELSE ST_PointOnSurface(g) END $$;

-- +goose Down
DROP FUNCTION citygrid_middle(geometry);
DROP VIEW object_leads;
DROP VIEW lead_areas;
DROP VIEW live_leads;
DROP VIEW live_assignments;
