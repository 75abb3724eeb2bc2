-- What coverage of a duty means. An area duty (sanitation, mobile vendors…)
-- must cover every square metre; an object duty (road chief, streetlights,
-- market order, frontage) must cover every object of its layers, and for
-- streets and alleys every metre of them.

-- +goose Up
ALTER TABLE themes
    ADD COLUMN scope text NOT NULL DEFAULT 'area' CHECK (scope IN ('area', 'objects')),
    ADD COLUMN layers text[] NOT NULL DEFAULT '{}';
UPDATE themes SET scope = 'objects', layers = '{street,alley}' WHERE code IN ('road_chief', 'streetlight');
UPDATE themes SET scope = 'objects', layers = '{market}' WHERE code = 'market_order';
UPDATE themes SET scope = 'objects', layers = '{shop}' WHERE code = 'frontage';

-- +goose Down
ALTER TABLE themes DROP COLUMN layers, DROP COLUMN scope;
