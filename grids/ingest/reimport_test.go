package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/ingest"
)

// osmWay writes a one-way .osm file: nodes along a parallel at 31.2°N,
// one every ~95 m (0.001° of longitude), and the way through them.
func osmWay(wayID, nodes int, tags map[string]string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<osm version=\"0.6\">\n")
	for i := 1; i <= nodes; i++ {
		fmt.Fprintf(&b, `<node id="%d" lat="31.2" lon="%.4f" version="1"/>`+"\n", i, 121.4+0.001*float64(i))
	}
	fmt.Fprintf(&b, `<way id="%d" version="1">`, wayID)
	for i := 1; i <= nodes; i++ {
		fmt.Fprintf(&b, `<nd ref="%d"/>`, i)
	}
	for k, v := range tags {
		fmt.Fprintf(&b, `<tag k="%s" v="%s"/>`, k, v)
	}
	b.WriteString("</way>\n</osm>\n")
	return b.String()
}

// mustImportOSM is importOSM for imports that must succeed.
func mustImportOSM(t *testing.T, s *grids.Store, body string, opt ingest.ImportOptions) ingest.ImportResult {
	t.Helper()
	res, err := importOSM(t, s, body, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type storedWay struct {
	name, nameZh, nameEn string
	lengthM              float64
	simple               bool
}

func wayOf(t *testing.T, s *grids.Store, id string) storedWay {
	t.Helper()
	var w storedWay
	err := s.Pool().QueryRow(context.Background(), `
		SELECT name, COALESCE(attrs->'osm'->>'name:zh', ''), COALESCE(attrs->'osm'->>'name:en', ''),
		       ST_Length(geom::geography), ST_IsSimple(geom)
		FROM objects WHERE source = 'osm' AND source_id = $1`, id).Scan(&w.name, &w.nameZh, &w.nameEn, &w.lengthM, &w.simple)
	if err != nil {
		t.Fatalf("way %s: %v", id, err)
	}
	return w
}

func change(res ingest.ImportResult, id string) (ingest.ImportChange, bool) {
	for _, c := range res.Changes {
		if c.ID == id {
			return c, true
		}
	}
	return ingest.ImportChange{}, false
}

// A way whose new source drops name:zh and name:en keeps them, and its
// name; --replace-tags drops them.
func TestReimportKeepsTags(t *testing.T) {
	s := gridstest.NewStore(t)
	full := map[string]string{"highway": "residential", "name": "Wuding Road", "name:zh": "武定路", "name:en": "Wuding Road"}
	mustImportOSM(t, s, osmWay(7, 5, full), ingest.ImportOptions{})
	bare := map[string]string{"highway": "residential", "surface": "asphalt"}
	res := mustImportOSM(t, s, osmWay(7, 5, bare), ingest.ImportOptions{})
	w := wayOf(t, s, "way/7")
	if w.name != "武定路" || w.nameZh != "武定路" || w.nameEn != "Wuding Road" {
		t.Errorf("after a re-import without names: %+v", w)
	}
	if c, ok := change(res, "way/7"); !ok || c.Action != "updated" || strings.Join(c.Fields, ",") != "attrs" {
		t.Errorf("change of way/7: %+v (want updated attrs: surface was added) in %+v", c, res.Changes)
	}
	mustImportOSM(t, s, osmWay(7, 5, bare), ingest.ImportOptions{ReplaceTags: true})
	w = wayOf(t, s, "way/7")
	if w.name != "" || w.nameZh != "" || w.nameEn != "" {
		t.Errorf("with ReplaceTags the names stay: %+v", w)
	}
}

// A category is kept when the new file gives none (OSM never does), and a
// unit keeps the contact fields and attributes a units file leaves out;
// ReplaceTags drops both.
func TestReimportKeepsCategoryAndContacts(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	obj := func(cat string) string {
		c := ""
		if cat != "" {
			c = `,"category":"` + cat + `"`
		}
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"LAMP1","layer":"component","name":"路灯"` + c + `},
		  "geometry":{"type":"Point","coordinates":[121.40,31.20]}}]}`
	}
	category := func() string {
		var c *string
		if err := s.Pool().QueryRow(ctx, `SELECT category_code FROM objects WHERE code = 'LAMP1'`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return ""
		}
		return *c
	}
	for _, step := range []struct {
		body string
		opt  ingest.ImportOptions
		want string
	}{
		{obj("C0118"), ingest.ImportOptions{Kind: "objects"}, "C0118"},
		{obj(""), ingest.ImportOptions{Kind: "objects"}, "C0118"},
		{obj(""), ingest.ImportOptions{Kind: "objects", ReplaceTags: true}, ""},
	} {
		if _, err := gridstest.ImportString(t, s, step.body, step.opt); err != nil {
			t.Fatal(err)
		}
		if got := category(); got != step.want {
			t.Errorf("after an import with %+v the category is %q, want %q", step.opt, got, step.want)
		}
	}
	unit := func(props string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"HW01","name":"环卫一队","kind":"department"` + props + `},"geometry":null}]}`
	}
	contact := func() (phone, note string) {
		if err := s.Pool().QueryRow(ctx, `SELECT COALESCE(contact->>'phone', ''), COALESCE(attrs->>'note', '') FROM units WHERE code = 'HW01'`).Scan(&phone, &note); err != nil {
			t.Fatal(err)
		}
		return phone, note
	}
	for _, step := range []struct {
		props       string
		opt         ingest.ImportOptions
		phone, note string
	}{
		{`,"phone":"010-62345678","note":"夜班"`, ingest.ImportOptions{Kind: "units"}, "010-62345678", "夜班"},
		{``, ingest.ImportOptions{Kind: "units"}, "010-62345678", "夜班"},
		{`,"phone":"010-60000000"`, ingest.ImportOptions{Kind: "units"}, "010-60000000", "夜班"},
		{``, ingest.ImportOptions{Kind: "units", ReplaceTags: true}, "", ""},
	} {
		if _, err := gridstest.ImportString(t, s, unit(step.props), step.opt); err != nil {
			t.Fatal(err)
		}
		if phone, note := contact(); phone != step.phone || note != step.note {
			t.Errorf("after a units import %q %+v: phone %q note %q, want %q %q", step.props, step.opt, phone, note, step.phone, step.note)
		}
	}
}

// A way shortened by more than 20% keeps its stored geometry with a
// warning (its other fields still update); AllowShrink replaces it. A line
// turned self-overlapping is guarded the same way.
func TestReimportShrinkGuard(t *testing.T) {
	s := gridstest.NewStore(t)
	tags := map[string]string{"highway": "residential", "name:zh": "长乐路"}
	mustImportOSM(t, s, osmWay(8, 11, tags), ingest.ImportOptions{})
	before := wayOf(t, s, "way/8").lengthM
	tags["name:zh"] = "长乐路东段"
	res := mustImportOSM(t, s, osmWay(8, 4, tags), ingest.ImportOptions{})
	w := wayOf(t, s, "way/8")
	if w.lengthM != before || w.name != "长乐路东段" {
		t.Errorf("shortened way stored %.0f m named %s, want %.0f m and the new name", w.lengthM, w.name, before)
	}
	c, ok := change(res, "way/8")
	if !ok || c.Action != "geometry_kept" || c.Measure != "length_m" || c.Before == nil || c.After == nil ||
		*c.After > 0.5**c.Before || strings.Join(c.Fields, ",") != "name,attrs" {
		t.Errorf("change %+v", c)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "way/8") || !strings.Contains(res.Warnings[0], "length_m") {
		t.Errorf("warnings %q", res.Warnings)
	}
	if res.Updated != 1 {
		t.Errorf("updated %d, want 1 (the name)", res.Updated)
	}

	res = mustImportOSM(t, s, osmWay(8, 4, tags), ingest.ImportOptions{AllowShrink: true})
	if w := wayOf(t, s, "way/8"); w.lengthM > 0.5*before {
		t.Errorf("with AllowShrink the way is still %.0f m", w.lengthM)
	}
	if c, _ := change(res, "way/8"); c.Action != "updated" || !strings.Contains(res.Warnings[0], "replaced") {
		t.Errorf("AllowShrink: %+v %q", c, res.Warnings)
	}

	// A line that comes back across itself is longer but not simple (a line
	// running back over itself is left out before this: see CheckLine).
	line := func(coords string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"L9","layer":"street","name":"环路"},
		  "geometry":{"type":"LineString","coordinates":` + coords + `}}]}`
	}
	if _, err := gridstest.ImportString(t, s, line(`[[121.40,31.20],[121.41,31.20],[121.41,31.21]]`), ingest.ImportOptions{Kind: "objects"}); err != nil {
		t.Fatal(err)
	}
	res, err := gridstest.ImportString(t, s, line(`[[121.40,31.20],[121.41,31.20],[121.41,31.21],[121.405,31.19]]`), ingest.ImportOptions{Kind: "objects"})
	var simple bool
	if qerr := s.Pool().QueryRow(context.Background(), `SELECT ST_IsSimple(geom) FROM objects WHERE code = 'L9'`).Scan(&simple); qerr != nil {
		t.Fatal(qerr)
	}
	if err != nil || !simple || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "crosses itself") {
		t.Errorf("self-crossing re-import: %v %q, stored line simple: %v", err, res.Warnings, simple)
	}
}

// A partial feature never replaces a whole stored one, even with
// AllowShrink; a whole one replaces a partial one.
func TestReimportPartialNeverReplacesWhole(t *testing.T) {
	s := gridstest.NewStore(t)
	line := func(code string, x1 float64, partial bool) string {
		return fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":%q,"layer":"street","name":"延安路","partial":%v},
		  "geometry":{"type":"LineString","coordinates":[[121.40,31.2],[%g,31.2]]}}]}`, code, partial, x1)
	}
	imp := func(body string, opt ingest.ImportOptions) ingest.ImportResult {
		t.Helper()
		opt.Kind = "objects"
		res, err := gridstest.ImportString(t, s, body, opt)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	length := func(code string) (m float64, partial bool) {
		s.Pool().QueryRow(context.Background(), `SELECT ST_Length(geom::geography), COALESCE((attrs->>'partial')::boolean, false) FROM objects WHERE code = $1`, code).Scan(&m, &partial)
		return
	}
	imp(line("y1", 121.41, false), ingest.ImportOptions{})
	whole, _ := length("y1")
	res := imp(line("y1", 121.415, true), ingest.ImportOptions{AllowShrink: true}) // longer, but clipped
	if m, partial := length("y1"); m != whole || partial {
		t.Errorf("partial replaced whole: %.0f m (was %.0f), partial %v", m, whole, partial)
	}
	if c, _ := change(res, "y1"); c.Action != "geometry_kept" || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "partial") {
		t.Errorf("%+v %q", c, res.Warnings)
	}
	imp(line("y2", 121.41, true), ingest.ImportOptions{})
	imp(line("y2", 121.42, false), ingest.ImportOptions{})
	if m, partial := length("y2"); m < 1.9*whole || partial {
		t.Errorf("whole did not replace partial: %.0f m, partial %v", m, partial)
	}
}

// A dry run reports what the real run then does, and writes nothing.
func TestReimportDryRun(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	tags := map[string]string{"highway": "residential", "name:zh": "陕西北路"}
	mustImportOSM(t, s, osmWay(10, 11, tags), ingest.ImportOptions{})
	two := osmWay(10, 4, map[string]string{"highway": "residential"})
	two = strings.Replace(two, "</osm>", `<way id="11" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="service"/></way></osm>`, 1)
	state := func() string {
		var st string
		s.Pool().QueryRow(ctx, `SELECT count(*) || ' ' || COALESCE(round(sum(ST_Length(geom::geography)))::text, '') || ' ' || string_agg(attrs::text, ',' ORDER BY id) FROM objects`).Scan(&st)
		return st
	}
	was := state()
	for _, opt := range []ingest.ImportOptions{{}, {AllowShrink: true}, {ReplaceTags: true}} {
		dry := opt
		dry.DryRun = true
		got := mustImportOSM(t, s, two, dry)
		if state() != was || !got.DryRun {
			t.Fatalf("dry run %+v wrote: %s → %s", opt, was, state())
		}
		real := mustImportOSM(t, s, two, opt)
		got.DryRun = false
		if g, r := jsonOf(t, got), jsonOf(t, real); g != r {
			t.Errorf("%+v: dry run reported\n%s\nthe real run\n%s", opt, g, r)
		}
		if real.Created+real.Updated == 0 {
			t.Errorf("%+v changed nothing: %+v", opt, real)
		}
		was = state()
	}
	// Regions and grids roll back too.
	body := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"110108","name":"海淀区"},
	  "geometry":{"type":"Polygon","coordinates":[[[116.2,39.9],[116.3,39.9],[116.3,40.0],[116.2,40.0],[116.2,39.9]]]}}]}`
	res, err := gridstest.ImportString(t, s, body, ingest.ImportOptions{Kind: "regions", Level: grids.District, DryRun: true})
	if err != nil || res.Created != 1 || !res.DryRun {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := s.Region(ctx, "110108"); err == nil {
		t.Error("dry run created the region")
	}
}

// A region shrinking by more than 20% keeps its stored boundary.
func TestReimportRegionShrink(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	body := func(x1 float64) string {
		return fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"110108","name":"海淀区"},
		  "geometry":{"type":"Polygon","coordinates":[[[116.2,39.9],[%g,39.9],[%g,40.0],[116.2,40.0],[116.2,39.9]]]}}]}`, x1, x1)
	}
	opt := ingest.ImportOptions{Kind: "regions", Level: grids.District}
	if _, err := gridstest.ImportString(t, s, body(116.3), opt); err != nil {
		t.Fatal(err)
	}
	res, err := gridstest.ImportString(t, s, body(116.25), opt)
	r, _ := s.Region(ctx, "110108")
	if err != nil || r.AreaM2 < 8e7 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "area_m2") {
		t.Errorf("halved district: %.0f m² stored, %+v %v", r.AreaM2, res, err)
	}
	opt.AllowShrink = true
	if _, err := gridstest.ImportString(t, s, body(116.25), opt); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Region(ctx, "110108"); r.AreaM2 > 6e7 {
		t.Errorf("AllowShrink kept %.0f m²", r.AreaM2)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A dry run sends no change notice; the real run does.
func TestDryRunSendsNoNotice(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+grids.ChangeChannel); err != nil {
		t.Fatal(err)
	}
	notice := func() bool {
		wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := conn.Conn().WaitForNotification(wctx)
		return err == nil
	}
	way := osmWay(12, 3, map[string]string{"highway": "residential"})
	mustImportOSM(t, s, way, ingest.ImportOptions{DryRun: true})
	if notice() {
		t.Error("a dry run announced a change")
	}
	mustImportOSM(t, s, way, ingest.ImportOptions{})
	if !notice() {
		t.Error("the real import announced nothing: the test cannot see notices")
	}
}
