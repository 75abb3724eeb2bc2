package grids_test

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citygrid/citygrid/internal/db"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/internal/testdb"
)

// benchCity is the scale benchmark city (20,000 grids, about 200,000
// objects; CITYGRID_BENCH_GRIDS overrides), built once per benchmark run.
var benchCity struct {
	once  sync.Once
	store *grids.Store
	pts   []orb.Point // three random points inside every grid: where reports come from
	box   []orb.Point // uniform over the city's bounding box, outskirts included
	err   error
}

func loadBenchCity(b *testing.B) (*grids.Store, []orb.Point) {
	benchCity.once.Do(func() {
		n := 20000
		if v, err := strconv.Atoi(os.Getenv("CITYGRID_BENCH_GRIDS")); err == nil {
			n = v
		}
		url, existed := testdb.Kept(b, "city"+strconv.Itoa(n))
		pool, err := db.Connect(context.Background(), url)
		if err != nil {
			benchCity.err = err
			return
		}
		s := grids.NewStore(pool, grids.DefaultCodeRules())
		var count int
		pool.QueryRow(context.Background(), `SELECT count(*) FROM grids`).Scan(&count)
		if !existed || count == 0 {
			if _, benchCity.err = citygen.Load(context.Background(), s, citygen.Config{Grids: n, Seed: 1}, func(string) {}); benchCity.err != nil {
				return
			}
		}
		var bd orb.Bound
		benchCity.err = s.Pool().QueryRow(context.Background(), `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) x`).
			Scan(&bd.Min[0], &bd.Min[1], &bd.Max[0], &bd.Max[1])
		r := rand.New(rand.NewPCG(1, 1))
		for range 1 << 16 {
			benchCity.box = append(benchCity.box, orb.Point{bd.Min[0] + r.Float64()*(bd.Max[0]-bd.Min[0]), bd.Min[1] + r.Float64()*(bd.Max[1]-bd.Min[1])})
		}
		rows, err := pool.Query(context.Background(), `
			SELECT ST_X(d.geom), ST_Y(d.geom) FROM grids g, LATERAL ST_Dump(ST_GeneratePoints(g.geom, 3, 1)) d
			WHERE g.valid_to IS NULL ORDER BY md5(g.code || d.path[1]::text) LIMIT 65536`)
		if err != nil {
			benchCity.err = err
			return
		}
		for rows.Next() {
			var p orb.Point
			rows.Scan(&p[0], &p[1])
			benchCity.pts = append(benchCity.pts, p)
		}
		rows.Close()
		for len(benchCity.pts)&(len(benchCity.pts)-1) != 0 { // a power of two, for the index mask
			benchCity.pts = benchCity.pts[:len(benchCity.pts)-1]
		}
		benchCity.store = s
	})
	if benchCity.err != nil {
		b.Fatal(benchCity.err)
	}
	return benchCity.store, benchCity.pts
}

// benchSnapshot builds the locate index of the bench city.
func benchSnapshot(b *testing.B) *grids.Snapshot {
	s, _ := loadBenchCity(b)
	res, err := grids.NewResolver(context.Background(), s.Pool(), quiet())
	if err != nil {
		b.Fatal(err)
	}
	return res.Snapshot()
}

// benchLoop runs Locate over pts, reporting allocations.
func benchLoop(b *testing.B, snap *grids.Snapshot, pts []orb.Point, theme int16) {
	var out grids.Located
	runtime.GC() // collect the setup's garbage now, not during the loop
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		snap.Locate(pts[i&(len(pts)-1)], theme, &out)
		i++
	}
}

// BenchmarkLocate is one in-process lookup (grid, regions, objects and the
// sanitation owners) at a random point of the city, on one core.
func BenchmarkLocate(b *testing.B) {
	snap := benchSnapshot(b)
	benchLoop(b, snap, benchCity.pts, snap.ThemeIndex("sanitation"))
}

// BenchmarkLocateDB is the SQL path (engine=db) at a random point of the
// city with the sanitation owners, four callers per core, as a server's
// requests wait on PostgreSQL side by side; its profile is the client's
// share of the time.
func BenchmarkLocateDB(b *testing.B) {
	s, pts := loadBenchCity(b)
	res, err := grids.NewResolver(context.Background(), s.Pool(), quiet())
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	runtime.GC()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			if _, err := res.LocateDB(context.Background(), pts[i&int64(len(pts)-1)], "sanitation"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLocateAnywhere draws points uniformly over the city's bounding
// box, outskirts included: those outside every grid take the slower path
// (region polygons, nearest grid).
func BenchmarkLocateAnywhere(b *testing.B) {
	snap := benchSnapshot(b)
	benchLoop(b, snap, benchCity.box, snap.ThemeIndex("sanitation"))
}

// BenchmarkLocateAllThemes asks for every duty at once.
func BenchmarkLocateAllThemes(b *testing.B) {
	benchLoop(b, benchSnapshot(b), benchCity.pts, -1)
}

// BenchmarkLocateLatency reports the p50 and p99 of single lookups.
func BenchmarkLocateLatency(b *testing.B) {
	s, pts := loadBenchCity(b)
	res, err := grids.NewResolver(context.Background(), s.Pool(), quiet())
	if err != nil {
		b.Fatal(err)
	}
	snap := res.Snapshot()
	theme := snap.ThemeIndex("sanitation")
	var out grids.Located
	lat := make([]time.Duration, 0, 1<<20)
	runtime.GC()
	i := 0
	for b.Loop() {
		t := time.Now()
		snap.Locate(pts[i&(len(pts)-1)], theme, &out)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t))
		}
		i++
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	}
}

// BenchmarkIndexBuild loads the snapshot from PostGIS and builds the
// indexes; it reports the heap the snapshot holds.
func BenchmarkIndexBuild(b *testing.B) {
	s, _ := loadBenchCity(b)
	var snap *grids.Snapshot
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for b.Loop() {
		var err error
		if snap, err = grids.LoadSnapshot(context.Background(), s.Pool()); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
	b.ReportMetric(float64(len(snap.Grids)), "grids")
	b.ReportMetric(float64(len(snap.Objects)), "objects")
}
