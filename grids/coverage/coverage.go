package coverage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Coverage says how far a duty is covered in a region.
type Coverage struct {
	Theme        string          `json:"theme"`
	Scope        string          `json:"scope"` // area or objects
	Region       grids.CodeName  `json:"region"`
	RegionAreaM2 float64         `json:"region_area_m2"`
	Area         AreaCoverage    `json:"area"`
	Objects      []LayerCoverage `json:"objects"`
	Lines        []LineCoverage  `json:"lines"`
	// Ratio is the headline: the area ratio for an area duty; for an
	// object duty the smallest ratio among its layers (length for streets
	// and alleys, count otherwise).
	Ratio float64        `json:"ratio"`
	Units []CoverageUnit `json:"units"`
}

// AreaCoverage is the area led, the gaps and the overlaps.
type AreaCoverage struct {
	CoveredM2 float64 `json:"covered_m2"`
	Ratio     float64 `json:"ratio"`
	Gaps      int     `json:"gaps"`
	GapM2     float64 `json:"gap_area_m2"`
	OverlapM2 float64 `json:"overlap_area_m2"`
}

// LayerCoverage counts a layer's objects with and without a lead.
type LayerCoverage struct {
	Layer       string  `json:"layer"`
	Total       int     `json:"total"`
	WithLead    int     `json:"with_lead"`
	WithoutLead int     `json:"without_lead"`
	Ratio       float64 `json:"ratio"`
}

// LineCoverage measures a line layer's length with and without a lead.
type LineCoverage struct {
	Layer        string  `json:"layer"`
	LengthM      float64 `json:"length_m"`
	WithLeadM    float64 `json:"with_lead_m"`
	WithoutLeadM float64 `json:"without_lead_m"`
	Ratio        float64 `json:"ratio"`
}

// CoverageUnit is a unit involved in the duty in the region.
type CoverageUnit struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Leads    int    `json:"leads"`
	Supports int    `json:"supports"`
}

// The SQL below shares these views of the question, built per request in
// temporary tables inside one repeatable-read transaction:
//
//	cov_region       the region
//	cov_leads        every lead area for the duty touching the region: live
//	                 grids (with their community), regions (ancestors cover
//	                 all of it) and polygon objects, clipped to the region,
//	                 with carrier kind and unit; only their areal parts
//	cov_groups       each community's led grids as one union
//	cov_suspects     the leads that may overlap another
//	cov_doubled      the overlaps: pairs of leads of one kind and two units
//	cov_territorial  the union of the territorial leads (grids, regions)
//	cov_holes        the region minus cov_territorial, one row a polygon
//	cov_covered      everything led; cov_gaps, what is not (with its area)
//	cov_objects      the objects touching the region, with whether the rules
//	                 give them a lead (their own, or a grid's or region's that
//	                 holds their middle) and, for lines, the led stretches
const coverageSetup = `
	CREATE TEMP TABLE cov_region ON COMMIT DROP AS
	SELECT id, code, name, level, geom, area_m2 FROM regions WHERE code = @region
	UNION ALL
	SELECT 0, '', '全市 whole city', 'city', ST_Multi(ST_UnaryUnion(ST_Collect(geom))), sum(area_m2)
	FROM regions WHERE level = 'district' AND @region = '' HAVING count(*) > 0;
	CREATE TEMP TABLE cov_center ON COMMIT DROP AS SELECT ST_Centroid(ST_Envelope(geom)) AS c FROM cov_region;

	-- A lead clipped down to a line or a point leads no area (materialized,
	-- so that clipping runs once, not again in the filter). A whole
	-- (unclipped) grid keeps its stored geodesic area for the overlap test
	-- below. The region filters as a value, not as a join: lead_areas is a
	-- UNION ALL of joins, and only a value reaches into its branches and
	-- their spatial indexes. The planner prices such a UNION ALL as a whole
	-- and would run its branches in parallel for a few thousand rows, which
	-- costs more than the work (road_chief over the whole 20,000-grid city:
	-- 37 ms against 5 ms without).
	SET LOCAL enable_parallel_append = off;
	CREATE TEMP TABLE cov_leads ON COMMIT DROP AS
	WITH l AS MATERIALIZED (
		SELECT a.kind, a.unit_id, a.grp, CASE WHEN @region = '' THEN a.area_m2 END AS area_m2,
		       CASE WHEN @region = '' OR ST_Covers(r.geom, a.geom) THEN a.geom ELSE ST_Intersection(a.geom, r.geom) END AS geom
		FROM lead_areas a, cov_region r
		WHERE a.theme = @theme
		  AND (@region = '' OR (a.geom && (SELECT geom FROM cov_region) AND ST_Intersects(a.geom, (SELECT geom FROM cov_region)))))
	SELECT * FROM l WHERE ST_Dimension(geom) = 2;
	SET LOCAL enable_parallel_append TO DEFAULT;

	-- Testing every pair of neighbouring grids for overlap costs more than
	-- the rest of the question. Areas tell where to look: a community's led
	-- grids overlap only if their areas add up to more than their union's,
	-- and two communities' grids only if the unions' areas add up to more
	-- than the union of all (a hundredth of a square metre is floating-point
	-- dust). The pair test then runs on the grids of those communities alone,
	-- and on the region and object leads, which are few. The unions are also
	-- the way to the territorial union.
	CREATE TEMP TABLE cov_groups ON COMMIT DROP AS
	SELECT grp, u, s, ST_Area(u::geography) AS a FROM (
		SELECT grp, ST_UnaryUnion(ST_Collect(geom)) AS u, sum(COALESCE(area_m2, ST_Area(geom::geography))) AS s
		FROM cov_leads WHERE kind = 'grid' GROUP BY grp) x;
	CREATE TEMP TABLE cov_grid_union ON COMMIT DROP AS
	SELECT u, a - ST_Area(u::geography) > 0.01 AS crossed FROM (
		SELECT ST_UnaryUnion(ST_Collect(u)) AS u, sum(a) AS a FROM cov_groups) x;
	CREATE INDEX ON cov_groups USING gist (u);
	CREATE TEMP TABLE cov_suspects ON COMMIT DROP AS
	SELECT * FROM cov_leads WHERE kind <> 'grid' OR grp IN (
		SELECT grp FROM cov_groups WHERE s - a > 0.01
		UNION ALL
		SELECT a.grp FROM cov_groups a JOIN cov_groups b ON a.grp <> b.grp AND a.u && b.u AND ST_Relate(a.u, b.u, '2********')
		WHERE (SELECT crossed FROM cov_grid_union));
	CREATE INDEX ON cov_suspects USING gist (geom);
	CREATE TEMP TABLE cov_doubled ON COMMIT DROP AS
	SELECT a.unit_id AS a, b.unit_id AS b, ST_Intersection(a.geom, b.geom) AS geom
	FROM cov_suspects a JOIN cov_suspects b ON a.ctid < b.ctid AND a.kind = b.kind AND a.unit_id <> b.unit_id
	  AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********');

	-- The territorial leads once as a union, and the holes they leave: an
	-- object is led territorially unless its middle lies in one.
	CREATE TEMP TABLE cov_territorial ON COMMIT DROP AS
	SELECT ST_UnaryUnion(ST_Collect(g)) AS u FROM (
		SELECT u AS g FROM cov_grid_union UNION ALL SELECT geom FROM cov_leads WHERE kind = 'region') x;
	CREATE TEMP TABLE cov_holes ON COMMIT DROP AS
	SELECT d.geom FROM cov_region r, cov_territorial t,
	       LATERAL ST_Dump(CASE WHEN t.u IS NULL THEN r.geom ELSE ST_Difference(r.geom, t.u) END) d
	WHERE ST_Dimension(d.geom) = 2;

	-- Most led objects lie inside the territorial union and add nothing to
	-- it: only the others are unioned.
	CREATE TEMP TABLE cov_covered ON COMMIT DROP AS
	SELECT CASE WHEN t.u IS NULL THEN x.g WHEN x.g IS NULL THEN t.u ELSE ST_Union(t.u, x.g) END AS g
	FROM cov_territorial t, LATERAL (
		SELECT ST_UnaryUnion(ST_Collect(l.geom)) AS g FROM cov_leads l
		WHERE l.kind = 'object' AND (t.u IS NULL OR NOT ST_Covers(t.u, l.geom))) x;
	CREATE TEMP TABLE cov_gaps ON COMMIT DROP AS
	SELECT d.geom, citygrid_area_m2(d.geom, (SELECT c FROM cov_center)) AS area_m2
	FROM cov_region r, cov_covered c, LATERAL ST_Dump(CASE WHEN c.g IS NULL THEN r.geom ELSE ST_Difference(r.geom, c.g) END) d;

	-- The holes are few and small: probing the objects under each hole is far
	-- cheaper than probing the holes for every object of the city.
	CREATE TEMP TABLE cov_objects ON COMMIT DROP AS
	SELECT o.id, o.layer, ST_Dimension(o.geom) AS dim, COALESCE(o.length_m, 0) AS length_m,
	       h.id IS NULL AND (@region = '' OR ST_Covers(r.geom, citygrid_middle(o.geom))) AS territorial,
	       w.own
	FROM objects o CROSS JOIN cov_region r
	LEFT JOIN (
		-- A middle on a hole's edge is led only if a lead covers it: the
		-- edge may be the region's own boundary, with no lead beyond it.
		SELECT DISTINCT x.id FROM cov_holes hh CROSS JOIN cov_territorial t
		JOIN objects x ON x.geom && hh.geom
		CROSS JOIN LATERAL (SELECT citygrid_middle(x.geom) AS p) m
		WHERE ST_Covers(hh.geom, m.p) AND (t.u IS NULL OR NOT ST_Covers(t.u, m.p))) h ON h.id = o.id
	LEFT JOIN (
		SELECT l.object_id AS id, range_agg(numrange(l.from_m::numeric, l.to_m::numeric)) AS own
		FROM object_leads l, cov_region r
		WHERE l.theme = @theme AND (@region = '' OR (l.geom && r.geom AND ST_Intersects(l.geom, r.geom)))
		GROUP BY l.object_id) w ON w.id = o.id
	WHERE @region = '' OR (o.geom && r.geom AND ST_Intersects(o.geom, r.geom))`

// CoverageOf computes a duty's coverage in a region.
func (s *Store) CoverageOf(ctx context.Context, theme, region string) (Coverage, error) {
	c := Coverage{Theme: theme, Objects: []LayerCoverage{}, Lines: []LineCoverage{}, Units: []CoverageUnit{}}
	err := s.coverageTx(ctx, theme, region, func(tx pgx.Tx, scope string, layers []string) error {
		c.Scope = scope
		err := tx.QueryRow(ctx, `
			SELECT r.code, r.name, citygrid_area_m2(r.geom, (SELECT c FROM cov_center)),
			       COALESCE((SELECT citygrid_area_m2(g, (SELECT c FROM cov_center)) FROM cov_covered), 0),
			       (SELECT count(*) FROM cov_gaps WHERE area_m2 >= 1), (SELECT COALESCE(sum(area_m2), 0) FROM cov_gaps WHERE area_m2 >= 1),
			       (SELECT COALESCE(citygrid_area_m2(ST_UnaryUnion(ST_Collect(geom)), (SELECT c FROM cov_center)), 0) FROM cov_doubled)
			FROM cov_region r`).
			Scan(&c.Region.Code, &c.Region.Name, &c.RegionAreaM2, &c.Area.CoveredM2, &c.Area.Gaps, &c.Area.GapM2, &c.Area.OverlapM2)
		if err != nil {
			return err
		}
		if c.RegionAreaM2 > 0 {
			c.Area.Ratio = ratio(c.Area.CoveredM2, c.RegionAreaM2)
		}
		rows, err := tx.Query(ctx, `
			SELECT layer, count(*), count(*) FILTER (WHERE territorial OR own IS NOT NULL)
			FROM cov_objects GROUP BY layer ORDER BY layer`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l LayerCoverage
			if err := rows.Scan(&l.Layer, &l.Total, &l.WithLead); err != nil {
				rows.Close()
				return err
			}
			l.WithoutLead = l.Total - l.WithLead
			l.Ratio = ratio(float64(l.WithLead), float64(l.Total))
			c.Objects = append(c.Objects, l)
		}
		rows.Close()
		rows, err = tx.Query(ctx, `
			SELECT layer, sum(length_m),
			       sum(CASE WHEN territorial THEN length_m
			                ELSE COALESCE((SELECT sum(upper(x) - lower(x)) FROM unnest(own * nummultirange(numrange(0, length_m::numeric))) x), 0)::float8 END)
			FROM cov_objects WHERE dim = 1 GROUP BY layer ORDER BY layer`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l LineCoverage
			if err := rows.Scan(&l.Layer, &l.LengthM, &l.WithLeadM); err != nil {
				rows.Close()
				return err
			}
			l.WithoutLeadM = dust(l.LengthM - l.WithLeadM)
			l.Ratio = ratio(l.WithLeadM, l.LengthM)
			c.Lines = append(c.Lines, l)
		}
		rows.Close()
		c.Ratio = c.Area.Ratio
		if scope == "objects" {
			c.Ratio = 1
			for _, layer := range layers {
				r := 1.0
				for _, l := range c.Lines {
					if l.Layer == layer {
						r = l.Ratio
					}
				}
				if !slices.ContainsFunc(c.Lines, func(l LineCoverage) bool { return l.Layer == layer }) {
					for _, l := range c.Objects {
						if l.Layer == layer {
							r = l.Ratio
						}
					}
				}
				c.Ratio = min(c.Ratio, r)
			}
		}
		rows, err = tx.Query(ctx, `
			SELECT u.code, u.name, u.kind, n.leads, n.supports
			FROM (
				SELECT a.unit_id, count(*) AS n, count(*) FILTER (WHERE a.role = 'lead') AS leads,
				       count(*) FILTER (WHERE a.role = 'support') AS supports
				FROM (
					-- An assignment has one target: the branches do not repeat one.
					SELECT a.unit_id, a.role FROM live_assignments a
					WHERE @region = '' AND a.theme = @theme
					UNION ALL
					SELECT a.unit_id, a.role FROM cov_objects o JOIN live_assignments a ON a.object_id = o.id
					WHERE @region <> '' AND a.theme = @theme
					UNION ALL
					SELECT a.unit_id, a.role
					FROM cov_region r JOIN grids g ON g.valid_to IS NULL AND g.geom && r.geom AND ST_Intersects(g.geom, r.geom)
					JOIN live_assignments a ON a.grid_code = g.code
					WHERE @region <> '' AND a.theme = @theme
					UNION ALL
					SELECT a.unit_id, a.role
					FROM cov_region r JOIN regions x ON x.geom && r.geom AND ST_Intersects(x.geom, r.geom)
					JOIN live_assignments a ON a.region_id = x.id
					WHERE @region <> '' AND a.theme = @theme) a
				GROUP BY a.unit_id) n
			JOIN units u ON u.id = n.unit_id
			ORDER BY n.n DESC, u.code`, pgx.NamedArgs{"theme": theme, "region": region})
		if err != nil {
			return err
		}
		for rows.Next() {
			var u CoverageUnit
			if err := rows.Scan(&u.Code, &u.Name, &u.Kind, &u.Leads, &u.Supports); err != nil {
				rows.Close()
				return err
			}
			c.Units = append(c.Units, u)
		}
		rows.Close()
		return rows.Err()
	})
	return c, err
}

// ratio is a/b to six decimals: summing lengths and areas leaves dust in
// the last bits, and 0.9999999999999997 must read as full coverage.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 1
	}
	return min(1, math.Round(a/b*1e6)/1e6)
}

// dust drops sub-millimetre remainders of floating-point subtraction.
func dust(f float64) float64 {
	if math.Abs(f) < 1e-3 {
		return 0
	}
	return f
}

// coverageTx sets up the coverage tables and runs fn in a read-only
// snapshot of the data.
func (s *Store) coverageTx(ctx context.Context, theme, region string, fn func(tx pgx.Tx, scope string, layers []string) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var scope string
		var layers []string
		err := tx.QueryRow(ctx, `SELECT scope, layers FROM themes WHERE code = @theme`, pgx.NamedArgs{"theme": theme}).Scan(&scope, &layers)
		if errors.Is(err, pgx.ErrNoRows) {
			return grids.Invalid("theme", "theme %q does not exist (see /api/v1/themes)", theme)
		}
		if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM regions WHERE code = @region OR (@region = '' AND level = 'district'))`,
			pgx.NamedArgs{"region": region}).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return grids.Invalid("region", "region %q does not exist", region)
		}
		for _, stmt := range strings.Split(coverageSetup, ";") {
			if _, err := tx.Exec(ctx, stmt, pgx.NamedArgs{"theme": theme, "region": region}); err != nil {
				return err
			}
		}
		return fn(tx, scope, layers)
	})
}

// Gaps computes the coverage findings of a duty in a region and passes
// them to emit as they come: gap polygons (area, region), overlap polygons
// (the units), unassigned objects (layer, name) and uncovered stretches of
// streets and alleys (street, from_m, to_m). Slivers under minAreaM2 are
// dropped. geom renders each finding's geometry (see Finding); theme and
// region are checked before the first finding.
func (s *Store) Gaps(ctx context.Context, theme, region string, minAreaM2 float64, geom func(col string) string, emit func(*Finding) error) error {
	return s.coverageTx(ctx, theme, region, func(tx pgx.Tx, scope string, layers []string) error {
		return gaps(ctx, tx, scope, layers, minAreaM2, geom, emit)
	})
}

// WriteGaps writes the findings of Gaps as a GeoJSON FeatureCollection,
// with the question asked in its "coverage" member.
func (s *Store) WriteGaps(ctx context.Context, theme, region string, minAreaM2 float64, w io.Writer) error {
	return s.coverageTx(ctx, theme, region, func(tx pgx.Tx, scope string, layers []string) error {
		fc := &featureCollection{w: w}
		if err := gaps(ctx, tx, scope, layers, minAreaM2, grids.GeoJSONOf, fc.write); err != nil {
			return err
		}
		meta, _ := json.Marshal(map[string]any{"theme": theme, "region": region, "scope": scope, "min_area_m2": minAreaM2})
		return fc.close("coverage", meta)
	})
}

// gaps runs the findings query over the coverage tables of coverageTx.
func gaps(ctx context.Context, tx pgx.Tx, scope string, layers []string, minAreaM2 float64, geom func(string) string, emit func(*Finding) error) error {
	rows, err := tx.Query(ctx, `
		WITH stretches AS (
			SELECT o.id, o.layer, o.length_m, x AS gap
			FROM cov_objects o,
			LATERAL unnest(nummultirange(numrange(0, o.length_m::numeric)) - o.own) x
			WHERE o.dim = 1 AND NOT o.territorial AND o.length_m > 0 AND o.own IS NOT NULL)
		SELECT f.id, f.kind, f.props::text, `+geom("f.geom")+`
		FROM (
			SELECT 'gap-' || row_number() OVER () AS id, 'gap' AS kind, g.geom,
			       json_build_object('kind', 'gap', 'area_m2', round(g.area_m2::numeric, 2), 'region', (SELECT code FROM cov_region)) AS props
			FROM cov_gaps g WHERE g.area_m2 >= @min_area
			UNION ALL
			SELECT 'overlap-' || row_number() OVER (), 'overlap', o.geom,
			       json_build_object('kind', 'overlap', 'area_m2', round(o.area_m2::numeric, 2), 'units', json_build_array(ua.code, ub.code))
			FROM (SELECT d.*, citygrid_area_m2(d.geom, (SELECT c FROM cov_center)) AS area_m2 FROM cov_doubled d) o
			JOIN units ua ON ua.id = o.a JOIN units ub ON ub.id = o.b
			WHERE o.area_m2 >= @min_area
			UNION ALL
			SELECT 'object-' || o.id, 'unassigned_object', x.geom,
			       json_build_object('kind', 'unassigned_object', 'object_id', o.id, 'layer', o.layer, 'name', x.name)
			FROM cov_objects o JOIN objects x ON x.id = o.id
			WHERE NOT o.territorial AND o.own IS NULL AND (@scope = 'area' OR o.layer = ANY(@layers))
			UNION ALL
			SELECT 'stretch-' || s.id || '-' || lower(s.gap), 'uncovered_stretch',
			       -- A length goes to numeric with 15 digits, so a stretch to the
			       -- end of a street may end a hair past it.
			       ST_LineSubstring(x.geom, least(lower(s.gap)::float8 / s.length_m, 1), least(upper(s.gap)::float8 / s.length_m, 1)),
			       json_build_object('kind', 'uncovered_stretch', 'object_id', s.id, 'street', x.name, 'layer', s.layer,
			                         'from_m', round(lower(s.gap), 2), 'to_m', round(upper(s.gap), 2))
			FROM stretches s JOIN objects x ON x.id = s.id
			WHERE @scope = 'area' OR s.layer = ANY(@layers)
		) f`, pgx.NamedArgs{"min_area": minAreaM2, "scope": scope, "layers": layers})
	if err != nil {
		return err
	}
	return emitFindings(rows, emit)
}
