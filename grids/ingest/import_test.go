package ingest_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"

	"github.com/citygrid/citygrid/geo"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

func importFile(t *testing.T, s *grids.Store, path string, opt ingest.ImportOptions) ingest.ImportResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := geo.NewFeatureReader(f)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ingest.NewStore(s).Import(context.Background(), fr, opt)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return res
}

// Real district boundaries in GCJ-02 go in converted, re-importing changes
// nothing, and subdistricts find their district spatially.
func TestImportRealDistricts(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	path := testdb.SharedData(t, "beijing/districts_gcj02.geojson")
	opt := ingest.ImportOptions{Kind: "regions", Level: grids.District, CodeProp: "adcode", CRS: geo.GCJ02}
	res := importFile(t, s, path, opt)
	if res.Created != 3 || res.Read != 3 {
		t.Fatalf("first import: %+v", res)
	}
	again := importFile(t, s, path, opt)
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != 3 {
		t.Errorf("re-import: %+v, want 3 unchanged", again)
	}
	hd, err := s.Region(ctx, "110108")
	if err != nil {
		t.Fatal(err)
	}
	// 海淀区 is 430.8 km² by official figures.
	if hd.AreaM2 < 4.1e8 || hd.AreaM2 > 4.5e8 {
		t.Errorf("海淀区 area %.0f km²", hd.AreaM2/1e6)
	}
	// Peking University's east gate in WGS84 lies inside the converted district.
	var inside bool
	s.Pool().QueryRow(ctx, `SELECT ST_Covers(geom, ST_SetSRID(ST_Point(116.3105, 39.9920), 4326)) FROM regions WHERE code = '110108'`).Scan(&inside)
	if !inside {
		t.Error("PKU east gate not inside the converted 海淀区")
	}

	body := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"110108001000","name":"万寿路街道"},
	  "geometry":{"type":"Polygon","coordinates":[[[116.29,39.90],[116.31,39.90],[116.31,39.92],[116.29,39.92],[116.29,39.90]]]}}]}`
	res, err = gridstest.ImportString(t, s, body, ingest.ImportOptions{Kind: "regions", Level: grids.Subdistrict})
	if err != nil || res.Created != 1 {
		t.Fatalf("subdistrict: %+v %v", res, err)
	}
	sd, _ := s.Region(ctx, "110108001000")
	if sd.Parent != "110108" {
		t.Errorf("spatial parent = %q", sd.Parent)
	}
}

func TestImportRefusesBadFiles(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	if _, err := gridstest.ImportString(t, s, `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"110108","name":"x"},"geometry":{"type":"Polygon","coordinates":[[[116.2,39.9],[116.4,39.9],[116.4,40.1],[116.2,40.1],[116.2,39.9]]]}}]}`,
		ingest.ImportOptions{Kind: "regions", Level: grids.District}); err != nil {
		t.Fatal(err)
	}
	poly := func(code, coords string) string {
		return `{"type":"Feature","properties":{"code":"` + code + `","name":"n"},"geometry":{"type":"Polygon","coordinates":` + coords + `}}`
	}
	good := poly("110108002000", `[[[116.30,39.95],[116.31,39.95],[116.31,39.96],[116.30,39.96],[116.30,39.95]]]`)
	cases := []struct {
		name, body, want string
		index            int
	}{
		{"not GeoJSON", `hello`, "not GeoJSON", -1},
		{"a Feature, not a collection", `{"type":"Feature","properties":{},"geometry":null}` + "\n" + `{"type":"Feature"`, "", 1},
		{"point for a polygon", `{"type":"FeatureCollection","features":[` + good + `,{"type":"Feature","properties":{"code":"110108003000","name":"n"},"geometry":{"type":"Point","coordinates":[116.3,39.95]}}]}`, "a Point where a Polygon or MultiPolygon is needed", 1},
		{"ring of 3 points", `{"type":"FeatureCollection","features":[` + poly("110108003000", `[[[116.30,39.95],[116.31,39.95],[116.30,39.95]]]`) + `]}`, "at least 4 points", 0},
		{"coordinates out of range", `{"type":"FeatureCollection","features":[` + poly("110108003000", `[[[400,95],[400.1,95],[400.1,95.1],[400,95]]]`) + `]}`, "longitude 400", 0},
		{"self-intersection", `{"type":"FeatureCollection","features":[` + poly("110108003000", `[[[116.30,39.95],[116.31,39.96],[116.31,39.95],[116.30,39.96],[116.30,39.95]]]`) + `]}`, "Self-intersection", 0},
		{"duplicate code", `{"type":"FeatureCollection","features":[` + good + `,` + good + `]}`, "already appears at feature 0", 1},
		{"bad code", `{"type":"FeatureCollection","features":[` + poly("1101080020", `[[[116.30,39.95],[116.31,39.95],[116.31,39.96],[116.30,39.95]]]`) + `]}`, "not a subdistrict code", 0},
		{"outside every district", `{"type":"FeatureCollection","features":[` + poly("110108003000", `[[[121.30,31.95],[121.31,31.95],[121.31,31.96],[121.30,31.95]]]`) + `]}`, "no district contains it", 0},
		{"truncated", `{"type":"FeatureCollection","features":[` + good + `,{"type":"Feature","properties":{"code":"1`, "truncated", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := gridstest.ImportString(t, s, c.body, ingest.ImportOptions{Kind: "regions", Level: grids.Subdistrict})
			if err == nil {
				t.Fatal("imported")
			}
			var ie *ingest.ImportError
			if c.index >= 0 {
				if !errors.As(err, &ie) {
					t.Fatalf("err = %v, want an ImportError", err)
				}
				if ie.Problems[0].Index != c.index || !strings.Contains(ie.Problems[0].Reason, c.want) {
					t.Errorf("problem %+v, want %q at %d", ie.Problems[0], c.want, c.index)
				}
			} else if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
	var n int
	s.Pool().QueryRow(ctx, `SELECT count(*) FROM regions`).Scan(&n)
	if n != 1 {
		t.Errorf("%d regions after refused imports, want 1", n)
	}
	// --fix repairs the bow tie and says so.
	res, err := gridstest.ImportString(t, s, `{"type":"FeatureCollection","features":[`+poly("110108003000", `[[[116.30,39.95],[116.31,39.96],[116.31,39.95],[116.30,39.96],[116.30,39.95]]]`)+`]}`,
		ingest.ImportOptions{Kind: "regions", Level: grids.Subdistrict, Fix: true})
	if err != nil || res.Fixed != 1 || res.Created != 1 || !strings.Contains(res.Fixes[0].Reason, "Self-intersection") {
		t.Errorf("fix: %+v %v", res, err)
	}
}

func TestImportUnitsGridsObjects(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	region := func(code, level, parent string, x, y, d float64) {
		in := grids.RegionInput{Code: gridstest.Ptr(code), Name: gridstest.Ptr(code), Level: gridstest.Ptr(level), Geometry: gridstest.Square(x, y, d)}
		if parent != "" {
			in.Parent = gridstest.Ptr(parent)
		}
		if _, err := s.CreateRegion(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	region("110108", "district", "", 116.2, 39.9, 0.2)
	region("110108001000", "subdistrict", "110108", 116.25, 39.95, 0.05)
	region("110108001001", "community", "110108001000", 116.26, 39.96, 0.01)

	units := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"HD-CG-01","name":"海淀城管一队","kind":"department","parent":"HD-CG","phone":"12319"},"geometry":null},
	 {"type":"Feature","properties":{"code":"HD-CG","name":"海淀城管","kind":"department","region":"110108"},"geometry":null}]}`
	res, err := gridstest.ImportString(t, s, units, ingest.ImportOptions{Kind: "units"})
	if err != nil || res.Created != 2 {
		t.Fatalf("units: %+v %v", res, err)
	}
	u, _ := s.Unit(ctx, "HD-CG-01")
	if u.Parent != "HD-CG" || u.Contact.Phone != "12319" {
		t.Errorf("unit: %+v", u)
	}
	if res, err := gridstest.ImportString(t, s, units, ingest.ImportOptions{Kind: "units"}); err != nil || res.Unchanged != 2 {
		t.Errorf("units again: %+v %v", res, err)
	}

	gridsGJ := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"code":"110108001001001","name":"一号网格"},"geometry":{"type":"Polygon","coordinates":[[[116.26,39.96],[116.265,39.96],[116.265,39.97],[116.26,39.97],[116.26,39.96]]]}},
	 {"type":"Feature","properties":{"code":"110108001001002","name":"二号网格"},"geometry":{"type":"Polygon","coordinates":[[[116.265,39.96],[116.27,39.96],[116.27,39.97],[116.265,39.97],[116.265,39.96]]]}}]}`
	res, err = gridstest.ImportString(t, s, gridsGJ, ingest.ImportOptions{Kind: "grids"})
	if err != nil || res.Created != 2 {
		t.Fatalf("grids: %+v %v", res, err)
	}
	// Redrawn grid: a new version, the old one kept as history.
	redrawn := strings.Replace(gridsGJ, "116.265,39.97],[116.26,39.97]", "116.265,39.969],[116.26,39.97]", 1)
	res, err = gridstest.ImportString(t, s, redrawn, ingest.ImportOptions{Kind: "grids"})
	if err != nil || res.Updated != 1 || res.Unchanged != 1 {
		t.Fatalf("redrawn grids: %+v %v", res, err)
	}
	var versions, live int
	s.Pool().QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE valid_to IS NULL) FROM grids WHERE code = '110108001001001'`).Scan(&versions, &live)
	if versions != 2 || live != 1 {
		t.Errorf("grid history: %d versions, %d live", versions, live)
	}
	wrongCommunity := strings.ReplaceAll(gridsGJ, "110108001001", "110108001002")
	if _, err := gridstest.ImportString(t, s, wrongCommunity, ingest.ImportOptions{Kind: "grids"}); err == nil {
		t.Error("grid codes not nested in their community were accepted")
	}

	objects := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","id":"a1","properties":{"layer":"alley","name":"成府路小巷"},"geometry":{"type":"LineString","coordinates":[[116.261,39.961],[116.268,39.962]]}},
	 {"type":"Feature","properties":{"code":"M-1","layer":"market","name":"农贸市场"},"geometry":{"type":"Point","coordinates":[116.262,39.965]}}]}`
	res, err = gridstest.ImportString(t, s, objects, ingest.ImportOptions{Kind: "objects"})
	if err != nil || res.Created != 2 || len(res.Warnings) != 0 {
		t.Fatalf("objects: %+v %v", res, err)
	}
	if res, err = gridstest.ImportString(t, s, objects, ingest.ImportOptions{Kind: "objects"}); err != nil || res.Unchanged != 2 {
		t.Errorf("objects again: %+v %v", res, err)
	}
	var length float64
	s.Pool().QueryRow(ctx, `SELECT length_m FROM objects WHERE source_id = 'a1'`).Scan(&length)
	if length < 590 || length > 620 {
		t.Errorf("alley length %.1f m, want about 605", length)
	}
	// The same objects read as GCJ-02 land half a kilometre away, outside
	// every district only if the district is small; here they still warn
	// when shifted far: use Shanghai coordinates to force it.
	far := strings.NewReplacer("116.26", "121.26", "39.96", "31.96").Replace(objects)
	far = strings.NewReplacer(`"a1"`, `"a2"`, `"M-1"`, `"M-2"`).Replace(far)
	res, err = gridstest.ImportString(t, s, far, ingest.ImportOptions{Kind: "objects"})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "coordinate system") {
		t.Errorf("no warning for objects outside every district: %+v %v", res, err)
	}
	if _, err := gridstest.ImportString(t, s, objects, ingest.ImportOptions{Kind: "objects", Layer: "nope"}); err == nil {
		t.Error("unknown layer accepted")
	}
}

// A city with its own code scheme sets its patterns; the national formats
// are then not required.
func TestOwnCodePatterns(t *testing.T) {
	rules := grids.DefaultCodeRules()
	rules.District = regexp.MustCompile(`^D-[A-Z]{2}$`)
	s := grids.NewStore(testdb.Pool(t), rules)
	body := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"D-HD","name":"海淀"},
	  "geometry":{"type":"Polygon","coordinates":[[[116.2,39.9],[116.4,39.9],[116.4,40.1],[116.2,40.1],[116.2,39.9]]]}}]}`
	if res, err := gridstest.ImportString(t, s, body, ingest.ImportOptions{Kind: "regions", Level: grids.District}); err != nil || res.Created != 1 {
		t.Errorf("own code: %+v %v", res, err)
	}
	national := gridstest.NewStore(t)
	if _, err := gridstest.ImportString(t, national, body, ingest.ImportOptions{Kind: "regions", Level: grids.District}); err == nil {
		t.Error("D-HD accepted under the national rules")
	}
}

// What no file could satisfy is refused before anything is read: an unknown
// kind as not found, regions without a level as a bad option.
func TestImportOptionsCheck(t *testing.T) {
	var nf *grids.NotFoundError
	if err := (ingest.ImportOptions{Kind: "parcels"}).Check(); !errors.As(err, &nf) || !strings.Contains(err.Error(), "one of regions, grids, units, objects") {
		t.Errorf("unknown kind: %v", err)
	}
	var oe *grids.MalformedError
	if err := (ingest.ImportOptions{Kind: "regions"}).Check(); !errors.As(err, &oe) || oe.Field != "level" {
		t.Errorf("regions without a level: %v", err)
	}
	for _, opt := range []ingest.ImportOptions{{Kind: "regions", Level: grids.Community}, {Kind: "objects"}, {Kind: "units", Level: "nonsense"}} {
		if err := opt.Check(); err != nil {
			t.Errorf("%+v: %v", opt, err)
		}
	}
}
