package derive_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

// tilingError returns, for the region, |Σ grid areas − region area| and the
// area of the symmetric difference between the grids' union and the region,
// both relative to the region's area.
func tilingError(t *testing.T, s *grids.Store, community string) (sumErr, symErr float64, n int) {
	t.Helper()
	err := s.Pool().QueryRow(context.Background(), `
		SELECT abs(sum(g.area_m2) - r.area_m2) / r.area_m2,
		       ST_Area(ST_SymDifference(ST_Union(g.geom), r.geom)::geography) / r.area_m2,
		       count(*)
		FROM regions r JOIN grids g ON g.community_id = r.id AND g.valid_to IS NULL
		WHERE r.code = @code GROUP BY r.area_m2, r.geom`, pgx.NamedArgs{"code": community}).Scan(&sumErr, &symErr, &n)
	if err != nil {
		t.Fatalf("tiling of %s: %v", community, err)
	}
	return
}

// Grids follow the streets: no street runs through a grid's interior, the
// grids tile the community, and their sizes keep to the guideline.
func TestDeriveGridsAlongStreets(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	for _, r := range []grids.RegionInput{
		{Code: gridstest.Ptr("110108"), Name: gridstest.Ptr("海淀区"), Level: gridstest.Ptr("district"), Geometry: gridstest.Square(116.29, 39.97, 0.03)},
		{Code: gridstest.Ptr("110108001000"), Name: gridstest.Ptr("街道"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.30, 39.98, 0.01)},
		// About 855 m x 1,110 m: 0.95 km², so about 95 grids of 10,000 m².
		{Code: gridstest.Ptr("110108001001"), Name: gridstest.Ptr("社区"), Level: gridstest.Ptr("community"), Parent: gridstest.Ptr("110108001000"), Geometry: gridstest.Square(116.30, 39.98, 0.01)},
	} {
		if _, err := s.CreateRegion(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	streets := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","id":"s1","properties":{"layer":"street","name":"南北大街"},"geometry":{"type":"LineString","coordinates":[[116.3043,39.975],[116.3047,39.995]]}},
	 {"type":"Feature","id":"s2","properties":{"layer":"street","name":"东西大街"},"geometry":{"type":"LineString","coordinates":[[116.295,39.9861],[116.315,39.9858]]}},
	 {"type":"Feature","id":"a1","properties":{"layer":"alley","name":"死胡同"},"geometry":{"type":"LineString","coordinates":[[116.3080,39.9861],[116.3081,39.9830]]}}]}`
	if _, err := gridstest.ImportString(t, s, streets, ingest.ImportOptions{Kind: "objects"}); err != nil {
		t.Fatal(err)
	}
	res, err := derive.NewStore(s).DeriveGrids(ctx, "110108001001", derive.DeriveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Grids < 60 || res.Grids > 140 {
		t.Errorf("%d grids for 0.95 km², want about 95", res.Grids)
	}
	sumErr, symErr, n := tilingError(t, s, "110108001001")
	if sumErr > 1e-4 || symErr > 1e-4 || n != res.Grids {
		t.Errorf("tiling: area sums off by %.6f%%, union off by %.6f%%", 100*sumErr, 100*symErr)
	}
	// Metres of main street inside grid interiors (grids shrunk by about
	// 1 m, so that floating-point noise along shared edges does not count).
	var through float64
	s.Pool().QueryRow(ctx, `
		SELECT COALESCE(sum(ST_Length(ST_Intersection(o.geom, ST_Buffer(g.geom, -0.00001))::geography)), 0)
		FROM grids g JOIN objects o ON o.layer = 'street' AND ST_Intersects(g.geom, o.geom)
		WHERE g.valid_to IS NULL`).Scan(&through)
	if through > 0 {
		t.Errorf("%.1f m of main street run through grid interiors", through)
	}
	var small, big int
	var first string
	s.Pool().QueryRow(ctx, `SELECT count(*) FILTER (WHERE area_m2 < 3000), count(*) FILTER (WHERE area_m2 > 30000) FROM grids`).Scan(&small, &big)
	if small > 0 || big > n/20 {
		t.Errorf("%d grids under 0.3× and %d over 3× the target", small, big)
	}
	// Numbered west to east, north to south: 001 is in the north-west.
	s.Pool().QueryRow(ctx, `
		SELECT code FROM grids ORDER BY ST_Y(ST_Centroid(geom)) DESC, ST_X(ST_Centroid(geom)) LIMIT 1`).Scan(&first)
	var firstRow bool
	s.Pool().QueryRow(ctx, `
		SELECT ST_Y(ST_Centroid(geom)) > (SELECT max(ST_Y(ST_Centroid(geom))) FROM grids) - 0.0015
		FROM grids WHERE code = '110108001001001'`).Scan(&firstRow)
	if !firstRow || !strings.HasPrefix(first, "110108001001") {
		t.Errorf("grid 001 is not in the northern row (northernmost is %s)", first)
	}
	// Deriving again leaves the drawn grids alone unless asked to redraw.
	again, err := derive.NewStore(s).DeriveGrids(ctx, "110108001001", derive.DeriveOptions{})
	if err != nil || again.Grids != 0 {
		t.Errorf("second derive: %+v %v", again, err)
	}
	redraw, err := derive.NewStore(s).DeriveGrids(ctx, "110108001001", derive.DeriveOptions{Replace: true, TargetArea: 40000})
	if err != nil || redraw.Replaced != n || redraw.Grids >= n {
		t.Errorf("redraw at 40,000 m²: %+v %v", redraw, err)
	}
}

// The Beijing demo from the real data: Haidian's subdistricts tile the
// district, every street of zhongguancun.osm starts inside Haidian, every
// gridded community is tiled exactly, the defaults leave alleys without a
// road chief, and building it again changes nothing.
func TestDemoBeijing(t *testing.T) {
	if testing.Short() {
		t.Skip("the Beijing demo takes about a minute; not in -short")
	}
	ctx := context.Background()
	s := gridstest.NewStore(t)
	root := filepath.Dir(filepath.Dir(testdb.SharedData(t, "beijing/districts_gcj02.geojson")))
	say := func(m string) { t.Log(m) }
	if err := derive.NewStore(s).BuildRealCity(ctx, derive.RealCities()["beijing"], root, say); err != nil {
		t.Fatal(err)
	}
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	var subdistricts int
	var sumErr float64
	q(`SELECT count(*), abs(sum(c.area_m2) - max(d.area_m2)) / max(d.area_m2)
	   FROM regions c JOIN regions d ON d.id = c.parent_id WHERE d.code = '110108'`, &subdistricts, &sumErr)
	if subdistricts != 19 || sumErr > 1e-4 {
		t.Errorf("%d subdistricts, area sum off by %.5f%%", subdistricts, 100*sumErr)
	}
	// The first node of every street way of zhongguancun.osm.
	var streets, outside int
	q(`SELECT count(*), count(*) FILTER (WHERE NOT ST_Covers(d.geom, ST_StartPoint(o.geom)))
	   FROM objects o, regions d
	   WHERE d.code = '110108' AND o.layer = 'street' AND o.source = 'osm'
	     AND ST_Intersects(o.geom, ST_MakeEnvelope(116.3084, 39.9905, 116.3320, 40.0123, 4326))`, &streets, &outside)
	if streets < 50 || outside != 0 {
		t.Errorf("%d streets, %d start outside 海淀区", streets, outside)
	}
	rows, err := s.Pool().Query(ctx, `SELECT DISTINCT r.code FROM regions r JOIN grids g ON g.community_id = r.id`)
	if err != nil {
		t.Fatal(err)
	}
	communities, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(communities) < 10 {
		t.Fatalf("%d gridded communities: %v", len(communities), err)
	}
	for _, c := range communities {
		if sumErr, symErr, _ := tilingError(t, s, c); sumErr > 1e-4 || symErr > 1e-4 {
			t.Errorf("community %s: grid areas off by %.5f%%, union off by %.5f%%", c, 100*sumErr, 100*symErr)
		}
	}
	var overlaps float64
	q(`SELECT COALESCE(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
	   FROM grids a JOIN grids b ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
	   WHERE a.valid_to IS NULL AND b.valid_to IS NULL AND ST_Relate(a.geom, b.geom, '2********')`, &overlaps)
	if overlaps > 1 {
		t.Errorf("grids overlap by %.1f m²", overlaps)
	}
	var alleys, alleyChiefs, gridSanitation, grids_ int
	q(`SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.object_id = o.id AND a.theme_code = 'road_chief'))
	   FROM objects o WHERE o.layer = 'alley'`, &alleys, &alleyChiefs)
	q(`SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM assignments a WHERE a.grid_code = g.code AND a.theme_code = 'sanitation' AND a.role = 'lead'))
	   FROM grids g WHERE g.valid_to IS NULL`, &grids_, &gridSanitation)
	if alleys < 100 || alleyChiefs != 0 || gridSanitation != grids_ {
		t.Errorf("alleys %d (with road chief %d), grids %d (with sanitation lead %d)", alleys, alleyChiefs, grids_, gridSanitation)
	}
	var before, after int
	q(`SELECT (SELECT count(*) FROM grids) + (SELECT count(*) FROM objects) + (SELECT count(*) FROM assignments) + (SELECT count(*) FROM regions)`, &before)
	if err := derive.NewStore(s).BuildRealCity(ctx, derive.RealCities()["beijing"], root, say); err != nil {
		t.Fatal(err)
	}
	q(`SELECT (SELECT count(*) FROM grids) + (SELECT count(*) FROM objects) + (SELECT count(*) FROM assignments) + (SELECT count(*) FROM regions)`, &after)
	if before != after {
		t.Errorf("building again changed the row count from %d to %d", before, after)
	}
}
