-- A case suspended (挂账) after its time ran out stays overdue (红牌) while
-- it waits: the suspension stops the clock, it does not take back the
-- lateness (a unit could otherwise clear its red cards by asking for a
-- suspension). The case itself said so (grids/cases/clock.go clockState),
-- but the rule over cases knew a running clock and a case handled late
-- only: ?overdue=true, the hotspots' and the tiles' overdue counts left
-- out the suspended late cases that the same lists flagged overdue.
--
-- citygrid_case_late is that half of the rule, in one place for the
-- trigger of the tile counts, the partial indexes and cases.OverdueSQL:
-- handled late, or suspended with more time spent than the limit
-- (working days at 24 h each, as calendar.Clock measures them). Never
-- NULL, for the counts' late column; a SQL function the planner inlines,
-- so that a query spelled with it matches the indexes spelled with it.

-- +goose Up
CREATE FUNCTION citygrid_case_late(status text, handled_on_time boolean, spent_s bigint, limit_hours integer, limit_days integer)
    RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN handled_on_time IS FALSE
        OR (status = 'suspended' AND (limit_hours IS NOT NULL OR limit_days IS NOT NULL)
            AND spent_s > coalesce(limit_hours, limit_days * 24)::bigint * 3600);

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION citygrid_case_tile_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
    d integer;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.h3_r10, OLD.unit_id, OLD.status,
            citygrid_case_late(OLD.status, OLD.handled_on_time, OLD.spent_s, OLD.limit_hours, OLD.limit_days),
            OLD.clock_from IS NULL, OLD.due_at, OLD.geom)
        IS NOT DISTINCT FROM (NEW.h3_r10, NEW.unit_id, NEW.status,
            citygrid_case_late(NEW.status, NEW.handled_on_time, NEW.spent_s, NEW.limit_hours, NEW.limit_days),
            NEW.clock_from IS NULL, NEW.due_at, NEW.geom) THEN
        RETURN NULL;
    END IF;
    FOREACH d IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[1] WHEN 'DELETE' THEN ARRAY[-1] ELSE ARRAY[-1, 1] END LOOP
        IF d < 0 THEN c := OLD; ELSE c := NEW; END IF;
        INSERT INTO case_tile_deltas (n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, late, due, x, y)
        VALUES (d, c.h3_r6, c.h3_r7, c.h3_r8, c.h3_r9, c.h3_r10, c.unit_id, c.status,
                citygrid_case_late(c.status, c.handled_on_time, c.spent_s, c.limit_hours, c.limit_days),
                CASE WHEN c.clock_from IS NOT NULL THEN citygrid_due_bucket(c.due_at) END, ST_X(c.geom), ST_Y(c.geom));
    END LOOP;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- The suspended late cases already counted, moved to the late counts (a
-- suspended case has no running clock, so no deadline bucket).
INSERT INTO case_tile_deltas (n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, late, due, x, y)
SELECT m.n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, m.late, NULL, ST_X(geom), ST_Y(geom)
FROM cases CROSS JOIN (VALUES (-1, false), (1, true)) m(n, late)
WHERE status = 'suspended' AND handled_on_time IS NOT FALSE
  AND citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days);
SELECT citygrid_fold_case_tiles();

-- The indexes of the overdue queues, spelled as OverdueSQL now is; they
-- hold the columns the rule reads so that the counts stay index-only.
DROP INDEX cases_late_district;
DROP INDEX cases_late_subdistrict;
DROP INDEX cases_overdue_district;
DROP INDEX cases_overdue_subdistrict;
DROP INDEX cases_overdue_city;
CREATE INDEX cases_late_district ON cases (district_code)
    WHERE citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days) AND status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX cases_late_subdistrict ON cases (subdistrict_code)
    WHERE citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days) AND status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX cases_overdue_district ON cases
    (district_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time, spent_s, limit_hours, limit_days)
    WHERE clock_from IS NOT NULL
       OR (citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days) AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX cases_overdue_subdistrict ON cases
    (subdistrict_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time, spent_s, limit_hours, limit_days)
    WHERE clock_from IS NOT NULL
       OR (citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days) AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX cases_overdue_city ON cases
    (coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time, spent_s, limit_hours, limit_days)
    WHERE clock_from IS NOT NULL
       OR (citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days) AND status NOT IN ('closed', 'cancelled', 'merged'));

-- The map's points read the stored warning instead of the dispatch time:
-- the flags follow the stored deadline and warning (clockState).
DROP INDEX cases_open_points;
CREATE INDEX cases_open_points ON cases USING gist (geom)
    INCLUDE (reported_at, id, spent_s, due_at, clock_from, warn_at, unit_id, limit_hours, limit_days,
             handled_on_time, status, code, category_code, source, grid_code, geom)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');

-- +goose Down
DROP INDEX cases_open_points;
CREATE INDEX cases_open_points ON cases USING gist (geom)
    INCLUDE (reported_at, id, spent_s, due_at, clock_from, dispatched_at, unit_id, limit_hours, limit_days,
             handled_on_time, status, code, category_code, source, grid_code, geom)
    WHERE status NOT IN ('closed', 'cancelled', 'merged');
DROP INDEX cases_late_district;
DROP INDEX cases_late_subdistrict;
DROP INDEX cases_overdue_district;
DROP INDEX cases_overdue_subdistrict;
DROP INDEX cases_overdue_city;
CREATE INDEX cases_late_district ON cases (district_code)
    WHERE handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX cases_late_subdistrict ON cases (subdistrict_code)
    WHERE handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged');
CREATE INDEX cases_overdue_district ON cases
    (district_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX cases_overdue_subdistrict ON cases
    (subdistrict_code, coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));
CREATE INDEX cases_overdue_city ON cases
    (coalesce(due_at, '9999-12-31T00:00:00Z'::timestamptz), id)
    INCLUDE (reported_at, status, clock_from, due_at, handled_on_time)
    WHERE clock_from IS NOT NULL OR (handled_on_time IS FALSE AND status NOT IN ('closed', 'cancelled', 'merged'));

INSERT INTO case_tile_deltas (n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, late, due, x, y)
SELECT m.n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, m.late, NULL, ST_X(geom), ST_Y(geom)
FROM cases CROSS JOIN (VALUES (1, false), (-1, true)) m(n, late)
WHERE status = 'suspended' AND handled_on_time IS NOT FALSE
  AND citygrid_case_late(status, handled_on_time, spent_s, limit_hours, limit_days);
SELECT citygrid_fold_case_tiles();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION citygrid_case_tile_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    c record;
    d integer;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.h3_r10, OLD.unit_id, OLD.status, OLD.handled_on_time IS FALSE, OLD.clock_from IS NULL, OLD.due_at, OLD.geom)
        IS NOT DISTINCT FROM (NEW.h3_r10, NEW.unit_id, NEW.status, NEW.handled_on_time IS FALSE, NEW.clock_from IS NULL, NEW.due_at, NEW.geom) THEN
        RETURN NULL;
    END IF;
    FOREACH d IN ARRAY CASE TG_OP WHEN 'INSERT' THEN ARRAY[1] WHEN 'DELETE' THEN ARRAY[-1] ELSE ARRAY[-1, 1] END LOOP
        IF d < 0 THEN c := OLD; ELSE c := NEW; END IF;
        INSERT INTO case_tile_deltas (n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, late, due, x, y)
        VALUES (d, c.h3_r6, c.h3_r7, c.h3_r8, c.h3_r9, c.h3_r10, c.unit_id, c.status, c.handled_on_time IS FALSE,
                CASE WHEN c.clock_from IS NOT NULL THEN citygrid_due_bucket(c.due_at) END, ST_X(c.geom), ST_Y(c.geom));
    END LOOP;
    RETURN NULL;
END $$;
-- +goose StatementEnd
DROP FUNCTION citygrid_case_late(text, boolean, bigint, integer, integer);
