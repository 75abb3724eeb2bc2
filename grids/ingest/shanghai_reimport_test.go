package ingest_test

import (
	"context"
	"encoding/xml"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmxml"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

// clipOSM writes a copy of an extract as another tool would: only the nodes
// inside the middle half of its extent and no name:zh or name:en tags.
// keepRefs keeps the ways' references to the nodes cut off, as osmium's
// simple strategy and bbox downloads do; without it ways are cut down to
// the nodes kept, as tools that rewrite ways do, and nothing shows that
// they were clipped.
func clipOSM(t *testing.T, src string, keepRefs bool) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := osmxml.New(context.Background(), f)
	defer sc.Close()
	var nodes osm.Nodes
	var ways osm.Ways
	for sc.Scan() {
		switch e := sc.Object().(type) {
		case *osm.Node:
			nodes = append(nodes, e)
		case *osm.Way:
			ways = append(ways, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	b := nodes[0].Point().Bound()
	for _, n := range nodes {
		b = b.Extend(n.Point())
	}
	dx, dy := (b.Max[0]-b.Min[0])/4, (b.Max[1]-b.Min[1])/4
	b.Min[0], b.Max[0], b.Min[1], b.Max[1] = b.Min[0]+dx, b.Max[0]-dx, b.Min[1]+dy, b.Max[1]-dy
	out := &osm.OSM{Version: "0.6"}
	kept := map[osm.NodeID]bool{}
	for _, n := range nodes {
		if b.Contains(n.Point()) {
			out.Nodes = append(out.Nodes, n)
			kept[n.ID] = true
		}
	}
	for _, w := range ways {
		var wn osm.WayNodes
		inside := 0
		for _, n := range w.Nodes {
			if kept[n.ID] {
				inside++
			}
			if kept[n.ID] || keepRefs {
				wn = append(wn, osm.WayNode{ID: n.ID})
			}
		}
		if inside < 2 {
			continue
		}
		var tags osm.Tags
		for _, tag := range w.Tags {
			if tag.Key != "name:zh" && tag.Key != "name:en" {
				tags = append(tags, tag)
			}
		}
		w.Nodes, w.Tags = wn, tags
		out.Ways = append(out.Ways, w)
	}
	x, err := xml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "clipped.osm")
	if err := os.WriteFile(p, append([]byte(xml.Header), x...), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// streets is what a planner checks after a re-import: the total length of
// the OSM lines, how many keep a name:zh tag, and every line's name.
type streets struct {
	lengthKM float64
	nameZh   int
	names    map[string]string
}

func streetsOf(t *testing.T, s *grids.Store) streets {
	t.Helper()
	ctx := context.Background()
	st := streets{names: map[string]string{}}
	err := s.Pool().QueryRow(ctx, `
		SELECT sum(ST_Length(geom::geography)) / 1000, count(*) FILTER (WHERE attrs->'osm' ? 'name:zh')
		FROM objects WHERE source = 'osm' AND ST_Dimension(geom) = 1`).Scan(&st.lengthKM, &st.nameZh)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Pool().Query(ctx, `SELECT source_id, name FROM objects WHERE source = 'osm' AND ST_Dimension(geom) = 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			t.Fatal(err)
		}
		st.names[id] = name
	}
	return st
}

func sameNames(a, b map[string]string) int {
	n := 0
	for id, name := range a {
		if b[id] == name {
			n++
		}
	}
	return n
}

// shanghaiStreets loads the Shanghai demo's OSM extract into a fresh
// database and writes a clipped copy of it (see clipOSM); load imports an
// OSM file into the same database.
func shanghaiStreets(t *testing.T, keepRefs bool) (s *grids.Store, load func(string, ingest.ImportOptions) ingest.ImportResult, clipped string) {
	t.Helper()
	city := derive.RealCities()["shanghai"]
	src := testdb.SharedData(t, filepath.Join(city.Dir, city.OSM[0]))
	clipped = clipOSM(t, src, keepRefs)
	s = gridstest.NewStore(t)
	load = func(path string, opt ingest.ImportOptions) ingest.ImportResult {
		t.Helper()
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return mustImportOSM(t, s, string(body), opt)
	}
	load(src, ingest.ImportOptions{})
	return s, load, clipped
}

// The Shanghai demo's streets re-imported from a clipped copy of their
// extract that lost its name:zh/name:en tags: without AllowShrink and
// ReplaceTags the stored streets keep their length and names, with them
// they take the clipped copy's.
func TestReimportShanghaiFromClippedExtract(t *testing.T) {
	s, load, clipped := shanghaiStreets(t, false)
	demo := streetsOf(t, s)
	t.Logf("demo: %.1f km of lines, %d with name:zh, %d lines", demo.lengthKM, demo.nameZh, len(demo.names))

	dry := load(clipped, ingest.ImportOptions{DryRun: true})
	if got := streetsOf(t, s); got.lengthKM != demo.lengthKM || got.nameZh != demo.nameZh || len(got.names) != len(demo.names) {
		t.Fatalf("the dry run wrote: %.1f km, %d name:zh, %d lines", got.lengthKM, got.nameZh, len(got.names))
	}

	guarded := load(clipped, ingest.ImportOptions{})
	after := streetsOf(t, s)
	t.Logf("guarded re-import: updated %d, unchanged %d, %d warnings, %d changes (+%d); %.1f km, %d with name:zh",
		guarded.Updated, guarded.Unchanged, len(guarded.Warnings), len(guarded.Changes), guarded.ChangesOmitted, after.lengthKM, after.nameZh)
	// Ways shortened by up to 20% may shorten: the guard is per way.
	if after.lengthKM < 0.99*demo.lengthKM || after.nameZh != demo.nameZh || sameNames(demo.names, after.names) != len(demo.names) {
		t.Errorf("without the flags: %.1f km (was %.1f), %d name:zh (was %d), %d of %d names unchanged",
			after.lengthKM, demo.lengthKM, after.nameZh, demo.nameZh, sameNames(demo.names, after.names), len(demo.names))
	}
	if jsonOf(t, dry.Changes) != jsonOf(t, guarded.Changes) || dry.Updated != guarded.Updated || dry.Unchanged != guarded.Unchanged {
		t.Errorf("the dry run said updated %d unchanged %d, the real run %d %d", dry.Updated, dry.Unchanged, guarded.Updated, guarded.Unchanged)
	}
	if len(guarded.Warnings) < 10 {
		t.Errorf("only %d warnings for a clipped extract", len(guarded.Warnings))
	}

	dry = load(clipped, ingest.ImportOptions{DryRun: true, AllowShrink: true, ReplaceTags: true})
	full := load(clipped, ingest.ImportOptions{AllowShrink: true, ReplaceTags: true})
	after = streetsOf(t, s)
	t.Logf("with the flags: updated %d; %.1f km, %d with name:zh, %d names unchanged", full.Updated, after.lengthKM, after.nameZh, sameNames(demo.names, after.names))
	if after.lengthKM > 0.98*demo.lengthKM || after.nameZh > demo.nameZh/2 {
		t.Errorf("with AllowShrink and ReplaceTags: %.1f km (was %.1f), %d name:zh (was %d)", after.lengthKM, demo.lengthKM, after.nameZh, demo.nameZh)
	}
	if dry.Updated != full.Updated || dry.Created != full.Created || dry.Unchanged != full.Unchanged {
		t.Errorf("the dry run said created %d updated %d unchanged %d; the real run %d %d %d",
			dry.Created, dry.Updated, dry.Unchanged, full.Created, full.Updated, full.Unchanged)
	}
}

// A clipped extract that keeps its ways' references to the nodes it cut
// off, as most tools write one: every clipped way is flagged partial and
// never replaces the stored whole way, so the total street length stays
// exactly what it was, with or without AllowShrink; ReplaceTags still
// drops the names the copy lacks.
func TestReimportShanghaiFromPartialExtract(t *testing.T) {
	s, load, clipped := shanghaiStreets(t, true)
	demo := streetsOf(t, s)
	res := load(clipped, ingest.ImportOptions{})
	after := streetsOf(t, s)
	t.Logf("partial re-import: updated %d, unchanged %d, %d warnings; %.3f km (was %.3f)", res.Updated, res.Unchanged, len(res.Warnings), after.lengthKM, demo.lengthKM)
	if math.Abs(after.lengthKM-demo.lengthKM) > 0.001 || after.nameZh != demo.nameZh || sameNames(demo.names, after.names) != len(demo.names) {
		t.Errorf("without the flags: %.3f km (was %.3f), %d name:zh (was %d), %d of %d names unchanged",
			after.lengthKM, demo.lengthKM, after.nameZh, demo.nameZh, sameNames(demo.names, after.names), len(demo.names))
	}
	if len(res.Warnings) == 0 {
		t.Error("no warning about the partial ways kept")
	}
	load(clipped, ingest.ImportOptions{AllowShrink: true, ReplaceTags: true})
	after = streetsOf(t, s)
	if math.Abs(after.lengthKM-demo.lengthKM) > 0.001 || after.nameZh >= demo.nameZh {
		t.Errorf("with AllowShrink and ReplaceTags: %.3f km (was %.3f: partial ways must not replace whole ones), %d name:zh (was %d)",
			after.lengthKM, demo.lengthKM, after.nameZh, demo.nameZh)
	}
}
