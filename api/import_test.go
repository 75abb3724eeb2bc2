package api_test

import (
	"os"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/internal/testdb"
)

func TestImportOverHTTP(t *testing.T) {
	e := newEnv(t)
	districts, err := os.ReadFile(testdb.SharedData(t, "beijing/districts_gcj02.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("POST", "/api/v1/import/regions?level=district&code_prop=adcode&crs=gcj02", adminToken, string(districts))
	if r.status != 200 {
		t.Fatalf("districts: %d %s", r.status, r.body)
	}
	if m := r.json(t); m["created"].(float64) != 3 {
		t.Errorf("districts: %s", r.body)
	}
	osm, err := os.ReadFile(testdb.SharedData(t, "beijing/zhongguancun.osm"))
	if err != nil {
		t.Fatal(err)
	}
	r = e.do("POST", "/api/v1/import/osm?region=110108&dry_run=true", adminToken, string(osm))
	if r.status != 200 || e.count("objects") != 0 {
		t.Fatalf("dry run: %d, %d objects written: %s", r.status, e.count("objects"), r.body)
	}
	dry := r.json(t)
	r = e.do("POST", "/api/v1/import/osm?region=110108", adminToken, string(osm))
	if r.status != 200 {
		t.Fatalf("osm: %d %s", r.status, r.body)
	}
	m := r.json(t)
	if dry["dry_run"] != true || m["dry_run"] != nil || dry["created"] != m["created"] || dry["skipped"] != m["skipped"] {
		t.Errorf("dry run said %v created, %v skipped (dry_run %v); the import %v, %v", dry["created"], dry["skipped"], dry["dry_run"], m["created"], m["skipped"])
	}
	if m["created"].(float64) < 500 || m["warnings"] != nil {
		t.Errorf("osm: %s", r.body)
	}
	// The same OSM data claimed to be GCJ-02 lands half a kilometre off; it
	// still falls inside 海淀区 here, so no warning, but a truncated file is
	// refused whole.
	objects := e.count("objects")
	r = e.do("POST", "/api/v1/import/osm", adminToken, string(osm[:len(osm)/2]))
	if r.status != 422 && r.status != 400 {
		t.Errorf("truncated osm: %d %s", r.status, r.body)
	}
	if e.count("objects") != objects {
		t.Error("a failed import wrote objects")
	}

	bad := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"110108001000","name":"a"},"geometry":{"type":"Point","coordinates":[116.3,39.95]}},
	 {"type":"Feature","properties":{"code":"110108002000","name":"b"},"geometry":{"type":"Polygon","coordinates":[[[116.30,39.95],[116.31,39.95],[116.30,39.95]]]}}]}`
	r = e.do("POST", "/api/v1/import/regions?level=subdistrict", adminToken, bad)
	if r.status != 422 {
		t.Fatalf("bad features: %d %s", r.status, r.body)
	}
	if code, field := r.errField(t); code != "invalid_features" || field != "features/0" || !strings.Contains(string(r.body), "features/1") {
		t.Errorf("bad features: %s", r.body)
	}
	for _, c := range []struct {
		path, body string
		status     int
	}{
		{"/api/v1/import/regions?level=district", "not json", 400},
		{"/api/v1/import/regions", `{"type":"FeatureCollection","features":[]}`, 400},
		{"/api/v1/import/parcels", `{}`, 404},
		{"/api/v1/import/objects?allow_shrink=maybe", `{"type":"FeatureCollection","features":[]}`, 400},
		{"/api/v1/import/objects?layer=nope", `{"type":"FeatureCollection","features":[]}`, 422},
	} {
		if r := e.do("POST", c.path, adminToken, c.body); r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.path, r.status, c.status, r.body)
		}
	}
	if r := e.do("POST", "/api/v1/import/regions?level=district", e.token("analyst", ""), string(districts)); r.status != 403 {
		t.Errorf("analyst import: %d", r.status)
	}
}
