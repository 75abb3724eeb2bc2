-- Proximity rules that campaigns state in numbers (DOMAIN.md): a kind of
-- object must not lie near another (forbidden), or objects near others are
-- rectified first (priority).

-- +goose Up
INSERT INTO layers (code, name_zh, name_en, geom_kind, snap_m, sort)
VALUES ('entertainment', '娱乐场所', 'entertainment venues', 'any', 10, 45);

CREATE TABLE rules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL CHECK (btrim(name) <> ''),
    kind           text NOT NULL CHECK (kind IN ('forbidden', 'priority')),
    source_layers  text[] NOT NULL CHECK (cardinality(source_layers) > 0),
    target_layers  text[] NOT NULL CHECK (cardinality(target_layers) > 0),
    distance_m     double precision NOT NULL CHECK (distance_m > 0 AND distance_m <= 5000),
    description    text NOT NULL DEFAULT '',
    enabled        boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO rules (name, kind, source_layers, target_layers, distance_m, description) VALUES
    ('中小学周边200米内无娱乐场所', 'forbidden', '{entertainment}', '{school}', 200,
     'No entertainment venue within 200 m of a primary or secondary school.'),
    ('市场、车站、学校周边300米内小区优先整治', 'priority', '{compound}', '{market,station,school}', 300,
     'Residential compounds within 300 m of markets, stations and schools are rectified first.');

-- +goose Down
DROP TABLE rules;
DELETE FROM layers WHERE code = 'entertainment';
