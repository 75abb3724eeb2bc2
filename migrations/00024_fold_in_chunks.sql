-- The tile counts' fold takes its deltas in bounded chunks.
--
-- A fold used to take every pending delta in one statement. After a bulk
-- load (citygrid demo cases: 1,020,224 deltas for 1,000,000 cases) that
-- took 12.9 s on an idle 2-core machine and longer under load, past the
-- periodic job's timeout (15 s): each try was cancelled and rolled back,
-- every few seconds, for as long as the server ran. The backlog never
-- shrank, the tiles read every pending delta, and the tries took a third
-- of the database's CPU (intake on 1,000,000 cases: 461-618 reports/s
-- while they ran, 893-967/s once folded). cases.Store.FoldTiles now calls
-- the fold in chunks, each its own transaction, until the deltas are
-- drained, so a cancelled call keeps the chunks already folded.

-- +goose Up
DROP FUNCTION citygrid_fold_case_tiles();
-- +goose StatementBegin
-- citygrid_fold_case_tiles moves at most max_deltas deltas into the
-- counts and answers how many counts it changed and how many deltas it
-- took. One fold runs at a time across servers.
CREATE FUNCTION citygrid_fold_case_tiles(max_deltas integer, OUT folded integer, OUT taken integer)
LANGUAGE plpgsql AS $$
DECLARE
    zr smallint[]; zc bigint[]; zs text[]; zl boolean[];
BEGIN
    folded := 0;
    taken := 0;
    IF NOT pg_try_advisory_xact_lock(hashtext('citygrid_fold_case_tiles')) THEN
        RETURN;
    END IF;
    -- A bucket whose six hours are over holds only overdue cases: one row.
    WITH moved AS (
        DELETE FROM case_tile_cells WHERE due > '-infinity' AND citygrid_due_bucket_over(due) RETURNING *)
    INSERT INTO case_tile_cells AS t (res, cell, unit_id, status, late, due, n, sx, sy)
    SELECT res, cell, unit_id, status, late, '-infinity', sum(n), sum(sx), sum(sy) FROM moved GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (res, cell, unit_id, status, late, due)
        DO UPDATE SET n = t.n + EXCLUDED.n, sx = t.sx + EXCLUDED.sx, sy = t.sy + EXCLUDED.sy;

    -- Only the deltas this snapshot sees go, and at most max_deltas of
    -- them: those committed meanwhile, and the rest, wait for the next
    -- fold. The counts are sums, so any subset folds exactly.
    WITH gone AS (
        DELETE FROM case_tile_deltas
        WHERE ctid = ANY (ARRAY(SELECT ctid FROM case_tile_deltas LIMIT max_deltas))
        RETURNING *),
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
    SELECT count(*), (SELECT count(*) FROM gone), array_agg(res) FILTER (WHERE n = 0), array_agg(cell) FILTER (WHERE n = 0),
           array_agg(status) FILTER (WHERE n = 0), array_agg(late) FILTER (WHERE n = 0)
    INTO folded, taken, zr, zc, zs, zl FROM up;

    -- Counts that reached zero (every case moved on) are dropped.
    DELETE FROM case_tile_cells t USING unnest(zr, zc, zs, zl) z(res, cell, status, late)
    WHERE t.res = z.res AND t.cell = z.cell AND t.status = z.status AND t.late = z.late AND t.n = 0;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION citygrid_fold_case_tiles(integer);
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
