-- The cases tile layer's clusters, counted ahead: a z12 tile of a large
-- city holds some 300,000 cases, which no query reading each case draws
-- in 50 ms. case_tile_cells holds, for each stored H3 resolution (r6–r10)
-- and cell, the count and the coordinate sums of its cases per unit,
-- status, late flag and deadline bucket, so that a tile reads a few
-- thousand rows instead.
--
-- Writes never wait on each other for it: a row trigger on cases
-- appends each change to case_tile_deltas (no index, no
-- hot row: a city's reports share a few r6 cells), and a periodic fold
-- (cases.Store.FoldTiles) moves the deltas into the counts. A tile reads
-- the counts and the deltas not yet folded in one snapshot, so it is
-- exact at every moment.
--
-- Overdue (红牌) depends on the time, not only on the row: a running
-- clock's case becomes overdue at its deadline without any write. The
-- counts therefore keep running cases apart by a six-hour bucket of their
-- deadline (due); a bucket whose end has passed holds only overdue cases
-- (the fold merges such buckets into '-infinity'), and the one bucket
-- that holds the present is read from cases itself (its few cases, by
-- the index of deadlines). The rule as SQL over the counts is in
-- grids/cases/gis.go beside the rule over cases.
--
-- A tile takes a cell's cases by the cell's anchor (case_tile_anchors):
-- one point per cell, written once, the least point of the cell's first
-- cases, so that every case counts in exactly one tile of a zoom.

-- +goose Up
CREATE FUNCTION citygrid_due_bucket(t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN to_timestamp(floor(extract(epoch FROM t) / 21600) * 21600);
-- Whether bucket b is over: every case in it is past its deadline.
CREATE FUNCTION citygrid_due_bucket_over(b timestamptz) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN b + interval '6 hours' <= now();

CREATE TABLE case_tile_cells (
    res     smallint NOT NULL CHECK (res BETWEEN 6 AND 10),
    cell    bigint NOT NULL,
    unit_id bigint,       -- the unit dispatched to; NULL before dispatch
    status  text NOT NULL,
    late    boolean NOT NULL,  -- handled_on_time IS FALSE
    due     timestamptz,  -- the deadline's bucket while the clock runs; '-infinity': past
    n       integer NOT NULL,
    sx      double precision NOT NULL,  -- sums of longitude and latitude
    sy      double precision NOT NULL
);
CREATE UNIQUE INDEX case_tile_cells_key ON case_tile_cells (res, cell, unit_id, status, late, due) NULLS NOT DISTINCT;

-- One row per change of a case, with its cells at every resolution.
CREATE TABLE case_tile_deltas (
    n       integer NOT NULL,  -- 1 added, -1 taken away
    h3_r6   bigint NOT NULL,
    h3_r7   bigint NOT NULL,
    h3_r8   bigint NOT NULL,
    h3_r9   bigint NOT NULL,
    h3_r10  bigint NOT NULL,
    unit_id bigint,
    status  text NOT NULL,
    late    boolean NOT NULL,
    due     timestamptz,
    x       double precision NOT NULL,  -- the case's point
    y       double precision NOT NULL
-- Every fold deletes what intake inserted: vacuumed by the count of dead
-- rows, not by a share of a table that is nearly empty between folds.
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);

CREATE TABLE case_tile_anchors (
    res    smallint NOT NULL,
    cell   bigint NOT NULL,
    anchor geometry(Point, 4326) NOT NULL,
    PRIMARY KEY (res, cell)
);
-- One index per resolution: a tile reads one, and a partial index holds
-- only its cells (r10 has ten times the cells of r9).
CREATE INDEX case_tile_anchors_r6 ON case_tile_anchors USING gist (anchor) WHERE res = 6;
CREATE INDEX case_tile_anchors_r7 ON case_tile_anchors USING gist (anchor) WHERE res = 7;
CREATE INDEX case_tile_anchors_r8 ON case_tile_anchors USING gist (anchor) WHERE res = 8;
CREATE INDEX case_tile_anchors_r9 ON case_tile_anchors USING gist (anchor) WHERE res = 9;
CREATE INDEX case_tile_anchors_r10 ON case_tile_anchors USING gist (anchor) WHERE res = 10;

-- +goose StatementBegin
-- A row trigger in PL/pgSQL, whose statement is planned once per session:
-- intake writes one case a statement, and an update that changes nothing
-- a tile shows (a note, a notice flag) costs a comparison.
CREATE FUNCTION citygrid_case_tile_delta() RETURNS trigger LANGUAGE plpgsql AS $$
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

CREATE TRIGGER citygrid_case_tiles AFTER INSERT OR UPDATE OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION citygrid_case_tile_delta();

-- +goose StatementBegin
-- citygrid_fold_case_tiles moves the deltas into the counts and answers
-- how many counts it changed. One fold runs at a time across servers.
CREATE FUNCTION citygrid_fold_case_tiles() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    folded integer;
    zr smallint[]; zc bigint[]; zs text[]; zl boolean[];
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('citygrid_fold_case_tiles')) THEN
        RETURN 0;
    END IF;
    -- A bucket whose six hours are over holds only overdue cases: one row.
    WITH moved AS (
        DELETE FROM case_tile_cells WHERE due > '-infinity' AND citygrid_due_bucket_over(due) RETURNING *)
    INSERT INTO case_tile_cells AS t (res, cell, unit_id, status, late, due, n, sx, sy)
    SELECT res, cell, unit_id, status, late, '-infinity', sum(n), sum(sx), sum(sy) FROM moved GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (res, cell, unit_id, status, late, due)
        DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;

    -- Only the deltas this snapshot sees go: those committed meanwhile
    -- wait for the next fold.
    WITH gone AS (DELETE FROM case_tile_deltas RETURNING *),
    s AS (
        SELECT r.res, r.cell, g.unit_id, g.status, g.late,
               CASE WHEN citygrid_due_bucket_over(g.due) THEN '-infinity' ELSE g.due END AS due,
               sum(g.n) AS n, sum(g.n * g.x) AS sx, sum(g.n * g.y) AS sy, min(ARRAY[g.x, g.y]) FILTER (WHERE g.n > 0) AS p
        FROM gone g
        CROSS JOIN LATERAL (VALUES (6::smallint, g.h3_r6), (7, g.h3_r7), (8, g.h3_r8), (9, g.h3_r9), (10, g.h3_r10)) r(res, cell)
        GROUP BY 1, 2, 3, 4, 5, 6),
    anchored AS (
        INSERT INTO case_tile_anchors (res, cell, anchor)
        SELECT res, cell, ST_SetSRID(ST_MakePoint((min(p))[1], (min(p))[2]), 4326) FROM s WHERE p IS NOT NULL GROUP BY 1, 2
        ON CONFLICT DO NOTHING),
    up AS (
        INSERT INTO case_tile_cells AS t (res, cell, unit_id, status, late, due, n, sx, sy)
        SELECT res, cell, unit_id, status, late, due, n, sx, sy FROM s
        ON CONFLICT (res, cell, unit_id, status, late, due)
            DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy
        RETURNING t.res, t.cell, t.status, t.late, t.n)
    SELECT count(*), array_agg(res) FILTER (WHERE n = 0), array_agg(cell) FILTER (WHERE n = 0),
           array_agg(status) FILTER (WHERE n = 0), array_agg(late) FILTER (WHERE n = 0)
    INTO folded, zr, zc, zs, zl FROM up;

    -- Counts that reached zero (every case moved on) are dropped.
    DELETE FROM case_tile_cells t USING unnest(zr, zc, zs, zl) z(res, cell, status, late)
    WHERE t.res = z.res AND t.cell = z.cell AND t.status = z.status AND t.late = z.late AND t.n = 0;
    RETURN folded;
END $$;
-- +goose StatementEnd

-- The cases already stored, counted as the fold would count them.
INSERT INTO case_tile_deltas (n, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, late, due, x, y)
SELECT 1, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, unit_id, status, handled_on_time IS FALSE,
       CASE WHEN clock_from IS NOT NULL THEN citygrid_due_bucket(due_at) END, ST_X(geom), ST_Y(geom)
FROM cases;
SELECT citygrid_fold_case_tiles();

-- +goose Down
DROP TRIGGER citygrid_case_tiles ON cases;
DROP FUNCTION citygrid_fold_case_tiles();
DROP FUNCTION citygrid_case_tile_delta();
DROP TABLE case_tile_anchors;
DROP TABLE case_tile_deltas;
DROP TABLE case_tile_cells;
DROP FUNCTION citygrid_due_bucket_over(timestamptz);
DROP FUNCTION citygrid_due_bucket(timestamptz);
