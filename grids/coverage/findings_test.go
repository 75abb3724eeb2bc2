package coverage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/internal/testdb"
)

// brokenCity is a small generated city with findings of every sort: leads
// ended (gaps, unassigned objects), a stretch lead (uncovered stretches), a
// region lead over grid leads of other units, and a grid grown over its
// neighbours (overlaps for coverage and for the grid check).
func brokenCity(t *testing.T) (*grids.Store, *coverage.Store) {
	t.Helper()
	ctx := context.Background()
	core := grids.NewStore(testdb.Pool(t), grids.DefaultCodeRules())
	if _, err := citygen.Load(ctx, core, citygen.Config{Grids: 300, Seed: 5}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE assignments SET valid_to = now() WHERE id IN (
			SELECT id FROM assignments WHERE valid_to IS NULL AND role = 'lead' AND theme_code = 'sanitation' AND target_kind = 'grid'
			ORDER BY id LIMIT 8)`,
		`UPDATE assignments SET valid_to = now() WHERE id IN (
			SELECT id FROM assignments WHERE valid_to IS NULL AND role = 'lead' AND theme_code = 'sanitation' AND target_kind = 'object'
			ORDER BY id LIMIT 3)`,
		`CREATE TEMP TABLE street AS
			SELECT a.id, a.unit_id, a.object_id, o.length_m FROM assignments a JOIN objects o ON o.id = a.object_id
			WHERE a.valid_to IS NULL AND a.role = 'lead' AND a.theme_code = 'road_chief' AND o.length_m > 100
			  AND o.length_m::numeric::float8 > o.length_m ORDER BY a.id LIMIT 1`, // the stretch to its end once broke the query
		`UPDATE assignments SET valid_to = now() WHERE id = (SELECT id FROM street)`,
		`INSERT INTO assignments (theme_code, unit_id, role, target_kind, object_id, from_m, to_m)
			SELECT 'road_chief', unit_id, 'lead', 'object', object_id, 10, length_m / 2 FROM street`,
		`INSERT INTO assignments (theme_code, unit_id, role, target_kind, region_id)
			SELECT 'sanitation', (SELECT max(id) FROM units), 'lead', 'region', id FROM regions WHERE level = 'community' ORDER BY code LIMIT 1`,
		`UPDATE grids SET geom = ST_Buffer(geom, 0.0002, 'join=mitre') WHERE valid_to IS NULL AND code = (
			SELECT g.code FROM grids g JOIN regions c ON c.id = g.community_id
			WHERE g.valid_to IS NULL AND ST_Within(ST_Buffer(g.geom, 0.0003), c.geom) ORDER BY g.code LIMIT 1)`,
	} {
		if _, err := core.Pool().Exec(ctx, stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	return core, coverage.NewStore(core)
}

// feature is a written feature, kept as raw JSON.
type feature struct {
	ID         string          `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties json.RawMessage `json:"properties"`
}

func features(t *testing.T, doc []byte) []feature {
	t.Helper()
	var fc struct{ Features []feature }
	if err := json.Unmarshal(doc, &fc); err != nil {
		t.Fatalf("not GeoJSON: %v\n%.300s", err, doc)
	}
	return fc.Features
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return out.String()
}

// The streamed findings are the written features, in the same order, and
// the writer lays each out byte for byte as PostgreSQL's json_build_object
// does, which is what the routes sent before findings were streamed.
func TestFindingsAreTheWrittenFeatures(t *testing.T) {
	core, cov := brokenCity(t)
	ctx := context.Background()
	asText := func(col string) string { return "ST_AsText(" + col + ")" }
	for _, tc := range []struct {
		name   string
		write  func(w *bytes.Buffer) error
		stream func(geom func(string) string, emit func(*coverage.Finding) error) error
		kinds  []string
	}{
		{"gaps sanitation",
			func(w *bytes.Buffer) error { return cov.WriteGaps(ctx, "sanitation", "", 0, w) },
			func(g func(string) string, emit func(*coverage.Finding) error) error {
				return cov.Gaps(ctx, "sanitation", "", 0, g, emit)
			},
			[]string{"gap", "overlap", "unassigned_object"}},
		{"gaps road_chief",
			func(w *bytes.Buffer) error { return cov.WriteGaps(ctx, "road_chief", "", 1, w) },
			func(g func(string) string, emit func(*coverage.Finding) error) error {
				return cov.Gaps(ctx, "road_chief", "", 1, g, emit)
			},
			[]string{"uncovered_stretch"}},
		{"grid check",
			func(w *bytes.Buffer) error { return cov.CheckGrids(ctx, "", coverage.GridCheckOptions{}, w) },
			func(g func(string) string, emit func(*coverage.Finding) error) error {
				return cov.GridProblems(ctx, "", coverage.GridCheckOptions{}, g, emit)
			},
			[]string{"overlap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc bytes.Buffer
			if err := tc.write(&doc); err != nil {
				t.Fatal(err)
			}
			written := features(t, doc.Bytes())
			var found []*coverage.Finding
			if err := tc.stream(grids.GeoJSONOf, func(f *coverage.Finding) error { found = append(found, f); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(found) != len(written) {
				t.Fatalf("%d findings, %d features", len(found), len(written))
			}
			kinds := map[string]bool{}
			for i, f := range found {
				w := written[i]
				kinds[f.Kind] = true
				if f.ID != w.ID || compact(t, f.Props) != compact(t, w.Properties) || compact(t, f.Geom) != compact(t, w.Geometry) {
					t.Fatalf("finding %d: %s %s %.80s, written %s %s %.80s", i, f.ID, f.Props, f.Geom, w.ID, w.Properties, w.Geometry)
				}
				var props struct{ Kind string }
				if err := json.Unmarshal(f.Props, &props); err != nil || props.Kind != f.Kind {
					t.Errorf("finding %d: kind %q, properties %s", i, f.Kind, f.Props)
				}
			}
			for _, k := range tc.kinds {
				if !kinds[k] {
					t.Errorf("no %s among %d findings", k, len(found))
				}
			}
			// The layout of one feature, against PostgreSQL's own.
			for i, f := range found[:min(len(found), 50)] {
				var want string
				var err error
				if f.ID == "" {
					err = core.Pool().QueryRow(ctx, `SELECT json_build_object('type', 'Feature', 'geometry', $1::json, 'properties', $2::jsonb)::text`,
						string(f.Geom), string(f.Props)).Scan(&want)
				} else {
					err = core.Pool().QueryRow(ctx, `SELECT json_build_object('type', 'Feature', 'id', $1::text, 'geometry', $2::json, 'properties', $3::json)::text`,
						f.ID, string(f.Geom), string(f.Props)).Scan(&want)
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Contains(doc.Bytes(), []byte(want)) {
					t.Fatalf("feature %d is not laid out as json_build_object lays it out:\n%s", i, want)
				}
			}
			// Another rendering of the same findings.
			var wkt []*coverage.Finding
			if err := tc.stream(asText, func(f *coverage.Finding) error { wkt = append(wkt, f); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(wkt) != len(found) {
				t.Fatalf("%d findings as WKT, %d as GeoJSON", len(wkt), len(found))
			}
			for i, f := range wkt {
				typ, _, _ := strings.Cut(string(f.Geom), "(")
				if f.ID != found[i].ID || !bytes.Equal(f.Props, found[i].Props) || !slices.Contains([]string{"POLYGON", "MULTIPOLYGON", "LINESTRING", "MULTILINESTRING", "POINT"}, typ) {
					t.Fatalf("WKT finding %d: %s %s %.40s", i, f.ID, f.Props, f.Geom)
				}
			}
		})
	}
}

// An unknown theme or region, or a guideline upside down, is a domain
// error before any finding.
func TestFindingsRefusedBeforeTheFirst(t *testing.T) {
	_, cov := brokenCity(t)
	ctx := context.Background()
	none := func(f *coverage.Finding) error {
		t.Errorf("emitted %s", f.Kind)
		return nil
	}
	for name, err := range map[string]error{
		"theme":     cov.Gaps(ctx, "nosuch", "", 1, grids.GeoJSONOf, none),
		"region":    cov.Gaps(ctx, "sanitation", "nosuch", 1, grids.GeoJSONOf, none),
		"check":     cov.GridProblems(ctx, "nosuch", coverage.GridCheckOptions{}, grids.GeoJSONOf, none),
		"guideline": cov.GridProblems(ctx, "", coverage.GridCheckOptions{MinAreaM2: 9, MaxAreaM2: 5}, grids.GeoJSONOf, none),
	} {
		var v *grids.ValidationError
		if !errors.As(err, &v) {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
	var w bytes.Buffer
	if err := cov.WriteGaps(ctx, "nosuch", "", 1, &w); err == nil || w.Len() > 0 {
		t.Errorf("WriteGaps of an unknown theme: %v, wrote %q", err, w.String())
	}
}
