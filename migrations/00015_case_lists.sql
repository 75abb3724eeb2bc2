-- Case lists and the map at a million cases: indexes that let a page stop
-- at its rows instead of sorting everything the filter matches, and let
-- the counts per status read an index instead of the heap.

-- +goose Up
-- A box newest first: the list walks back month by month from the newest
-- case, and each month is one index-only scan of the box in one
-- partition, its report times filtered in the index. PostGIS cannot return a
-- geometry from its GiST key (a box), so geom is included as well. The
-- report time is included, not a key: as a second GiST key (btree_gist)
-- the planner took the index for `reported_at = x` lookups, which scan
-- all of it (8 s for a page of a thousand), and with geom alone it ANDed
-- a bitmap of every case of the month into the box's. Dense 1 km box
-- (18,700 cases), page of 101: 30 ms (sorting them all) to 1.5–1.7 ms.
CREATE INDEX IF NOT EXISTS cases_box ON cases USING gist (geom) INCLUDE (geom, reported_at, id);
-- Open cases in a box (the map, and the counts of a list without a time
-- window, which count open statuses only): a seventh of the cases, so the
-- counts of a dense 2 km box (7,400 open cases) read this index alone,
-- 12.6 ms to 5.1 ms, not a heap page a case.
CREATE INDEX IF NOT EXISTS cases_open_box ON cases USING gist (geom) INCLUDE (geom, reported_at, status, id)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');
-- Overdue by deadline: the rows that can be overdue at all (a running
-- clock, or handled late and not closed out), ordered by the list's
-- deadline key and holding what the overdue rule and the counts read, so
-- that the page stops at its rows and the counts are index-only. The
-- expression is the list's sort key (grids/cases/list.go sortKey).
CREATE INDEX IF NOT EXISTS cases_overdue_district ON cases
    (district_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX IF NOT EXISTS cases_overdue_subdistrict ON cases
    (subdistrict_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX IF NOT EXISTS cases_overdue_city ON cases
    (coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));
-- cases_box serves every box test the plain GiST index served, and every
-- index is one more write for each report: intake keeps one GiST of all
-- cases, not two.
DROP INDEX IF EXISTS cases_geom_gist;

-- +goose Down
CREATE INDEX IF NOT EXISTS cases_geom_gist ON cases USING gist (geom);
DROP INDEX IF EXISTS cases_overdue_city;
DROP INDEX IF EXISTS cases_overdue_subdistrict;
DROP INDEX IF EXISTS cases_overdue_district;
DROP INDEX IF EXISTS cases_open_box;
DROP INDEX IF EXISTS cases_box;
