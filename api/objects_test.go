package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/citygrid/citygrid/grids"
)

func TestObjectsAndGridInventory(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	// A main street crossing many grids: it is in each, with its share.
	var id int64
	var length float64
	e.store.Pool().QueryRow(ctx, `SELECT id, length_m FROM objects WHERE layer = 'street' ORDER BY length_m DESC LIMIT 1`).Scan(&id, &length)
	r := e.do("GET", fmt.Sprintf("/api/v1/objects/%d", id), adminToken, nil)
	if r.status != 200 {
		t.Fatalf("get: %d %s", r.status, r.body)
	}
	var o grids.Object
	if err := jsonUnmarshal(r.body, &o); err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, g := range o.Grids {
		sum += *g.LengthM
	}
	if len(o.Grids) < 5 || math.Abs(sum-length) > length*1e-4 {
		t.Errorf("street of %.1f m: %d grids, shares sum to %.1f m", length, len(o.Grids), sum)
	}
	// The first of those grids lists the street with the same share.
	inv := e.do("GET", "/api/v1/grids/"+o.Grids[0].Grid+"/objects", adminToken, nil)
	var gi grids.GridInventory
	if err := jsonUnmarshal(inv.body, &gi); err != nil || inv.status != 200 {
		t.Fatalf("inventory: %d %s", inv.status, inv.body)
	}
	found := false
	for _, x := range gi.Objects {
		if x.ID == id {
			found = true
			if math.Abs(*x.LengthM-*o.Grids[0].LengthM) > 0.01 {
				t.Errorf("grid share %.2f vs object share %.2f", *x.LengthM, *o.Grids[0].LengthM)
			}
		}
	}
	if !found || gi.Totals["street"].Count == 0 || gi.Totals["component"].Count == 0 {
		t.Errorf("inventory of %s: found street %v, totals %+v", gi.Grid.Code, found, gi.Totals)
	}

	// Create, change, delete; a referenced object cannot be deleted.
	p := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids ORDER BY code LIMIT 1) x`)
	body := map[string]any{"layer": "toilet", "name": "新建公厕", "category": "C0301",
		"geometry": map[string]any{"type": "Point", "coordinates": []float64{p[0], p[1]}}}
	r = e.do("POST", "/api/v1/objects", adminToken, body)
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	newID := int64(r.json(t)["id"].(float64))
	if r := e.do("PATCH", fmt.Sprintf("/api/v1/objects/%d", newID), adminToken, map[string]any{"name": "改名公厕"}); r.status != 200 || r.json(t)["name"] != "改名公厕" {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/objects/%d", newID), adminToken, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/objects/%d", id), adminToken, nil); r.status != 409 {
		t.Errorf("delete a street with a road chief: %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"layer": "nope", "name": "x", "geometry": body["geometry"]}, "layer"},
		{map[string]any{"layer": "toilet", "name": "x", "category": "Z9", "geometry": body["geometry"]}, "category"},
		{map[string]any{"layer": "toilet", "name": "x", "geometry": map[string]any{"type": "Point", "coordinates": []float64{400, 95}}}, "geometry"},
		{map[string]any{"layer": "toilet", "name": "x"}, "geometry"},
	} {
		r := e.do("POST", "/api/v1/objects", adminToken, c.body)
		if _, field := r.errField(t); r.status != 422 || field != c.field {
			t.Errorf("%v: %d %q", c.body, r.status, field)
		}
	}
	list := e.do("GET", "/api/v1/objects?layer=market&limit=5", adminToken, nil).json(t)
	if list["total"].(float64) < 1 {
		t.Errorf("markets: %v", list)
	}
	if r := e.do("GET", "/api/v1/objects?region=000000", adminToken, nil); r.status != 422 {
		t.Errorf("unknown region: %d", r.status)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
