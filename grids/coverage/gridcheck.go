package coverage

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// GridCheckOptions set the size guideline of a tiling check.
type GridCheckOptions struct {
	MinAreaM2 float64 // default 2,000
	MaxAreaM2 float64 // default 60,000
	SliverM2  float64 // gaps and overlaps smaller than this are noise (default 1)
	// Source, when set, is checked instead of the live grids.
	Source *GridSource
}

// GridSource is a set of grids checked instead of the live ones (a
// planner's draft), so that one check serves both.
type GridSource struct {
	// SQL selects id, code, name, geom, area_m2 and community_id; Args are
	// its named arguments, prefixed "src_" to stay clear of the check's own.
	SQL  string
	Args pgx.NamedArgs
	// Duplicates are codes of the set already held elsewhere, with why;
	// each is a finding of kind duplicate_code.
	Duplicates map[string]string
}

// liveGrids is the default source: the live grids.
const liveGrids = `SELECT id, code, name, geom, area_m2, community_id FROM grids WHERE valid_to IS NULL`

// withDefaults fills in the guideline's defaults and checks it.
func (opt GridCheckOptions) withDefaults() (GridCheckOptions, error) {
	if opt.MinAreaM2 <= 0 {
		opt.MinAreaM2 = 2000
	}
	if opt.MaxAreaM2 <= 0 {
		opt.MaxAreaM2 = 60000
	}
	if opt.SliverM2 <= 0 {
		opt.SliverM2 = 1
	}
	if opt.MinAreaM2 >= opt.MaxAreaM2 {
		return opt, grids.Invalid("min_area_m2", "must be below max_area_m2")
	}
	return opt, nil
}

// CheckGrids writes, as a GeoJSON FeatureCollection, the findings of
// GridProblems; the collection's "summary" counts them by kind.
func (s *Store) CheckGrids(ctx context.Context, region string, opt GridCheckOptions, w io.Writer) error {
	start := time.Now()
	counts := map[string]int{"gap": 0, "overlap": 0, "outside_community": 0, "too_small": 0, "too_large": 0, "bad_code": 0}
	if opt.Source != nil {
		counts["duplicate_code"] = 0
	}
	fc := &featureCollection{w: w}
	err := s.GridProblems(ctx, region, opt, grids.GeoJSONOf, func(f *Finding) error {
		counts[f.Kind]++
		return fc.write(f)
	})
	if err != nil {
		return err
	}
	opt, _ = opt.withDefaults()
	summary, _ := json.Marshal(map[string]any{"region": region, "findings": counts,
		"guideline_m2": []float64{opt.MinAreaM2, opt.MaxAreaM2}, "took_ms": time.Since(start).Milliseconds()})
	return fc.close("summary", summary)
}

// GridProblems finds everything wrong with the live grids of a region's
// communities (the whole city when region is empty) and passes each to
// emit: gaps between grids inside a community, overlaps between grids,
// grids that leave their community, grids outside the size guideline, and
// codes that break the code rules. Each finding's kind says which. geom
// renders the geometries (see Finding); the region and the guideline are
// checked before the first finding. With opt.Source it checks those grids
// instead of the live ones, and reports their duplicate codes.
func (s *Store) GridProblems(ctx context.Context, region string, opt GridCheckOptions, geom func(col string) string, emit func(*Finding) error) error {
	if _, err := opt.withDefaults(); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return s.GridProblemsIn(ctx, tx, region, opt, geom, emit)
	})
}

// GridProblemsIn is GridProblems in the caller's transaction: a publish
// checks the draft it writes under the locks it holds.
func (s *Store) GridProblemsIn(ctx context.Context, tx pgx.Tx, region string, opt GridCheckOptions, geom func(col string) string, emit func(*Finding) error) error {
	opt, err := opt.withDefaults()
	if err != nil {
		return err
	}
	src, srcArgs := liveGrids, pgx.NamedArgs{}
	if opt.Source != nil {
		src, srcArgs = opt.Source.SQL, opt.Source.Args
	}
	with := func(a pgx.NamedArgs) pgx.NamedArgs {
		for k, v := range srcArgs {
			a[k] = v
		}
		return a
	}
	// The whole city (no region) is every district: the walk down starts
	// from them all.
	var ids []int64
	rows0, err := tx.Query(ctx, `SELECT id FROM regions WHERE code = @code OR (@code = '' AND level = 'district')`, pgx.NamedArgs{"code": region})
	if err != nil {
		return err
	}
	if ids, err = pgx.CollectRows(rows0, pgx.RowTo[int64]); err != nil {
		return err
	}
	if len(ids) == 0 {
		return grids.Invalid("region", "region %q does not exist", region)
	}
	// Codes are checked in Go, with the store's rules.
	rows, err := tx.Query(ctx, `
		WITH RECURSIVE down AS (
			SELECT id, level FROM regions WHERE id = ANY(@ids)
			UNION ALL SELECT r.id, r.level FROM regions r JOIN down d ON r.parent_id = d.id)
		SELECT g.code, c.code FROM (`+src+`) g JOIN regions c ON c.id = g.community_id
		WHERE g.community_id IN (SELECT id FROM down WHERE level = 'community')`, with(pgx.NamedArgs{"ids": ids}))
	if err != nil {
		return err
	}
	codes := s.core.Codes()
	var badCodes []string
	var reasons []string
	for rows.Next() {
		var code, community string
		if err := rows.Scan(&code, &community); err != nil {
			rows.Close()
			return err
		}
		switch {
		case codes.Grid != nil && !codes.Grid.MatchString(code):
			badCodes, reasons = append(badCodes, code), append(reasons, "not a grid code")
		case codes.Nested && !strings.HasPrefix(code, community):
			badCodes, reasons = append(badCodes, code), append(reasons, "does not start with its community's code "+community)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var dupCodes, dupReasons []string
	if opt.Source != nil {
		for code, why := range opt.Source.Duplicates {
			dupCodes, dupReasons = append(dupCodes, code), append(dupReasons, why)
		}
	}
	rows, err = tx.Query(ctx, `
		WITH RECURSIVE down AS (
			SELECT id, level FROM regions WHERE id = ANY(@ids)
			UNION ALL SELECT r.id, r.level FROM regions r JOIN down d ON r.parent_id = d.id),
		comm AS (SELECT c.id, c.code, c.geom FROM regions c WHERE c.id IN (SELECT id FROM down WHERE level = 'community')),
		g AS (SELECT g.id, g.code, g.name, g.geom, g.area_m2, g.community_id FROM (`+src+`) g
		      WHERE g.community_id IN (SELECT id FROM comm)),
		per AS (
			-- Each community's union of grids: its gaps, and whether any of
			-- its grids overlap (their areas then add up to more than the union).
			SELECT c.id, c.code, c.geom, x.u, x.s FROM comm c
			CROSS JOIN LATERAL (SELECT ST_UnaryUnion(ST_Collect(geom)) AS u, sum(area_m2) AS s FROM g WHERE g.community_id = c.id) x),
		outside AS (
			SELECT g.id, g.code, ST_CollectionExtract(ST_Difference(g.geom, c.geom), 3) AS part, c.code AS community
			FROM g JOIN comm c ON c.id = g.community_id WHERE NOT ST_CoveredBy(g.geom, c.geom)),
		suspects AS (
			SELECT g.* FROM g JOIN per p ON p.id = g.community_id
			WHERE p.u IS NOT NULL AND p.s - ST_Area(p.u::geography) > @sliver
			UNION SELECT g.* FROM g WHERE g.id IN (SELECT id FROM outside)),
		findings AS (
			SELECT 'gap' AS kind, d.geom,
			       jsonb_build_object('community', p.code, 'area_m2', round(ST_Area(d.geom::geography)::numeric, 2)) AS props
			FROM per p
			CROSS JOIN LATERAL ST_Dump(CASE WHEN p.u IS NULL THEN p.geom ELSE ST_Difference(p.geom, p.u) END) d
			WHERE ST_Dimension(d.geom) = 2 AND ST_Area(d.geom::geography) >= @sliver
			UNION ALL
			SELECT 'overlap', d.geom,
			       jsonb_build_object('grids', jsonb_build_array(a.code, b.code), 'area_m2', round(ST_Area(d.geom::geography)::numeric, 2))
			FROM suspects a JOIN g b ON a.id <> b.id AND (b.id NOT IN (SELECT id FROM suspects) OR a.id < b.id)
			  AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')
			CROSS JOIN LATERAL ST_Dump(ST_CollectionExtract(ST_Intersection(a.geom, b.geom), 3)) d
			WHERE ST_Area(d.geom::geography) >= @sliver
			UNION ALL
			SELECT 'outside_community', d.geom,
			       jsonb_build_object('grid', o.code, 'community', o.community, 'area_m2', round(ST_Area(d.geom::geography)::numeric, 2))
			FROM outside o CROSS JOIN LATERAL ST_Dump(o.part) d
			WHERE ST_Area(d.geom::geography) >= @sliver
			UNION ALL
			SELECT CASE WHEN g.area_m2 < @min THEN 'too_small' ELSE 'too_large' END, g.geom,
			       jsonb_build_object('grid', g.code, 'name', g.name, 'area_m2', round(g.area_m2::numeric, 2),
			                          'guideline_m2', jsonb_build_array(@min::float8, @max::float8))
			FROM g WHERE g.area_m2 < @min OR g.area_m2 > @max
			UNION ALL
			SELECT 'bad_code', g.geom, jsonb_build_object('grid', g.code, 'reason', b.reason)
			FROM g JOIN unnest(@bad::text[], @reasons::text[]) AS b(code, reason) ON b.code = g.code
			UNION ALL
			SELECT 'duplicate_code', g.geom, jsonb_build_object('grid', g.code, 'reason', b.reason)
			FROM g JOIN unnest(@dup::text[], @dup_reasons::text[]) AS b(code, reason) ON b.code = g.code)
		SELECT NULL::text, kind, (props || jsonb_build_object('kind', kind))::text, `+geom("geom")+`
		FROM findings ORDER BY kind`,
		with(pgx.NamedArgs{"ids": ids, "sliver": opt.SliverM2, "min": opt.MinAreaM2, "max": opt.MaxAreaM2, "bad": badCodes, "reasons": reasons,
			"dup": dupCodes, "dup_reasons": dupReasons}))
	if err != nil {
		return err
	}
	return emitFindings(rows, emit)
}
