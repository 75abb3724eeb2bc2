-- The cases tile layer's clusters, counted ahead: a z12 tile of a large
-- city holds some 300,000 cases, which no query reading each case draws
-- in 50 ms. case_tile_cells holds, for each stored H3 resolution (r6–r10)
-- and cell, the count and the coordinate sums of its cases per unit,
-- status, late flag and deadline bucket, so that a tile reads a few
-- thousand rows instead.
--
-- Writes never wait on each other for it: a statement trigger on cases
-- appends each statement's net change to case_tile_deltas (no index, no
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

CREATE TABLE case_tile_deltas (
    res     smallint NOT NULL,
    cell    bigint NOT NULL,
    unit_id bigint,
    status  text NOT NULL,
    late    boolean NOT NULL,
    due     timestamptz,
    n       integer NOT NULL,
    sx      double precision NOT NULL,
    sy      double precision NOT NULL,
    x       double precision,  -- the least point of the cases added (the anchor of a new cell)
    y       double precision
);

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
CREATE FUNCTION citygrid_case_tile_delta() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The rows as a tile counts them, added (1) or taken away (-1).
    shown constant text := 'c.h3_r6, c.h3_r7, c.h3_r8, c.h3_r9, c.h3_r10, c.unit_id, c.status, c.handled_on_time IS FALSE AS late,
        CASE WHEN c.clock_from IS NOT NULL THEN citygrid_due_bucket(c.due_at) END AS due, ST_X(c.geom) AS x, ST_Y(c.geom) AS y';
    added constant text := 'SELECT 1 AS d, ' || shown || ' FROM new_cases c';
    taken constant text := 'SELECT -1 AS d, ' || shown || ' FROM old_cases c';
BEGIN
    -- The statement's net change per resolution and key: an update that
    -- moves nothing a tile shows (a note, a notice flag) nets to nothing.
    -- Dynamic SQL because a statement may name only the transition
    -- tables its event has.
    EXECUTE format($q$
        INSERT INTO case_tile_deltas (res, cell, unit_id, status, late, due, n, sx, sy, x, y)
        SELECT r.res, r.cell, ch.unit_id, ch.status, ch.late, ch.due, sum(ch.d), sum(ch.d * ch.x), sum(ch.d * ch.y),
               (min(ARRAY[ch.x, ch.y]) FILTER (WHERE ch.d > 0))[1], (min(ARRAY[ch.x, ch.y]) FILTER (WHERE ch.d > 0))[2]
        FROM (%s) ch
        CROSS JOIN LATERAL (VALUES (6::smallint, ch.h3_r6), (7, ch.h3_r7), (8, ch.h3_r8), (9, ch.h3_r9), (10, ch.h3_r10)) r(res, cell)
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(ch.d) <> 0 OR sum(ch.d * ch.x) <> 0 OR sum(ch.d * ch.y) <> 0$q$,
        CASE TG_OP WHEN 'INSERT' THEN added WHEN 'DELETE' THEN taken ELSE added || ' UNION ALL ' || taken END);
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER citygrid_case_tiles_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION citygrid_case_tile_delta();
CREATE TRIGGER citygrid_case_tiles_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS old_cases NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION citygrid_case_tile_delta();
CREATE TRIGGER citygrid_case_tiles_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS old_cases FOR EACH STATEMENT EXECUTE FUNCTION citygrid_case_tile_delta();

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
        SELECT res, cell, unit_id, status, late,
               CASE WHEN citygrid_due_bucket_over(due) THEN '-infinity' ELSE due END AS due,
               sum(n) AS n, sum(sx) AS sx, sum(sy) AS sy, min(ARRAY[x, y]) AS p
        FROM gone GROUP BY 1, 2, 3, 4, 5, 6),
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
INSERT INTO case_tile_deltas (res, cell, unit_id, status, late, due, n, sx, sy, x, y)
SELECT r.res, r.cell, c.unit_id, c.status, c.handled_on_time IS FALSE,
       CASE WHEN c.clock_from IS NOT NULL THEN citygrid_due_bucket(c.due_at) END,
       count(*), sum(ST_X(c.geom)), sum(ST_Y(c.geom)),
       (min(ARRAY[ST_X(c.geom), ST_Y(c.geom)]))[1], (min(ARRAY[ST_X(c.geom), ST_Y(c.geom)]))[2]
FROM cases c
CROSS JOIN LATERAL (VALUES (6::smallint, c.h3_r6), (7, c.h3_r7), (8, c.h3_r8), (9, c.h3_r9), (10, c.h3_r10)) r(res, cell)
GROUP BY 1, 2, 3, 4, 5, 6;
SELECT citygrid_fold_case_tiles();

-- +goose Down
DROP TRIGGER citygrid_case_tiles_delete ON cases;
DROP TRIGGER citygrid_case_tiles_update ON cases;
DROP TRIGGER citygrid_case_tiles_insert ON cases;
DROP FUNCTION citygrid_fold_case_tiles();
DROP FUNCTION citygrid_case_tile_delta();
DROP TABLE case_tile_anchors;
DROP TABLE case_tile_deltas;
DROP TABLE case_tile_cells;
DROP FUNCTION citygrid_due_bucket_over(timestamptz);
DROP FUNCTION citygrid_due_bucket(timestamptz);
