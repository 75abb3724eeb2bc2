-- The hotspots' counts are an index-only scan again.
--
-- Hotspots count every case of the city in its cell with the overdue rule
-- (cases.OverdueSQL). Since migration 22 that rule reads the lateness of
-- citygrid_case_late, whose spent_s, limit_hours and limit_days
-- cases_cells (migration 11) did not hold: the count fell back to a
-- parallel scan of the whole table (the city at res 8 on 1,000,000 cases:
-- 280 ms to 810 ms in PostgreSQL). The index now holds them too.

-- +goose Up
DROP INDEX cases_cells;
CREATE INDEX cases_cells ON cases (h3_r10, category_code)
    INCLUDE (h3_r6, h3_r7, h3_r8, h3_r9, spent_s, status, clock_from, due_at, handled_on_time, limit_hours, limit_days);

-- +goose Down
DROP INDEX cases_cells;
CREATE INDEX cases_cells ON cases (h3_r10, category_code)
    INCLUDE (h3_r6, h3_r7, h3_r8, h3_r9, status, clock_from, due_at, handled_on_time);
