package ingest_test

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

func importOSM(t *testing.T, s *grids.Store, body string, opt ingest.ImportOptions) (ingest.ImportResult, error) {
	t.Helper()
	m, err := ingest.ParseOSMMapping(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ingest.NewOSMReader(context.Background(), strings.NewReader(body), m)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	opt.Kind, opt.Source = "objects", "osm"
	return ingest.NewStore(s).Import(context.Background(), r, opt)
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testdata/relations.osm: a compound with a courtyard, a broken relation, a
// school missing its inner member, and dirty or clipped streets.
func TestOSMRelationsAndDirtyLines(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	body := readTestdata(t, "relations.osm")
	q := func(sql string, args ...any) (v any) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, sql, args...).Scan(&v); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return v
	}

	// Strict: the two lines needing a repair are refused and nothing is written.
	_, err := importOSM(t, s, body, ingest.ImportOptions{Strict: true})
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || ie.Total != 2 ||
		!strings.Contains(ie.Problems[0].Reason, "way/20") || !strings.Contains(ie.Problems[1].Reason, "way/21") ||
		!strings.Contains(ie.Problems[0].Reason, "strict") {
		t.Fatalf("strict import: %v", err)
	}
	if n := q(`SELECT count(*) FROM objects`); n != int64(0) {
		t.Fatalf("strict import wrote %v objects", n)
	}

	res, err := importOSM(t, s, body, ingest.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// relations 100 and 102, ways 20-24; untagged member ways are not lines.
	if res.Created != 7 {
		t.Errorf("created %d, want 7: %+v", res.Created, res)
	}
	if n := q(`SELECT count(*) FROM objects WHERE source_id IN ('way/10', 'way/11', 'way/12', 'way/13', 'way/14')`); n != int64(0) {
		t.Errorf("%v untagged member ways imported", n)
	}
	warned := false
	for _, w := range res.Warnings {
		warned = warned || strings.Contains(w, "relation/101") && strings.Contains(w, "not imported")
	}
	if !warned || q(`SELECT count(*) FROM objects WHERE source_id = 'relation/101'`) != int64(0) {
		t.Errorf("broken relation 101: warnings %q", res.Warnings)
	}

	// The compound is the outer square less its courtyard.
	var area, want float64
	var holes int
	var layer string
	err = s.Pool().QueryRow(ctx, `
		SELECT layer, ST_Area(geom::geography), ST_NumInteriorRings(geom),
		       ST_Area(ST_MakeEnvelope(116.302, 39.992, 116.308, 39.998, 4326)::geography)
		     - ST_Area(ST_MakeEnvelope(116.304, 39.994, 116.306, 39.996, 4326)::geography)
		FROM objects WHERE source_id = 'relation/100'`).Scan(&layer, &area, &holes, &want)
	if err != nil {
		t.Fatal(err)
	}
	if layer != "compound" || holes != 1 || math.Abs(area-want) > want*1e-6 {
		t.Errorf("compound: layer %s, %d holes, %.0f m², want compound, 1 hole, %.0f m²", layer, holes, area, want)
	}

	// Out and back becomes the way out; the double node goes.
	var pts int
	var length, dist float64
	err = s.Pool().QueryRow(ctx, `
		SELECT ST_NPoints(geom), ST_Length(geom::geography),
		       ST_Distance(ST_Point(116.301, 39.991, 4326)::geography, ST_Point(116.302, 39.991, 4326)::geography)
		FROM objects WHERE source_id = 'way/20'`).Scan(&pts, &length, &dist)
	if err != nil || pts != 2 || math.Abs(length-dist) > 0.01 {
		t.Errorf("way/20: %d points, %.2f m, want 2 points, %.2f m (%v)", pts, length, dist, err)
	}
	if n := q(`SELECT ST_NPoints(geom) FROM objects WHERE source_id = 'way/21'`); n != int32(3) {
		t.Errorf("way/21 has %v points, want 3", n)
	}
	if res.Repairs["retraced"] != 1 || res.Repairs["repeated_points"] != 1 || len(res.Fixes) != 2 ||
		res.Fixes[0].Code != "way/20" || res.Fixes[1].Code != "way/21" {
		t.Errorf("repairs %v, fixes %+v", res.Repairs, res.Fixes)
	}

	// Clipped by the extract: a missing node, an end on the bounds, a
	// missing relation member.
	rows, err := s.Pool().Query(ctx, `SELECT source_id FROM objects WHERE (attrs->>'partial')::boolean ORDER BY source_id`)
	if err != nil {
		t.Fatal(err)
	}
	var partial []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		partial = append(partial, id)
	}
	if strings.Join(partial, " ") != "relation/102 way/22 way/23" {
		t.Errorf("partial: %v, want relation/102 way/22 way/23", partial)
	}

	// Re-imported by relation id: updated, not doubled.
	again, err := importOSM(t, s, strings.Replace(body, "花园小区", "花园新村", 1), ingest.ImportOptions{})
	if err != nil || again.Created != 0 || again.Updated != 1 || again.Unchanged != 6 {
		t.Errorf("re-import: %+v %v", again, err)
	}
	if n := q(`SELECT count(*) FROM objects WHERE source_id = 'relation/100' AND name = '花园新村'`); n != int64(1) {
		t.Errorf("%v objects for relation/100 renamed", n)
	}
}

// Lines that cannot be repaired are left out with a warning naming their
// source id, from OSM and from GeoJSON alike, and the rest comes in;
// --strict refuses the import instead.
func TestBadLinesRefused(t *testing.T) {
	s := gridstest.NewStore(t)
	const osmBody = `<osm version="0.6">
 <node id="1" lat="39.991" lon="116.301"/><node id="2" lat="39.991" lon="116.301"/><node id="3" lat="39.992" lon="116.302"/>
 <way id="30"><nd ref="1"/><nd ref="2"/><tag k="highway" v="service"/></way>
 <way id="31"><nd ref="1"/><nd ref="3"/><tag k="highway" v="service"/></way></osm>`
	res, err := importOSM(t, s, osmBody, ingest.ImportOptions{})
	if err != nil || res.Created != 1 || len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "way/30: a line of zero length") ||
		res.Repairs["zero_length"] != 1 {
		t.Errorf("zero-length way: %+v %v", res, err)
	}
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM objects WHERE source_id = 'way/30'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("way/30 stored %d times (%v)", n, err)
	}
	_, err = importOSM(t, s, osmBody, ingest.ImportOptions{Strict: true})
	var ie *ingest.ImportError
	if !errors.As(err, &ie) || !strings.Contains(ie.Problems[0].Reason, "way/30: a line of zero length") {
		t.Errorf("zero-length way, strict: %v", err)
	}
	spur := `{"type":"FeatureCollection","features":[{"type":"Feature","id":"spur-1","properties":{"layer":"street"},
	 "geometry":{"type":"LineString","coordinates":[[116.30,39.99],[116.31,39.99],[116.31,39.995],[116.31,39.99],[116.32,39.99]]}}]}`
	res, err = gridstest.ImportString(t, s, spur, ingest.ImportOptions{Kind: "objects"})
	if err != nil || res.Created != 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "spur-1: the line runs back over itself") {
		t.Errorf("self-overlapping line: %+v %v", res, err)
	}
	_, err = gridstest.ImportString(t, s, spur, ingest.ImportOptions{Kind: "objects", Strict: true})
	if !errors.As(err, &ie) || !strings.Contains(ie.Problems[0].Reason, "spur-1: the line runs back over itself") {
		t.Errorf("self-overlapping line, strict: %v", err)
	}
}

// The real extracts' multipolygons: cau_east's compound (one of its two
// outer ways is outside the extract) comes in partial; zhongguancun's
// water and building relations, with a mapping that takes them, come in
// with their holes.
func TestOSMRelationsInRealExtracts(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	m, _ := ingest.ParseOSMMapping(nil)
	f, err := os.Open(testdb.SharedData(t, "beijing/cau_east.osm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _ := ingest.NewOSMReader(ctx, f, m)
	if _, err := ingest.NewStore(s).Import(ctx, r, ingest.ImportOptions{Kind: "objects", Source: "osm"}); err != nil {
		t.Fatal(err)
	}
	var layer, typ string
	var partial bool
	err = s.Pool().QueryRow(ctx, `SELECT layer, GeometryType(geom), (attrs->>'partial')::boolean FROM objects WHERE source_id = 'relation/14400092'`).Scan(&layer, &typ, &partial)
	if err != nil || layer != "compound" || typ != "POLYGON" || !partial {
		t.Errorf("relation/14400092: %s %s partial %v (%v)", layer, typ, partial, err)
	}

	zg, err := os.Open(testdb.SharedData(t, "beijing/zhongguancun.osm"))
	if err != nil {
		t.Fatal(err)
	}
	defer zg.Close()
	own := []byte("rules:\n  - {layer: park, shapes: [area], tags: {natural: [water]}}\n  - {layer: compound, shapes: [area], tags: {building: \"*\"}}\n")
	m, _ = ingest.ParseOSMMapping(own)
	zr, _ := ingest.NewOSMReader(ctx, zg, m)
	holes := map[string]int{}
	for {
		ft, err := zr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p, ok := ft.Geometry.(orb.Polygon); ok && strings.HasPrefix(ft.ID, "relation/") {
			holes[ft.ID] = len(p) - 1
		}
	}
	if len(holes) != 3 || holes["relation/1260420"] != 1 || holes["relation/2826273"] != 1 || holes["relation/3227098"] != 1 || len(zr.Warnings()) != 0 {
		t.Errorf("zhongguancun relations with their holes: %v, warnings %q", holes, zr.Warnings())
	}
}
