package api_test

import (
	"context"
	"encoding/json"
	"testing"
)

func (e *env) gridCheck(region string) (map[string]float64, []map[string]any) {
	e.t.Helper()
	r := e.do("GET", "/api/v1/grids/check?region="+region, adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("check: %d %s", r.status, r.body)
	}
	var fc struct {
		Features []struct{ Properties map[string]any }
		Summary  struct{ Findings map[string]float64 }
	}
	if err := json.Unmarshal(r.body, &fc); err != nil {
		e.t.Fatalf("not GeoJSON: %v", err)
	}
	var props []map[string]any
	for _, f := range fc.Features {
		props = append(props, f.Properties)
	}
	return fc.Summary.Findings, props
}

func TestGridCheck(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	var district string
	e.store.Pool().QueryRow(ctx, `SELECT code FROM regions WHERE level = 'district' ORDER BY code LIMIT 1`).Scan(&district)
	counts, _ := e.gridCheck(district)
	for kind, n := range counts {
		if n != 0 {
			t.Errorf("the generated city has %v %s findings", n, kind)
		}
	}
	// Grow one inner grid over its neighbours and shrink another.
	var grown, shrunk string
	e.store.Pool().QueryRow(ctx, `SELECT g.code FROM grids g JOIN regions c ON c.id = g.community_id
		WHERE c.code LIKE $1 || '%' AND ST_Within(ST_Buffer(g.geom, 0.0003), c.geom) ORDER BY g.code LIMIT 1`, district).Scan(&grown)
	e.store.Pool().QueryRow(ctx, `SELECT g.code FROM grids g WHERE g.code LIKE $1 || '%' AND g.code <> $2
		AND NOT ST_Intersects(g.geom, (SELECT ST_Buffer(geom, 0.001) FROM grids WHERE code = $2)) ORDER BY g.code DESC LIMIT 1`, district, grown).Scan(&shrunk)
	if _, err := e.store.Pool().Exec(ctx, `UPDATE grids SET geom = ST_Buffer(geom, 0.0002, 'join=mitre') WHERE code = $1 AND valid_to IS NULL`, grown); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Pool().Exec(ctx, `
		UPDATE grids SET geom = ST_Translate(ST_Scale(ST_Translate(geom, -ST_X(ST_Centroid(geom)), -ST_Y(ST_Centroid(geom))), 0.3, 0.3),
		                                     ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)))
		WHERE code = $1 AND valid_to IS NULL`, shrunk); err != nil {
		t.Fatal(err)
	}
	counts, props := e.gridCheck(district)
	if counts["overlap"] < 2 || counts["gap"] < 1 || counts["too_small"] != 1 {
		t.Errorf("after breaking two grids: %v", counts)
	}
	sawGrown := false
	for _, p := range props {
		if p["kind"] == "overlap" {
			for _, g := range p["grids"].([]any) {
				sawGrown = sawGrown || g == grown
			}
		}
	}
	if !sawGrown {
		t.Errorf("no overlap names grid %s", grown)
	}
	if all, _ := e.gridCheck(""); all["overlap"] != counts["overlap"] {
		t.Errorf("whole city %v, district %v", all, counts)
	}
	if r := e.do("GET", "/api/v1/grids/check?region=999999", adminToken, nil); r.status != 422 {
		t.Errorf("unknown region: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/grids/"+grown, adminToken, nil); r.status != 200 {
		t.Errorf("get grid: %d", r.status)
	}
	if list := e.do("GET", "/api/v1/grids?region="+district+"&limit=1", adminToken, nil).json(t); list["total"].(float64) < 100 {
		t.Errorf("grids of %s: %v", district, list["total"])
	}
}
