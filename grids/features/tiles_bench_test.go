package features_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/features"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// benchStore opens the kept scale benchmark city (20,000 grids, about
// 200,000 objects; CITYGRID_BENCH_GRIDS overrides), the same database the
// locate benchmarks in grids use, and builds it when it is missing.
func benchStore(b *testing.B) *grids.Store {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("CITYGRID_BENCH_GRIDS")); err == nil {
		n = v
	}
	url, existed := testdb.Kept(b, "city"+strconv.Itoa(n))
	ctx := context.Background()
	pool, err := db.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s := grids.NewStore(pool, grids.DefaultCodeRules())
	var count int
	pool.QueryRow(ctx, `SELECT count(*) FROM grids`).Scan(&count)
	if !existed || count == 0 {
		if _, err := citygen.Load(ctx, s, citygen.Config{Grids: n, Seed: 1}, func(string) {}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkTile renders z14 tiles of the bench city (20,000 grids) in
// PostGIS, round-robin over every tile covering the city: the uncached cost
// of a tile request without HTTP. Reports the mean tile size. The gaps
// layer is drawn for sanitation, unassigned for four duties.
func BenchmarkTile(b *testing.B) {
	core := benchStore(b)
	s := features.NewStore(core)
	ctx := context.Background()
	var bd orb.Bound
	if err := core.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM regions) x`).
		Scan(&bd.Min[0], &bd.Min[1], &bd.Max[0], &bd.Max[1]); err != nil {
		b.Fatal(err)
	}
	const z = 14
	nw, se := maptile.At(orb.Point{bd.Min[0], bd.Max[1]}, z), maptile.At(orb.Point{bd.Max[0], bd.Min[1]}, z)
	var tiles []maptile.Tile
	for x := nw.X; x <= se.X; x++ {
		for y := nw.Y; y <= se.Y; y++ {
			tiles = append(tiles, maptile.New(x, y, z))
		}
	}
	set := features.NewTileSet()
	for _, bc := range []struct{ layer, theme string }{
		{"grids", ""}, {"streets", ""}, {"objects", ""}, {"regions", ""}, {"gaps", "sanitation"},
		// An area duty led by grids, an object duty over points (shops),
		// one over lines (streets and alleys), one nobody leads.
		{"unassigned", "sanitation"}, {"unassigned", "frontage"}, {"unassigned", "road_chief"}, {"unassigned", "place_name_signs"},
	} {
		name := bc.layer
		if bc.layer == "unassigned" {
			name += "/" + bc.theme
		}
		b.Run(name, func(b *testing.B) {
			l, err := set.Layer(bc.layer)
			if err != nil {
				b.Fatal(err)
			}
			i, size := 0, 0
			for b.Loop() {
				t := tiles[i%len(tiles)]
				mvt, err := s.Tile(ctx, l, int(t.Z), int(t.X), int(t.Y), bc.theme, "")
				if err != nil {
					b.Fatal(err)
				}
				size += len(mvt)
				i++
			}
			b.ReportMetric(float64(size)/float64(i), "bytes/tile")
		})
	}
}

// benchCases fills the bench city with n cases (CITYGRID_BENCH_CASES,
// 1,000,000 by default) unless it holds them: until `citygrid demo cases`
// exists, points around random objects (markets, schools, shops, streets …)
// 0–150 m away, reported over the last year, most closed, a tenth with a
// running clock of which a third is overdue, with their real H3 cells.
func benchCases(b *testing.B, core *grids.Store) {
	n := 1000000
	if v, err := strconv.Atoi(os.Getenv("CITYGRID_BENCH_CASES")); err == nil {
		n = v
	}
	ctx := context.Background()
	pool := core.Pool()
	var have int
	pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&have)
	if have >= n {
		return
	}
	var anchors []orb.Point
	rows, err := pool.Query(ctx, `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM objects) o`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var p orb.Point
		rows.Scan(&p[0], &p[1])
		anchors = append(anchors, p)
	}
	if rows.Err() != nil || len(anchors) == 0 {
		b.Fatalf("no objects to put cases at: %v", rows.Err())
	}
	var district string
	pool.QueryRow(ctx, `SELECT code FROM regions WHERE level = 'district' LIMIT 1`).Scan(&district)
	rng := rand.New(rand.NewPCG(1, uint64(have)))
	now := time.Now()
	statuses := []string{"closed", "closed", "closed", "closed", "closed", "closed", "closed", "reported", "registered", "dispatched", "handling", "handled"}
	src := make([][]any, 0, n-have)
	for i := have; i < n; i++ {
		a := anchors[rng.IntN(len(anchors))]
		d, th := 150*math.Sqrt(rng.Float64()), 2*math.Pi*rng.Float64()
		p := orb.Point{a[0] + d*math.Cos(th)/(111320*math.Cos(a[1]*math.Pi/180)), a[1] + d*math.Sin(th)/110540}
		at := now.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
		st := statuses[rng.IntN(len(statuses))]
		var clockFrom, due, warn *time.Time
		if st == "dispatched" || st == "handling" {
			cf := at.Add(time.Hour)
			dd := now.Add(time.Duration(rng.Int64N(int64(96*time.Hour))) - 32*time.Hour) // a third overdue
			w := dd.Add(-8 * time.Hour)
			clockFrom, due, warn = &cf, &dd, &w
		}
		ll := h3.LatLng{Lat: p[1], Lng: p[0]}
		var cells [5]int64
		for r := 6; r <= 10; r++ {
			c, err := h3.LatLngToCell(ll, r)
			if err != nil {
				b.Fatal(err)
			}
			cells[r-6] = int64(c)
		}
		src = append(src, []any{fmt.Sprintf("bench-%07d", i), at, st, []string{"E0504", "C0118", "E0110", "E0501"}[i%4],
			[]string{"inspector", "hotline", "citizen"}[i%3], "gps", fmt.Sprintf("SRID=4326;POINT(%f %f)", p[0], p[1]),
			"bench", district, "{}", clockFrom, due, warn, cells[0], cells[1], cells[2], cells[3], cells[4]})
	}
	cols := []string{"code", "reported_at", "status", "category_code", "source", "location_quality", "geom", "reported_by",
		"district_code", "routing", "clock_from", "due_at", "warn_at", "h3_r6", "h3_r7", "h3_r8", "h3_r9", "h3_r10"}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	// geom and routing go through text so that COPY needs no codecs for them.
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE bench_cases (code text, reported_at timestamptz, status text, category_code text,
		source text, location_quality text, geom text, reported_by text, district_code text, routing text,
		clock_from timestamptz, due_at timestamptz, warn_at timestamptz, h3_r6 bigint, h3_r7 bigint, h3_r8 bigint, h3_r9 bigint, h3_r10 bigint)`); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bench_cases"}, cols, pgx.CopyFromRows(src)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO cases (`+strings.Join(cols, ", ")+`)
		SELECT code, reported_at, status, category_code, source, location_quality, geom::geometry, reported_by, district_code, routing::jsonb,
		       clock_from, due_at, warn_at, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10 FROM bench_cases;
		DROP TABLE bench_cases; ANALYZE cases`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkCasesTile renders cases tiles of the bench city with 1,000,000
// cases (benchCases) at z12, z13 (clusters) and z14 (points), round-robin
// over every tile covering the city: the uncached cost without HTTP.
func BenchmarkCasesTile(b *testing.B) {
	core := benchStore(b)
	benchCases(b, core)
	s := features.NewStore(core)
	ctx := context.Background()
	var bd orb.Bound
	if err := core.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM regions) x`).
		Scan(&bd.Min[0], &bd.Min[1], &bd.Max[0], &bd.Max[1]); err != nil {
		b.Fatal(err)
	}
	l, err := features.NewTileSet().Layer("cases")
	if err != nil {
		b.Fatal(err)
	}
	for _, z := range []maptile.Zoom{12, 13, 14} {
		nw, se := maptile.At(orb.Point{bd.Min[0], bd.Max[1]}, z), maptile.At(orb.Point{bd.Max[0], bd.Min[1]}, z)
		var tiles []maptile.Tile
		for x := nw.X; x <= se.X; x++ {
			for y := nw.Y; y <= se.Y; y++ {
				tiles = append(tiles, maptile.New(x, y, z))
			}
		}
		b.Run(fmt.Sprintf("z%d", z), func(b *testing.B) {
			i, size := 0, 0
			var took []time.Duration
			for b.Loop() {
				t := tiles[i%len(tiles)]
				start := time.Now()
				mvt, err := s.Tile(ctx, l, int(t.Z), int(t.X), int(t.Y), "", "")
				if err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
				size += len(mvt)
				i++
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(size)/float64(i), "bytes/tile")
		})
	}
}
