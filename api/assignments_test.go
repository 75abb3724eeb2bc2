package api_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestAssignments(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	var grid, alley, market string
	var alleyLen float64
	e.store.Pool().QueryRow(ctx, `SELECT code FROM grids g WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.grid_code = g.code AND a.theme_code = 'greening') ORDER BY code LIMIT 1`).Scan(&grid)
	e.store.Pool().QueryRow(ctx, `SELECT id::text, length_m FROM objects WHERE layer = 'alley' AND length_m > 150 ORDER BY id LIMIT 1`).Scan(&alley, &alleyLen)
	e.store.Pool().QueryRow(ctx, `SELECT id::text FROM objects WHERE layer = 'market' ORDER BY id LIMIT 1`).Scan(&market)
	post := func(body map[string]any) response { return e.do("POST", "/api/v1/assignments", adminToken, body) }

	r := post(map[string]any{"theme": "greening", "unit": "YL", "role": "lead", "target_kind": "grid", "target": grid})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	first := int(r.json(t)["id"].(float64))
	r = post(map[string]any{"theme": "greening", "unit": "CG", "role": "lead", "target_kind": "grid", "target": grid})
	if code, field := r.errField(t); r.status != 409 || field != "role" || code != "conflict" {
		t.Errorf("second lead: %d %s", r.status, r.body)
	} else if msg := r.json(t)["error"].(map[string]any)["message"].(string); !contains(msg, strconv.Itoa(first)) {
		t.Errorf("the conflict does not name assignment %d: %s", first, msg)
	}
	if r := post(map[string]any{"theme": "greening", "unit": "CG", "role": "support", "target_kind": "grid", "target": grid}); r.status != 201 {
		t.Errorf("support: %d %s", r.status, r.body)
	}
	// Road chiefs for two stretches of one alley; a third overlapping one is refused.
	half := alleyLen / 2
	if r := post(map[string]any{"theme": "road_chief", "unit": "CG", "role": "lead", "target_kind": "object", "target": alley, "from_m": 0, "to_m": half}); r.status != 201 {
		t.Fatalf("first stretch: %d %s", r.status, r.body)
	}
	if r := post(map[string]any{"theme": "road_chief", "unit": "JJ", "role": "lead", "target_kind": "object", "target": alley, "from_m": half, "to_m": alleyLen}); r.status != 201 {
		t.Errorf("second stretch: %d %s", r.status, r.body)
	}
	if r := post(map[string]any{"theme": "road_chief", "unit": "ZJ", "role": "lead", "target_kind": "object", "target": alley, "from_m": half - 10, "to_m": half + 10}); r.status != 409 {
		t.Errorf("overlapping stretch: %d %s", r.status, r.body)
	}
	rows := e.count("assignments")
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"theme": "nope", "unit": "CG", "role": "lead", "target_kind": "grid", "target": grid}, "theme"},
		{map[string]any{"theme": "greening", "unit": "NOPE", "role": "lead", "target_kind": "grid", "target": grid}, "unit"},
		{map[string]any{"theme": "greening", "unit": "CG", "role": "boss", "target_kind": "grid", "target": grid}, "role"},
		{map[string]any{"theme": "greening", "unit": "CG", "role": "lead", "target_kind": "grid", "target": "990101999999999"}, "target"},
		{map[string]any{"theme": "greening", "unit": "CG", "role": "lead", "target_kind": "object", "target": "99999999"}, "target"},
		{map[string]any{"theme": "greening", "unit": "CG", "role": "lead", "target_kind": "street", "target": "1"}, "target_kind"},
		{map[string]any{"theme": "road_chief", "unit": "CG", "role": "support", "target_kind": "object", "target": alley, "from_m": 0, "to_m": alleyLen + 50}, "to_m"},
		{map[string]any{"theme": "road_chief", "unit": "CG", "role": "support", "target_kind": "object", "target": alley, "from_m": 40, "to_m": 20}, "to_m"},
		{map[string]any{"theme": "sanitation", "unit": "CG", "role": "support", "target_kind": "object", "target": market, "from_m": 0, "to_m": 5}, "from_m"},
	} {
		r := post(c.body)
		if _, field := r.errField(t); r.status != 422 || field != c.field {
			t.Errorf("%v: %d field %q, want 422 %q: %s", c.body, r.status, field, c.field, r.body)
		}
	}
	if e.count("assignments") != rows {
		t.Error("refused assignments wrote rows")
	}

	// Changing keeps history: the old row ends, the new starts.
	before := time.Now().UTC().Add(-time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	r = e.do("PATCH", fmt.Sprintf("/api/v1/assignments/%d", first), adminToken, map[string]any{"unit": "HW"})
	if r.status != 200 || r.json(t)["unit"] != "HW" {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	live := e.do("GET", "/api/v1/assignments?theme=greening&target_kind=grid&role=lead&target="+grid, adminToken, nil).json(t)
	then := e.do("GET", "/api/v1/assignments?theme=greening&target_kind=grid&role=lead&target="+grid+"&at="+before.Format(time.RFC3339Nano), adminToken, nil).json(t)
	if live["total"].(float64) != 1 || live["items"].([]any)[0].(map[string]any)["unit"] != "HW" {
		t.Errorf("live after change: %v", live)
	}
	if then["total"].(float64) != 1 || then["items"].([]any)[0].(map[string]any)["unit"] != "YL" {
		t.Errorf("as of before the change: %v", then)
	}
	succ := int(r.json(t)["id"].(float64))
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/assignments/%d", succ), adminToken, nil); r.status != 200 || r.json(t)["valid_to"] == nil {
		t.Errorf("end: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/assignments/%d", succ), adminToken, nil); r.status != 409 {
		t.Errorf("ending twice: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/assignments/abc", adminToken, nil); r.status != 400 {
		t.Errorf("bad id: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/assignments", e.token("analyst", ""), map[string]any{}); r.status != 403 {
		t.Errorf("analyst creates: %d", r.status)
	}
}

// Bulk: every alley of a district gets a road chief; the gap closes and
// locate answers with the new chief.
func TestBulkAssignClosesGaps(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	var district string
	var alleys int
	e.store.Pool().QueryRow(ctx, `SELECT code FROM regions WHERE level = 'district' ORDER BY code LIMIT 1`).Scan(&district)
	e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM objects o, regions r WHERE r.code = $1 AND o.layer = 'alley' AND ST_Intersects(r.geom, o.geom)`, district).Scan(&alleys)
	body := map[string]any{"theme": "road_chief", "unit": "CG", "role": "lead", "region": district, "layer": "alley"}
	r := e.do("POST", "/api/v1/assignments/bulk", adminToken, body)
	if m := r.json(t); r.status != 200 || int(m["created"].(float64)) != alleys || m["skipped"].(float64) != 0 {
		t.Fatalf("bulk: %d %s (want %d created)", r.status, r.body, alleys)
	}
	r = e.do("POST", "/api/v1/assignments/bulk", adminToken, body)
	if m := r.json(t); m["created"].(float64) != 0 || int(m["skipped"].(float64)) != alleys {
		t.Errorf("bulk again: %s", r.body)
	}
	var lon, lat float64
	e.store.Pool().QueryRow(ctx, `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(o.geom, 0.5) p FROM objects o, regions r
		WHERE r.code = $1 AND o.layer = 'alley' AND ST_Within(o.geom, r.geom) ORDER BY o.id LIMIT 1) x`, district).Scan(&lon, &lat)
	deadline := time.Now().Add(2 * time.Second)
	for {
		a := e.locate(fmt.Sprintf("lon=%.8f&lat=%.8f&theme=road_chief", lon, lat))
		if l := leadOf(a, "road_chief"); l != nil && l.Unit.Code == "CG" && l.Via.Layer == "alley" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("locate on an alley does not show the new road chief: %+v", a.Owners)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := e.do("POST", "/api/v1/assignments/bulk", adminToken, map[string]any{"theme": "road_chief", "unit": "CG", "role": "lead", "region": "000000", "layer": "alley"}); r.status != 422 {
		t.Errorf("unknown region: %d %s", r.status, r.body)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
