-- Grid history: who opened and closed each grid version, the lineage of
-- split and merged grids (which versions a grid came from and went to), and
-- an index for the layout as of a moment.

-- +goose Up
-- Who: the writer's transaction names its user with
-- set_config('citygrid.user', …, true) (grids/history.SetActor); the
-- default and the trigger below read it, so every writer records it
-- without naming the columns. Rows written before this migration, and
-- writers that name nobody (the CLI), keep NULL: unknown.
-- Added without a default first, then given one, so the table is not
-- rewritten.
ALTER TABLE grids ADD COLUMN created_by text, ADD COLUMN closed_by text;
ALTER TABLE grids ALTER COLUMN created_by SET DEFAULT NULLIF(current_setting('citygrid.user', true), '');

-- +goose StatementBegin
CREATE FUNCTION citygrid_grid_closed_by() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.closed_by := NULLIF(current_setting('citygrid.user', true), '');
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER grids_closed_by BEFORE UPDATE OF valid_to ON grids
    FOR EACH ROW WHEN (OLD.valid_to IS NULL AND NEW.valid_to IS NOT NULL)
    EXECUTE FUNCTION citygrid_grid_closed_by();

-- Lineage between versions of different codes: a split grid points at
-- each of its parts, the parts of a merge at the merged grid. The next
-- version of the same code is its successor by definition and has no row.
-- share is the part of the predecessor's area that went to the successor
-- (0..1), where the writer knows it. Publishing a draft writes these rows
-- in its transaction; nothing else does yet.
CREATE TABLE grid_lineage (
    predecessor_code     text NOT NULL,
    predecessor_version  integer NOT NULL,
    successor_code       text NOT NULL,
    successor_version    integer NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('split', 'merge', 'redraw')),
    share                double precision CHECK (share > 0 AND share <= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (predecessor_code, predecessor_version, successor_code, successor_version),
    FOREIGN KEY (predecessor_code, predecessor_version) REFERENCES grids (code, version) ON DELETE CASCADE,
    FOREIGN KEY (successor_code, successor_version) REFERENCES grids (code, version) ON DELETE CASCADE,
    CONSTRAINT grid_lineage_other_code CHECK (predecessor_code <> successor_code)
);
CREATE INDEX grid_lineage_successor ON grid_lineage (successor_code, successor_version);

-- The layout at a moment: the versions whose period holds it, per
-- community (btree_gist, migration 1). A closed period is [valid_from,
-- valid_to), so at the moment of a publish the new version answers.
CREATE INDEX grids_period ON grids USING gist (community_id, tstzrange(valid_from, valid_to, '[)'));

-- +goose Down
DROP INDEX grids_period;
DROP TABLE grid_lineage;
DROP TRIGGER grids_closed_by ON grids;
DROP FUNCTION citygrid_grid_closed_by();
ALTER TABLE grids DROP COLUMN created_by, DROP COLUMN closed_by;
