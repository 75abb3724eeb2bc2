package drafts_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

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
