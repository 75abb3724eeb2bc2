-- The map's points of open cases read from the index alone.
--
-- A map page (/api/v1/cases.geojson, grids/cases/points.go) reads every
-- open case of the box in the newest month or two to keep the newest
-- thousand: fetching each candidate's heap row was a quarter of the
-- database's time for it. cases_open_points holds every column a point
-- reads (pointColumns), so each candidate is read from the index.
--
-- The counts per status of a box read a narrow index of their own:
-- reading the wide one, they took twice as long (3 → 7 ms for a dense 2 km
-- box), and the planner prefers the smaller index where both would do.
-- Together the two replace cases_open_box (migration 15), whose columns
-- the wide one holds: an intake writes one GiST entry more than before.
--
-- Fixed-width columns come first and geom last: an index tuple with a
-- null or a variable-width column before the one read is walked from its
-- start for each column (PostgreSQL's nocache_index_getattr), and every
-- open case has a null (a limit is in hours or in days).

-- +goose Up
CREATE INDEX IF NOT EXISTS cases_open_points ON cases USING gist (geom)
    INCLUDE (reported_at, id, spent_s, due_at, clock_from, dispatched_at, unit_id, limit_hours, limit_days,
             handled_on_time, status, code, category_code, source, grid_code, geom)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX IF NOT EXISTS cases_open_status ON cases USING gist (geom) INCLUDE (geom, status)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');
DROP INDEX IF EXISTS cases_open_box;

-- +goose Down
CREATE INDEX IF NOT EXISTS cases_open_box ON cases USING gist (geom) INCLUDE (geom, reported_at, status, id)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');
DROP INDEX IF EXISTS cases_open_status;
DROP INDEX IF EXISTS cases_open_points;
