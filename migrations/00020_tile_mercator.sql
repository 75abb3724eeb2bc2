-- What the grids and objects tile layers read per feature, kept on the row
-- so that a tile does no per-feature work beyond drawing it
-- (grids/features/tiles.go):
--
-- geom_3857 is geom in Web Mercator, projected once when the row is
-- written instead of for every feature of every tile (ST_Transform is
-- deterministic: the tiles are the same bytes). Tiles still find their rows
-- through the WGS84 indexes, so no second index is kept up on every write.
--
-- grids.community_code is the code of the grid's community, which the grids
-- layer draws as a property; joining regions for it was a fifth of a z14
-- grid tile's time. The triggers below are the only writers: a grid takes
-- its community's code when written, and a community's new code (which
-- citygrid never writes, but an analyst might) reaches its grids.

-- +goose Up
ALTER TABLE grids ADD COLUMN community_code text;

-- +goose StatementBegin
CREATE FUNCTION citygrid_grid_community_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.community_code := (SELECT code FROM regions WHERE id = NEW.community_id);
	RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER grids_community_code BEFORE INSERT OR UPDATE OF community_id, community_code ON grids
	FOR EACH ROW EXECUTE FUNCTION citygrid_grid_community_code();

-- +goose StatementBegin
CREATE FUNCTION citygrid_region_code_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE grids SET community_code = NEW.code WHERE community_id = NEW.id;
	RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER regions_code_changed AFTER UPDATE OF code ON regions
	FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION citygrid_region_code_changed();

UPDATE grids g SET community_code = c.code FROM regions c WHERE c.id = g.community_id;
ALTER TABLE grids ALTER COLUMN community_code SET NOT NULL;

-- Last, so that the table rewrites they cause also compact the update above.
ALTER TABLE grids ADD COLUMN geom_3857 geometry(Polygon, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED;
ALTER TABLE objects ADD COLUMN geom_3857 geometry(Geometry, 3857) GENERATED ALWAYS AS (ST_Transform(geom, 3857)) STORED;

-- +goose Down
DROP TRIGGER regions_code_changed ON regions;
DROP FUNCTION citygrid_region_code_changed();
DROP TRIGGER grids_community_code ON grids;
DROP FUNCTION citygrid_grid_community_code();
ALTER TABLE grids DROP COLUMN community_code;
ALTER TABLE objects DROP COLUMN geom_3857;
ALTER TABLE grids DROP COLUMN geom_3857;
