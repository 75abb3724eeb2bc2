package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// caseCity is the Beijing demo with twelve cases on a 4 × 3 lattice about
// 130 m apart around Zhongguancun: parking (dispatched to the traffic
// police, JJ; the first one overdue), street lights and dog nuisance
// (reported), from inspectors and the hotline, each with a reporter.
func caseCity(t *testing.T) (*env, []caseJSON) {
	t.Helper()
	e := beijingEnv(t)
	inspector, dispatcher := e.token("inspector", ""), e.token("dispatcher", "")
	var filed []caseJSON
	for i := range 12 {
		c := e.file(inspector, map[string]any{
			"lon": zgcLon + float64(i%4)*0.0015, "lat": zgcLat + float64(i/4)*0.0012,
			"category": []string{"E0504", "C0118", "E0110"}[i%3], "source": []string{"inspector", "hotline"}[i%2],
			"description": fmt.Sprintf("第%d号问题", i), "reporter_name": "张三", "reporter_phone": "13900000000"})
		if c.Category == "E0504" {
			e.act(dispatcher, c.Code, "register", nil)
			c = e.act(dispatcher, c.Code, "dispatch", nil)
		}
		filed = append(filed, c)
	}
	// The first parking case ran out of time an hour ago.
	if _, err := e.store.Pool().Exec(context.Background(),
		`UPDATE cases SET due_at = now() - interval '1 hour', warn_at = now() - interval '2 hours' WHERE code = $1`, filed[0].Code); err != nil {
		t.Fatal(err)
	}
	filed[0].Overdue = true
	return e, filed
}

// exportCodes reads an export's features: code → properties.
func exportCodes(t *testing.T, e *env, token, file, query string) map[string]map[string]any {
	t.Helper()
	r := e.do("GET", "/api/v1/export/"+file+"?"+query, token, nil)
	if r.status != 200 {
		t.Fatalf("export %s?%s: %d %s", file, query, r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("13900000000")) || bytes.Contains(r.body, []byte("张三")) || bytes.Contains(r.body, []byte("reporter")) {
		t.Errorf("export %s carries the reporters", file)
	}
	out := map[string]map[string]any{}
	switch {
	case strings.HasSuffix(file, ".geojson"):
		var fc struct {
			Features []struct {
				ID         string `json:"id"`
				Geometry   struct{ Type string }
				Properties map[string]any `json:"properties"`
			} `json:"features"`
		}
		if err := json.Unmarshal(r.body, &fc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, f := range fc.Features {
			if f.ID != f.Properties["code"] || f.Geometry.Type != "Point" {
				t.Errorf("feature id %q code %v geometry %s", f.ID, f.Properties["code"], f.Geometry.Type)
			}
			out[f.ID] = f.Properties
		}
	case strings.HasSuffix(file, ".geojsonseq"):
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		for sc.Scan() {
			var f struct {
				ID         string         `json:"id"`
				Properties map[string]any `json:"properties"`
			}
			if err := json.Unmarshal(bytes.Trim(sc.Bytes(), "\x1e"), &f); err != nil {
				t.Fatalf("%s line: %v", file, err)
			}
			out[f.ID] = f.Properties
		}
	default:
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, row := range rows[1:] {
			m := map[string]any{}
			for i, h := range rows[0] {
				m[h] = row[i]
			}
			out[m["code"].(string)] = m
		}
	}
	return out
}

// listCodes is what the case list answers for the same filters.
func listCodes(t *testing.T, e *env, token, query string) []string {
	t.Helper()
	r := e.do("GET", "/api/v1/cases?limit=500&"+query, token, nil)
	if r.status != 200 {
		t.Fatalf("list ?%s: %d %s", query, r.status, r.body)
	}
	var page struct{ Items []caseJSON }
	if err := json.Unmarshal(r.body, &page); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, c := range page.Items {
		codes = append(codes, c.Code)
	}
	slices.Sort(codes)
	return codes
}

func keysOf(m map[string]map[string]any) []string {
	var k []string
	for c := range m {
		k = append(k, c)
	}
	slices.Sort(k)
	return k
}

// The cases export takes the case list's filters and answers the same
// cases in every format, with the case's properties and never its
// reporters; a unit token exports only its unit's cases.
func TestCasesExport(t *testing.T) {
	e, filed := caseCity(t)
	bbox := fmt.Sprintf("%f,%f,%f,%f", zgcLon-0.0001, zgcLat-0.0001, zgcLon+0.0016, zgcLat+0.0013) // the lattice's first 2 × 2
	for _, q := range []string{
		"", "status=dispatched", "status=reported,dispatched&category=E0110", "overdue=true", "overdue=false&source=hotline",
		"category=E05", "unit=JJ", "region=110108&warning=false", "grid=" + filed[5].Grid.Code, "bbox=" + bbox,
		"from=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)),
		"from=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)),
	} {
		want := listCodes(t, e, adminToken, q)
		for _, format := range []string{"geojson", "geojsonseq", "csv"} {
			got := keysOf(exportCodes(t, e, adminToken, "cases."+format, q))
			if !slices.Equal(got, want) {
				t.Errorf("export cases.%s?%s: %v, the list %v", format, q, got, want)
			}
		}
	}
	if n := len(listCodes(t, e, adminToken, "bbox="+bbox)); n != 4 {
		t.Errorf("the bbox holds %d cases, want 4", n)
	}
	if n := len(listCodes(t, e, adminToken, "overdue=true")); n != 1 {
		t.Errorf("%d overdue cases, want 1", n)
	}
	if n := len(keysOf(exportCodes(t, e, adminToken, "cases.geojson", "overdue=false"))); n != 11 {
		t.Errorf("%d cases not overdue, want 11", n)
	}

	all := exportCodes(t, e, adminToken, "cases.geojson", "")
	for _, c := range filed {
		p := all[c.Code]
		if p == nil {
			t.Fatalf("%s not exported", c.Code)
		}
		unit := any(nil)
		if c.Unit != nil {
			unit = c.Unit.Code
		}
		for k, want := range map[string]any{"status": c.Status, "category": c.Category, "overdue": c.Overdue, "warning": false,
			"grid": c.Grid.Code, "district": "110108", "subdistrict": c.Regions.Subdistrict.Code, "community": c.Regions.Community.Code,
			"unit": unit, "dispatches": float64(c.Dispatches), "returns": 0.0, "reworks": 0.0} {
			if p[k] != want {
				t.Errorf("%s %s = %v (%T), want %v", c.Code, k, p[k], p[k], want)
			}
		}
		if p["category_name"] == "" || p["reported_at"] == nil || !strings.HasPrefix(p["description"].(string), "第") {
			t.Errorf("%s: %v", c.Code, p)
		}
		if (c.Deadline != nil) != (p["deadline"] != nil) {
			t.Errorf("%s deadline %v, the case's %v", c.Code, p["deadline"], c.Deadline)
		}
	}
	if csvRows := exportCodes(t, e, adminToken, "cases.csv", "overdue=true"); csvRows[filed[0].Code]["overdue"] != "true" {
		t.Errorf("csv overdue: %v", csvRows[filed[0].Code])
	}

	// A unit token: only the cases dispatched to it, whatever it asks.
	jj := e.token("unit", "JJ")
	for _, q := range []string{"", "unit=LD", "status=reported"} {
		got := keysOf(exportCodes(t, e, jj, "cases.geojson", q))
		want := listCodes(t, e, jj, q)
		if !slices.Equal(got, want) {
			t.Errorf("JJ export ?%s: %v, its list %v", q, got, want)
		}
		for _, c := range got {
			if all[c]["unit"] != "JJ" {
				t.Errorf("JJ exports %s of %v", c, all[c]["unit"])
			}
		}
	}
	if n := len(exportCodes(t, e, jj, "cases.geojson", "")); n != 4 {
		t.Errorf("JJ exports %d cases, want its 4", n)
	}
	if n := len(exportCodes(t, e, e.token("unit", "LD"), "cases.csv", "")); n != 0 {
		t.Errorf("LD, dispatched nothing, exports %d cases", n)
	}

	e.expectErrors([]errCase{
		{"/api/v1/export/cases.geojson?status=lost", adminToken, 422, "status"},
		{"/api/v1/export/cases.geojson?overdue=maybe", adminToken, 400, "overdue"},
		{"/api/v1/export/cases.geojson?from=yesterday", adminToken, 400, "from"},
		{"/api/v1/export/cases.geojson?region=999999", adminToken, 422, "region"},
		{"/api/v1/export/cases.geojson?reporters=x", adminToken, 400, "reporters"},
		{"/api/v1/export/cases.geojson?at=2026-01-01T00:00:00Z", adminToken, 400, "at"},
	})
}

// The OGC collection cases: its temporal extent and datetime are the
// report time; bbox and the case filters apply; a unit reads its own.
func TestCasesOGC(t *testing.T) {
	e, filed := caseCity(t)
	ctx := context.Background()
	// Three were reported 40 days ago.
	old := []string{filed[8].Code, filed[9].Code, filed[10].Code}
	if _, err := e.store.Pool().Exec(ctx, `UPDATE cases SET reported_at = reported_at - interval '40 days' WHERE code = ANY($1)`, old); err != nil {
		t.Fatal(err)
	}
	analyst := e.token("analyst", "")
	r := e.do("GET", "/ogc/collections/cases?f=json", analyst, nil)
	if r.status != 200 {
		t.Fatalf("collection: %d %s", r.status, r.body)
	}
	var col struct {
		Extent struct {
			Spatial  struct{ BBox [][4]float64 }
			Temporal struct{ Interval [][2]*time.Time }
		}
	}
	json.Unmarshal(r.body, &col)
	var t0, t1 time.Time
	e.store.Pool().QueryRow(ctx, `SELECT min(reported_at), max(reported_at) FROM cases`).Scan(&t0, &t1)
	if iv := col.Extent.Temporal.Interval; len(iv) != 1 || iv[0][0] == nil || !iv[0][0].Equal(t0) || iv[0][1] == nil || !iv[0][1].Equal(t1) {
		t.Errorf("temporal extent %v, want %s/%s", iv, t0, t1)
	}
	if b := col.Extent.Spatial.BBox; len(b) != 1 || !(orb.Bound{Min: orb.Point{b[0][0], b[0][1]}, Max: orb.Point{b[0][2], b[0][3]}}).Contains(orb.Point{zgcLon, zgcLat}) {
		t.Errorf("spatial extent %v", b)
	}

	items := func(token, query string) (codes []string, matched int) {
		t.Helper()
		r := e.do("GET", "/ogc/collections/cases/items?f=json&"+query, token, nil)
		if r.status != 200 {
			t.Fatalf("items ?%s: %d %s", query, r.status, r.body)
		}
		var fc struct {
			NumberMatched int `json:"numberMatched"`
			Features      []struct {
				ID         string         `json:"id"`
				Properties map[string]any `json:"properties"`
			}
		}
		if err := json.Unmarshal(r.body, &fc); err != nil {
			t.Fatal(err)
		}
		for _, f := range fc.Features {
			codes = append(codes, f.ID)
		}
		slices.Sort(codes)
		return codes, fc.NumberMatched
	}
	cut := url.QueryEscape(time.Now().Add(-20 * 24 * time.Hour).UTC().Format(time.RFC3339))
	got, n := items(analyst, "datetime=../"+cut)
	slices.Sort(old)
	if !slices.Equal(got, old) || n != 3 {
		t.Errorf("datetime=../20 days ago: %v (matched %d), want %v", got, n, old)
	}
	if got, _ := items(analyst, "datetime="+cut+"/.."); len(got) != 9 || slices.Contains(got, old[0]) {
		t.Errorf("datetime=20 days ago/..: %v", got)
	}
	// Every case but the old ones in the lattice's first column.
	bbox := fmt.Sprintf("%f,%f,%f,%f", zgcLon-0.0001, zgcLat-0.0001, zgcLon+0.0001, zgcLat+0.0030)
	want := []string{filed[0].Code, filed[4].Code}
	slices.Sort(want)
	if got, n := items(analyst, "bbox="+bbox+"&datetime="+cut+"/.."); !slices.Equal(got, want) || n != 2 {
		t.Errorf("bbox and datetime: %v (matched %d), want %v", got, n, want)
	}
	if got, _ := items(analyst, "bbox="+bbox+"&status=dispatched"); !slices.Equal(got, []string{filed[0].Code}) {
		t.Errorf("bbox and status: %v", got)
	}
	// Paging walks every case once.
	var paged []string
	r = e.do("GET", "/ogc/collections/cases/items?f=json&limit=5", analyst, nil)
	for page := 0; page < 5; page++ {
		var fc struct {
			Features []struct{ ID string }
			Links    []struct{ Href, Rel string }
		}
		json.Unmarshal(r.body, &fc)
		for _, f := range fc.Features {
			paged = append(paged, f.ID)
		}
		next := ""
		for _, l := range fc.Links {
			if l.Rel == "next" {
				next = l.Href
			}
		}
		if next == "" {
			break
		}
		r = e.do("GET", strings.TrimPrefix(next, e.url), analyst, nil)
	}
	if slices.Sort(paged); len(slices.Compact(paged)) != 12 {
		t.Errorf("paging read %d distinct cases", len(paged))
	}
	// One case by its code; a unit reads only its own.
	if r := e.do("GET", "/ogc/collections/cases/items/"+filed[1].Code+"?f=json", analyst, nil); r.status != 200 {
		t.Errorf("item: %d %s", r.status, r.body)
	}
	jj := e.token("unit", "JJ")
	if got, n := items(jj, ""); len(got) != 4 || n != 4 {
		t.Errorf("JJ reads %v (matched %d)", got, n)
	}
	if r := e.do("GET", "/ogc/collections/cases/items/"+filed[1].Code+"?f=json", jj, nil); r.status != 404 {
		t.Errorf("JJ reads a case not its own: %d", r.status)
	}
	// A new case is counted at once: numberMatched follows cases.
	if _, n := items(analyst, ""); n != 12 {
		t.Errorf("matched %d", n)
	}
	e.file(e.token("inspector", ""), map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0110", "source": "citizen"})
	deadline := time.Now().Add(5 * time.Second)
	for _, n := items(analyst, ""); n != 13; _, n = items(analyst, "") {
		if time.Now().After(deadline) {
			t.Fatalf("numberMatched still %d after a new case", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The cases tile layer: points with their properties from z14, clusters
// whose counts add up to the tile's cases below; a unit sees its own; a
// new case makes the cached tile stale.
func TestCasesTiles(t *testing.T) {
	e, filed := caseCity(t)
	inTile := func(tile maptile.Tile) map[string]caseJSON {
		m := map[string]caseJSON{}
		for _, c := range filed {
			var lon, lat float64
			e.store.Pool().QueryRow(context.Background(), `SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE code = $1`, c.Code).Scan(&lon, &lat)
			if maptile.At(orb.Point{lon, lat}, tile.Z) == tile {
				m[c.Code] = c
			}
		}
		return m
	}

	z15 := maptile.At(orb.Point{zgcLon, zgcLat}, 15)
	want := inTile(z15)
	if len(want) < 4 {
		t.Fatalf("only %d cases in %v", len(want), z15)
	}
	fs := decodeTile(t, e.getTile(tilePath("cases", z15, "")), z15, "cases")
	seen := map[string]bool{}
	for _, f := range fs {
		code, _ := f.Properties["code"].(string)
		c, ok := want[code]
		if !ok {
			// A case in the tile's buffer: drawn, but outside the tile.
			if !slices.ContainsFunc(filed, func(k caseJSON) bool { return k.Code == code }) {
				t.Errorf("unknown point %v", f.Properties)
			}
			continue
		}
		seen[code] = true
		if f.Properties["status"] != c.Status || f.Properties["category"] != c.Category || f.Properties["overdue"] != c.Overdue {
			t.Errorf("%s: %v, want %s %s overdue %v", code, f.Properties, c.Status, c.Category, c.Overdue)
		}
		if _, ok := f.Properties["count"]; ok || f.Geometry.GeoJSONType() != "Point" {
			t.Errorf("%s at z15 is a cluster: %v %s", code, f.Properties, f.Geometry.GeoJSONType())
		}
		var lon, lat float64
		e.store.Pool().QueryRow(context.Background(), `SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE code = $1`, code).Scan(&lon, &lat)
		if p := f.Geometry.(orb.Point); abs(p[0]-lon) > 1e-4 || abs(p[1]-lat) > 1e-4 {
			t.Errorf("%s drawn at %v, stored at %v,%v", code, p, lon, lat)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("z15 draws %d of the %d cases in the tile", len(seen), len(want))
	}

	// z10: clusters, counting every case of the tile once.
	z10 := maptile.At(orb.Point{zgcLon, zgcLat}, 10)
	cl := decodeTile(t, e.getTile(tilePath("cases", z10, "")), z10, "cases")
	total, overdue := 0, 0
	for _, f := range cl {
		n, _ := f.Properties["count"].(float64)
		o, _ := f.Properties["overdue"].(float64)
		st, _ := f.Properties["status"].(string)
		if n < 1 || st == "" || f.Properties["code"] != nil {
			t.Errorf("cluster %v", f.Properties)
		}
		if !z10.Bound().Contains(f.Geometry.(orb.Point)) {
			t.Errorf("cluster at %v outside its tile", f.Geometry)
		}
		total += int(n)
		overdue += int(o)
	}
	if wantN := len(inTile(z10)); total != wantN || wantN != 12 || overdue != 1 {
		t.Errorf("z10 clusters count %d cases (%d overdue), the tile holds %d (1 overdue)", total, overdue, wantN)
	}
	if len(cl) >= 12 {
		t.Errorf("z10: %d clusters of 12 cases 400 m apart: not clustered", len(cl))
	}

	// A unit sees only the cases dispatched to it, in tiles of its own.
	jj := e.token("unit", "JJ")
	req := func(path, token string) response {
		r := e.do("GET", path, token, nil)
		return r
	}
	r := req(tilePath("cases", z10, ""), jj)
	jjTotal := 0
	for _, f := range decodeTile(t, r, z10, "cases") {
		n, _ := f.Properties["count"].(float64)
		jjTotal += int(n)
	}
	if jjTotal != 4 {
		t.Errorf("JJ's z10 tile counts %d cases, want its 4", jjTotal)
	}
	for _, f := range decodeTile(t, req(tilePath("cases", z15, ""), jj), z15, "cases") {
		if f.Properties["category"] != "E0504" {
			t.Errorf("JJ sees %v", f.Properties)
		}
	}

	// Cached, then stale once a case is filed in the tile.
	path := tilePath("cases", z15, "")
	if r := e.getTile(path); r.header.Get("X-Cache") != "hit" {
		t.Fatalf("second request: X-Cache %q", r.header.Get("X-Cache"))
	}
	before := len(decodeTile(t, e.getTile(path), z15, "cases"))
	e.file(e.token("inspector", ""), map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "C0118", "source": "citizen"})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := e.getTile(path)
		if r.header.Get("X-Cache") == "miss" {
			if n := len(decodeTile(t, r, z15, "cases")); n != before+1 {
				t.Errorf("after a new case: %d points, before %d", n, before)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cases tile is still served from the cache after a new case")
		}
		time.Sleep(50 * time.Millisecond)
	}

	r = e.getTile("/tiles/cases.json")
	var tj struct {
		MinZoom, MaxZoom int
		Bounds           [4]float64
		VectorLayers     []struct{ Fields map[string]string } `json:"vector_layers"`
	}
	json.Unmarshal(r.body, &tj)
	if r.status != 200 || tj.MinZoom != 8 || len(tj.VectorLayers) != 1 || tj.VectorLayers[0].Fields["count"] == "" ||
		!(orb.Bound{Min: orb.Point{tj.Bounds[0], tj.Bounds[1]}, Max: orb.Point{tj.Bounds[2], tj.Bounds[3]}}).Contains(orb.Point{zgcLon, zgcLat}) {
		t.Errorf("TileJSON: %d %s", r.status, r.body)
	}
}
