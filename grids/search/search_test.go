package search_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/search"
	"github.com/citygrid/citygrid/internal/testdb"
)

// beijing is the Beijing demo (Haidian, real OSM names) on a fresh database.
func beijing(t *testing.T) (*grids.Store, *search.Store) {
	t.Helper()
	root := filepath.Dir(filepath.Dir(testdb.SharedData(t, "beijing/districts_gcj02.geojson")))
	core := gridstest.NewStore(t)
	if err := derive.NewStore(core).BuildRealCity(context.Background(), derive.RealCities()["beijing"], root, func(string) {}); err != nil {
		t.Fatal(err)
	}
	return core, search.NewStore(core)
}

func find(t *testing.T, s *search.Store, q search.Query) []search.Result {
	t.Helper()
	rs, err := s.Search(context.Background(), q)
	if err != nil {
		t.Fatalf("search %q: %v", q.Text, err)
	}
	return rs
}

// metres from a point to the nearest stored object of a name, by PostGIS.
func metresTo(t *testing.T, core *grids.Store, p orb.Point, name string) float64 {
	t.Helper()
	var d *float64
	if err := core.Pool().QueryRow(context.Background(), `
		SELECT min(ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography))
		FROM objects WHERE name = $3`, p[0], p[1], name).Scan(&d); err != nil {
		t.Fatal(err)
	}
	if d == nil {
		t.Fatalf("no object named %s", name)
	}
	return *d
}

// The cluster must extract trigrams from Chinese text (its LC_CTYPE is
// C.UTF-8) for the fuzzy index, and one- and two-character queries must be
// answerable from the gram index rather than a scan of every name.
func TestChineseIndexes(t *testing.T) {
	core := gridstest.NewStore(t)
	ctx := context.Background()
	var n int
	if err := core.Pool().QueryRow(ctx, `SELECT cardinality(show_trgm('中关村大街'))`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("pg_trgm extracts %d trigrams from 中关村大街, want 6 (is the cluster's LC_CTYPE C?)", n)
	}
	tx, err := core.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	rows, err := tx.Query(ctx, `EXPLAIN SELECT id FROM objects
		WHERE search_grams @> citygrid_query_grams('中关') AND lower(search_names) LIKE '%中关%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if !strings.Contains(plan.String(), "objects_search_grams") {
		t.Errorf("a two-character query does not use the gram index:\n%s", plan.String())
	}
}

func TestSearchBeijing(t *testing.T) {
	core, s := beijing(t)
	ctx := context.Background()

	t.Run("two characters find regions and objects containing them, best first", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "中关", Limit: 20})
		if len(rs) < 5 {
			t.Fatalf("%d results for 中关", len(rs))
		}
		kinds := map[string]bool{}
		streets := 0
		for i, r := range rs {
			if !strings.Contains(r.Matched, "中关") {
				t.Errorf("%s matched %q, which lacks 中关", r.Name, r.Matched)
			}
			if i > 0 && r.Match > rs[i-1].Match {
				t.Errorf("%s (%s) ranks after %s (%s)", r.Name, r.Match, rs[i-1].Name, rs[i-1].Match)
			}
			if r.Point == nil || r.BBox == nil || r.District == nil || r.District.Name != "海淀区" {
				t.Errorf("%s: point %v bbox %v district %v", r.Name, r.Point, r.BBox, r.District)
			}
			kinds[r.Kind] = true
			if r.Name == "中关村北大街" {
				streets++
				if r.Parts < 10 || r.Layer != "street" {
					t.Errorf("中关村北大街 is %d parts of layer %s; its ways should be one result", r.Parts, r.Layer)
				}
			}
		}
		if !kinds["region"] || !kinds["object"] || streets != 1 {
			t.Errorf("kinds %v, 中关村北大街 %d times", kinds, streets)
		}
	})

	t.Run("a district before its subdistrict and stations", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "海淀"})
		if rs[0].Kind != "region" || rs[0].Name != "海淀区" || rs[0].Match != search.Prefix {
			t.Errorf("first for 海淀: %+v", rs[0])
		}
	})

	t.Run("exact before prefix, with its subdistrict", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "成府路", Kinds: []string{"object"}})
		r := rs[0]
		if r.Name != "成府路" || r.Match != search.Exact || r.Subdistrict == nil {
			t.Fatalf("first for 成府路: %+v", r)
		}
		b := orb.Bound{Min: orb.Point{r.BBox[0], r.BBox[1]}, Max: orb.Point{r.BBox[2], r.BBox[3]}}
		if !b.Contains(*r.Point) || metresTo(t, core, *r.Point, "成府路") > 1 {
			t.Errorf("成府路's point %v is off the street or outside its bbox %v", r.Point, r.BBox)
		}
	})

	t.Run("an OSM name variant", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "zhongguancun"})
		if rs[0].Name != "中关村" || rs[0].Matched != "Zhongguancun" || rs[0].Match != search.Exact {
			t.Errorf("first for zhongguancun: %+v", rs[0])
		}
	})

	t.Run("a typo is a fuzzy match", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "中关村北大姐"})
		if len(rs) == 0 || rs[0].Name != "中关村北大街" || rs[0].Match != search.Fuzzy {
			t.Errorf("for 中关村北大姐: %+v", rs)
		}
	})

	t.Run("grids by code prefix, the exact one first", func(t *testing.T) {
		var code string
		if err := core.Pool().QueryRow(ctx, `SELECT min(code) FROM grids WHERE valid_to IS NULL`).Scan(&code); err != nil {
			t.Fatal(err)
		}
		rs := find(t, s, search.Query{Text: code, Kinds: []string{"grid"}})
		if len(rs) != 1 || rs[0].Code != code || rs[0].Match != search.Exact || rs[0].Subdistrict == nil {
			t.Errorf("grid %s: %+v", code, rs)
		}
		rs = find(t, s, search.Query{Text: code[:len(code)-2], Kinds: []string{"grid"}, Limit: 5})
		if len(rs) != 5 {
			t.Errorf("%d grids by prefix", len(rs))
		}
		for _, r := range rs {
			if r.Kind != "grid" || !strings.HasPrefix(r.Code, code[:len(code)-2]) {
				t.Errorf("kind=grid gave %s %s", r.Kind, r.Code)
			}
		}
	})

	t.Run("units by name and code", func(t *testing.T) {
		rs := find(t, s, search.Query{Text: "城市管理", Kinds: []string{"unit"}})
		if len(rs) == 0 || rs[0].Code != "CG" {
			t.Errorf("units for 城市管理: %+v", rs)
		}
	})

	t.Run("a region limits the area", func(t *testing.T) {
		all := find(t, s, search.Query{Text: "中关村", Kinds: []string{"object"}, Limit: 20})
		in := find(t, s, search.Query{Text: "中关村", Kinds: []string{"object"}, Region: "110108014000", Limit: 20})
		if len(in) == 0 || len(in) >= len(all) {
			t.Fatalf("%d results in 清华园街道, %d in all", len(in), len(all))
		}
		for _, r := range in {
			if r.Name == "中关村" { // the station lies in 中关村街道
				t.Errorf("the station 中关村 is not in 清华园街道: %+v", r)
			}
		}
		_, err := s.Search(ctx, search.Query{Text: "中关村", Region: "999"})
		var me *grids.MalformedError
		if !errors.As(err, &me) || me.Field != "region" {
			t.Errorf("an unknown region: %v", err)
		}
	})

	t.Run("parameters", func(t *testing.T) {
		for _, c := range []struct{ q, kind, limit, field string }{
			{"", "", "", "q"}, {"  ", "", "", "q"}, {strings.Repeat("路", 101), "", "", "q"},
			{"路", "street", "", "kind"}, {"路", "region,", "", "kind"},
			{"路", "", "0", "limit"}, {"路", "", "51", "limit"}, {"路", "", "x", "limit"},
		} {
			_, err := search.ParseQuery(c.q, c.kind, "", c.limit)
			var me *grids.MalformedError
			if !errors.As(err, &me) || me.Field != c.field {
				t.Errorf("q=%q kind=%q limit=%q: %v, want a bad %s", c.q, c.kind, c.limit, err, c.field)
			}
		}
		q, err := search.ParseQuery(" 路 ", "object,region,object", "", "50")
		if err != nil || q.Text != "路" || len(q.Kinds) != 2 || q.Limit != 50 {
			t.Errorf("%+v %v", q, err)
		}
	})
}

func TestGeocodeBeijing(t *testing.T) {
	core, s := beijing(t)
	ctx := context.Background()
	place := func(address string) search.Place {
		t.Helper()
		p, err := s.Geocode(ctx, address, "")
		if err != nil {
			t.Fatalf("%s: %v", address, err)
		}
		return p
	}

	var crossing orb.Point
	t.Run("a crossing at the streets' intersection, however it is written", func(t *testing.T) {
		p := place("中关村北大街与成府路交叉口")
		if p.Match.Kind != "crossing" || p.Ambiguous || len(p.Streets) != 2 {
			t.Fatalf("%+v", p)
		}
		for _, st := range []string{"中关村北大街", "成府路"} {
			if d := metresTo(t, core, p.Point, st); d > 25 {
				t.Errorf("the crossing lies %.0f m from %s", d, st)
			}
		}
		if p.Match.Subdistrict == nil || p.Match.District.Name != "海淀区" {
			t.Errorf("the crossing's regions: %+v %+v", p.Match.District, p.Match.Subdistrict)
		}
		crossing = p.Point
		for _, a := range []string{"中关村北大街和成府路路口", "成府路/中关村北大街", "中关村北大街、成府路交汇处",
			"北京市海淀区成府路与中关村北大街交叉口附近", "成府路和中关村北大街十字路口"} {
			q := place(a)
			if q.Match.Kind != "crossing" || q.Point.Equal(orb.Point{}) || distance(q.Point, crossing) > 1 {
				t.Errorf("%s placed at %v (%s %s), not at the crossing %v", a, q.Point, q.Match.Kind, q.Match.Name, crossing)
			}
		}
	})

	t.Run("a crossing written without a separator", func(t *testing.T) {
		p := place("成府路中关村东路口")
		if p.Match.Kind != "crossing" {
			t.Fatalf("%+v", p.Match)
		}
		for _, st := range []string{"中关村东路", "成府路"} {
			if d := metresTo(t, core, p.Point, st); d > 25 {
				t.Errorf("the crossing lies %.0f m from %s", d, st)
			}
		}
	})

	t.Run("a street alone at its middle, house numbers ignored", func(t *testing.T) {
		p := place("成府路100号")
		if p.Match.Name != "成府路" || p.Match.Layer != "street" || p.Ambiguous {
			t.Fatalf("%+v", p)
		}
		if d := metresTo(t, core, p.Point, "成府路"); d > 1 {
			t.Errorf("placed %.1f m off 成府路", d)
		}
		var ends [2]orb.Point
		if err := core.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
			FROM (SELECT ST_Extent(geom) e FROM objects WHERE name = '成府路') x`).Scan(&ends[0][0], &ends[0][1], &ends[1][0], &ends[1][1]); err != nil {
			t.Fatal(err)
		}
		// 成府路 runs east–west: its middle is far from both ends.
		if distance(p.Point, ends[0]) < 500 || distance(p.Point, ends[1]) < 500 {
			t.Errorf("成府路's middle %v is near an end of %v", p.Point, ends)
		}
	})

	t.Run("a compound or school at its surface point", func(t *testing.T) {
		p := place("清华东路27号院3号楼")
		if p.Match.Name != "清华东路27号院" || p.Match.Layer != "compound" || metresTo(t, core, p.Point, "清华东路27号院") > 0 {
			t.Errorf("清华东路27号院3号楼: %+v", p.Match)
		}
		p = place("中关村中学东门附近")
		if p.Match.Name != "中关村中学" || p.Match.Layer != "school" {
			t.Errorf("中关村中学东门附近: %+v", p.Match)
		}
	})

	t.Run("the same name in two places is ambiguous", func(t *testing.T) {
		p := place("清华东路西口")
		if !p.Ambiguous || p.Why == "" || len(p.Candidates) == 0 || p.Candidates[0].Name != "清华东路西口" {
			t.Errorf("清华东路西口 (two stations): %+v", p)
		}
	})

	t.Run("a typo places but asks to confirm", func(t *testing.T) {
		// The address holds the station 中关村北 whole; the street is a
		// fuzzy match: both are offered.
		p := place("中关村北大姐")
		names := []string{p.Match.Name}
		for _, c := range p.Candidates {
			names = append(names, c.Name)
		}
		if !p.Ambiguous || !slices.Contains(names[:min(3, len(names))], "中关村北大街") {
			t.Errorf("中关村北大姐: ambiguous %v (%s), places %v", p.Ambiguous, p.Why, names)
		}
	})

	t.Run("nothing matching is a NoMatchError", func(t *testing.T) {
		_, err := s.Geocode(ctx, "火星路123号", "")
		var nm *search.NoMatchError
		if !errors.As(err, &nm) || nm.Address != "火星路123号" {
			t.Errorf("火星路: %v", err)
		}
		_, err = s.Geocode(ctx, "中关村北大街与成府路交叉口", "110108001000") // 万寿路街道, far south
		if !errors.As(err, &nm) {
			t.Errorf("a crossing outside the region given: %v", err)
		}
	})
}

func distance(a, b orb.Point) float64 { return geo.Distance(a, b) }
