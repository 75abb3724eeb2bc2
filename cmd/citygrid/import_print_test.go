package main

import (
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids/ingest"
)

// A planner reads a dry run's changes one a line, with the measures.
func TestPrintImportChanges(t *testing.T) {
	before, after := 351.0, 30.0
	var b strings.Builder
	printImportResult(&b, ingest.ImportResult{Kind: "osm", Read: 2, Updated: 1, Unchanged: 1, DryRun: true,
		Changes: []ingest.ImportChange{{ID: "way/123", Action: "geometry_kept", Fields: []string{"name"},
			Measure: "length_m", Before: &before, After: &after}}, ChangesOmitted: 4})
	out := b.String()
	for _, want := range []string{"dry run, nothing written: osm: read 2", "geometry_kept", "way/123", "name  length_m 351 → 30", "and 4 more changes"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
