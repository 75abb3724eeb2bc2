package cases

import (
	"context"
	"regexp"
	"slices"
	"testing"

	"github.com/citygrid/citygrid/internal/testdb"
)

// The covering indexes hold every column their statements read, so that
// those stay index-only scans when a rule changes: migration 22 added the
// lateness to OverdueSQL and the city's hotspots fell back to a scan of
// the whole table (280 to 810 ms on 1,000,000 cases) until migration 23.
func TestCoveringIndexesHoldTheirColumns(t *testing.T) {
	pool := testdb.Pool(t)
	columns := func(sql string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`\bc\.([a-z0-9_]+)`).FindAllStringSubmatch(sql, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
		return out
	}
	hotspots := append(columns(OverdueSQL), "h3_r6", "h3_r7", "h3_r8", "h3_r9", "h3_r10", "category_code")
	for _, tc := range []struct {
		index string
		reads []string
	}{
		{"cases_cells", hotspots},
		{"cases_overdue_city", append(columns(OverdueSQL), "id", "reported_at")},
		{"cases_overdue_district", append(columns(OverdueSQL), "id", "reported_at", "district_code")},
		{"cases_overdue_subdistrict", append(columns(OverdueSQL), "id", "reported_at", "subdistrict_code")},
		{"cases_open_points", append(columns(pointColumns), "geom")},
	} {
		var held []string
		if err := pool.QueryRow(context.Background(), `SELECT array_agg(a.attname::text) FROM pg_index i
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
			WHERE i.indexrelid = $1::regclass`, tc.index).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if len(tc.reads) < 5 {
			t.Fatalf("%s: found only %v in the statement", tc.index, tc.reads)
		}
		for _, col := range tc.reads {
			if !slices.Contains(held, col) {
				t.Errorf("%s does not hold %s, which its statement reads (it holds %v)", tc.index, col, held)
			}
		}
	}
}
