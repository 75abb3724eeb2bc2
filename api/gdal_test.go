package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citygrid/citygrid/internal/pgrun"
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
		if _, err := pgrun.EnsureCommand(ctx, os.Stderr, prog, "gdal-bin"); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("GDAL is required in CI: %v", err)
			}
			t.Skipf("GDAL (gdal-bin) is not installed and cannot be installed here: %v", err)
		}
	}
}

// ogr runs a GDAL tool with the token in GDAL_HTTP_HEADERS, as an analyst
// would.
func ogr(t *testing.T, token, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = append(os.Environ(), "GDAL_HTTP_HEADERS=Authorization: Bearer "+token, "CPL_DEBUG=OFF", "GDAL_HTTP_TIMEOUT=60")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
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
