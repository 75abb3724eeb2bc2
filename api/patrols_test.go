package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestPatrols(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	var alleyID int64
	var length float64
	var coords string
	var district string
	e.store.Pool().QueryRow(ctx, `SELECT o.id, o.length_m, r.code,
		string_agg(format('<trkpt lat="%s" lon="%s"><time>2026-11-20T20:%s:00Z</time></trkpt>',
			ST_Y(d.geom) + 0.00004, ST_X(d.geom), lpad((d.path[1])::text, 2, '0')), '' ORDER BY d.path[1])
		FROM objects o JOIN regions r ON r.level = 'district' AND ST_Within(o.geom, r.geom), LATERAL ST_DumpPoints(o.geom) d
		WHERE o.layer = 'alley' AND o.length_m > 150 GROUP BY o.id, o.length_m, r.code ORDER BY o.id LIMIT 1`).Scan(&alleyID, &length, &district, &coords)
	gpx := `<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>` + coords + `</trkseg></trk></gpx>`
	r := e.do("POST", "/api/v1/patrols?inspector=网格员张三", adminToken, gpx)
	if r.status != 201 || r.json(t)["source"] != "gpx" {
		t.Fatalf("gpx: %d %s", r.status, r.body)
	}
	started := r.json(t)["started_at"].(string)
	if !strings.HasPrefix(started, "2026-11-20T20:") {
		t.Errorf("started_at from the GPX times: %s", started)
	}
	q := fmt.Sprintf("/api/v1/coverage/patrols?region=%s&since=2026-11-20T00:00:00Z&buffer_m=20", district)
	var cov struct {
		Patrols int
		Walked  []struct {
			ID      int64
			WalkedM float64 `json:"walked_m"`
		}
		NotWalked []struct{ ID int64 } `json:"not_walked"`
	}
	r = e.do("GET", q, adminToken, nil)
	if err := jsonUnmarshal(r.body, &cov); err != nil || r.status != 200 {
		t.Fatalf("patrol coverage: %d %s", r.status, r.body)
	}
	found := false
	for _, w := range cov.Walked {
		if w.ID == alleyID {
			found = true
			if w.WalkedM < 0.95*length {
				t.Errorf("walked %.1f of %.1f m", w.WalkedM, length)
			}
		}
	}
	if cov.Patrols != 1 || !found || len(cov.NotWalked) < 100 {
		t.Errorf("patrols %d, alley walked %v, %d lines not walked", cov.Patrols, found, len(cov.NotWalked))
	}
	// Before the walk nothing was walked.
	r = e.do("GET", fmt.Sprintf("/api/v1/coverage/patrols?region=%s&since=2026-11-01T00:00:00Z&until=2026-11-10T00:00:00Z", district), adminToken, nil)
	if r.json(t)["walked_m"].(float64) != 0 {
		t.Errorf("walked before the walk: %s", r.body[:200])
	}
	feature := `{"type":"Feature","properties":{"inspector":"李四","started_at":"` + time.Now().UTC().Format(time.RFC3339) + `"},
		"geometry":{"type":"LineString","coordinates":[[117.0,36.65],[117.001,36.651]]}}`
	if r := e.do("POST", "/api/v1/patrols", adminToken, feature); r.status != 201 {
		t.Errorf("geojson feature: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ body, field string }{
		{`<gpx><nothing/></gpx>`, "body"},
		{`{"type":"Polygon","coordinates":[[[117,36],[117.1,36],[117.1,36.1],[117,36]]]}`, "geometry"},
		{`{"type":"LineString","coordinates":[[117,36],[117.1,36.1]]}`, "inspector"},
	} {
		r := e.do("POST", "/api/v1/patrols?started_at=2026-11-20T20:00:00Z", adminToken, c.body)
		if _, field := r.errField(t); r.status != 422 || field != c.field {
			t.Errorf("%.40s: %d %q %s", c.body, r.status, field, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/coverage/patrols?region="+district, adminToken, nil); r.status != 400 {
		t.Errorf("no since: %d", r.status)
	}
}
