package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"
)

// listPage is one page of the case list or its GeoJSON, reduced to what
// paging shows: the codes in order, the counts, the total and the link on.
type listPage struct {
	codes  []string
	props  []map[string]any // the GeoJSON's properties, or the list's items
	counts map[string]int
	total  int
	next   string
}

func getPage(t *testing.T, e *env, path string) listPage {
	t.Helper()
	r := e.do("GET", path, adminToken, nil)
	if r.status != 200 {
		t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	var body struct {
		Items    []map[string]any `json:"items"`
		Features []struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
		Counts     map[string]int `json:"counts"`
		Total      int            `json:"total"`
		NextCursor string         `json:"next_cursor"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	p := listPage{counts: body.Counts, total: body.Total, next: body.NextCursor}
	for _, it := range body.Items {
		p.codes, p.props = append(p.codes, it["code"].(string)), append(p.props, it)
	}
	for _, f := range body.Features {
		p.codes, p.props = append(p.codes, f.ID), append(p.props, f.Properties)
	}
	return p
}

// allPages follows next_cursor from the first page of path (a query
// string ending in & or ?), checking that every page carries the counts
// and total of the first.
func allPages(t *testing.T, e *env, path string) (codes []string, props []map[string]any, first listPage) {
	t.Helper()
	first = getPage(t, e, path)
	p := first
	for n := 0; ; n++ {
		codes, props = append(codes, p.codes...), append(props, p.props...)
		if p.next == "" {
			return codes, props, first
		}
		if n > 50 {
			t.Fatalf("%s: more than 50 pages", path)
		}
		p = getPage(t, e, path+"cursor="+url.QueryEscape(p.next))
		if fmt.Sprint(p.counts) != fmt.Sprint(first.counts) || p.total != first.total {
			t.Errorf("%s page %d: counts %v total %d, the first page's %v %d", path, n+2, p.counts, p.total, first.counts, first.total)
		}
	}
}

// The case list pages through cases reported over half a year (several
// monthly partitions and the default one) newest first, oldest first and
// by deadline, in a box and in a window, without losing or repeating a
// case; every page carries the exact counts of the whole filtered set;
// the map's GeoJSON pages alike and its properties are the list's.
func TestCaseListPages(t *testing.T) {
	e, filed := caseCity(t)
	ctx := context.Background()
	// Case i was reported 17·i days ago (0 … 187 days: seven months), two
	// of them at the same instant so that the cursor must break the tie.
	for i, c := range filed {
		if _, err := e.store.Pool().Exec(ctx, `UPDATE cases SET reported_at = date_trunc('second', now()) - make_interval(days => $2) WHERE code = $1`,
			c.Code, 17*min(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	var want struct {
		newest, oldest []string
		open           map[string]int
	}
	rows, err := e.store.Pool().Query(ctx, `SELECT code, status FROM cases ORDER BY reported_at DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	want.open = map[string]int{}
	for rows.Next() {
		var code, status string
		if err := rows.Scan(&code, &status); err != nil {
			t.Fatal(err)
		}
		want.newest = append(want.newest, code)
		want.open[status]++ // every case of caseCity is open
	}
	if rows.Err() != nil || len(want.newest) != 12 {
		t.Fatalf("%d cases: %v", len(want.newest), rows.Err())
	}
	want.oldest = slices.Clone(want.newest)
	slices.Reverse(want.oldest) // ids rise with the filing order as the times fall: no tie flips
	if got := filed[10].Code; want.newest[len(want.newest)-1] != got && want.newest[len(want.newest)-2] != got {
		t.Fatalf("the tie is not last: %v", want.newest)
	}

	codes, _, first := allPages(t, e, "/api/v1/cases?limit=5&")
	if !slices.Equal(codes, want.newest) {
		t.Errorf("newest first, 5 a page: %v, want %v", codes, want.newest)
	}
	if fmt.Sprint(first.counts) != fmt.Sprint(want.open) || first.total != 12 {
		t.Errorf("counts %v total %d, want %v and 12", first.counts, first.total, want.open)
	}
	if codes, _, _ = allPages(t, e, "/api/v1/cases?limit=4&sort=reported_at&"); !slices.Equal(codes, want.oldest) {
		t.Errorf("oldest first, 4 a page: %v, want %v", codes, want.oldest)
	}

	// A window of 100 days and a box of the lattice's first two rows.
	from := url.QueryEscape(time.Now().Add(-100 * 24 * time.Hour).Format(time.RFC3339))
	in := func(code string, ok func(i int) bool) bool {
		i := slices.IndexFunc(filed, func(c caseJSON) bool { return c.Code == code })
		return ok(i)
	}
	var windowed []string
	for _, c := range want.newest {
		if in(c, func(i int) bool { return 17*min(i, 10) < 100 }) {
			windowed = append(windowed, c)
		}
	}
	codes, _, first = allPages(t, e, "/api/v1/cases?limit=2&from="+from+"&")
	if !slices.Equal(codes, windowed) || first.total != len(windowed) {
		t.Errorf("from 100 days ago: %v (total %d), want %v", codes, first.total, windowed)
	}
	bbox := fmt.Sprintf("%f,%f,%f,%f", zgcLon-0.0001, zgcLat-0.0001, zgcLon+0.0046, zgcLat+0.0013) // rows 0 and 1 of the lattice
	var boxed []string
	for _, c := range want.newest {
		if in(c, func(i int) bool { return i < 8 }) {
			boxed = append(boxed, c)
		}
	}
	codes, _, first = allPages(t, e, "/api/v1/cases?limit=3&bbox="+bbox+"&")
	if !slices.Equal(codes, boxed) || first.total != 8 {
		t.Errorf("in the box: %v (total %d), want %v", codes, first.total, boxed)
	}

	// By deadline: the dispatched parking cases first, nearest deadline
	// first (the overdue one), then the others.
	codes, _, first = allPages(t, e, "/api/v1/cases?limit=3&sort=deadline&status=dispatched&")
	if len(codes) != 4 || codes[0] != filed[0].Code || first.total != 4 || first.counts["reported"] != want.open["reported"] {
		t.Errorf("dispatched by deadline: %v, total %d, counts %v", codes, first.total, first.counts)
	}
	if codes, _, _ = allPages(t, e, "/api/v1/cases?limit=1&overdue=true&sort=deadline&region=110108&"); !slices.Equal(codes, []string{filed[0].Code}) {
		t.Errorf("overdue in the district: %v", codes)
	}

	// The map pages as the list does, with the list's values.
	_, items, _ := allPages(t, e, "/api/v1/cases?limit=500&")
	codes, props, first := allPages(t, e, "/api/v1/cases.geojson?limit=5&")
	if !slices.Equal(codes, want.newest) || fmt.Sprint(first.counts) != fmt.Sprint(want.open) {
		t.Errorf("geojson: %v counts %v, want %v %v", codes, first.counts, want.newest, want.open)
	}
	for i, p := range props {
		it := items[i]
		unit, grid := any(nil), it["grid"].(map[string]any)["code"]
		if u, ok := it["unit"].(map[string]any); ok {
			unit = u["code"]
		}
		for k, v := range map[string]any{"code": it["code"], "status": it["status"], "category": it["category"],
			"category_name": it["category_name"], "source": it["source"], "reported_at": it["reported_at"], "deadline": it["deadline"],
			"overdue": it["overdue"], "warning": it["warning"], "grid": grid, "unit": unit} {
			if fmt.Sprint(p[k]) != fmt.Sprint(v) {
				t.Errorf("geojson %s %s = %v, the list's %v", codes[i], k, p[k], v)
			}
		}
		if len(p) != 11 {
			t.Errorf("geojson %s: %d properties %v", codes[i], len(p), p)
		}
	}
	if codes, _, _ = allPages(t, e, "/api/v1/cases.geojson?limit=3&status=dispatched&bbox="+bbox+"&"); len(codes) != 3 {
		t.Errorf("dispatched parking in the box: %v", codes) // cases 0, 3 and 6 of the lattice's first two rows
	}
}
