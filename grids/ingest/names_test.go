package ingest_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/ingest"
)

// An OSM import keeps a feature's name variants (in attrs.osm), and they are
// the names search finds it by (citygrid_search_text, migration 7): Chinese
// and English, alternative, old, short and official names, not other
// languages'. A guarded re-import from a file that lost a variant keeps it.
func TestOSMNameVariantsKept(t *testing.T) {
	s := gridstest.NewStore(t)
	tags := map[string]string{"highway": "primary", "name": "中关村大街", "name:zh": "中关村大街", "name:en": "Zhongguancun Street",
		"alt_name": "白颐路", "old_name": "白石桥路", "short_name": "中关村街", "official_name": "北京市中关村大街", "name:ja": "中関村大街"}
	mustImportOSM(t, s, osmWay(21, 5, tags), ingest.ImportOptions{})
	names := func() []string {
		t.Helper()
		var text string
		if err := s.Pool().QueryRow(context.Background(),
			`SELECT citygrid_search_text(name, attrs) FROM objects WHERE source = 'osm' AND source_id = 'way/21'`).Scan(&text); err != nil {
			t.Fatal(err)
		}
		return strings.Split(text, "\n")
	}
	got := names()
	for _, want := range []string{"中关村大街", "Zhongguancun Street", "白颐路", "白石桥路", "中关村街", "北京市中关村大街"} {
		if !slices.Contains(got, want) {
			t.Errorf("the search names %q lack %s", got, want)
		}
	}
	if slices.Contains(got, "中関村大街") || got[0] != "中关村大街" {
		t.Errorf("the search names %q: the name first, no Japanese", got)
	}

	delete(tags, "alt_name")
	mustImportOSM(t, s, osmWay(21, 5, tags), ingest.ImportOptions{})
	if got := names(); !slices.Contains(got, "白颐路") {
		t.Errorf("a re-import without alt_name dropped it: %q", got)
	}
}
