package ingest_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"

	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

func readAll(t *testing.T, r io.Reader, mapping []byte) (map[string]int, map[string]map[string]any, error) {
	t.Helper()
	m, err := ingest.ParseOSMMapping(mapping)
	if err != nil {
		t.Fatal(err)
	}
	or, err := ingest.NewOSMReader(context.Background(), r, m)
	if err != nil {
		return nil, nil, err
	}
	defer or.Close()
	layers := map[string]int{}
	byID := map[string]map[string]any{}
	for {
		f, err := or.Next()
		if err == io.EOF {
			return layers, byID, nil
		}
		if err != nil {
			return layers, byID, err
		}
		layers[f.Properties["layer"].(string)]++
		byID[f.ID] = f.Properties
	}
}

func TestOSMMappingOnZhongguancun(t *testing.T) {
	f, err := os.Open(testdb.SharedData(t, "beijing/zhongguancun.osm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layers, byID, err := readAll(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	for layer, min := range map[string]int{"street": 50, "alley": 200, "station": 50, "school": 5} {
		if layers[layer] < min {
			t.Errorf("%d %s objects, want at least %d (all: %v)", layers[layer], layer, min, layers)
		}
	}
	// Names: name:zh first. Every named alley by suffix is an alley whatever
	// its highway class.
	for id, p := range byID {
		tags := p["osm"].(map[string]string)
		if zh := tags["name:zh"]; zh != "" && p["name"] != zh {
			t.Errorf("%s: name %q, want name:zh %q", id, p["name"], zh)
		}
		name, _ := p["name"].(string)
		if tags["highway"] != "" && strings.HasSuffix(name, "胡同") && p["layer"] != "alley" {
			t.Errorf("%s %s is a %s, want alley", id, name, p["layer"])
		}
	}
	// A city's own mapping replaces the built-in one.
	own := []byte("rules:\n  - {layer: station, shapes: [point], tags: {highway: [bus_stop]}}\n")
	f.Seek(0, io.SeekStart)
	layers, _, err = readAll(t, f, own)
	if err != nil || len(layers) != 1 || layers["station"] == 0 {
		t.Errorf("own mapping: %v %v", layers, err)
	}
	if _, err := ingest.ParseOSMMapping([]byte("rules:\n  - {layer: x, shapes: [blob], tags: {a: b}}\n")); err == nil {
		t.Error("a mapping with an unknown shape was accepted")
	}
}

// A real .osm.pbf reads; the same file cut in half fails with a clear
// error instead of importing part of it.
func TestOSMPBF(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/paulmach/osm").Output()
	if err != nil {
		t.Fatalf("locating the osm module's test data: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "testdata", "delaware-latest.osm.pbf"))
	if err != nil {
		t.Fatal(err)
	}
	layers, _, err := readAll(t, bytes.NewReader(b), nil)
	if err != nil || layers["street"] < 1000 || layers["school"] < 50 {
		t.Fatalf("delaware: %v %v", layers, err)
	}
	_, _, err = readAll(t, bytes.NewReader(b[:len(b)/2]), nil)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("half a PBF: %v", err)
	}
	_, _, err = readAll(t, strings.NewReader("this is not OSM data at all"), nil)
	if err == nil {
		t.Error("garbage read as OSM")
	}
}

// Re-importing OSM data updates by OSM id: nothing doubles.
func TestOSMReimport(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	path := testdb.SharedData(t, "beijing/cau_east.osm")
	run := func() ingest.ImportResult {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		m, _ := ingest.ParseOSMMapping(nil)
		r, err := ingest.NewOSMReader(ctx, f, m)
		if err != nil {
			t.Fatal(err)
		}
		res, err := ingest.NewStore(s).Import(ctx, r, ingest.ImportOptions{Kind: "objects", Source: "osm"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	first := run()
	second := run()
	if first.Created < 300 || second.Created != 0 || second.Unchanged != first.Created {
		t.Errorf("first %+v, second %+v", first, second)
	}
	var markets int
	s.Pool().QueryRow(ctx, `SELECT count(*) FROM objects WHERE layer = 'market'`).Scan(&markets)
	if markets != 2 { // the two amenity=marketplace nodes
		t.Error("cau_east.osm's marketplaces were not imported as markets")
	}
}
