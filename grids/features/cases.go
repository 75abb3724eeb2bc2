package features

import (
	"context"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

// The cases layer: the export and OGC collection read cases through the
// filters of the case list (cases.Filter, whose SQL grids/cases owns), and
// the tile layer draws them as points from z14 and as clusters of their
// stored H3 cells below.

// caseParams are the case list's filters besides bbox and region, which
// ParseQuery reads as for every collection and hands to the case filter.
var caseParams = []string{"status", "unit", "grid", "category", "source", "overdue", "warning", "from", "to"}

// casesCollection is the catalogue entry of cases. Reporters are personal
// data and are never a property; the time is the report time.
func casesCollection() *Collection {
	return &Collection{
		ID: "cases", Title: "案件 Cases", Description: "reported problems in the closed loop, at their reported location; time is the report time",
		GeometryType: "Point", Temporal: Instant, Filters: append([]string{"region"}, caseParams...),
		Properties: []Property{
			fprop("code", PropString, "case code 案件编号"), fprop("status", PropString, "status 状态"),
			fprop("category", PropString, "category code 类别"), fprop("category_name", PropString, "category name 类别名称"),
			fprop("source", PropString, "source 来源"), fprop("description", PropString, "description 问题描述"),
			fprop("reported_at", PropDateTime, "reported at 上报时间"), fprop("grid", PropString, "grid code at report time 网格"),
			fprop("district", PropString, "district code 区"), fprop("subdistrict", PropString, "subdistrict code 街道"),
			fprop("community", PropString, "community code 社区"), fprop("unit", PropString, "dispatched unit code 处置单位"),
			fprop("deadline", PropDateTime, "handling deadline 处置时限 (empty while suspended or not dispatched)"),
			fprop("overdue", PropBoolean, "overdue 超期 (红牌)"), fprop("warning", PropBoolean, "80% of the time gone 预警 (黄牌)"),
			fprop("dispatches", PropInteger, "times dispatched"), fprop("returns", PropInteger, "times returned"),
			fprop("reworks", PropInteger, "times sent back by a failed verification 返工"),
			fprop("handled_at", PropDateTime, "handled at 处置时间"), fprop("closed_at", PropDateTime, "closed at 结案时间"),
		},
		source: `
			SELECT c.code AS fid, c.id AS sk, c.geom, c.reported_at AS t0, NULL::timestamptz AS t1,
			       c.code, c.status, c.category_code AS category, cat.name_zh AS category_name, c.source, c.description,
			       c.reported_at, c.grid_code AS grid, c.district_code AS district, c.subdistrict_code AS subdistrict,
			       c.community_code AS community, du.code AS unit, c.due_at AS deadline,
			       ` + cases.OverdueSQL + ` AS overdue, ` + cases.WarningSQL + ` AS warning,
			       c.dispatch_count AS dispatches, c.return_count AS returns, c.rework_count AS reworks, c.handled_at, c.closed_at
			FROM cases c JOIN categories cat ON cat.code = c.category_code LEFT JOIN units du ON du.id = c.unit_id`,
		cases: true,
	}
}

// parseCaseFilter reads the case filters as the case list does: status a
// comma-separated list, overdue and warning true or false, from and to RFC
// 3339 times of the report ([from, to)).
func parseCaseFilter(params url.Values, q *FeatureQuery) (*cases.Filter, error) {
	f, err := cases.ParseFilter(params)
	if err != nil {
		return nil, err
	}
	f.BBox, f.Region = q.BBox, q.Region
	return &f, f.Check()
}

// caseSource is the cases collection's source restricted by the case
// filter as the reader may see it: a unit token reads its unit's cases.
func caseSource(src string, q FeatureQuery, args pgx.NamedArgs) string {
	f := cases.Filter{}
	if q.Cases != nil {
		f = *q.Cases
	}
	return src + f.Where(unitViewer(q.OnlyUnit), args)
}

// unitViewer is the principal a unit scope stands for; the zero principal
// when there is none.
func unitViewer(unit string) grids.Principal {
	if unit == "" {
		return grids.Principal{}
	}
	return grids.Principal{Role: grids.RoleUnit, Unit: unit}
}

// casesExtent is the cases' extent, cheap however many there are: the
// report times from the index on reported_at, and the districts' box, which
// holds every case (intake refuses a place outside every district).
func (s *Store) casesExtent(ctx context.Context) (Extent, bool, error) {
	var x Extent
	var x0, y0, x1, y1 *float64
	err := s.pool.QueryRow(ctx, `
		SELECT ST_XMin(r.b), ST_YMin(r.b), ST_XMax(r.b), ST_YMax(r.b), t.t0, t.t1
		FROM (SELECT min(reported_at) AS t0, max(reported_at) AS t1 FROM cases) t,
		     (SELECT ST_Extent(geom) AS b FROM regions WHERE level = 'district') r`).Scan(&x0, &y0, &x1, &y1, &x.Start, &x.End)
	if err != nil || x.Start == nil || x0 == nil {
		return x, false, err
	}
	x.BBox = [4]float64{*x0, *y0, *x1, *y1}
	return x, true, nil
}

// CasesExtent is the extent of the cases collection; ok is false while
// there are none. It is apart from Extents because cases change all the
// time and the other layers' extents cost a scan.
func (s *Store) CasesExtent(ctx context.Context) (x Extent, ok bool, err error) {
	return s.casesExtent(ctx)
}

// caseClusterBelow is the zoom under which cases are drawn as clusters:
// at z14 an r10 cell is some nine pixels across, and a city centre's tile
// holds 14,000 cases over a year, too many points to draw or to send.
const caseClusterBelow = 15

// caseCellRes is the stored H3 resolution cases are clustered by at zoom z:
// a cell about 10–60 px across (r6 at z10, one resolution finer per
// zoom), r6 for every lower zoom.
func caseCellRes(z int) int {
	return min(10, max(6, z-4))
}

// casesTileLayer draws cases: points from z15, clusters below.
func casesTileLayer() TileLayer {
	return TileLayer{
		ID: "cases",
		Description: "cases: from z15 one point per case; below, one point per cluster (the cases of a stored H3 cell, " +
			"r6 at z10 and one resolution finer per zoom to r10 at z14) at the cases' centroid, with count, overdue count and the dominant status",
		MinZoom: 8, MaxZoom: 18,
		Fields: map[string]string{"code": "String: the case code (points)", "status": "String: the status, or a cluster's most frequent status",
			"category": "String: the category code (points)",
			"overdue":  "Boolean for a point (红牌); for a cluster, Number: how many of its cases are overdue",
			"warning":  "Boolean: 80% of the time is gone and the deadline is not (黄牌; points)",
			"count":    "Number: the cases in a cluster (clusters only, below z15)"},
		Tables:        []string{"cases"},
		Scoped:        true,
		OpenParam:     true,
		clusterBelow:  caseClusterBelow,
		geom:          "c.geom",
		cols:          "c.id AS fid, c.code, c.status, c.category_code AS category, " + cases.OverdueSQL + " AS overdue, " + cases.WarningSQL + " AS warning",
		from:          "cases c",
		where:         "true",
		extent:        `SELECT ST_Extent(geom) FROM regions WHERE level = 'district' AND EXISTS (SELECT 1 FROM cases)`,
		scopedSource:  caseScoped,
		clusterSelect: caseClusters,
	}
}

// caseScoped is the cases a tile reads, as the reader may see them.
func caseScoped(unit string, open bool, args pgx.NamedArgs) string {
	w := (&cases.Filter{}).Where(unitViewer(unit), args)
	if open {
		if w == "" {
			w = " WHERE "
		} else {
			w += " AND "
		}
		w += "c.status NOT IN " + cases.FinalSQL
	}
	return `(SELECT c.* FROM cases c` + w + `) c`
}

// caseClusters is the clustered tile query's inner select at zoom z over
// the tile counts of migration 14 rather than the cases: the counts of
// the cells anchored in the tile itself (its buffer left out, its edges
// half-open, so that every case counts in exactly one tile of a zoom),
// the deltas not yet folded into them, and the overdue cases of the
// present deadline bucket from cases. One point per cell at its cases'
// centroid (kept inside the tile), with the count, the overdue count and
// the most frequent status (ties to the first status by name, so that a
// tile renders the same twice).
func caseClusters(z int, unit string, open bool, args pgx.NamedArgs) string {
	res := strconv.Itoa(caseCellRes(z))
	viewer := unitViewer(unit)
	scope := func(alias string) string {
		w := ""
		if s := cases.UnitScope(viewer, alias, args); s != "" {
			w += " AND " + s
		}
		if open {
			w += " AND " + alias + ".status NOT IN " + cases.FinalSQL
		}
		return w
	}
	inTile := func(x, y string) string {
		return x + ` >= ST_XMin(env.t) AND ` + x + ` < ST_XMax(env.t) AND ` + y + ` > ST_YMin(env.t) AND ` + y + ` <= ST_YMax(env.t)`
	}
	return `
			WITH cells AS MATERIALIZED (
				SELECT a.cell FROM env, case_tile_anchors a
				WHERE a.res = ` + res + ` AND a.anchor && env.t AND ` + inTile("ST_X(a.anchor)", "ST_Y(a.anchor)") + `
				UNION
				-- A cell new since the last fold: by the point it will be anchored at.
				SELECT d.h3_r` + res + ` FROM env, case_tile_deltas d
				WHERE d.n > 0 AND NOT EXISTS (SELECT 1 FROM case_tile_anchors a WHERE a.res = ` + res + ` AND a.cell = d.h3_r` + res + `)
				GROUP BY d.h3_r` + res + `, env.t
				HAVING ` + inTile("(min(ARRAY[d.x, d.y]))[1]", "(min(ARRAY[d.x, d.y]))[2]") + `),
			-- The present bucket's overdue cases of the whole city, by the
			-- deadline index (about a hundred on 1,000,000 cases, 1.5 ms),
			-- then kept to the tile's cells: looked up cell by cell, each
			-- cell probed every monthly partition (20 ms for a dense z14).
			present AS MATERIALIZED (
				SELECT c.h3_r` + res + ` AS cell FROM cases c
				WHERE ` + cases.PresentOverdueSQL + scope("c") + `),
			counted AS (
				SELECT t.cell, t.status, t.n, t.sx, t.sy, CASE WHEN ` + cases.CountsOverdueSQL + ` THEN t.n ELSE 0 END AS overdue
				FROM cells JOIN case_tile_cells t ON t.res = ` + res + ` AND t.cell = cells.cell` + scope("t") + `
				UNION ALL
				SELECT t.h3_r` + res + `, t.status, t.n, t.n * t.x, t.n * t.y, CASE WHEN ` + cases.CountsOverdueSQL + ` THEN t.n ELSE 0 END
				FROM cells JOIN case_tile_deltas t ON t.h3_r` + res + ` = cells.cell` + scope("t") + `
				UNION ALL
				SELECT p.cell, NULL, 0, 0, 0, 1
				FROM cells JOIN present p ON p.cell = cells.cell),
			-- One row per cell and status, ranked: the cell's totals ride
			-- on its most frequent status's row.
			k AS (
				SELECT cell, status, (sum(sum(n)) OVER w)::bigint AS count, (sum(sum(overdue)) OVER w)::bigint AS overdue,
				       sum(sum(sx)) OVER w / nullif(sum(sum(n)) OVER w, 0) AS x, sum(sum(sy)) OVER w / nullif(sum(sum(n)) OVER w, 0) AS y,
				       row_number() OVER (w ORDER BY sum(n) DESC, status NULLS LAST) AS rank
				FROM counted GROUP BY cell, status
				WINDOW w AS (PARTITION BY cell))
			SELECT ST_AsMVTGeom(ST_Transform(ST_SetSRID(ST_MakePoint(
			           least(greatest(k.x, ST_XMin(env.t)), ST_XMax(env.t)),
			           least(greatest(k.y, ST_YMin(env.t)), ST_YMax(env.t))), 4326), 3857),
			       env.m, ` + strconv.Itoa(TileExtent) + `, ` + strconv.Itoa(tileBuffer) + `, true) AS geom,
			       k.cell AS fid, k.count, k.overdue, k.status
			FROM env, k WHERE k.rank = 1 AND k.count > 0`
}
