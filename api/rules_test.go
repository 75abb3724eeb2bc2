package api_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/paulmach/orb"
)

func TestProximityRules(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	list := e.do("GET", "/api/v1/rules", adminToken, nil).json(t)["items"].([]any)
	if len(list) != 2 {
		t.Fatalf("seeded rules: %v", list)
	}
	// A KTV opens about 100 m east of a school.
	s := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(geom) c FROM objects WHERE layer = 'school' ORDER BY id LIMIT 1) x`)
	ktv := orb.Point{s[0] + 100/(111320*math.Cos(s[1]*math.Pi/180)), s[1]}
	r := e.do("POST", "/api/v1/objects", adminToken, map[string]any{"layer": "entertainment", "name": "新开KTV",
		"geometry": map[string]any{"type": "Point", "coordinates": []float64{ktv[0], ktv[1]}}})
	if r.status != 201 {
		t.Fatalf("ktv: %d %s", r.status, r.body)
	}
	ktvID := r.json(t)["id"].(float64)
	var m struct {
		Total int
		Items []struct {
			Source    struct{ ID float64 }
			Target    struct{ Layer string }
			DistanceM float64 `json:"distance_m"`
		}
	}
	r = e.do("GET", "/api/v1/rules/1/matches", adminToken, nil)
	if err := json.Unmarshal(r.body, &m); err != nil || r.status != 200 {
		t.Fatalf("matches: %d %s", r.status, r.body)
	}
	found := false
	for _, it := range m.Items {
		if it.Source.ID == ktvID {
			found = true
			if it.Target.Layer != "school" || it.DistanceM > 100 || it.DistanceM < 50 {
				t.Errorf("KTV match: %+v", it)
			}
		}
	}
	if !found {
		t.Errorf("the KTV 100 m from a school is not a match: %s", r.body)
	}
	// The priority rule's pairs equal an independent count.
	var want int
	e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM objects s JOIN objects t ON t.layer IN ('market', 'station', 'school')
		AND ST_DWithin(s.geom::geography, t.geom::geography, 300) WHERE s.layer = 'compound'`).Scan(&want)
	r = e.do("GET", "/api/v1/rules/2/matches?limit=1", adminToken, nil)
	if got := int(r.json(t)["total"].(float64)); got != want || want == 0 {
		t.Errorf("priority rule: %d pairs, PostGIS counts %d", got, want)
	}
	g := e.do("GET", "/api/v1/rules/1/matches.geojson", adminToken, nil)
	var fc struct {
		Features []struct{ Properties map[string]any }
	}
	if err := json.Unmarshal(g.body, &fc); err != nil || g.status != 200 {
		t.Fatalf("matches.geojson: %d %.200s", g.status, g.body)
	}
	kinds := map[string]int{}
	for _, f := range fc.Features {
		kinds[f.Properties["kind"].(string)]++
	}
	if kinds["match"] == 0 || kinds["zone"] == 0 {
		t.Errorf("geojson kinds %v", kinds)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"name": "x", "kind": "forbidden", "source_layers": []string{"nope"}, "target_layers": []string{"school"}, "distance_m": 100}, "source_layers"},
		{map[string]any{"name": "x", "kind": "forbidden", "source_layers": []string{"shop"}, "target_layers": []string{"school"}, "distance_m": 0}, "distance_m"},
		{map[string]any{"name": "x", "kind": "maybe", "source_layers": []string{"shop"}, "target_layers": []string{"school"}, "distance_m": 50}, "kind"},
	} {
		r := e.do("POST", "/api/v1/rules", adminToken, c.body)
		if _, field := r.errField(t); r.status != 422 || field != c.field {
			t.Errorf("%v: %d %q", c.body, r.status, field)
		}
	}
	r = e.do("POST", "/api/v1/rules", adminToken, map[string]any{"name": "商铺50米内无垃圾站", "kind": "forbidden",
		"source_layers": []string{"shop"}, "target_layers": []string{"toilet"}, "distance_m": 50})
	if r.status != 201 {
		t.Fatalf("create rule: %d %s", r.status, r.body)
	}
	if r := e.do("PATCH", "/api/v1/rules/3", adminToken, map[string]any{"distance_m": 80}); r.status != 200 || r.json(t)["distance_m"].(float64) != 80 {
		t.Errorf("patch rule: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/rules/99/matches", adminToken, nil); r.status != 404 {
		t.Errorf("unknown rule: %d", r.status)
	}
}
