package drafts_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/drafts"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// beijing is the drafts store on a fresh copy of the Beijing demo, with
// the subdistrict that has the most live grids and their number.
func beijing(b *testing.B) (*drafts.Store, string, int) {
	root := filepath.Dir(filepath.Dir(testdb.SharedData(b, "beijing/districts_gcj02.geojson")))
	url := testdb.Seeded(b, "beijing", func(ctx context.Context, url string) error {
		pool, err := db.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer pool.Close()
		return derive.NewStore(grids.NewStore(pool, grids.DefaultCodeRules())).BuildRealCity(ctx, derive.RealCities()["beijing"], root, func(string) {})
	})
	ctx := context.Background()
	pool, err := db.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var sd string
	var n int
	if err := pool.QueryRow(ctx, `SELECT s.code, count(*) FROM regions s JOIN regions c ON c.parent_id = s.id
		JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE s.level = 'subdistrict' GROUP BY s.code ORDER BY count(*) DESC LIMIT 1`).Scan(&sd, &n); err != nil {
		b.Fatal(err)
	}
	return drafts.NewStore(grids.NewStore(pool, grids.DefaultCodeRules())), sd, n
}

// BenchmarkCreateSubdistrict copies the live grids of Beijing's largest
// subdistrict into a draft.
func BenchmarkCreateSubdistrict(b *testing.B) {
	s, sd, n := beijing(b)
	ctx := context.Background()
	for b.Loop() {
		if _, err := s.Create(ctx, grids.Principal{User: "bench"}, sd, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "grids")
}

// BenchmarkCheckSubdistrict runs the tiling check over that draft.
func BenchmarkCheckSubdistrict(b *testing.B) {
	s, sd, n := beijing(b)
	ctx := context.Background()
	d, err := s.Create(ctx, grids.Principal{User: "bench"}, sd, "bench")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := s.Check(ctx, d.ID, coverage.GridCheckOptions{}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "grids")
}

// BenchmarkLiveCheckSubdistrict is the same check over the live grids, for
// comparison: the draft's check costs what the live one does.
func BenchmarkLiveCheckSubdistrict(b *testing.B) {
	s, sd, n := beijing(b)
	cov := coverage.NewStore(s.Core())
	ctx := context.Background()
	for b.Loop() {
		if err := cov.CheckGrids(ctx, sd, coverage.GridCheckOptions{}, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "grids")
}

// benchCity is the drafts store on the database CITYGRID_BENCH_DATABASE_URL
// names (the 20,000-grid generated city with its cases, as in
// docs/benchmarks.md; the benchmark writes its drafts there and discards
// them), else on a fresh copy of the Beijing demo; with the subdistrict
// whose number of live grids is nearest the 500, and that number.
func benchCity(b *testing.B) (*drafts.Store, string, int) {
	ctx := context.Background()
	var pool *pgxpool.Pool
	if url := os.Getenv("CITYGRID_BENCH_DATABASE_URL"); url != "" {
		p, err := db.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		pool = p
	} else {
		s, _, _ := beijing(b)
		pool = s.Core().Pool()
	}
	sd, n := subdistrictOf500(b, pool)
	return drafts.NewStore(grids.NewStore(pool, grids.DefaultCodeRules())), sd, n
}

// subdistrictOf500 is the subdistrict whose live grid count is closest to
// 500, the size the targets name, with that count.
func subdistrictOf500(b *testing.B, pool *pgxpool.Pool) (string, int) {
	var sd string
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT s.code, count(*) FROM regions s JOIN regions c ON c.parent_id = s.id
		JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE s.level = 'subdistrict' GROUP BY s.code ORDER BY abs(count(*) - 500), s.code LIMIT 1`).Scan(&sd, &n); err != nil {
		b.Fatal(err)
	}
	return sd, n
}

// BenchmarkImpactDerivedSubdistrict computes the impact of a draft whose
// whole subdistrict was redrawn by derive (every grid changes): the
// heaviest impact a planner asks for.
func BenchmarkImpactDerivedSubdistrict(b *testing.B) {
	s, sd, n := benchCity(b)
	ctx := context.Background()
	by := grids.Principal{User: "bench"}
	d, err := s.Create(ctx, by, sd, "bench impact")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if cur, err := s.Get(ctx, d.ID); err == nil {
			s.Discard(ctx, d.ID, cur.ETag)
		}
	})
	area := 10000.0
	if d, err = s.Derive(ctx, by, d.ID, d.ETag, drafts.DeriveInput{TargetArea: &area}); err != nil {
		b.Fatal(err)
	}
	var im drafts.Impact
	b.ReportAllocs()
	for b.Loop() {
		if im, err = s.Impact(ctx, d.ID); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "grids")
	b.ReportMetric(float64(len(im.Cases)), "cases")
	b.ReportMetric(float64(len(im.Objects)), "objects")
}
