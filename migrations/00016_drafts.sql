-- Planners' drafts of a region's grids: a copy of the live grids that only
-- planners and admins see, changed step by step. Every step keeps the grid
-- rows it replaced, so the last steps can be undone exactly (geometry
-- included, not a rounded rendering of it).

-- +goose Up
CREATE TABLE drafts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (btrim(name) <> ''),
    region_id     bigint NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    -- Bumped by every change and undo; the ETag is id and revision, so a
    -- planner holding an older one is refused (412) instead of overwriting.
    revision      integer NOT NULL DEFAULT 1,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The newest change of the region's live grids when the draft was made:
    -- a publish compares it to learn whether the live layout moved since.
    base_changed  timestamptz
);
CREATE INDEX drafts_region ON drafts (region_id);

CREATE TABLE draft_grids (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    draft_id      bigint NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    code          text NOT NULL CHECK (code <> ''),
    community_id  bigint NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '',
    geom          geometry(Polygon, 4326) NOT NULL,
    area_m2       double precision GENERATED ALWAYS AS (ST_Area(geom::geography)) STORED,
    -- The live grid (code and version) the row was copied from; NULL for a
    -- grid the draft made.
    origin_code    text,
    origin_version integer,
    CONSTRAINT draft_grids_code UNIQUE (draft_id, code),
    CONSTRAINT draft_grids_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT draft_grids_geom_range CHECK (citygrid_in_range(geom))
);
CREATE INDEX draft_grids_geom_gist ON draft_grids USING gist (geom);

-- One row per change: what it was, who made it, and the codes it wrote.
CREATE TABLE draft_steps (
    draft_id    bigint NOT NULL REFERENCES drafts (id) ON DELETE CASCADE,
    step        integer NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('create', 'update', 'add', 'delete', 'split', 'merge', 'derive')),
    detail      jsonb NOT NULL DEFAULT '{}',
    added       text[] NOT NULL DEFAULT '{}', -- codes the step wrote (removed again by an undo)
    made_by     text NOT NULL,
    made_at     timestamptz NOT NULL DEFAULT now(),
    undone_at   timestamptz,
    undone_by   text,
    PRIMARY KEY (draft_id, step)
);

-- The rows a step removed or replaced, as they were before it.
CREATE TABLE draft_step_grids (
    draft_id       bigint NOT NULL,
    step           integer NOT NULL,
    code           text NOT NULL,
    community_id   bigint NOT NULL REFERENCES regions (id) ON DELETE CASCADE,
    name           text NOT NULL,
    geom           geometry(Polygon, 4326) NOT NULL,
    origin_code    text,
    origin_version integer,
    PRIMARY KEY (draft_id, step, code),
    FOREIGN KEY (draft_id, step) REFERENCES draft_steps (draft_id, step) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE draft_step_grids;
DROP TABLE draft_steps;
DROP TABLE draft_grids;
DROP TABLE drafts;
