package ingest

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
)

// ImportChange is what an import did, or would do, to one record.
type ImportChange struct {
	ID     string   `json:"id"`               // the source id or code
	Action string   `json:"action"`           // created, updated or geometry_kept
	Fields []string `json:"fields,omitempty"` // of name, layer, category, geom, attrs: what changed
	// Where the geometry changed or was kept: the stored and the new
	// geodesic length of a line or area of a polygon.
	Measure string   `json:"measure,omitempty"` // length_m or area_m2
	Before  *float64 `json:"before,omitempty"`
	After   *float64 `json:"after,omitempty"`
}

// maxChanges is how many changes a summary lists; the rest are counted.
const maxChanges = 1000

// shrinkLimit is the share of its length or area a stored geometry may lose
// in a re-import without --allow-shrink: a clipped extract loses more.
const shrinkLimit = 0.2

// reimportTarget says where the records an import updates are stored and
// how a staged feature finds its own.
type reimportTarget struct {
	table    string   // regions, grids or objects
	layer    string   // the stored layer and category, or NULL
	category string   //
	matches  []string // conditions on s (staged) and t (stored), tried in order
}

func regionsTarget() reimportTarget {
	return reimportTarget{table: "regions", layer: "NULL::text", category: "NULL::text",
		matches: []string{"t.code = s.code"}}
}

func gridsTarget() reimportTarget {
	return reimportTarget{table: "grids", layer: "NULL::text", category: "NULL::text",
		matches: []string{"t.code = s.code AND t.valid_to IS NULL"}}
}

// objectsTarget matches as the objects upsert does: by code when the feature
// has one, else by its source id.
func objectsTarget() reimportTarget {
	return reimportTarget{table: "objects", layer: "t.layer", category: "t.category_code",
		matches: []string{"s.code IS NOT NULL AND t.code = s.code",
			"s.code IS NULL AND t.source = @source AND t.source_id = s.fid"}}
}

// guardReimport runs before a kind's upsert. It finds the stored record of
// every staged feature and rewrites the staged feature so that the upsert
// cannot degrade it: a geometry that shrinks by more than shrinkLimit or
// turns self-overlapping is replaced by the stored one (unless AllowShrink),
// a partial geometry never replaces a whole one, and tags and a name the
// source lacks are taken from the stored record (unless ReplaceTags). It
// records the warnings, and the list of changes the upsert will make.
func guardReimport(ctx context.Context, tx pgx.Tx, opt ImportOptions, tg reimportTarget, res *ImportResult) error {
	args := importArgs(opt)
	args["allow_shrink"] = opt.AllowShrink
	args["replace_tags"] = opt.ReplaceTags
	args["shrink"] = shrinkLimit
	args["osm"] = opt.Source == "osm"
	if _, err := tx.Exec(ctx, `
		ALTER TABLE import_stage
			ADD COLUMN target_id bigint, ADD COLUMN old_name text, ADD COLUMN old_layer text,
			ADD COLUMN old_category text, ADD COLUMN old_geom geometry, ADD COLUMN old_attrs jsonb,
			ADD COLUMN measure text, ADD COLUMN before double precision, ADD COLUMN after double precision,
			ADD COLUMN guard text, ADD COLUMN kept boolean NOT NULL DEFAULT false`); err != nil {
		return err
	}
	for _, m := range tg.matches {
		if _, err := tx.Exec(ctx, `
			UPDATE import_stage s SET target_id = t.id, old_name = t.name, old_layer = `+tg.layer+`,
				old_category = `+tg.category+`, old_geom = t.geom, old_attrs = t.attrs
			FROM `+pgx.Identifier{tg.table}.Sanitize()+` t WHERE s.target_id IS NULL AND `+m, args); err != nil {
			return err
		}
	}
	if err := measureGeometryChanges(ctx, tx, args); err != nil {
		return err
	}
	if err := keepTags(ctx, tx, args); err != nil {
		return err
	}
	if err := guardWarnings(ctx, tx, opt, res); err != nil {
		return err
	}
	return listChanges(ctx, tx, res, args)
}

// measureGeometryChanges measures every changed geometry of a stored record,
// names the guard it trips, and puts the stored geometry back where the
// guard holds.
func measureGeometryChanges(ctx context.Context, tx pgx.Tx, args pgx.NamedArgs) error {
	return execEach(ctx, tx, args, `
		UPDATE import_stage s SET measure = m.measure, before = m.before, after = m.after
		FROM (
			SELECT idx,
			       CASE ST_Dimension(geom) WHEN 1 THEN 'length_m' WHEN 2 THEN 'area_m2' END AS measure,
			       CASE ST_Dimension(geom) WHEN 1 THEN ST_Length(old_geom::geography) WHEN 2 THEN ST_Area(old_geom::geography) END AS before,
			       CASE ST_Dimension(geom) WHEN 1 THEN ST_Length(geom::geography) WHEN 2 THEN ST_Area(geom::geography) END AS after
			FROM import_stage
			WHERE target_id IS NOT NULL AND geom IS NOT NULL AND old_geom IS NOT NULL
			  AND ST_Dimension(geom) = ST_Dimension(old_geom) AND NOT ST_Equals(geom, old_geom)
		) m WHERE m.idx = s.idx`, `
		UPDATE import_stage s SET guard = CASE
			WHEN s.props->>'partial' = 'true' AND COALESCE(s.old_attrs->>'partial', '') <> 'true' THEN 'partial'
			WHEN s.measure = 'length_m' AND ST_IsSimple(s.old_geom) AND NOT ST_IsSimple(s.geom) THEN 'self_overlapping'
			WHEN s.measure IS NOT NULL AND s.after < (1 - @shrink::float8) * s.before THEN 'shrunk'
			END
		WHERE s.target_id IS NOT NULL AND s.old_geom IS NOT NULL AND NOT ST_Equals(s.geom, s.old_geom)`, `
		UPDATE import_stage SET kept = true, geom = old_geom
		WHERE guard = 'partial' OR (guard IS NOT NULL AND NOT @allow_shrink)`)
}

// keepTags merges the stored attributes under the new ones, one level down
// for OSM tags (attrs.osm), and keeps a stored name the source leaves
// empty. The partial flag always describes the geometry that is stored.
func keepTags(ctx context.Context, tx pgx.Tx, args pgx.NamedArgs) error {
	return execEach(ctx, tx, args, `
		UPDATE import_stage s SET props = (m.props - 'partial') || jsonb_strip_nulls(jsonb_build_object('partial',
				CASE WHEN s.kept THEN s.old_attrs->'partial' ELSE s.props->'partial' END))
		FROM (
			SELECT idx, CASE
				WHEN @replace_tags OR old_attrs IS NULL THEN props
				WHEN jsonb_typeof(old_attrs->'osm') = 'object' AND jsonb_typeof(props->'osm') = 'object'
					THEN old_attrs || props || jsonb_build_object('osm', (old_attrs->'osm') || (props->'osm'))
				ELSE old_attrs || props END AS props
			FROM import_stage WHERE target_id IS NOT NULL
		) m WHERE m.idx = s.idx`,
		// An OSM object's name is its name:zh, else its name (see osmName),
		// read again from the kept tags.
		`UPDATE import_stage SET name = COALESCE(NULLIF(props->'osm'->>'name:zh', ''), NULLIF(props->'osm'->>'name', ''), name)
		WHERE @osm AND target_id IS NOT NULL AND NOT @replace_tags`, `
		UPDATE import_stage SET name = old_name
		WHERE target_id IS NOT NULL AND NOT @replace_tags AND COALESCE(name, '') = '' AND COALESCE(old_name, '') <> ''`,
		// A category is a column, not a tag, but the same holds: a source
		// that does not say one (OSM never does) keeps the stored one.
		`UPDATE import_stage SET category = old_category
		WHERE target_id IS NOT NULL AND NOT @replace_tags AND category IS NULL AND old_category IS NOT NULL`)
}

// execEach runs statements in order with the same arguments; pgx sends one
// statement at a time when there are arguments.
func execEach(ctx context.Context, tx pgx.Tx, args pgx.NamedArgs, stmts ...string) error {
	for _, sql := range stmts {
		if _, err := tx.Exec(ctx, sql, args); err != nil {
			return err
		}
	}
	return nil
}

// guardWarnings says which geometries were kept or, with AllowShrink,
// replaced although they shrank.
func guardWarnings(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult) error {
	rows, err := tx.Query(ctx, `
		SELECT COALESCE(code, fid, idx::text), guard, COALESCE(measure, ''), COALESCE(before, 0), COALESCE(after, 0), kept, count(*) OVER ()
		FROM import_stage WHERE guard IS NOT NULL ORDER BY idx LIMIT @max`, pgx.NamedArgs{"max": maxProblems})
	if err != nil {
		return err
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var id, guard, measure string
		var before, after float64
		var kept bool
		if err := rows.Scan(&id, &guard, &measure, &before, &after, &kept, &total); err != nil {
			return err
		}
		res.Warnings = append(res.Warnings, guardWarning(id, guard, measure, before, after, kept))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if total > maxProblems {
		res.Warnings = append(res.Warnings, fmt.Sprintf("… and %d more geometries that would shrink, overlap themselves or are partial", total-maxProblems))
	}
	return nil
}

func guardWarning(id, guard, measure string, before, after float64, kept bool) string {
	unit := "m"
	if measure == "area_m2" {
		unit = "m²"
	}
	size := fmt.Sprintf("%s %.0f %s → %.0f %s (%+.0f%%)", measure, before, unit, after, unit, 100*(after-before)/math.Max(before, 1e-9))
	what := map[string]string{
		"partial":          "the new geometry is clipped by its extract (partial) and the stored one is whole",
		"self_overlapping": "the new line overlaps or crosses itself and the stored one does not",
		"shrunk":           fmt.Sprintf("the new geometry is more than %.0f%% smaller", 100*shrinkLimit),
	}[guard]
	switch {
	case guard == "partial":
		return fmt.Sprintf("%s: %s, %s: stored geometry kept", id, what, size)
	case kept:
		return fmt.Sprintf("%s: %s, %s: stored geometry kept (--allow-shrink replaces it)", id, what, size)
	}
	return fmt.Sprintf("%s: %s, %s: replaced (--allow-shrink)", id, what, size)
}

// listChanges lists, in file order, what the upsert will change: the staged
// features now hold exactly what will be written.
func listChanges(ctx context.Context, tx pgx.Tx, res *ImportResult, args pgx.NamedArgs) error {
	args["max"] = maxChanges
	rows, err := tx.Query(ctx, `
		SELECT id, action, fields, measure, before, after, count(*) OVER () FROM (
			SELECT s.idx, COALESCE(s.code, s.fid, s.idx::text) AS id,
			       CASE WHEN s.target_id IS NULL THEN 'created' WHEN s.kept THEN 'geometry_kept' ELSE 'updated' END AS action,
			       array_remove(ARRAY[
			           CASE WHEN s.target_id IS NOT NULL AND s.old_name IS DISTINCT FROM s.name THEN 'name' END,
			           CASE WHEN s.target_id IS NOT NULL AND s.old_layer IS DISTINCT FROM s.layer THEN 'layer' END,
			           CASE WHEN s.target_id IS NOT NULL AND s.old_category IS DISTINCT FROM s.category THEN 'category' END,
			           CASE WHEN s.target_id IS NOT NULL AND NOT ST_Equals(s.old_geom, s.geom) THEN 'geom' END,
			           CASE WHEN s.target_id IS NOT NULL AND s.old_attrs IS DISTINCT FROM `+attrsSQL+` THEN 'attrs' END
			       ], NULL) AS fields,
			       s.measure, s.before, s.after
			FROM import_stage s) c
		WHERE action <> 'updated' OR cardinality(fields) > 0
		ORDER BY idx LIMIT @max`, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	total := 0
	for rows.Next() {
		var c ImportChange
		var measure *string
		if err := rows.Scan(&c.ID, &c.Action, &c.Fields, &measure, &c.Before, &c.After, &total); err != nil {
			return err
		}
		if c.Action == "created" {
			c.Fields = nil
		}
		if measure != nil {
			c.Measure = *measure
			c.Before, c.After = round1(c.Before), round1(c.After)
		}
		res.Changes = append(res.Changes, c)
	}
	res.ChangesOmitted = max(0, total-maxChanges)
	return rows.Err()
}

func round1(v *float64) *float64 {
	if v == nil {
		return nil
	}
	r := math.Round(*v*10) / 10
	return &r
}
