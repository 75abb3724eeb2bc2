-- Publishing a draft: the drafts row records who published it and when
-- (a published draft is kept as the record of what was published and
-- refuses further changes), and a rollback's draft names the moment it
-- restores. Open cases keep the grid and version they were reported in
-- and gain the grid their point is in after a publish changed it.

-- +goose Up
ALTER TABLE drafts ADD COLUMN published_at timestamptz,
                   ADD COLUMN published_by text,
                   ADD COLUMN rollback_to  timestamptz;

-- Without defaults, so the partitioned table is not rewritten. NULL: the
-- grid of report time is still the case's grid (no publish changed it).
ALTER TABLE cases ADD COLUMN current_grid_code text,
                  ADD COLUMN current_grid_version integer;
-- A later publish finds the cases a former one re-gridded by this.
CREATE INDEX cases_current_grid ON cases (current_grid_code) WHERE current_grid_code IS NOT NULL;

-- +goose Down
DROP INDEX cases_current_grid;
ALTER TABLE cases DROP COLUMN current_grid_code, DROP COLUMN current_grid_version;
ALTER TABLE drafts DROP COLUMN published_at, DROP COLUMN published_by, DROP COLUMN rollback_to;
