package api_test

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

func beijingEnv(t *testing.T) *env {
	t.Helper()
	return serverOn(t, beijingPool(t))
}

// beijingPool is a connection pool on a fresh copy of the Beijing demo.
func beijingPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	root := filepath.Dir(filepath.Dir(testdb.SharedData(t, "beijing/districts_gcj02.geojson")))
	url := testdb.Seeded(t, "beijing", func(ctx context.Context, url string) error {
		pool, err := db.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer pool.Close()
		return derive.NewStore(grids.NewStore(pool, grids.DefaultCodeRules())).BuildRealCity(ctx, derive.RealCities()["beijing"], root, func(string) {})
	})
	pool, err := db.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func (e *env) coverage(theme, region string) coverage.Coverage {
	e.t.Helper()
	r := e.do("GET", "/api/v1/coverage?theme="+theme+"&region="+region, adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("coverage: %d %s", r.status, r.body)
	}
	var c coverage.Coverage
	if err := json.Unmarshal(r.body, &c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

type gapFeature struct {
	Properties map[string]any
}

func (e *env) gaps(theme, region string) []gapFeature {
	e.t.Helper()
	r := e.do("GET", "/api/v1/coverage/gaps.geojson?theme="+theme+"&region="+region, adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("gaps: %d %s", r.status, r.body)
	}
	var fc struct{ Features []gapFeature }
	if err := json.Unmarshal(r.body, &fc); err != nil {
		e.t.Fatalf("gaps.geojson is not JSON: %v\n%.300s", err, r.body)
	}
	return fc.Features
}

// The Beijing demo starts with alleys that have no road chief; the bulk call
// assigns them and road-chief coverage reaches 1.0.
func TestCoverageRoadChiefBeijing(t *testing.T) {
	e := beijingEnv(t)
	before := e.coverage("road_chief", "110108")
	if before.Scope != "objects" || before.Ratio >= 1 {
		t.Fatalf("before: scope %s ratio %.3f", before.Scope, before.Ratio)
	}
	alleysWithout := 0
	for _, f := range e.gaps("road_chief", "110108") {
		if f.Properties["kind"] == "unassigned_object" && f.Properties["layer"] == "alley" {
			alleysWithout++
		}
	}
	if alleysWithout < 100 {
		t.Errorf("%d alleys without a road chief in gaps.geojson, want the demo's hundreds", alleysWithout)
	}
	r := e.do("POST", "/api/v1/assignments/bulk", adminToken, map[string]any{"theme": "road_chief", "unit": "CG", "role": "lead", "region": "110108", "layer": "alley"})
	if r.status != 200 {
		t.Fatalf("bulk: %d %s", r.status, r.body)
	}
	after := e.coverage("road_chief", "110108")
	if after.Ratio != 1 {
		t.Errorf("after the bulk call: ratio %.4f, lines %+v, objects %+v", after.Ratio, after.Lines, after.Objects)
	}
	for _, f := range e.gaps("road_chief", "110108") {
		if f.Properties["kind"] == "unassigned_object" {
			t.Errorf("still unassigned: %v", f.Properties)
			break
		}
	}
}

// Coverage figures equal an independent PostGIS computation written here.
func TestCoverageFiguresBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	var sd string
	e.store.Pool().QueryRow(ctx, `SELECT r.code FROM regions r WHERE r.level = 'subdistrict'
		AND EXISTS (SELECT 1 FROM regions c JOIN grids g ON g.community_id = c.id WHERE c.parent_id = r.id) ORDER BY r.code LIMIT 1`).Scan(&sd)
	// Leave some grids without a sanitation lead.
	e.store.Pool().Exec(ctx, `UPDATE assignments SET valid_to = now() WHERE theme_code = 'sanitation' AND role = 'lead'
		AND grid_code IN (SELECT code FROM grids ORDER BY md5(code) LIMIT 300)`)
	c := e.coverage("sanitation", sd)
	var area, covered float64
	err := e.store.Pool().QueryRow(ctx, `
		SELECT r.area_m2, COALESCE(ST_Area(ST_Intersection(ST_Union(g.geom), r.geom)::geography), 0)
		FROM regions r LEFT JOIN grids g ON g.valid_to IS NULL AND ST_Intersects(g.geom, r.geom) AND EXISTS (
			SELECT 1 FROM assignments a WHERE a.grid_code = g.code AND a.theme_code = 'sanitation' AND a.role = 'lead' AND a.valid_to IS NULL)
		WHERE r.code = $1 GROUP BY r.area_m2, r.geom`, sd).Scan(&area, &covered)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.RegionAreaM2-area) > area*0.001 || math.Abs(c.Area.CoveredM2-covered) > area*0.001 {
		t.Errorf("region %.0f vs %.0f m², covered %.0f vs %.0f m²", c.RegionAreaM2, area, c.Area.CoveredM2, covered)
	}
	// Coverage measures areas in an equal-area projection, so they add up:
	// the gaps are the region minus the covered area, to 1 m² a gap.
	if c.Area.Gaps == 0 || math.Abs(c.Area.GapM2-(c.RegionAreaM2-c.Area.CoveredM2)) > float64(c.Area.Gaps)+1 {
		t.Errorf("%d gaps of %.1f m², region minus covered %.1f m²", c.Area.Gaps, c.Area.GapM2, c.RegionAreaM2-c.Area.CoveredM2)
	}
	var gapSum, allGaps float64
	nAll := 0
	for _, f := range e.gaps("sanitation", sd) {
		if f.Properties["kind"] == "gap" {
			gapSum += f.Properties["area_m2"].(float64)
		}
	}
	r := e.do("GET", "/api/v1/coverage/gaps.geojson?theme=sanitation&min_area_m2=0&region="+sd, adminToken, nil)
	var all struct{ Features []gapFeature }
	json.Unmarshal(r.body, &all)
	for _, f := range all.Features {
		if f.Properties["kind"] == "gap" {
			allGaps += f.Properties["area_m2"].(float64)
			nAll++
		}
	}
	if math.Abs(allGaps-(c.RegionAreaM2-c.Area.CoveredM2)) > float64(nAll)+1 {
		t.Errorf("all %d gaps: %.2f m²; region minus covered: %.2f m²", nAll, allGaps, c.RegionAreaM2-c.Area.CoveredM2)
	}
	if math.Abs(gapSum-c.Area.GapM2) > float64(c.Area.Gaps)+1 { // the same polygons, summed twice
		t.Errorf("gaps.geojson areas sum to %.1f m², coverage says %.1f", gapSum, c.Area.GapM2)
	}
	if r := e.do("GET", "/api/v1/coverage?region="+sd, adminToken, nil); r.status != 400 {
		t.Errorf("no theme: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/coverage?theme=sanitation&region=999999", adminToken, nil); r.status != 422 {
		t.Errorf("unknown region: %d", r.status)
	}
	city := e.coverage("sanitation", "")
	if city.RegionAreaM2 < 5e8 || city.Region.Code != "" { // 东城, 西城 and 海淀: about 523 km²
		t.Errorf("whole city: %+v", city.Region)
	}
	if r := e.do("GET", "/api/v1/coverage?theme=nope&region="+sd, adminToken, nil); r.status != 422 {
		t.Errorf("unknown theme: %d", r.status)
	}
}

// An object whose middle lies on a region's edge is led only if a lead
// covers that point: with no territorial lead at all (road chief), an alley
// along a community boundary is unassigned, in the city and in both
// communities.
func TestCoverageMiddleOnBoundary(t *testing.T) {
	e := cityEnv(t)
	var id float64
	var community string
	err := e.store.Pool().QueryRow(context.Background(), `
		SELECT o.id, c.code FROM objects o JOIN regions c ON c.level = 'community'
		  AND ST_Intersects(ST_Boundary(c.geom), ST_PointOnSurface(o.geom))
		WHERE o.layer = 'alley' AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.object_id = o.id AND a.theme_code = 'road_chief')
		ORDER BY o.id LIMIT 1`).Scan(&id, &community)
	if err != nil {
		t.Fatalf("an alley whose middle is on a community boundary: %v", err)
	}
	for _, region := range []string{"", community} {
		found := false
		for _, f := range e.gaps("road_chief", region) {
			found = found || (f.Properties["kind"] == "unassigned_object" && f.Properties["object_id"] == id)
		}
		if !found {
			t.Errorf("region %q: alley %v (middle on a boundary, no road chief) is not listed as unassigned", region, id)
		}
	}
}
