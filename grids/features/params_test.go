package features

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// kindOf names the domain error kind the HTTP layer maps to a status.
func kindOf(err error) (kind, field string) {
	var me *grids.MalformedError
	var ve *grids.ValidationError
	var nf *grids.NotFoundError
	switch {
	case err == nil:
		return "", ""
	case errors.As(err, &me):
		return "malformed", me.Field
	case errors.As(err, &ve):
		return "invalid", ve.Problems[0].Field
	case errors.As(err, &nf):
		return "not found", ""
	case errors.Is(err, grids.ErrForbidden):
		return "forbidden", ""
	}
	return "other: " + err.Error(), ""
}

// Every refusal of ParseQuery is one domain error naming the parameter; the
// checks that need no database (all but an unknown region) are here.
func TestParseQueryRefusals(t *testing.T) {
	s := &Store{}
	objects := &Collection{ID: "objects", Temporal: Instant, NumericID: true, Filters: []string{"region", "layer"},
		Properties: objectProps()}
	gridCol := &Collection{ID: "grids", Temporal: Versioned, Filters: []string{"region", "code"},
		Properties: []Property{{Name: "code", Type: PropString}, {Name: "area_m2", Type: PropNumber}}}
	assignments := &Collection{ID: "assignments", Temporal: Versioned, Properties: []Property{{Name: "unit", Type: PropString}}}
	gaps := s.computedCollection("gaps")
	admin := grids.Principal{Role: grids.RoleAdmin}
	for _, c := range []struct {
		col         *Collection
		query       string
		p           grids.Principal
		kind, field string
	}{
		{gridCol, "bbox=1,2,3", admin, "malformed", "bbox"},
		{gridCol, "bbox=NaN,0,1,1", admin, "malformed", "bbox"},
		{gridCol, "bbox=3,0,1,1", admin, "malformed", "bbox"},
		{gridCol, "at=yesterday", admin, "malformed", "at"},
		{gridCol, "datetime=last-week", admin, "malformed", "datetime"},
		{gridCol, "datetime=2026-13-45T00:00:00Z/..", admin, "malformed", "datetime"},
		{gridCol, "datetime=2026-01-01&at=2026-01-01T00:00:00Z", admin, "malformed", "datetime"},
		{gridCol, "at=2026-01-01T00:00:00Z&since=2026-01-01T00:00:00Z", admin, "malformed", "at"},
		{gridCol, "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", admin, "malformed", "datetime"},
		{objects, "at=2026-01-01T00:00:00Z", admin, "malformed", "at"},
		{gaps, "theme=sanitation&datetime=2026-01-01", admin, "malformed", "datetime"},
		{gridCol, "colour=red", admin, "malformed", "colour"},
		{objects, "id=abc", admin, "malformed", "id"},
		{gridCol, "area_m2=big", admin, "malformed", "area_m2"},
		{gridCol, "area_m2=Inf", admin, "malformed", "area_m2"},
		{assignments, "region=x", admin, "malformed", "region"},
		{gaps, "", admin, "malformed", "theme"},
		{gaps, "theme=sanitation&min_area_m2=-1", admin, "malformed", "min_area_m2"},
		{assignments, "", grids.Principal{Role: grids.RoleUnit}, "forbidden", ""},
		{gridCol, "datetime=2026-01-01/..&code=X&area_m2=12.5", admin, "", ""},
		{gaps, "theme=sanitation&min_area_m2=0", admin, "", ""},
	} {
		params, _ := url.ParseQuery(c.query)
		_, err := s.ParseQuery(context.Background(), params, []string{"min_area_m2"}, c.p, c.col, geo.WGS84)
		if kind, field := kindOf(err); kind != c.kind || field != c.field {
			t.Errorf("%s?%s: %s %q, want %s %q (%v)", c.col.ID, c.query, kind, field, c.kind, c.field, err)
		}
	}
}

// A unit token reads its own assignments only.
func TestParseQueryScopesUnits(t *testing.T) {
	s := &Store{}
	col := &Collection{ID: "assignments", Temporal: Versioned}
	q, err := s.ParseQuery(context.Background(), url.Values{}, nil, grids.Principal{Role: grids.RoleUnit, Unit: "U1"}, col, geo.WGS84)
	if err != nil || q.OnlyUnit != "U1" {
		t.Fatalf("OnlyUnit %q, err %v", q.OnlyUnit, err)
	}
}

// Tile refusals: 400s name z, x or y; a zoom outside the layer's range, an
// unknown layer: not found; a theme layer wants its theme.
func TestTileRefusals(t *testing.T) {
	set := NewTileSet()
	if _, err := set.Layer("nope"); !isNotFound(err) {
		t.Errorf("unknown layer: %v", err)
	}
	l, err := set.Layer("grids")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ z, x, y, field string }{
		{"23", "0", "0", "z"}, {"-1", "0", "0", "z"}, {"1.5", "0", "0", "z"},
		{"14", "16384", "0", "x"}, {"14", "x", "0", "x"}, {"14", "0", "16384", "y"}, {"0", "1", "0", "x"},
	} {
		_, _, _, err := l.Coordinates(c.z, c.x, c.y)
		if kind, field := kindOf(err); kind != "malformed" || field != c.field {
			t.Errorf("%s/%s/%s: %s %q, want malformed %q", c.z, c.x, c.y, kind, field, c.field)
		}
	}
	if _, _, _, err := l.Coordinates("22", "0", "0"); !isNotFound(err) {
		t.Errorf("beyond the maximum zoom: %v", err)
	}
	if z, x, y, err := l.Coordinates("14", "13516", "6396"); err != nil || z != 14 || x != 13516 || y != 6396 {
		t.Errorf("14/13516/6396: %d/%d/%d %v", z, x, y, err)
	}
	if n, err := l.Narrowing(url.Values{"theme": {"sanitation"}, "status": {"open"}}); n != "" || err != nil {
		t.Errorf("grids keeps no theme nor status: %q %v", n, err)
	}
	gaps, _ := set.Layer("gaps")
	if _, err := gaps.Narrowing(url.Values{}); func() bool { k, f := kindOf(err); return k != "malformed" || f != "theme" }() {
		t.Errorf("gaps without a theme: %v", err)
	}
	if n, err := gaps.Narrowing(url.Values{"theme": {"sanitation"}}); n != "sanitation" || err != nil || gaps.NarrowingQuery(n) != "?theme=sanitation" {
		t.Errorf("gaps of sanitation: %q %v", n, err)
	}
	cs, _ := set.Layer("cases")
	if n, err := cs.Narrowing(url.Values{"status": {"open"}}); n != "open" || err != nil || cs.NarrowingQuery(n) != "?status=open" {
		t.Errorf("open cases: %q %v", n, err)
	}
	if _, err := cs.Narrowing(url.Values{"status": {"closed"}}); func() bool { k, f := kindOf(err); return k != "malformed" || f != "status" }() {
		t.Errorf("cases ?status=closed: %v", err)
	}
}

func isNotFound(err error) bool {
	var nf *grids.NotFoundError
	return errors.As(err, &nf)
}
