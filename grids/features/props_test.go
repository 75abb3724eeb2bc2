package features

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/gridstest"
)

// The properties appendProps writes are the bytes json_build_object wrote
// for every row of every stored collection of a generated city with cases,
// and for names no city generator writes: quotes, backslashes, control
// characters, line separators, HTML characters, an emoji and nothing.
func TestPropsAsJSONBuildObject(t *testing.T) {
	ctx := context.Background()
	core := gridstest.NewStore(t)
	if _, err := citygen.Load(ctx, core, citygen.Config{Grids: 120, Seed: 4}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	res, err := grids.NewResolver(ctx, core.Pool(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := citygen.LoadCases(ctx, core, cases.NewStore(core, res, cases.Config{}), citygen.CasesConfig{N: 60, Seed: 2, Batch: 60}, nil); err != nil {
		t.Fatal(err)
	}
	pool := core.Pool()
	for i, name := range []string{"", `say "hi" \ back`, "tab\tnew\nline\rcr\bbs\fff\x01\x1f", "a\u2028b\u2029c <b>&amp;</b> 🚻 公厕", "\x7f"} {
		if _, err := pool.Exec(ctx, `
			INSERT INTO objects (layer, name, code, geom, attrs)
			SELECT layer, @name, 'PROPS-' || @i::int, geom, jsonb_build_object('note', @name::text) FROM objects WHERE layer = 'toilet' LIMIT 1`,
			pgx.NamedArgs{"name": name, "i": i}); err != nil {
			t.Fatal(err)
		}
	}
	s := NewStore(core)
	cols, err := s.Collections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		var old strings.Builder
		old.WriteString("json_build_object(")
		for i, p := range c.Properties {
			if i > 0 {
				old.WriteString(", ")
			}
			old.WriteString(quoteLiteral(p.Name) + ", f." + pgx.Identifier{p.Name}.Sanitize())
		}
		old.WriteString(")::text")
		want := map[string]string{}
		rows, _ := pool.Query(ctx, `SELECT f.fid, `+old.String()+` FROM (`+c.source+`) f`)
		var id, props string
		if _, err := pgx.ForEachRow(rows, []any{&id, &props}, func() error { want[id] = props; return nil }); err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		n := 0
		err := s.Features(ctx, c, FeatureQuery{Since: &time.Time{}}, AsGeoJSON, false, func(f *FeatureRow) error {
			n++
			if w, ok := want[f.ID]; !ok || !bytes.Equal(f.Props, []byte(w)) {
				t.Errorf("%s %s:\n got %s\nwant %s", c.ID, f.ID, f.Props, w)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		// An object layer's source is every object's, its layer a filter.
		if c.layer == "" && (n == 0 || n != len(want)) {
			t.Errorf("%s: %d features, %d rows of its source", c.ID, n, len(want))
		}
	}
}

func TestJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "12.50": true, "1e+20": true, "1.5E-7": true, "-3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "NaN": false,
		"Infinity": false, "-Infinity": false, "+1": false, "1e+": false,
	} {
		if got := jsonNumber([]byte(s)); got != want {
			t.Errorf("jsonNumber(%q) = %v", s, got)
		}
	}
}

func TestAppendQuotedID(t *testing.T) {
	for _, id := range []string{"", "990101001001002", "990101001001002@3", `a"b`, `a\b`, "tab\t", "\x7f", "公厕", "a\u2028b", "\xff"} {
		if got, want := string(appendQuotedID(nil, id)), strconv.Quote(id); got != want {
			t.Errorf("appendQuotedID(%q) = %s, want %s", id, got, want)
		}
	}
}
