-- Search by name and code: the names a thing is found by, and the indexes
-- that find them by substring and fuzzily, Chinese included.
--
-- Why two kinds of index. pg_trgm extracts trigrams from CJK text in our
-- clusters (initdb --locale=C.UTF-8 makes iswalnum true for Han
-- characters), so its GIN index serves fuzzy matches (word_similarity,
-- <%) on Chinese names. But a LIKE '%中关%' of one or two characters has no
-- whole trigram to look up and pg_trgm falls back to reading the whole
-- index; such queries are the common case on a Chinese search box. The
-- gram index below stores every character and every pair of adjacent
-- characters of each name, so a query of any length is an array
-- containment (@>) on GIN, rechecked with LIKE.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The names an object is searched by, one per line: its name, then the
-- name variants of its OpenStreetMap tags (attrs.osm) or of its own
-- attributes (a GeoJSON import's properties): Chinese and English names,
-- alternative, old, short, official, local and international names.
-- Other languages' names (name:ja, name:ru, …) are left out: nobody calls
-- the hotline with them, and Japanese names share Han characters.
CREATE FUNCTION citygrid_search_text(name text, attrs jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN concat_ws(E'\n', name, (
    SELECT string_agg(DISTINCT v, E'\n' ORDER BY v)
    FROM (SELECT e.key, e.value FROM jsonb_each_text(CASE WHEN jsonb_typeof(attrs->'osm') = 'object' THEN attrs->'osm' END) e
          UNION ALL
          SELECT e.key, e.value FROM jsonb_each_text(CASE WHEN jsonb_typeof(attrs) = 'object' THEN attrs END) e
          WHERE jsonb_typeof(attrs->e.key) = 'string') t(k, v)
    WHERE k ~ '^(name|(alt|old|short|official|loc|int|reg|nat)_name)(:(zh|en)([-_:][A-Za-z_-]+)?|_(zh|en))?$'
      AND btrim(v) <> '' AND v IS DISTINCT FROM name));

-- Every character and every pair of adjacent characters of each
-- whitespace-separated word, lowercased: what a name is looked up by.
CREATE FUNCTION citygrid_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(
    SELECT DISTINCT substr(w, i, n)
    FROM regexp_split_to_table(lower(t), '\s+') w, generate_series(1, length(w)) i, (VALUES (1), (2)) v(n)
    WHERE w <> '' AND i + n - 1 <= length(w));

-- What a query is looked up by: the pairs of each word, or the character
-- of a one-character word. Every name containing the query holds them all.
CREATE FUNCTION citygrid_query_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ARRAY(
    SELECT DISTINCT substr(w, i, least(2, length(w)))
    FROM regexp_split_to_table(lower(t), '\s+') w, generate_series(1, greatest(length(w) - 1, 1)) i
    WHERE w <> '');

-- Stored, because reading the variants out of attrs and cutting them into
-- grams costs about 150 µs a row when a query has to recheck it: a
-- one-character query matching 5,000 names would take a second. (A
-- generated column may not read another, hence the whole expression.)
ALTER TABLE objects
    ADD COLUMN search_names text GENERATED ALWAYS AS (citygrid_search_text(name, attrs)) STORED,
    ADD COLUMN search_grams text[] GENERATED ALWAYS AS (citygrid_grams(citygrid_search_text(name, attrs))) STORED;
CREATE INDEX objects_search_grams ON objects USING gin (search_grams);
CREATE INDEX objects_search_trgm ON objects USING gin (search_names gin_trgm_ops);
-- A one-character query asks for names starting with it.
CREATE INDEX objects_name_prefix ON objects (lower(name) text_pattern_ops);
-- Regions and units are a few thousand rows at most: their names are
-- scanned, which is faster than any index recheck.
-- Grid and unit codes by prefix: the clusters' C.UTF-8 collation is not
-- "C" to the planner, so LIKE 'x%' needs the pattern operator class.
CREATE INDEX grids_live_code_pattern ON grids (code text_pattern_ops) WHERE valid_to IS NULL;
CREATE INDEX units_code_pattern ON units (code text_pattern_ops);
CREATE INDEX regions_code_pattern ON regions (code text_pattern_ops);

-- +goose Down
DROP INDEX regions_code_pattern;
DROP INDEX units_code_pattern;
DROP INDEX grids_live_code_pattern;
DROP INDEX objects_name_prefix;
DROP INDEX objects_search_trgm;
DROP INDEX objects_search_grams;
ALTER TABLE objects DROP COLUMN search_grams, DROP COLUMN search_names;
DROP FUNCTION citygrid_query_grams(text);
DROP FUNCTION citygrid_grams(text);
DROP FUNCTION citygrid_search_text(text, jsonb);
-- pg_trgm stays: another schema object may use it by now, and it costs
-- nothing unused.
