package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkt"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/internal/testdb"
)

type exportFC struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	CRS      json.RawMessage `json:"crs"`
	CRSNote  string          `json:"crs_note"`
	Features []exportFeature `json:"features"`
}

type exportFeature struct {
	Type       string         `json:"type"`
	ID         any            `json:"id"`
	Geometry   rawGeometry    `json:"geometry"`
	Properties map[string]any `json:"properties"`
}

type rawGeometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

func (g rawGeometry) polygons(t *testing.T) [][][][]float64 {
	t.Helper()
	switch g.Type {
	case "Polygon":
		var p [][][]float64
		json.Unmarshal(g.Coordinates, &p)
		return [][][][]float64{p}
	case "MultiPolygon":
		var mp [][][][]float64
		json.Unmarshal(g.Coordinates, &mp)
		return mp
	}
	return nil
}

func (e *env) exportFC(path, token string) exportFC {
	e.t.Helper()
	r := e.do("GET", path, token, nil)
	if r.status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	var fc exportFC
	if err := json.Unmarshal(r.body, &fc); err != nil {
		e.t.Fatalf("%s: not JSON: %v", path, err)
	}
	return fc
}

func (e *env) scalar(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestExportRFC7946 checks what RFC 7946 asks of a GeoJSON export: WGS84
// without a crs member, exterior rings counter-clockwise and holes
// clockwise, at most 7 decimals, an id on every feature, flat properties.
func TestExportRFC7946(t *testing.T) {
	e := cityEnv(t)
	// A park drawn the wrong way round: exterior clockwise, hole
	// counter-clockwise. The export must turn both.
	p := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids ORDER BY code LIMIT 1) x`)
	x, y, d := p[0], p[1], 0.0004
	park := map[string]any{"layer": "park", "name": "倒序公园", "geometry": map[string]any{"type": "Polygon", "coordinates": [][][]float64{
		{{x, y}, {x, y + d}, {x + d, y + d}, {x + d, y}, {x, y}},
		{{x + d/4, y + d/4}, {x + d*3/4, y + d/4}, {x + d*3/4, y + d*3/4}, {x + d/4, y + d*3/4}, {x + d/4, y + d/4}},
	}}}
	if r := e.do("POST", "/api/v1/objects", adminToken, park); r.status != 201 {
		t.Fatalf("create park: %d %s", r.status, r.body)
	}

	decimals := regexp.MustCompile(`\d\.(\d{8,})`)
	for _, layer := range []string{"regions", "grids", "objects", "assignments"} {
		r := e.do("GET", "/api/v1/export/"+layer+".geojson", adminToken, nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/geo+json") {
			t.Fatalf("%s: %d %s", layer, r.status, r.header.Get("Content-Type"))
		}
		if _, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition")); err != nil || params["filename"] != layer+".geojson" {
			t.Errorf("%s: Content-Disposition %q", layer, r.header.Get("Content-Disposition"))
		}
		if m := decimals.Find(r.body); m != nil {
			t.Errorf("%s: a coordinate with more than 7 decimals: %s", layer, m)
		}
		var fc exportFC
		if err := json.Unmarshal(r.body, &fc); err != nil {
			t.Fatalf("%s: %v", layer, err)
		}
		if fc.Type != "FeatureCollection" || fc.CRS != nil || fc.CRSNote != "" {
			t.Errorf("%s: type %q, crs %s, crs_note %q", layer, fc.Type, fc.CRS, fc.CRSNote)
		}
		want := map[string]string{
			"regions": "SELECT count(*) FROM regions", "grids": "SELECT count(*) FROM grids WHERE valid_to IS NULL",
			"objects": "SELECT count(*) FROM objects", "assignments": "SELECT count(*) FROM assignments WHERE valid_to IS NULL",
		}[layer]
		if n := e.scalar(want); len(fc.Features) != n || n == 0 {
			t.Errorf("%s: %d features, the database holds %d", layer, len(fc.Features), n)
		}
		ids := map[string]bool{}
		holes := 0
		for i, f := range fc.Features {
			id := fmt.Sprint(f.ID)
			if f.ID == nil || ids[id] {
				t.Fatalf("%s feature %d: id %v missing or repeated", layer, i, f.ID)
			}
			ids[id] = true
			for k, v := range f.Properties {
				switch v.(type) {
				case map[string]any, []any:
					t.Fatalf("%s feature %d: property %s is not flat: %v", layer, i, k, v)
				}
			}
			for _, poly := range f.Geometry.polygons(t) {
				for ri, ring := range poly {
					a := signedArea(ring)
					if (ri == 0) != (a > 0) {
						t.Fatalf("%s feature %v ring %d: signed area %g (exterior must be counter-clockwise, holes clockwise)", layer, f.ID, ri, a)
					}
					if ri > 0 {
						holes++
					}
				}
			}
		}
		if layer == "objects" && holes == 0 {
			t.Errorf("objects: the park's hole is missing")
		}
	}
}

func TestExportFormats(t *testing.T) {
	e := cityEnv(t)
	nGrids := e.scalar("SELECT count(*) FROM grids WHERE valid_to IS NULL")

	// GCJ-02 for Chinese web maps: shifted coordinates, and a note saying so.
	wgs := e.exportFC("/api/v1/export/school.geojson", adminToken)
	gcj := e.exportFC("/api/v1/export/school.geojson?crs=gcj02", adminToken)
	if gcj.CRSNote == "" || !strings.Contains(gcj.CRSNote, "GCJ-02") || len(gcj.Features) != len(wgs.Features) || len(wgs.Features) == 0 {
		t.Fatalf("gcj02: note %q, %d vs %d features", gcj.CRSNote, len(gcj.Features), len(wgs.Features))
	}
	for i := range wgs.Features {
		var a, b [][][]float64
		if wgs.Features[i].Geometry.Type != "Polygon" {
			continue
		}
		json.Unmarshal(wgs.Features[i].Geometry.Coordinates, &a)
		json.Unmarshal(gcj.Features[i].Geometry.Coordinates, &b)
		want := geo.WGS84ToGCJ02(orb.Point{a[0][0][0], a[0][0][1]})
		if math.Abs(want[0]-b[0][0][0]) > 2e-7 || math.Abs(want[1]-b[0][0][1]) > 2e-7 {
			t.Fatalf("school %v: GCJ-02 %v, want %v", wgs.Features[i].ID, b[0][0], want)
		}
	}

	// Newline-delimited: one feature a line; RFC 8142 with rs=true.
	for _, rs := range []bool{false, true} {
		r := e.do("GET", fmt.Sprintf("/api/v1/export/grids.geojsonl?rs=%v", rs), adminToken, nil)
		lines := strings.Split(strings.TrimSuffix(string(r.body), "\n"), "\n")
		if r.status != 200 || len(lines) != nGrids {
			t.Fatalf("geojsonl rs=%v: %d, %d lines for %d grids", rs, r.status, len(lines), nGrids)
		}
		for i, l := range lines {
			if strings.HasPrefix(l, "\x1e") != rs {
				t.Fatalf("line %d: record separator %v, want %v", i, !rs, rs)
			}
			var f exportFeature
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "\x1e")), &f); err != nil || f.Type != "Feature" {
				t.Fatalf("line %d is not a feature: %v %q", i, err, l)
			}
		}
	}

	// CSV: a byte order mark for Excel, WKT, lon/lat for points, and
	// names Excel would take for formulas made text.
	pt := e.point(`SELECT ST_X(geom), ST_Y(geom) FROM objects WHERE layer = 'component' LIMIT 1`)
	if r := e.do("POST", "/api/v1/objects", adminToken, map[string]any{"layer": "component", "name": "=HYPERLINK(\"http://x\")",
		"geometry": map[string]any{"type": "Point", "coordinates": []float64{pt[0], pt[1]}}}); r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/api/v1/export/component.csv", adminToken, nil)
	if r.status != 200 || !bytes.HasPrefix(r.body, []byte("\xef\xbb\xbf")) {
		t.Fatalf("csv: %d, starts %q", r.status, r.body[:min(10, len(r.body))])
	}
	recs, err := csv.NewReader(bytes.NewReader(r.body[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(recs[0], ",")
	if !strings.HasPrefix(head, "fid,id,code,name,layer") || !strings.HasSuffix(head, "lon,lat,wkt") {
		t.Errorf("csv header %q", head)
	}
	if n := e.scalar("SELECT count(*) FROM objects WHERE layer = 'component'"); len(recs)-1 != n {
		t.Errorf("csv: %d rows, %d components", len(recs)-1, n)
	}
	formulas := 0
	for _, rec := range recs[1:] {
		if strings.HasPrefix(rec[3], "=") {
			t.Errorf("a name Excel runs as a formula: %q", rec[3])
		}
		if strings.HasPrefix(rec[3], "'=HYPERLINK") {
			formulas++
		}
	}
	if formulas != 1 {
		t.Errorf("%d guarded formula names, want 1", formulas)
	}
	for _, rec := range recs[1:4] {
		g, err := wkt.Unmarshal(rec[len(rec)-1])
		if err != nil {
			t.Fatalf("wkt %q: %v", rec[len(rec)-1], err)
		}
		pt := g.(orb.Point)
		if fmt.Sprintf("%.7f,%.7f", pt[0], pt[1]) != rec[len(rec)-3]+","+rec[len(rec)-2] {
			t.Errorf("lon/lat %s,%s vs WKT %v", rec[len(rec)-3], rec[len(rec)-2], pt)
		}
		if !strings.ContainsFunc(rec[3], func(r rune) bool { return r >= 0x4e00 && r <= 0x9fff }) {
			t.Errorf("name %q lost its Chinese characters", rec[3])
		}
	}
}

func TestExportFilters(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	// bbox: exactly the grids the box touches.
	b := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) c FROM grids) x`)
	bbox := fmt.Sprintf("%f,%f,%f,%f", b[0]-0.003, b[1]-0.002, b[0]+0.003, b[1]+0.002)
	fc := e.exportFC("/api/v1/export/grids.geojson?bbox="+bbox, adminToken)
	want := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL AND ST_Intersects(geom, ST_MakeEnvelope($1, $2, $3, $4, 4326))`,
		b[0]-0.003, b[1]-0.002, b[0]+0.003, b[1]+0.002)
	if len(fc.Features) != want || want == 0 {
		t.Errorf("bbox: %d grids, want %d", len(fc.Features), want)
	}
	// region: a subdistrict's grids and streets.
	var sub string
	e.store.Pool().QueryRow(ctx, `SELECT code FROM regions WHERE level = 'subdistrict' ORDER BY code LIMIT 1`).Scan(&sub)
	fc = e.exportFC("/api/v1/export/grids.geojson?region="+sub, adminToken)
	want = e.scalar(`SELECT count(*) FROM grids g JOIN regions c ON c.id = g.community_id JOIN regions s ON s.id = c.parent_id
		WHERE g.valid_to IS NULL AND s.code = $1`, sub)
	if len(fc.Features) != want || want == 0 {
		t.Errorf("region: %d grids, want %d", len(fc.Features), want)
	}
	for _, f := range fc.Features {
		if !strings.HasPrefix(f.Properties["community"].(string), sub[:9]) {
			t.Fatalf("region %s: grid %v of community %v", sub, f.ID, f.Properties["community"])
		}
	}
	// Property filters: one layer of objects, one theme of assignments.
	fc = e.exportFC("/api/v1/export/objects.geojson?layer=street", adminToken)
	if n := e.scalar(`SELECT count(*) FROM objects WHERE layer = 'street'`); len(fc.Features) != n || n == 0 {
		t.Errorf("layer=street: %d, want %d", len(fc.Features), n)
	}
	fc = e.exportFC("/api/v1/export/assignments.geojson?theme=road_chief&role=lead", adminToken)
	if n := e.scalar(`SELECT count(*) FROM assignments WHERE theme_code = 'road_chief' AND role = 'lead' AND valid_to IS NULL`); len(fc.Features) != n || n == 0 {
		t.Errorf("theme=road_chief: %d, want %d", len(fc.Features), n)
	}
	for _, f := range fc.Features {
		if f.Properties["theme"] != "road_chief" || f.Geometry.Type == "" {
			t.Fatalf("assignment %v: %v, geometry %q", f.ID, f.Properties["theme"], f.Geometry.Type)
		}
	}

	// History: a grid redrawn after t0 comes out in its old shape at=t0,
	// and both versions (ids code@1 and code) over a time range.
	var code string
	e.store.Pool().QueryRow(ctx, `SELECT code FROM grids ORDER BY code LIMIT 1`).Scan(&code)
	t0 := time.Now().UTC()
	time.Sleep(10 * time.Millisecond)
	if _, err := e.store.Pool().Exec(ctx, `
		WITH old AS (UPDATE grids SET valid_to = now() WHERE code = $1 AND valid_to IS NULL RETURNING *)
		INSERT INTO grids (code, community_id, name, geom, version, valid_from)
		SELECT code, community_id, name, ST_Buffer(geom, -0.0001), version + 1, now() FROM old`, code); err != nil {
		t.Fatal(err)
	}
	area := func(fc exportFC, id string) float64 {
		for _, f := range fc.Features {
			if f.ID == id {
				return f.Properties["area_m2"].(float64)
			}
		}
		return 0
	}
	then := e.exportFC("/api/v1/export/grids.geojson?at="+t0.Format(time.RFC3339Nano), adminToken)
	now := e.exportFC("/api/v1/export/grids.geojson", adminToken)
	if a0, a1 := area(then, code+"@1"), area(now, code); a0 <= a1 || a1 == 0 {
		t.Errorf("grid %s: area %v then, %v now; the old version should be larger", code, a0, a1)
	}
	both := e.exportFC("/api/v1/export/grids.geojson?code="+code+"&since="+t0.Add(-time.Hour).Format(time.RFC3339), adminToken)
	if len(both.Features) != 2 || area(both, code+"@1") == 0 || area(both, code) == 0 {
		t.Errorf("both versions: %d features %v", len(both.Features), both.Features)
	}

	// Findings come out too: the gaps of a duty nobody leads in full.
	gaps := e.exportFC("/api/v1/export/gaps.geojson?theme=road_chief", adminToken)
	direct := e.gaps("road_chief", "")
	if len(gaps.Features) != len(direct) {
		t.Errorf("gaps export %d features, coverage/gaps.geojson %d", len(gaps.Features), len(direct))
	}
	r := e.do("GET", "/api/v1/export/grid_check.csv", adminToken, nil)
	if r.status != 200 || !bytes.HasPrefix(r.body, []byte("\xef\xbb\xbffid,kind")) {
		t.Errorf("grid_check.csv: %d %.40q", r.status, r.body)
	}
}

func TestExportBadInput(t *testing.T) {
	e := cityEnv(t)
	analyst := e.token("analyst", "")
	e.expectErrors([]errCase{
		{"/api/v1/export/nope.geojson", adminToken, 404, ""},
		{"/api/v1/export/grids.shp", adminToken, 400, "format"},
		{"/api/v1/export/grids", adminToken, 400, "format"},
		{"/api/v1/export/grids.geojson?bbox=1,2,3", adminToken, 400, "bbox"},
		{"/api/v1/export/grids.geojson?bbox=a,b,c,d", adminToken, 400, "bbox"},
		{"/api/v1/export/grids.geojson?at=yesterday", adminToken, 400, "at"},
		{"/api/v1/export/grids.geojson?datetime=2026-13-45T00:00:00Z/..", adminToken, 400, "datetime"},
		{"/api/v1/export/grids.geojson?colour=red", adminToken, 400, "colour"},
		{"/api/v1/export/grids.geojson?crs=osgb", adminToken, 400, "crs"},
		{"/api/v1/export/gaps.geojson", adminToken, 400, "theme"},
		{"/api/v1/export/units.geojson", analyst, 403, ""},
		{"/api/v1/export/grids.geojson", "", 401, ""},
	})
	// The analyst reads everything else; a unit reads its own duties only.
	if r := e.do("GET", "/api/v1/export/grids.geojson", analyst, nil); r.status != 200 {
		t.Errorf("analyst grids: %d", r.status)
	}
	var unit string
	e.store.Pool().QueryRow(context.Background(), `SELECT u.code FROM units u JOIN assignments a ON a.unit_id = u.id ORDER BY u.code LIMIT 1`).Scan(&unit)
	r := e.do("GET", "/api/v1/export/assignments.geojsonl", e.token("unit", unit), nil)
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 1<<24)
	n := 0
	for sc.Scan() {
		var f exportFeature
		json.Unmarshal(sc.Bytes(), &f)
		if f.Properties["unit"] != unit {
			t.Fatalf("unit %s reads an assignment of %v", unit, f.Properties["unit"])
		}
		n++
	}
	if want := e.scalar(`SELECT count(*) FROM assignments a JOIN units u ON u.id = a.unit_id WHERE u.code = $1 AND a.valid_to IS NULL`, unit); n != want || n == 0 {
		t.Errorf("unit %s: %d assignments, want %d", unit, n, want)
	}
}

// TestExportCancelledByClient: a client that hangs up stops the database
// work. The export is made to wait on a table lock, so that its query is
// certainly still running when the client goes.
func TestExportCancelledByClient(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	lock, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `LOCK TABLE objects IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	waiting := func() int {
		return e.scalar(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ST_AsGeoJSON%'`)
	}
	until := func(want int) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if waiting() == want {
				return true
			}
		}
		return false
	}
	reqCtx, hangUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(reqCtx, "GET", e.url+"/api/v1/export/objects.geojson", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	if !until(1) {
		t.Fatal("the export's query never waited on the lock")
	}
	hangUp()
	<-done
	if !until(0) {
		t.Error("the export's query still runs after the client hung up")
	}
}

// Exports hold a database connection while their client reads: beyond
// MaxExports at once the next one waits, then gets 503 with Retry-After.
func TestExportSlots(t *testing.T) {
	e := serverWith(t, testdb.Pool(t), func(c *api.Config) { c.MaxExports, c.ExportWait = 1, 300*time.Millisecond })
	ctx := context.Background()
	lock, err := e.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE objects IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	first := make(chan response, 1)
	go func() { first <- e.do("GET", "/api/v1/export/objects.geojson", adminToken, nil) }()
	// The first holds the only slot, waiting on the lock.
	for deadline := time.Now().Add(5 * time.Second); e.scalar(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first export never started")
		}
	}
	r := e.do("GET", "/api/v1/export/grids.geojson", adminToken, nil)
	if code, _ := r.errField(t); r.status != 503 || code != "busy" || r.header.Get("Retry-After") == "" {
		t.Errorf("second export while the slot is taken: %d %s, Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	lock.Rollback(ctx)
	if r := <-first; r.status != 200 {
		t.Errorf("first export: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/export/grids.geojson", adminToken, nil); r.status != 200 {
		t.Errorf("export after the slot freed: %d", r.status)
	}
}
