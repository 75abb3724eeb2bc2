-- Inspectors' GPS tracks (巡查), for patrol coverage: every street and
-- alley must be walked.

-- +goose Up
CREATE TABLE patrols (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inspector   text NOT NULL CHECK (btrim(inspector) <> ''),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    geom        geometry(MultiLineString, 4326) NOT NULL,
    length_m    double precision GENERATED ALWAYS AS (ST_Length(geom::geography)) STORED,
    source      text NOT NULL DEFAULT 'geojson' CHECK (source IN ('geojson', 'gpx')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patrols_time CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT patrols_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom)),
    CONSTRAINT patrols_geom_range CHECK (citygrid_in_range(geom))
);
CREATE INDEX patrols_geom_gist ON patrols USING gist (geom);
CREATE INDEX patrols_started ON patrols (started_at);

-- +goose Down
DROP TABLE patrols;
