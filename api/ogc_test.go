package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

type ogcPage struct {
	exportFC
	NumberMatched  int `json:"numberMatched"`
	NumberReturned int `json:"numberReturned"`
	Links          []struct {
		Href, Rel, Type string
	} `json:"links"`
}

func (p ogcPage) link(rel string) string {
	for _, l := range p.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

func (e *env) ogcPage(path, token string) ogcPage {
	e.t.Helper()
	r := e.do("GET", path, token, nil)
	if r.status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/geo+json") {
		e.t.Errorf("%s: Content-Type %q", path, ct)
	}
	var p ogcPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		e.t.Fatalf("%s: %v", path, err)
	}
	return p
}

func TestOGCLandingAndCollections(t *testing.T) {
	e := cityEnv(t)
	analyst := e.token("analyst", "")
	land := e.do("GET", "/ogc", analyst, nil).json(t)
	rels := map[string]bool{}
	for _, l := range land["links"].([]any) {
		rels[l.(map[string]any)["rel"].(string)] = true
	}
	for _, rel := range []string{"self", "service-desc", "service-doc", "conformance", "data"} {
		if !rels[rel] {
			t.Errorf("landing page has no %s link", rel)
		}
	}
	conf := e.do("GET", "/ogc/conformance", analyst, nil).json(t)
	var classes []string
	for _, c := range conf["conformsTo"].([]any) {
		classes = append(classes, c.(string))
	}
	for _, c := range []string{"core", "geojson", "html", "oas30"} {
		if !slices.Contains(classes, "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"+c) {
			t.Errorf("conformance lacks %s: %v", c, classes)
		}
	}
	// A browser gets HTML, in Chinese first.
	r := e.do("GET", "/ogc/collections?f=html", analyst, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.body), "单元网格") {
		t.Errorf("collections as HTML: %d %s", r.status, r.header.Get("Content-Type"))
	}
	var cols struct {
		Collections []struct {
			ID     string
			Extent struct{ Spatial struct{ BBox [][4]float64 } }
			Links  []struct{ Rel string }
		}
	}
	json.Unmarshal(e.do("GET", "/ogc/collections", analyst, nil).body, &cols)
	var ids []string
	for _, c := range cols.Collections {
		ids = append(ids, c.ID)
		if c.ID == "grids" && (len(c.Extent.Spatial.BBox) != 1 || c.Extent.Spatial.BBox[0][0] < 73 || c.Extent.Spatial.BBox[0][2] > 136) {
			t.Errorf("grids extent %v", c.Extent.Spatial.BBox)
		}
	}
	for _, want := range []string{"regions", "grids", "assignments", "objects", "street", "alley", "school"} {
		if !slices.Contains(ids, want) {
			t.Errorf("collections lack %s: %v", want, ids)
		}
	}
	if slices.Contains(ids, "units") {
		t.Errorf("an analyst is offered the units (personal contacts)")
	}
	// Extents are cached until a change: a new toilet east of everything
	// widens the toilet layer's extent.
	east := func() float64 {
		var cols struct {
			Collections []struct {
				ID     string
				Extent struct{ Spatial struct{ BBox [][4]float64 } }
			}
		}
		json.Unmarshal(e.do("GET", "/ogc/collections", analyst, nil).body, &cols)
		for _, c := range cols.Collections {
			if c.ID == "toilet" {
				return c.Extent.Spatial.BBox[0][2]
			}
		}
		return 0
	}
	before := east()
	toilets := func() int { return e.ogcPage("/ogc/collections/toilet/items?limit=1", analyst).NumberMatched }
	n0 := toilets()
	p := e.point(`SELECT ST_XMax(ST_Extent(geom)) + 0.01, ST_YMax(ST_Extent(geom)) FROM objects`)
	if r := e.do("POST", "/api/v1/objects", adminToken, map[string]any{"layer": "toilet", "name": "东边公厕",
		"geometry": map[string]any{"type": "Point", "coordinates": []float64{p[0], p[1]}}}); r.status != 201 {
		t.Fatalf("new toilet: %d %s", r.status, r.body)
	}
	for deadline := time.Now().Add(10 * time.Second); east() <= before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("toilet extent still ends at %v after a toilet at %v", before, p[0])
		}
	}
	// So are the counts of items queries.
	if n := toilets(); n != n0+1 {
		t.Errorf("numberMatched of toilets %d after adding one to %d", n, n0)
	}
	if r := e.do("GET", "/ogc/collections/grids", analyst, nil); r.status != 200 || r.json(t)["id"] != "grids" {
		t.Errorf("grids collection: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/ogc/collections/grids?f=html", analyst, nil); r.status != 200 ||
		!strings.Contains(string(r.body), "单元网格") || !strings.Contains(string(r.body), "<td>community</td>") {
		t.Errorf("grids collection as HTML: %d %.300s", r.status, r.body)
	}
	// The schema types what a first page cannot: a null from_m is a number.
	var schema struct {
		Properties struct {
			Properties struct {
				Properties map[string]struct{ Type, Format string }
			}
		}
	}
	json.Unmarshal(e.do("GET", "/ogc/collections/assignments/schema", analyst, nil).body, &schema)
	fields := schema.Properties.Properties.Properties
	if fields["from_m"].Type != "number" || fields["valid_to"].Format != "date-time" || fields["id"].Type != "integer" {
		t.Errorf("assignments schema: %+v", fields)
	}
}

// TestOGCItemsPaging walks the next links: every grid once, and
// numberMatched says how many there are.
func TestOGCItemsPaging(t *testing.T) {
	e := cityEnv(t)
	want := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL`)
	first := e.ogcPage("/ogc/collections/grids/items", adminToken)
	if first.NumberMatched != want || first.NumberReturned != 100 || len(first.Features) != 100 {
		t.Fatalf("first page: matched %d (want %d), returned %d, %d features", first.NumberMatched, want, first.NumberReturned, len(first.Features))
	}
	seen := map[string]bool{}
	next := "/ogc/collections/grids/items?limit=250"
	pages := 0
	for next != "" {
		p := e.ogcPage(next, adminToken)
		for _, f := range p.Features {
			id := fmt.Sprint(f.ID)
			if seen[id] {
				t.Fatalf("grid %s on two pages", id)
			}
			seen[id] = true
		}
		next = p.link("next")
		if next != "" {
			u, _ := url.Parse(next)
			next = u.RequestURI()
		}
		if pages++; pages > want/250+2 {
			t.Fatal("the next links never end")
		}
	}
	if len(seen) != want {
		t.Errorf("walked %d grids of %d", len(seen), want)
	}

	// Filters: bbox, a property, a datetime.
	var sub string // a community
	for id := range seen {
		sub = id[:12]
		break
	}
	p := e.ogcPage("/ogc/collections/street/items?limit=10000", adminToken)
	if n := e.scalar(`SELECT count(*) FROM objects WHERE layer = 'street'`); p.NumberMatched != n || len(p.Features) != n {
		t.Errorf("streets: %d matched, %d returned, want %d", p.NumberMatched, len(p.Features), n)
	}
	p = e.ogcPage("/ogc/collections/objects/items?layer=school&limit=10000", adminToken)
	if n := e.scalar(`SELECT count(*) FROM objects WHERE layer = 'school'`); p.NumberMatched != n || n == 0 {
		t.Errorf("layer=school: %d, want %d", p.NumberMatched, n)
	}
	p = e.ogcPage("/ogc/collections/grids/items?region="+sub+"&limit=1000", adminToken)
	if n := e.scalar(`SELECT count(*) FROM grids g JOIN regions c ON c.id = g.community_id WHERE g.valid_to IS NULL AND c.code = $1`, sub); p.NumberMatched != n || n == 0 {
		t.Errorf("region %s: %d grids, want %d", sub, p.NumberMatched, n)
	}
	for _, f := range p.Features {
		if !strings.HasPrefix(f.Properties["code"].(string), sub) {
			t.Fatalf("region %s: grid %v", sub, f.ID)
		}
	}
	p = e.ogcPage("/ogc/collections/grids/items?datetime=2000-01-01T00:00:00Z/2000-12-31T00:00:00Z", adminToken)
	if p.NumberMatched != 0 {
		t.Errorf("grids valid in 2000: %d", p.NumberMatched)
	}
	p = e.ogcPage("/ogc/collections/grids/items?datetime=../..&bbox=0,0,1,1", adminToken)
	if p.NumberMatched != 0 {
		t.Errorf("grids in the Gulf of Guinea: %d", p.NumberMatched)
	}

	// One feature, by grid code and by object id.
	r := e.do("GET", "/ogc/collections/grids/items/"+fmt.Sprint(first.Features[0].ID), adminToken, nil)
	if r.status != 200 || r.json(t)["id"] != first.Features[0].ID {
		t.Errorf("grid item: %d %s", r.status, r.body)
	}
	var oid int
	e.store.Pool().QueryRow(t.Context(), `SELECT min(id) FROM objects WHERE layer = 'street'`).Scan(&oid)
	r = e.do("GET", fmt.Sprintf("/ogc/collections/street/items/%d", oid), adminToken, nil)
	if r.status != 200 || r.json(t)["id"] != float64(oid) {
		t.Errorf("street item: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/ogc/collections/street/items/%d?f=html", oid), adminToken, nil); r.status != 200 || !strings.Contains(string(r.body), "<table>") {
		t.Errorf("street item as HTML: %d", r.status)
	}
}

func TestOGCBadInput(t *testing.T) {
	e := cityEnv(t)
	analyst := e.token("analyst", "")
	e.expectErrors([]errCase{
		{"/ogc/collections/nope", adminToken, 404, ""},
		{"/ogc/collections/nope/items", adminToken, 404, ""},
		{"/ogc/collections/gaps/items", adminToken, 404, ""},
		{"/ogc/collections/grids/items/NOPE", adminToken, 404, ""},
		{"/ogc/collections/grids/items?limit=10001", adminToken, 400, "limit"},
		{"/ogc/collections/grids/items?limit=0", adminToken, 400, "limit"},
		{"/ogc/collections/grids/items?bbox=1,2,3", adminToken, 400, "bbox"},
		{"/ogc/collections/grids/items?datetime=last-week", adminToken, 400, "datetime"},
		{"/ogc/collections/grids/items?colour=red", adminToken, 400, "colour"},
		{"/ogc/collections/grids/items?f=xml", adminToken, 400, "f"},
		{"/ogc/collections/units/items", analyst, 403, ""},
		{"/ogc/collections/grids/items", "", 401, ""},
	})
}

// Time, ids and typed filters mean what an analyst expects.
func TestOGCTimeAndIDs(t *testing.T) {
	e := cityEnv(t)
	ctx := t.Context()
	live := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL`)
	// A live version overlaps every range after its start, however late.
	p := e.ogcPage("/ogc/collections/grids/items?datetime=2999-01-01T00:00:00Z/..", adminToken)
	if p.NumberMatched != live {
		t.Errorf("grids live in 2999: %d, want %d", p.NumberMatched, live)
	}
	p = e.ogcPage("/ogc/collections/grids/items?datetime=2000-01-01T00:00:00Z/2999-01-01T00:00:00Z", adminToken)
	if p.NumberMatched != live {
		t.Errorf("grids over 2000–2999: %d, want %d", p.NumberMatched, live)
	}
	// Redraw a grid: ../.. gives both versions, the old one as code@1.
	var code string
	e.store.Pool().QueryRow(ctx, `SELECT code FROM grids ORDER BY code LIMIT 1`).Scan(&code)
	if _, err := e.store.Pool().Exec(ctx, `
		WITH old AS (UPDATE grids SET valid_to = now() WHERE code = $1 AND valid_to IS NULL RETURNING *)
		INSERT INTO grids (code, community_id, name, geom, version, valid_from)
		SELECT code, community_id, name, ST_Buffer(geom, -0.0001), version + 1, now() FROM old`, code); err != nil {
		t.Fatal(err)
	}
	if p := e.ogcPage("/ogc/collections/grids/items?datetime=../..&limit=1", adminToken); p.NumberMatched != live+1 {
		t.Errorf("every grid version: %d, want %d", p.NumberMatched, live+1)
	}
	for id, version := range map[string]float64{code + "@1": 1, code: 2} {
		r := e.do("GET", "/ogc/collections/grids/items/"+id, adminToken, nil)
		if r.status != 200 || r.json(t)["properties"].(map[string]any)["version"] != version {
			t.Errorf("grid %s: %d %s", id, r.status, r.body)
		}
	}
	// An ended assignment is still there by its id.
	var aid int
	e.store.Pool().QueryRow(ctx, `SELECT min(id) FROM assignments`).Scan(&aid)
	if r := e.do("DELETE", fmt.Sprintf("/api/v1/assignments/%d", aid), adminToken, nil); r.status >= 300 {
		t.Fatalf("end assignment: %d %s", r.status, r.body)
	}
	if r := e.do("GET", fmt.Sprintf("/ogc/collections/assignments/items/%d", aid), adminToken, nil); r.status != 200 ||
		r.json(t)["properties"].(map[string]any)["valid_to"] == nil {
		t.Errorf("ended assignment %d: %d %s", aid, r.status, r.body)
	}
	// Typed filters: a number matches however it is written.
	var area float64
	e.store.Pool().QueryRow(ctx, `SELECT round(area_m2::numeric, 2) FROM grids WHERE valid_to IS NULL ORDER BY code DESC LIMIT 1`).Scan(&area)
	p = e.ogcPage(fmt.Sprintf("/ogc/collections/grids/items?area_m2=%.4f", area), adminToken)
	if p.NumberMatched < 1 {
		t.Errorf("area_m2=%.4f matched nothing", area)
	}
	e.expectErrors([]errCase{
		{"/ogc/collections/objects/items?id=abc", adminToken, 400, "id"},
		{"/ogc/collections/grids/items?area_m2=big", adminToken, 400, "area_m2"},
		{"/ogc/collections/grids/items?region=nope", adminToken, 422, "region"},
		{"/ogc/collections/grids/items?bbox=NaN,0,1,1", adminToken, 400, "bbox"},
		{"/ogc/collections/grids/items?offset=100", adminToken, 400, "offset"},
		{"/ogc/collections/grids/items?bbox-crs=EPSG:3857", adminToken, 400, "bbox-crs"},
		{"/ogc/collections/grids/items?at=2026-01-01T00:00:00Z&datetime=2026-01-01T00:00:00Z", adminToken, 400, "datetime"},
		{"/ogc/collections/objects/items?at=2026-01-01T00:00:00Z", adminToken, 400, "at"},
		{"/ogc/collections/objects/items/abc", adminToken, 404, ""},
		{"/ogc/collections/grids/items/" + code + "@x", adminToken, 404, ""},
	})
	// Findings take filters on their properties too.
	fc := e.exportFC("/api/v1/export/gaps.geojson?theme=road_chief&kind=unassigned_object", adminToken)
	for _, f := range fc.Features {
		if f.Properties["kind"] != "unassigned_object" {
			t.Fatalf("kind=unassigned_object gave a %v", f.Properties["kind"])
		}
	}
	if len(fc.Features) == 0 {
		t.Error("no unassigned objects for road_chief")
	}
	if bd := e.exportFC("/api/v1/export/school.geojson?crs=bd09", adminToken); !strings.Contains(bd.CRSNote, "BD-09") {
		t.Errorf("bd09 note: %q", bd.CRSNote)
	}
}

// TestOGCItemsBBoxMatched walks the pages of a bbox: numberMatched, counted
// with the first page, is what all the pages return and what PostGIS
// finds intersecting the box, and a page counted on its own (a window not
// asked before, deep in the pages or past the last) says the same.
func TestOGCItemsBBoxMatched(t *testing.T) {
	e := cityEnv(t)
	b := e.point(`SELECT ST_XMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)) FROM grids WHERE valid_to IS NULL`)
	y := e.point(`SELECT ST_YMin(ST_Extent(geom)), ST_YMax(ST_Extent(geom)) FROM grids WHERE valid_to IS NULL`)
	box := [4]float64{b[0] + (b[1]-b[0])/3, y[0] + (y[1]-y[0])/3, b[0] + 2*(b[1]-b[0])/3, y[0] + 2*(y[1]-y[0])/3}
	bbox := func(prec int) string {
		return fmt.Sprintf("%.*f,%.*f,%.*f,%.*f", prec, box[0], prec, box[1], prec, box[2], prec, box[3])
	}
	env := fmt.Sprintf("ST_MakeEnvelope(%.6f, %.6f, %.6f, %.6f, 4326)", box[0], box[1], box[2], box[3])
	want := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL AND ST_Intersects(geom, ` + env + `)`)
	if want < 80 {
		t.Fatalf("only %d grids in the box: too few for pages of 40", want)
	}
	seen := map[string]bool{}
	next := "/ogc/collections/grids/items?limit=40&bbox=" + bbox(6)
	var keys []string // the next links' keys
	for pages := 0; next != ""; pages++ {
		p := e.ogcPage(next, adminToken)
		if p.NumberMatched != want {
			t.Errorf("%s: numberMatched %d, want %d", next, p.NumberMatched, want)
		}
		for _, f := range p.Features {
			seen[fmt.Sprint(f.ID)] = true
		}
		next = p.link("next")
		if next != "" {
			u, _ := url.Parse(next)
			next = u.RequestURI()
			keys = append(keys, u.Query().Get("after"))
		}
		if pages > want/40+2 {
			t.Fatal("the next links never end")
		}
	}
	if len(seen) != want {
		t.Errorf("the pages returned %d grids, numberMatched %d", len(seen), want)
	}
	// The same box written otherwise is a query not counted yet.
	mid := keys[len(keys)/2]
	p := e.ogcPage("/ogc/collections/grids/items?limit=40&after="+mid+"&bbox="+bbox(7), adminToken)
	rest := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL AND ST_Intersects(geom, `+env+`) AND id > $1::text::bigint`, mid)
	if p.NumberMatched != want || p.NumberReturned != min(40, rest) {
		t.Errorf("a page after %s counted alone: matched %d, returned %d; want %d and %d", mid, p.NumberMatched, p.NumberReturned, want, min(40, rest))
	}
	p = e.ogcPage("/ogc/collections/grids/items?limit=40&after=999999999&bbox="+bbox(8), adminToken)
	if p.NumberMatched != want || p.NumberReturned != 0 {
		t.Errorf("a page past the last counted alone: matched %d, returned %d; want %d and 0", p.NumberMatched, p.NumberReturned, want)
	}
}
