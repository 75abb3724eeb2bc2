package cases_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/uber/h3-go/v4"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// Every grouping's query runs on an empty database and answers no rows.
func TestStatsEmpty(t *testing.T) {
	pool := testdb.Pool(t)
	s := cases.NewStore(grids.NewStore(pool, grids.DefaultCodeRules()), nil, cases.Config{})
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, s.Location())
	for _, by := range []string{cases.ByUnit, cases.ByGrid, cases.ByRegion, cases.ByCategory} {
		st, err := s.Stats(context.Background(), grids.Principal{Role: grids.RoleAnalyst}, cases.StatsQuery{From: from, To: from.AddDate(0, 1, 0), By: by})
		if err != nil || len(st.Rows) != 0 {
			t.Errorf("%s: %v %+v", by, err, st.Rows)
		}
	}
}

// benchCases opens the kept benchmark database of 1,000,000 cases over
// 2026 (CITYGRID_BENCH_CASES overrides), filling it once with SQL: 200
// units, 20,000 grids' worth of grid codes, reports at 20,000 spots
// clustered around 40 centres (markets, schools, stations), with their H3
// cells computed here once per spot, in every state of the loop.
func benchCases(b *testing.B) (*cases.Store, *pgxpool.Pool) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("CITYGRID_BENCH_CASES")); err == nil {
		n = v
	}
	url, _ := testdb.Kept(b, "cases"+strconv.Itoa(n))
	ctx := context.Background()
	pool, err := db.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var have int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cases`).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have != n {
		fillCases(b, pool, n)
	}
	return cases.NewStore(grids.NewStore(pool, grids.DefaultCodeRules()), nil, cases.Config{}), pool
}

func fillCases(b *testing.B, pool *pgxpool.Pool, n int) {
	ctx := context.Background()
	b.Logf("filling %d cases", n)
	rnd := rand.New(rand.NewPCG(1, 2))
	var spots [][]any
	for i := range 20_000 {
		centre := i % 40
		lon := 121.30 + 0.02*float64(centre%8) + rnd.NormFloat64()*0.004
		lat := 31.10 + 0.03*float64(centre/8) + rnd.NormFloat64()*0.004
		row := []any{i, lon, lat}
		for _, res := range cases.HotspotResolutions() {
			c, err := h3.LatLngToCell(h3.NewLatLng(lat, lon), res)
			if err != nil {
				b.Fatal(err)
			}
			row = append(row, int64(c))
		}
		spots = append(spots, row)
	}
	for _, q := range []string{
		`TRUNCATE cases`,
		`DROP TABLE IF EXISTS bench_spots`,
		`CREATE TABLE bench_spots (i int PRIMARY KEY, lon float8, lat float8, r6 bigint, r7 bigint, r8 bigint, r9 bigint, r10 bigint)`,
		`INSERT INTO units (code, name, kind) SELECT 'U' || g, '单位' || g, 'department' FROM generate_series(1, 200) g ON CONFLICT DO NOTHING`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"bench_spots"}, []string{"i", "lon", "lat", "r6", "r7", "r8", "r9", "r10"}, pgx.CopyFromRows(spots)); err != nil {
		b.Fatal(err)
	}
	// A case's fate by its draw: 5% reported, 5% registered, 10% in
	// handling, 5% handled, 5% verified, 65% closed, 3% cancelled, 2%
	// suspended; 85% handled on time, 90% registered on time, 8% returned
	// once, 6% reworked; limits of 1 to 15 days.
	_, err := pool.Exec(ctx, `
WITH d AS (
	SELECT g, random() AS fate, random() AS luck, (random() * 19999)::int AS spot,
	       timestamptz '2026-01-01 00:00:00+08' + random() * interval '365 days' AS at,
	       1 + (random() * 14)::int AS days, 1 + (random() * 199)::int AS unit
	  FROM generate_series(1, @n) g
), cat AS (
	SELECT array_agg(code ORDER BY code) AS codes FROM categories WHERE parent_code IS NOT NULL
), s AS (
	SELECT d.*, CASE WHEN fate < 0.05 THEN 'reported' WHEN fate < 0.10 THEN 'registered' WHEN fate < 0.20 THEN 'handling'
	            WHEN fate < 0.25 THEN 'handled' WHEN fate < 0.30 THEN 'verified' WHEN fate < 0.95 THEN 'closed'
	            WHEN fate < 0.98 THEN 'cancelled' ELSE 'suspended' END AS status
	  FROM d
)
INSERT INTO cases (code, reported_at, status, suspended_from, category_code, source, location_quality, geom, reported_by, grid_code,
	grid_version, district_code, subdistrict_code, community_code, routing, unit_id, first_unit_id, dispatch_count, return_count,
	rework_count, limit_days, registered_at, registered_on_time, dispatched_at, due_at, clock_from, handled_at, handled_on_time,
	handle_s, verified_at, closed_at, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10)
SELECT 'B-' || g, at, status, CASE WHEN status = 'suspended' THEN 'handling' END,
       cat.codes[1 + (g % array_length(cat.codes, 1))], (ARRAY['inspector','hotline','citizen','patrol'])[1 + g % 4], 'gps',
       ST_SetSRID(ST_MakePoint(sp.lon, sp.lat), 4326), 'bench', 'G' || (spot % 20000), 1,
       '3101' || lpad((spot % 16)::text, 2, '0'), '3101' || lpad((spot % 16)::text, 2, '0') || lpad((spot % 200)::text, 3, '0'),
       '3101' || lpad((spot % 16)::text, 2, '0') || lpad((spot % 2000)::text, 6, '0'), '{}',
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled') THEN u.id END,
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled') THEN CASE WHEN luck < 0.08 THEN u2.id ELSE u.id END END,
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled') THEN CASE WHEN luck < 0.08 THEN 2 ELSE 1 END ELSE 0 END,
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled') AND luck < 0.08 THEN 1 ELSE 0 END,
       CASE WHEN status IN ('verified', 'closed') AND luck > 0.94 THEN 1 ELSE 0 END,
       days,
       CASE WHEN status <> 'reported' THEN at + (luck * interval '2 hours') END,
       CASE WHEN status <> 'reported' THEN luck < 0.9 END,
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled') THEN at + interval '3 hours' END,
       CASE WHEN status NOT IN ('reported', 'registered', 'cancelled', 'suspended') THEN at + interval '3 hours' + days * interval '1 day' END,
       CASE WHEN status = 'handling' THEN at + interval '3 hours' END,
       CASE WHEN status IN ('handled', 'verified', 'closed') THEN at + interval '3 hours' + luck * 1.2 * days * interval '1 day' END,
       CASE WHEN status IN ('handled', 'verified', 'closed') THEN luck < 0.85 END,
       CASE WHEN status IN ('handled', 'verified', 'closed') THEN (luck * 1.2 * days * 86400)::bigint END,
       CASE WHEN status IN ('verified', 'closed') THEN at + (days + 1) * interval '1 day' END,
       CASE WHEN status = 'closed' THEN at + (days + 2) * interval '1 day' END,
       sp.r6, sp.r7, sp.r8, sp.r9, sp.r10
  FROM s JOIN bench_spots sp ON sp.i = s.spot
  JOIN units u ON u.code = 'U' || s.unit JOIN units u2 ON u2.code = 'U' || (s.unit % 200 + 1) CROSS JOIN cat`, pgx.NamedArgs{"n": n})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE cases`); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStatsMonth evaluates November 2026 of the benchmark's cases per
// unit, grid and subdistrict: the target is under 1 s.
func BenchmarkStatsMonth(b *testing.B) {
	s, _ := benchCases(b)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, s.Location())
	for _, by := range []string{cases.ByUnit, cases.ByGrid, cases.ByRegion, cases.ByCategory} {
		b.Run(by, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st, err := s.Stats(context.Background(), grids.Principal{Role: grids.RoleAnalyst},
					cases.StatsQuery{From: from, To: from.AddDate(0, 1, 0), By: by})
				if err != nil || len(st.Rows) == 0 {
					b.Fatal(err, len(st.Rows))
				}
			}
		})
	}
}

// BenchmarkHotspotsCity aggregates every case of the city (1,000,000)
// into H3 cells, and the open ones alone: the target is under 1 s.
func BenchmarkHotspotsCity(b *testing.B) {
	s, _ := benchCases(b)
	h, err := cases.NewHotspots(s, 0)
	if err != nil {
		b.Fatal(err)
	}
	open := []cases.Status{cases.Registered, cases.Dispatched, cases.Handling, cases.Handled, cases.Verified, cases.Suspended}
	for _, c := range []struct {
		name string
		res  int
		f    cases.Filter
	}{{"all/r8", 8, cases.Filter{}}, {"all/r10", 10, cases.Filter{}}, {"open/r9", 9, cases.Filter{Status: open}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := h.Query(context.Background(), grids.Principal{Role: grids.RoleAnalyst}, c.f, c.res)
				if err != nil || len(out) == 0 {
					b.Fatal(err, len(out))
				}
			}
		})
	}
}
