package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citygrid/citygrid/internal/apt"
)

// gdal finds GDAL's command-line tools, installing gdal-bin from the
// distribution when they are missing, the way the test cluster installs
// PostGIS. Only a machine where nothing may be installed skips, and never
// in CI.
func gdal(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for _, prog := range []string{"ogrinfo", "ogr2ogr"} {
		if _, err := apt.EnsureCommand(ctx, os.Stderr, prog, "gdal-bin"); err != nil {
			if os.Getenv("CI") == "true" || !errors.Is(err, apt.ErrNotAllowed) {
				t.Fatalf("GDAL is required: %v", err)
			}
			t.Skipf("GDAL (gdal-bin) is not installed and cannot be installed here: %v", err)
		}
	}
}

// ogr runs a GDAL tool with the token in GDAL_HTTP_HEADERS, as an analyst
// would.
func ogr(t *testing.T, token, prog string, args ...string) string {
	t.Helper()
	out, _ := ogrWarn(t, token, prog, args...)
	return out
}

// ogrWarn is ogr that also returns what the tool said on stderr, where
// GDAL writes its warnings while still succeeding.
func ogrWarn(t *testing.T, token, prog string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), "GDAL_HTTP_HEADERS=Authorization: Bearer "+token, "CPL_DEBUG=OFF", "GDAL_HTTP_TIMEOUT=60")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

var featureCount = regexp.MustCompile(`Feature Count: (\d+)`)

func countOf(t *testing.T, ogrinfoOutput string) int {
	t.Helper()
	m := featureCount.FindStringSubmatch(ogrinfoOutput)
	if m == nil {
		t.Fatalf("no feature count in:\n%s", ogrinfoOutput)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestGDALReadsOGCAPI proves the OGC API with a real client: GDAL lists the
// collections and copies every grid into a GeoPackage with the same
// geometry.
func TestGDALReadsOGCAPI(t *testing.T) {
	gdal(t)
	e := cityEnv(t)
	token := e.token("analyst", "")
	ctx := context.Background()

	out := ogr(t, token, "ogrinfo", "-ro", "OAPIF:"+e.url+"/ogc")
	for _, want := range []string{"regions", "grids", "assignments", "street", "alley", "objects"} {
		if !regexp.MustCompile(`\d+: ` + want + ` `).MatchString(out) {
			t.Errorf("ogrinfo does not list %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, ": units ") {
		t.Errorf("an analyst sees the units (contacts):\n%s", out)
	}

	gpkg := filepath.Join(t.TempDir(), "grids.gpkg")
	// GDAL 3.6 asks for 10 features a page unless told; 1,000 is what
	// an analyst would set.
	ogr(t, token, "ogr2ogr", "-f", "GPKG", gpkg, "OAPIF:"+e.url+"/ogc", "grids", "-oo", "PAGE_SIZE=1000")
	n := countOf(t, ogr(t, token, "ogrinfo", "-ro", "-so", gpkg, "grids"))
	want := e.scalar(`SELECT count(*) FROM grids WHERE valid_to IS NULL`)
	if n != want || n == 0 {
		t.Fatalf("GeoPackage holds %d grids, the database %d", n, want)
	}
	// Bring the copies back into PostGIS and compare each grid's area.
	rows, err := csv.NewReader(strings.NewReader(ogr(t, token, "ogr2ogr", "-f", "CSV", "/vsistdout/", gpkg, "grids", "-lco", "GEOMETRY=AS_WKT"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.ToLower(h)] = i
	}
	var codes, wkts []string
	for _, r := range rows[1:] {
		codes, wkts = append(codes, r[col["code"]]), append(wkts, r[col["wkt"]])
	}
	var worst, total, totalDB float64
	if err := e.store.Pool().QueryRow(ctx, `
		SELECT max(abs(ST_Area(ST_GeomFromText(c.wkt, 4326)::geography) - g.area_m2) / g.area_m2),
		       sum(ST_Area(ST_GeomFromText(c.wkt, 4326)::geography)), sum(g.area_m2)
		FROM unnest($1::text[], $2::text[]) AS c(code, wkt) JOIN grids g ON g.code = c.code AND g.valid_to IS NULL`,
		codes, wkts).Scan(&worst, &total, &totalDB); err != nil {
		t.Fatal(err)
	}
	if worst > 1e-4 || abs(total-totalDB)/totalDB > 1e-6 {
		t.Errorf("areas through GDAL: worst grid off by %.2g, total %.1f vs %.1f m²", worst, total, totalDB)
	}
}

// TestGDALReadsExports: ogrinfo reads each export format and counts what
// the database holds.
func TestGDALReadsExports(t *testing.T) {
	gdal(t)
	e := cityEnv(t)
	dir := t.TempDir()
	for _, c := range []struct{ layer, sql string }{
		{"grids", `SELECT count(*) FROM grids WHERE valid_to IS NULL`},
		{"objects", `SELECT count(*) FROM objects`},
		{"street", `SELECT count(*) FROM objects WHERE layer = 'street'`},
	} {
		want := e.scalar(c.sql)
		for _, format := range []string{"geojson", "geojsonl", "csv"} {
			r := e.do("GET", "/api/v1/export/"+c.layer+"."+format, adminToken, nil)
			if r.status != 200 {
				t.Fatalf("%s.%s: %d", c.layer, format, r.status)
			}
			file := filepath.Join(dir, c.layer+"."+format)
			if err := os.WriteFile(file, r.body, 0o644); err != nil {
				t.Fatal(err)
			}
			out := ogr(t, "", "ogrinfo", "-ro", "-so", "-al", file)
			if n := countOf(t, out); n != want {
				t.Errorf("ogrinfo %s.%s: %d features, the database %d", c.layer, format, n, want)
			}
			if format == "csv" && !strings.Contains(out, "Geometry: ") {
				t.Errorf("ogrinfo finds no geometry in %s.csv:\n%s", c.layer, out)
			}
		}
	}
}

// TestGDALTypesFromSchema: GDAL (3.6) types an OAPIF layer from the
// collection's GML application schema, not from whatever its first page
// happens to hold. Each collection must link the schema as rel
// "describedBy" (GDAL compares that spelling exactly) with type
// application/xml, in /collections as well as in the collection itself.
//
// A mixed collection cannot be declared "any geometry" to GDAL 3.6: where
// the schema says gml:GeometryPropertyType it still takes the first page's
// type (OGROAPIFLayer::EstablishFeatureDefn), so copying one needs
// -nlt GEOMETRY.
func TestGDALTypesFromSchema(t *testing.T) {
	gdal(t)
	e := cityEnv(t)
	token := e.token("analyst", "")

	// A first page of one assignment: valid_to is null on every live one
	// and from_m on most, which GDAL would type as strings.
	for _, ds := range []string{"OAPIF:" + e.url + "/ogc", "OAPIF:" + e.url + "/ogc/collections/assignments"} {
		out := ogr(t, token, "ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=1", ds, "assignments")
		var wrong []string
		for _, f := range []string{"id: Integer", "theme: String", "target: String", "from_m: Real", "to_m: Real",
			"valid_from: DateTime", "valid_to: DateTime", "note: String"} {
			if !regexp.MustCompile(`(?m)^` + f + ` `).MatchString(out) {
				wrong = append(wrong, f)
			}
		}
		if wrong != nil {
			t.Errorf("%s: want %s:\n%s", ds, strings.Join(wrong, ", "), out)
		}
	}

	// A filter nothing matches leaves GDAL no features to guess from: the
	// geometry type is the schema's.
	out := ogr(t, token, "ogrinfo", "-ro", "-so", "OAPIF:"+e.url+"/ogc?name=no-such-name", "street", "component")
	for _, want := range []string{"Geometry: Line String", "Geometry: Point", "length_m: Real", "updated_at: DateTime"} {
		if !strings.Contains(out, want) {
			t.Errorf("an empty page: no %q:\n%s", want, out)
			break
		}
	}

	gpkg := filepath.Join(t.TempDir(), "assignments.gpkg")
	_, warn := ogrWarn(t, token, "ogr2ogr", "-f", "GPKG", gpkg, "OAPIF:"+e.url+"/ogc", "assignments",
		"-oo", "PAGE_SIZE=1000", "-nlt", "GEOMETRY")
	if strings.Contains(warn, "Warning") || strings.Contains(warn, "ERROR") {
		t.Errorf("ogr2ogr assignments:\n%s", warn)
	}
	out = ogr(t, token, "ogrinfo", "-ro", "-so", gpkg, "assignments")
	want := e.scalar(`SELECT count(*) FROM assignments WHERE valid_to IS NULL`)
	if n := countOf(t, out); n != want || n == 0 {
		t.Errorf("GeoPackage holds %d assignments, the database %d live", n, want)
	}
	for _, w := range []string{"Geometry: Unknown (any)", "from_m: Real", "valid_to: DateTime"} {
		if !strings.Contains(out, w) {
			t.Errorf("GeoPackage: no %q:\n%s", w, out)
			break
		}
	}
	// Grids stay polygons beside the objects' points and lines.
	kinds := ogr(t, token, "ogrinfo", "-ro", "-q", gpkg, "-sql",
		`SELECT target_kind || ' ' || ST_GeometryType(geom) AS k, count(*) AS n FROM assignments GROUP BY k`)
	grids := e.scalar(`SELECT count(*) FROM assignments WHERE valid_to IS NULL AND target_kind = 'grid'`)
	if grids == 0 || !strings.Contains(kinds, "k (String) = grid POLYGON\n  n (Integer) = "+strconv.Itoa(grids)+"\n") ||
		strings.Count(kinds, "k (String) = grid ") != 1 {
		t.Errorf("want %d grid assignments, all polygons:\n%s", grids, kinds)
	}
}

// TestGDALReadsCases: GDAL reads the OGC collection cases with its fields
// typed from the schema, filters it by time and place, and copies it into
// a GeoPackage with every case.
func TestGDALReadsCases(t *testing.T) {
	gdal(t)
	e, filed := caseCity(t)
	token := e.token("analyst", "")
	out := ogr(t, token, "ogrinfo", "-ro", "-so", "-oo", "PAGE_SIZE=5", "OAPIF:"+e.url+"/ogc", "cases")
	for _, f := range []string{"Geometry: Point", "Feature Count: 12", "code: String", "status: String", "category_name: String",
		"reported_at: DateTime", "deadline: DateTime", "overdue: Integer(Boolean)", "dispatches: Integer", "closed_at: DateTime"} {
		if !strings.Contains(out, f) {
			t.Errorf("ogrinfo cases: no %q:\n%s", f, out)
		}
	}
	if strings.Contains(out, "reporter") {
		t.Errorf("GDAL sees reporters:\n%s", out)
	}
	// A box around the lattice's first column (GDAL sends it as bbox).
	spat := []string{strconv.FormatFloat(zgcLon-0.0001, 'f', 6, 64), strconv.FormatFloat(zgcLat-0.0001, 'f', 6, 64),
		strconv.FormatFloat(zgcLon+0.0001, 'f', 6, 64), strconv.FormatFloat(zgcLat+0.0030, 'f', 6, 64)}
	out = ogr(t, token, "ogrinfo", append([]string{"-ro", "-al", "-q", "OAPIF:" + e.url + "/ogc/collections/cases?datetime=2000-01-01T00:00:00Z/..", "-spat"}, spat...)...)
	for _, i := range []int{0, 4, 8} {
		if !strings.Contains(out, "code (String) = "+filed[i].Code) {
			t.Errorf("no %s in the box:\n%s", filed[i].Code, out)
		}
	}
	if n := strings.Count(out, "code (String) = "); n != 3 {
		t.Errorf("the box holds %d cases, want 3:\n%s", n, out)
	}
	if !strings.Contains(out, "overdue (Integer(Boolean)) = 1") {
		t.Errorf("the overdue case is not overdue through GDAL:\n%s", out)
	}

	gpkg := filepath.Join(t.TempDir(), "cases.gpkg")
	_, warn := ogrWarn(t, token, "ogr2ogr", "-f", "GPKG", gpkg, "OAPIF:"+e.url+"/ogc", "cases", "-oo", "PAGE_SIZE=5")
	if strings.Contains(warn, "Warning") || strings.Contains(warn, "ERROR") {
		t.Errorf("ogr2ogr cases:\n%s", warn)
	}
	if n := countOf(t, ogr(t, token, "ogrinfo", "-ro", "-so", gpkg, "cases")); n != 12 {
		t.Errorf("GeoPackage holds %d cases, want 12", n)
	}
}
