package grids_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/internal/testdb"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testPoints picks points where mistakes hide: grid vertices (shared by up
// to four grids), edge midpoints, community boundary vertices nudged just
// outside, points at the snap distance from streets and alleys (± 5 cm,
// ± 1 mm), and random points over the area.
func testPoints(t *testing.T, s *grids.Store, n int) []orb.Point {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(42, 7))
	var pts []orb.Point
	scan := func(sql string, limit int) []orb.Point {
		rows, err := s.Pool().Query(ctx, sql, pgx.NamedArgs{"limit": limit})
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orb.Point, error) {
			var p orb.Point
			return p, r.Scan(&p[0], &p[1])
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	pts = append(pts, scan(`SELECT ST_X(d.geom), ST_Y(d.geom) FROM (SELECT geom FROM grids WHERE valid_to IS NULL ORDER BY md5(code) LIMIT @limit) g,
		LATERAL ST_DumpPoints(g.geom) d`, n/20)...)
	pts = append(pts, scan(`SELECT (ST_X(a) + ST_X(b)) / 2, (ST_Y(a) + ST_Y(b)) / 2 FROM (
		SELECT ST_PointN(ST_ExteriorRing(geom), 1) a, ST_PointN(ST_ExteriorRing(geom), 2) b FROM grids WHERE valid_to IS NULL ORDER BY md5(code || 'm') LIMIT @limit) x`, n/5)...)
	for _, p := range scan(`SELECT ST_X(d.geom), ST_Y(d.geom) FROM (SELECT geom FROM regions WHERE level = 'community' ORDER BY md5(code) LIMIT 40) c,
		LATERAL ST_DumpPoints(c.geom) d ORDER BY md5(ST_AsText(d.geom)) LIMIT @limit`, n/10) {
		pts = append(pts, p, orb.Point{p[0] + 1e-7, p[1]}, orb.Point{p[0] - 1e-7, p[1] - 1e-7})
	}
	// Points beside lines: perpendicular to a segment at its middle, at the
	// layer's snap distance and just either side of it.
	rows, err := s.Pool().Query(ctx, `
		SELECT ST_X(a), ST_Y(a), ST_X(b), ST_Y(b), l.snap_m FROM (
			SELECT o.layer, ST_PointN(o.geom, 1) a, ST_PointN(o.geom, 2) b FROM objects o
			WHERE GeometryType(o.geom) = 'LINESTRING' ORDER BY md5(o.id::text) LIMIT @limit) x
		JOIN layers l ON l.code = x.layer`, pgx.NamedArgs{"limit": n / 20})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a, b orb.Point
		var snap float64
		if err := rows.Scan(&a[0], &a[1], &b[0], &b[1], &snap); err != nil {
			t.Fatal(err)
		}
		m := geo.NewMetric((a[1] + b[1]) / 2)
		dx, dy := (b[0]-a[0])*m.MPerLon, (b[1]-a[1])*m.MPerLat
		l := math.Hypot(dx, dy)
		if l == 0 {
			continue
		}
		mid := orb.Point{(a[0] + b[0]) / 2, (a[1] + b[1]) / 2}
		for _, d := range []float64{snap - 0.05, snap - 0.001, snap, snap + 0.001, snap + 0.05, snap / 2} {
			pts = append(pts, orb.Point{mid[0] - dy/l*d/m.MPerLon, mid[1] + dx/l*d/m.MPerLat})
		}
	}
	rows.Close()
	var b orb.Bound
	if err := s.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) x`).
		Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
		t.Fatal(err)
	}
	for len(pts) < n {
		pts = append(pts, orb.Point{b.Min[0] + r.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + r.Float64()*(b.Max[1]-b.Min[1])})
	}
	return pts
}

// checkExactness compares the in-memory index with PostGIS on every point:
// the grids that cover it (ST_Covers), the polygon objects that cover it,
// and the lines within their layer's snap distance (ST_DWithin on
// geography).
func checkExactness(t *testing.T, s *grids.Store, pts []orb.Point) {
	t.Helper()
	ctx := context.Background()
	res, err := grids.NewResolver(ctx, s.Pool(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pts (i int, geom geometry(Point, 4326))`); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, len(pts))
	for i, p := range pts {
		rows[i] = []any{i, p[0], p[1]}
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE raw (i int, x float8, y float8)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"raw"}, []string{"i", "x", "y"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pts SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) FROM raw`); err != nil {
		t.Fatal(err)
	}
	sets := func(sql string) map[int][]string {
		out := map[int][]string{}
		rows, err := tx.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var i int
			var keys []string
			if err := rows.Scan(&i, &keys); err != nil {
				t.Fatal(err)
			}
			sort.Strings(keys)
			out[i] = keys
		}
		return out
	}
	wantGrids := sets(`SELECT p.i, array_agg(g.code) FROM pts p JOIN grids g ON g.valid_to IS NULL AND g.geom && p.geom AND ST_Covers(g.geom, p.geom) GROUP BY p.i`)
	wantPolys := sets(`SELECT p.i, array_agg(o.id::text) FROM pts p JOIN objects o ON ST_Dimension(o.geom) = 2 AND o.geom && p.geom AND ST_Covers(o.geom, p.geom) GROUP BY p.i`)
	wantLines := sets(`SELECT p.i, array_agg(o.id::text) FROM pts p JOIN objects o ON ST_Dimension(o.geom) = 1
		JOIN layers l ON l.code = o.layer
		WHERE o.geom && ST_Expand(p.geom, 0.001) AND ST_DWithin(o.geom::geography, p.geom::geography, l.snap_m) GROUP BY p.i`)

	var out grids.Located
	bad := 0
	onBoundary, borderline, inLines := 0, 0, 0
	for i, p := range pts {
		snap, err := res.Locate(ctx, p, -1, &out)
		if err != nil {
			t.Fatal(err)
		}
		var gotGrids, gotPolys, gotLines []string
		if out.Grid >= 0 {
			gotGrids = append(gotGrids, snap.Grids[out.Grid].Code)
			for _, a := range out.Adjacent {
				gotGrids = append(gotGrids, snap.Grids[a].Code)
			}
			if out.OnBoundary {
				onBoundary++
			}
		}
		for _, o := range out.Objects {
			ref := snap.Objects[o.Object]
			id := itoa(ref.ID)
			if ref.Line {
				if !slices.Contains(gotLines, id) {
					gotLines = append(gotLines, id)
				}
			} else if !slices.Contains(gotPolys, id) {
				gotPolys = append(gotPolys, id)
			}
		}
		sort.Strings(gotGrids)
		sort.Strings(gotPolys)
		sort.Strings(gotLines)
		if len(gotLines) > 0 {
			inLines++
		}
		if !slices.Equal(gotGrids, wantGrids[i]) || !slices.Equal(gotPolys, wantPolys[i]) || !slices.Equal(gotLines, wantLines[i]) {
			bad++
			if bad <= 10 {
				t.Errorf("point %d %.10f,%.10f: grids %v want %v; polygons %v want %v; lines %v want %v",
					i, p[0], p[1], gotGrids, wantGrids[i], gotPolys, wantPolys[i], gotLines, wantLines[i])
			}
		}
		if out.Grid >= 0 && slices.Contains(out.Adjacent, out.Grid) {
			t.Fatalf("point %d: the chosen grid is also listed as adjacent", i)
		}
	}
	_ = borderline
	if bad > 0 {
		t.Errorf("%d of %d points disagree with PostGIS", bad, len(pts))
	}
	// A city has grids, and half the hard cases lie on their edges; a
	// city of lines alone has only the lines'.
	if (onBoundary < len(pts)/10 && len(res.Snapshot().Grids) > 0) || inLines < len(pts)/10 {
		t.Errorf("only %d points on grid boundaries and %d near lines: the test points miss the hard cases", onBoundary, inLines)
	}
	t.Logf("%d points agree with PostGIS (%d on grid boundaries, %d near lines)", len(pts), onBoundary, inLines)
}

func itoa(i int64) string {
	return string(appendInt(nil, i))
}

func appendInt(b []byte, i int64) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func TestLocateExactnessGenerated(t *testing.T) {
	s := gridstest.NewStore(t)
	if _, err := citygen.Load(context.Background(), s, citygen.Config{Grids: 2000, Seed: 3}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	checkExactness(t, s, testPoints(t, s, 10000))
}

// TestLocateLongStraightStreets puts points around kilometre-long straight
// segments, where a straight lon/lat segment and PostGIS geography's great
// circle part by centimetres to decimetres, at and near the snap distance.
func TestLocateLongStraightStreets(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	lines := []orb.LineString{
		{{116.30, 40.00}, {116.34, 40.00}},                   // 3.4 km east to west
		{{116.40, 39.95}, {116.43, 39.97}},                   // 3.3 km diagonal
		{{116.50, 39.90}, {116.50, 39.93}},                   // 3.3 km north to south
		{{116.60, 39.90}, {116.61, 39.90}, {116.62, 39.905}}, // two 0.9 km legs
	}
	for i, l := range lines {
		name := fmt.Sprintf("长直街%d", i)
		if _, err := s.CreateObject(ctx, grids.ObjectInput{Name: &name, Layer: gridstest.Ptr("street"), Geometry: l}); err != nil {
			t.Fatal(err)
		}
	}
	var snap float64
	if err := s.Pool().QueryRow(ctx, `SELECT snap_m FROM layers WHERE code = 'street'`).Scan(&snap); err != nil {
		t.Fatal(err)
	}
	// Points off each segment at tenths along it, on both sides, from 1 m
	// inside the snap distance to 1 m beyond, in 2 cm steps.
	var pts []orb.Point
	for _, l := range lines {
		for k := 1; k < len(l); k++ {
			a, b := l[k-1], l[k]
			m := geo.NewMetric((a[1] + b[1]) / 2)
			dx, dy := (b[0]-a[0])*m.MPerLon, (b[1]-a[1])*m.MPerLat
			n := math.Hypot(dx, dy)
			nx, ny := -dy/n, dx/n // unit normal, metres
			for f := 0.1; f < 0.95; f += 0.1 {
				c := orb.Point{a[0] + f*(b[0]-a[0]), a[1] + f*(b[1]-a[1])}
				for d := snap - 1; d <= snap+1; d += 0.02 {
					for _, side := range []float64{-1, 1} {
						pts = append(pts, orb.Point{c[0] + side*d*nx/m.MPerLon, c[1] + side*d*ny/m.MPerLat})
					}
				}
			}
		}
	}
	checkExactness(t, s, pts)
}

func TestLocateExactnessBeijing(t *testing.T) {
	s := gridstest.NewStore(t)
	root := filepath.Dir(filepath.Dir(testdb.SharedData(t, "beijing/districts_gcj02.geojson")))
	ctx := context.Background()
	if err := derive.NewStore(s).BuildRealCity(ctx, derive.RealCities()["beijing"], root, func(string) {}); err != nil {
		t.Fatal(err)
	}
	checkExactness(t, s, testPoints(t, s, 10000))

	// The first node of every street way of zhongguancun.osm: a grid, and
	// someone who answers for sanitation there.
	rows, err := s.Pool().Query(ctx, `
		SELECT o.source_id, ST_X(ST_StartPoint(o.geom)), ST_Y(ST_StartPoint(o.geom)) FROM objects o
		WHERE o.layer = 'street' AND o.source = 'osm'
		  AND ST_Intersects(ST_StartPoint(o.geom), ST_MakeEnvelope(116.3084, 39.9905, 116.3320, 40.0123, 4326))`)
	if err != nil {
		t.Fatal(err)
	}
	type start struct {
		id string
		p  orb.Point
	}
	starts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (start, error) {
		var st start
		return st, r.Scan(&st.id, &st.p[0], &st.p[1])
	})
	if err != nil || len(starts) < 50 {
		t.Fatalf("%d street starts: %v", len(starts), err)
	}
	res, err := grids.NewResolver(ctx, s.Pool(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	var out grids.Located
	sanitation := res.Snapshot().ThemeIndex("sanitation")
	for _, st := range starts {
		snap, err := res.Locate(ctx, st.p, sanitation, &out)
		if err != nil {
			t.Fatal(err)
		}
		a := snap.Answer(&out)
		if a.Grid == nil || len(a.Owners) == 0 {
			t.Errorf("street %s starts at %v: grid %v, %d sanitation owners", st.id, st.p, a.Grid, len(a.Owners))
		}
	}
	t.Logf("%d zhongguancun street starts located, each in a grid with a sanitation owner", len(starts))
}
