package ingest

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// attrsSQL is a staged feature's properties without the ones that became
// columns.
const attrsSQL = `(s.props - @code_prop - @name_prop - @parent_prop - 'layer' - 'category' - 'kind')`

func importArgs(opt ImportOptions) pgx.NamedArgs {
	return pgx.NamedArgs{"code_prop": opt.CodeProp, "name_prop": opt.NameProp, "parent_prop": opt.ParentProp,
		"level": string(opt.Level), "plevel": string(opt.Level.Parent()), "source": opt.Source,
		"share": grids.ContainmentShare, "min_m2": grids.ContainmentMinM2, "replace_tags": opt.ReplaceTags}
}

// resolveParents fills import_stage.parent_id with the region of the given
// level named by the parent property or, without one, the region of that
// level that holds most of the feature.
func resolveParents(ctx context.Context, tx pgx.Tx, opt ImportOptions, level grids.Level, probs *problemList) error {
	args := importArgs(opt)
	args["plevel"] = string(level)
	if _, err := tx.Exec(ctx, `ALTER TABLE import_stage ADD COLUMN parent_id bigint`); err != nil {
		return err
	}
	if opt.ParentProp != "" {
		if _, err := tx.Exec(ctx, `
			UPDATE import_stage s SET parent_id = r.id
			FROM regions r WHERE r.code = s.parent AND r.level = @plevel`, args); err != nil {
			return err
		}
		return collectProblems(ctx, tx, probs, `
			SELECT s.idx, s.code, format('parent %s is not a %s in citygrid', s.parent, @plevel::text)
			FROM import_stage s WHERE s.parent_id IS NULL ORDER BY s.idx`, args)
	}
	_, err := tx.Exec(ctx, `
		UPDATE import_stage s SET parent_id = p.id, parent = p.code
		FROM (
			SELECT DISTINCT ON (s.idx) s.idx, r.id, r.code
			FROM import_stage s JOIN regions r ON r.level = @plevel AND r.geom && s.geom AND ST_Intersects(r.geom, s.geom)
			ORDER BY s.idx, ST_Area(ST_Intersection(r.geom, s.geom)) DESC, r.code
		) p
		WHERE p.idx = s.idx`, args)
	if err != nil {
		return err
	}
	return collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('no %s contains it: import the %s first, or pass --parent-prop', @plevel::text, @plevel::text)
		FROM import_stage s WHERE s.parent_id IS NULL ORDER BY s.idx`, args)
}

// checkNestingAndContainment applies the code rules and the containment
// tolerance to staged features with resolved parents.
func (s *Store) checkNestingAndContainment(ctx context.Context, tx pgx.Tx, opt ImportOptions, child grids.Level, probs *problemList) error {
	rows, err := tx.Query(ctx, `SELECT idx, code, parent FROM import_stage WHERE parent_id IS NOT NULL ORDER BY idx`)
	if err != nil {
		return err
	}
	type triple struct {
		idx          int
		code, parent string
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (triple, error) {
		var t triple
		return t, r.Scan(&t.idx, &t.code, &t.parent)
	})
	if err != nil {
		return err
	}
	for _, t := range ts {
		if child == "" { // a grid in its community
			if s.core.Codes().Nested && (len(t.code) < len(t.parent) || t.code[:len(t.parent)] != t.parent) {
				probs.add(t.idx, t.code, "grid code does not start with its community's code %s", t.parent)
			}
			continue
		}
		if msg := s.core.Codes().CheckNesting(child, t.code, t.parent); msg != "" {
			probs.add(t.idx, t.code, "%s", msg)
		}
	}
	return collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('%s m² (%s%%) lies outside its parent %s',
			round(o.out::numeric), round((100 * o.out / NULLIF(o.area, 0))::numeric, 2), p.code)
		FROM import_stage s
		JOIN regions p ON p.id = s.parent_id
		CROSS JOIN LATERAL (SELECT ST_Area(ST_Difference(s.geom, p.geom)::geography) AS out,
		                           ST_Area(s.geom::geography) AS area) o
		WHERE o.out > GREATEST(@min_m2, @share * o.area)
		ORDER BY s.idx`, importArgs(opt))
}

func (s *Store) importRegions(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult, probs *problemList) error {
	args := importArgs(opt)
	if err := collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('region %s exists as a %s, not a %s', r.code, r.level, @level::text)
		FROM import_stage s JOIN regions r ON r.code = s.code WHERE r.level <> @level ORDER BY s.idx`, args); err != nil {
		return err
	}
	if opt.Level == grids.District {
		if _, err := tx.Exec(ctx, `ALTER TABLE import_stage ADD COLUMN parent_id bigint`); err != nil {
			return err
		}
	} else {
		if err := resolveParents(ctx, tx, opt, opt.Level.Parent(), probs); err != nil {
			return err
		}
		if err := s.checkNestingAndContainment(ctx, tx, opt, opt.Level, probs); err != nil {
			return err
		}
	}
	if probs.total > 0 {
		return nil
	}
	if err := guardReimport(ctx, tx, opt, regionsTarget(), res); err != nil {
		return err
	}
	n, err := stagedCount(ctx, tx, "true")
	if err != nil {
		return err
	}
	return upsertCounts(ctx, tx, res, n, `
		INSERT INTO regions AS r (code, name, level, parent_id, geom, attrs)
		SELECT s.code, s.name, @level, s.parent_id, ST_Multi(s.geom), `+attrsSQL+`
		FROM import_stage s ORDER BY s.idx
		ON CONFLICT (code) DO UPDATE SET
			name = EXCLUDED.name, parent_id = EXCLUDED.parent_id, geom = EXCLUDED.geom,
			attrs = EXCLUDED.attrs, updated_at = now()
		WHERE (r.name, r.parent_id, r.attrs) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.parent_id, EXCLUDED.attrs)
		   OR NOT ST_Equals(r.geom, EXCLUDED.geom)
		RETURNING (xmax = 0)`, args)
}

func (s *Store) importUnits(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult, probs *problemList) error {
	args := importArgs(opt)
	if err := collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('parent unit %s does not exist', s.parent)
		FROM import_stage s
		WHERE s.parent IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM units u WHERE u.code = s.parent)
		  AND NOT EXISTS (SELECT 1 FROM import_stage o WHERE o.code = s.parent)
		ORDER BY s.idx`, args); err != nil {
		return err
	}
	if err := collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('region %s does not exist', s.props->>'region')
		FROM import_stage s
		WHERE COALESCE(s.props->>'region', '') <> ''
		  AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = s.props->>'region')
		ORDER BY s.idx`, args); err != nil {
		return err
	}
	if probs.total > 0 {
		return nil
	}
	// Parents may be in the same file: insert everything first, then link.
	rows, err := tx.Query(ctx, `
		WITH up AS (
			INSERT INTO units AS u (code, name, kind, region_id, contact, geom, attrs)
			-- Contact fields and attributes the file does not give are
			-- kept from the stored unit, as tags are on objects, unless
			-- --replace-tags: merged here once, so the update and its
			-- "anything changed?" test read the same values.
			SELECT s.code, s.name, s.kind, r.id,
			       CASE WHEN @replace_tags OR ex.code IS NULL THEN n.contact ELSE ex.contact || n.contact END,
			       s.geom,
			       CASE WHEN @replace_tags OR ex.code IS NULL THEN n.attrs ELSE ex.attrs || n.attrs END
			FROM import_stage s LEFT JOIN regions r ON r.code = s.props->>'region'
			LEFT JOIN units ex ON ex.code = s.code
			CROSS JOIN LATERAL (SELECT
			       jsonb_strip_nulls(jsonb_build_object('person', s.props->>'person', 'phone', s.props->>'phone',
			                                            'email', s.props->>'email', 'address', s.props->>'address')) AS contact,
			       s.props - @code_prop - @name_prop - @parent_prop - 'kind' - 'parent' - 'region' - 'person' - 'phone' - 'email' - 'address' AS attrs) n
			ORDER BY s.idx
			ON CONFLICT (code) DO UPDATE SET
				name = EXCLUDED.name, kind = EXCLUDED.kind, region_id = EXCLUDED.region_id,
				contact = EXCLUDED.contact, geom = EXCLUDED.geom, attrs = EXCLUDED.attrs, updated_at = now()
			WHERE (u.name, u.kind, u.region_id, u.contact, u.attrs) IS DISTINCT FROM
			      (EXCLUDED.name, EXCLUDED.kind, EXCLUDED.region_id, EXCLUDED.contact, EXCLUDED.attrs)
			   OR (u.geom IS NULL) <> (EXCLUDED.geom IS NULL)
			   OR NOT ST_Equals(u.geom, EXCLUDED.geom)
			RETURNING u.code, (xmax = 0) AS inserted)
		SELECT code, inserted FROM up`, args)
	if err != nil {
		return err
	}
	changed := map[string]bool{}
	for rows.Next() {
		var code string
		var inserted bool
		if err := rows.Scan(&code, &inserted); err != nil {
			rows.Close()
			return err
		}
		changed[code] = true
		if inserted {
			res.Created++
		} else {
			res.Updated++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `
		UPDATE units u SET parent_id = p.id, updated_at = now()
		FROM import_stage s LEFT JOIN units p ON p.code = s.parent
		WHERE u.code = s.code AND u.parent_id IS DISTINCT FROM p.id
		RETURNING u.code`)
	if err != nil {
		return err
	}
	relinked, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, code := range relinked {
		if !changed[code] {
			changed[code] = true
			res.Updated++
		}
	}
	n, err := stagedCount(ctx, tx, "true")
	res.Unchanged = n - len(changed)
	// A unit may not end up below itself.
	var cycle *string
	if err == nil {
		err = tx.QueryRow(ctx, `
			WITH RECURSIVE up AS (
				SELECT u.id AS start, u.parent_id AS id, 1 AS depth FROM units u JOIN import_stage s ON s.code = u.code
				UNION ALL
				SELECT up.start, u.parent_id, up.depth + 1 FROM up JOIN units u ON u.id = up.id
				WHERE up.id IS NOT NULL AND up.id <> up.start AND up.depth < 1000)
			SELECT (SELECT code FROM units WHERE id = up.start) FROM up WHERE up.id = up.start LIMIT 1`).Scan(&cycle)
		if err == pgx.ErrNoRows {
			err = nil
		}
	}
	if cycle != nil {
		probs.add(0, *cycle, "the parent links form a cycle through unit %s", *cycle)
	}
	return err
}

func (s *Store) importGrids(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult, probs *problemList) error {
	args := importArgs(opt)
	if err := resolveParents(ctx, tx, opt, grids.Community, probs); err != nil {
		return err
	}
	if err := s.checkNestingAndContainment(ctx, tx, opt, "", probs); err != nil {
		return err
	}
	if probs.total > 0 {
		return nil
	}
	if err := guardReimport(ctx, tx, opt, gridsTarget(), res); err != nil {
		return err
	}
	// A grid whose shape changed gets a new version; the old one is closed,
	// so history answers "what did this grid look like then".
	tag, err := tx.Exec(ctx, `
		WITH closed AS (
			UPDATE grids g SET valid_to = now()
			FROM import_stage s
			WHERE g.code = s.code AND g.valid_to IS NULL AND NOT ST_Equals(g.geom, s.geom)
			RETURNING g.code, g.version)
		INSERT INTO grids (code, community_id, name, geom, version, attrs)
		SELECT s.code, s.parent_id, s.name, s.geom, c.version + 1, `+attrsSQL+`
		FROM import_stage s JOIN closed c ON c.code = s.code`, args)
	if err != nil {
		return err
	}
	res.Updated += int(tag.RowsAffected())
	tag, err = tx.Exec(ctx, `
		UPDATE grids g SET name = s.name, community_id = s.parent_id, attrs = `+attrsSQL+`
		FROM import_stage s
		WHERE g.code = s.code AND g.valid_to IS NULL
		  AND (g.name, g.community_id, g.attrs) IS DISTINCT FROM (s.name, s.parent_id, `+attrsSQL+`)`, args)
	if err != nil {
		return err
	}
	res.Updated += int(tag.RowsAffected())
	tag, err = tx.Exec(ctx, `
		INSERT INTO grids (code, community_id, name, geom, attrs)
		SELECT s.code, s.parent_id, s.name, s.geom, `+attrsSQL+`
		FROM import_stage s
		WHERE NOT EXISTS (SELECT 1 FROM grids g WHERE g.code = s.code AND g.valid_to IS NULL)
		ORDER BY s.idx`, args)
	if err != nil {
		return err
	}
	res.Created += int(tag.RowsAffected())
	n, err := stagedCount(ctx, tx, "true")
	res.Unchanged = n - res.Created - res.Updated
	return err
}

func (s *Store) importObjects(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult, probs *problemList) error {
	args := importArgs(opt)
	if err := collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('layer %s does not exist', s.layer)
		FROM import_stage s WHERE NOT EXISTS (SELECT 1 FROM layers l WHERE l.code = s.layer) ORDER BY s.idx`, args); err != nil {
		return err
	}
	if err := collectProblems(ctx, tx, probs, `
		SELECT s.idx, s.code, format('category %s does not exist', s.category)
		FROM import_stage s WHERE s.category IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM categories c WHERE c.code = s.category) ORDER BY s.idx`, args); err != nil {
		return err
	}
	if probs.total > 0 {
		return nil
	}
	if err := warnOutsideRegions(ctx, tx, res); err != nil {
		return err
	}
	if err := guardReimport(ctx, tx, opt, objectsTarget(), res); err != nil {
		return err
	}
	const set = `layer = EXCLUDED.layer, name = EXCLUDED.name, category_code = EXCLUDED.category_code,
			geom = EXCLUDED.geom, attrs = EXCLUDED.attrs, updated_at = now()
		WHERE (o.layer, o.name, o.category_code, o.attrs) IS DISTINCT FROM
		      (EXCLUDED.layer, EXCLUDED.name, EXCLUDED.category_code, EXCLUDED.attrs)
		   OR NOT ST_Equals(o.geom, EXCLUDED.geom)
		RETURNING (xmax = 0)`
	withCode, err := stagedCount(ctx, tx, "code IS NOT NULL")
	if err != nil {
		return err
	}
	if err := upsertCounts(ctx, tx, res, withCode, `
		INSERT INTO objects AS o (layer, code, name, category_code, geom, source, source_id, attrs)
		SELECT s.layer, s.code, s.name, s.category, s.geom, @source, s.fid, `+attrsSQL+`
		FROM import_stage s WHERE s.code IS NOT NULL ORDER BY s.idx
		ON CONFLICT (code) DO UPDATE SET `+set, args); err != nil {
		return err
	}
	byID, err := stagedCount(ctx, tx, "code IS NULL")
	if err != nil {
		return err
	}
	return upsertCounts(ctx, tx, res, byID, `
		INSERT INTO objects AS o (layer, name, category_code, geom, source, source_id, attrs)
		SELECT s.layer, s.name, s.category, s.geom, @source, s.fid, `+attrsSQL+`
		FROM import_stage s WHERE s.code IS NULL ORDER BY s.idx
		ON CONFLICT (source, source_id) DO UPDATE SET `+set, args)
}

// warnOutsideRegions catches the classic mistake of importing GCJ-02 data as
// WGS84 (or the reverse): the objects then miss their districts by 500 m
// and more, and most of them fall outside every region.
func warnOutsideRegions(ctx context.Context, tx pgx.Tx, res *ImportResult) error {
	var total, inside int
	var regions bool
	err := tx.QueryRow(ctx, `
		SELECT count(*),
		       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM regions r WHERE r.level = 'district' AND r.geom && s.geom AND ST_Intersects(r.geom, s.geom))),
		       EXISTS (SELECT 1 FROM regions WHERE level = 'district')
		FROM import_stage s`).Scan(&total, &inside, &regions)
	if err != nil || !regions || total == 0 {
		return err
	}
	if float64(inside) < 0.5*float64(total) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"only %d of %d objects (%.0f%%) fall inside any district: is the file in another coordinate system (try --crs gcj02 or --crs wgs84)?",
			inside, total, 100*float64(inside)/float64(total)))
	}
	return nil
}
