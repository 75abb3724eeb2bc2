package citygen_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/internal/testdb"
)

func load(t *testing.T, cfg citygen.Config) (*grids.Store, citygen.Summary) {
	t.Helper()
	s := grids.NewStore(testdb.Pool(t), grids.DefaultCodeRules())
	sum, err := citygen.Load(context.Background(), s, cfg, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	return s, sum
}

// The generated city tiles exactly at every level, keeps to the grid size
// guideline, holds about ten objects a grid, and has the gaps and overlaps
// that coverage reports must find.
func TestGeneratedCity(t *testing.T) {
	ctx := context.Background()
	s, sum := load(t, citygen.Config{Grids: 800, Seed: 7})
	if sum.Grids < 760 || sum.Grids > 840 || sum.Districts < 2 || sum.Subdistricts < 2 || sum.Communities < 8 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Objects < 8*sum.Grids || sum.Objects > 12*sum.Grids {
		t.Errorf("%d objects for %d grids, want about ten a grid", sum.Objects, sum.Grids)
	}
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	// Children tile their parents: area sums and unions agree within 0.01%.
	var worst float64
	q(`SELECT max(greatest(abs(x.s - p.area_m2), x.sym) / p.area_m2) FROM regions p
	   JOIN LATERAL (SELECT sum(c.area_m2) AS s, ST_Area(ST_SymDifference(ST_Union(c.geom), p.geom)::geography) AS sym
	                 FROM regions c WHERE c.parent_id = p.id) x ON true
	   WHERE p.level <> 'community'`, &worst)
	if worst > 1e-4 {
		t.Errorf("regions tile their parents only to %.5f%%", 100*worst)
	}
	q(`SELECT max(greatest(abs(x.s - p.area_m2), x.sym) / p.area_m2) FROM regions p
	   JOIN LATERAL (SELECT sum(g.area_m2) AS s, ST_Area(ST_SymDifference(ST_Union(g.geom), p.geom)::geography) AS sym
	                 FROM grids g WHERE g.community_id = p.id) x ON true
	   WHERE p.level = 'community'`, &worst)
	if worst > 1e-4 {
		t.Errorf("grids tile their communities only to %.5f%%", 100*worst)
	}
	var minA, maxA float64
	q(`SELECT min(area_m2), max(area_m2) FROM grids`, &minA, &maxA)
	if minA < 2000 || maxA > 60000 {
		t.Errorf("grid areas %.0f..%.0f m², outside the 2,000..60,000 guideline", minA, maxA)
	}
	var gridsNoLead, overlapping, deadEnds, alleysNoChief int
	q(`SELECT count(*) FROM grids g WHERE NOT EXISTS (
	     SELECT 1 FROM assignments a WHERE a.grid_code = g.code AND a.theme_code = 'sanitation' AND a.role = 'lead')`, &gridsNoLead)
	if gridsNoLead == 0 || gridsNoLead > sum.Grids/20 {
		t.Errorf("%d grids without a sanitation lead, want a few (about 2%%)", gridsNoLead)
	}
	q(`SELECT count(*) FROM objects a JOIN objects b ON a.id < b.id AND a.layer = 'compound' AND b.layer = 'compound'
	     AND ST_Relate(a.geom, b.geom, '2********')`, &overlapping)
	if overlapping == 0 {
		t.Error("no overlapping compounds: coverage overlaps would have nothing to find")
	}
	q(`SELECT count(*) FILTER (WHERE attrs ? 'dead_end'),
	          count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM assignments a WHERE a.object_id = o.id AND a.theme_code = 'road_chief'))
	   FROM objects o WHERE layer = 'alley'`, &deadEnds, &alleysNoChief)
	if deadEnds == 0 || alleysNoChief == 0 {
		t.Errorf("dead ends %d, alleys without road chief %d", deadEnds, alleysNoChief)
	}
	var outside int
	q(`SELECT count(*) FROM objects o WHERE NOT EXISTS (SELECT 1 FROM regions r WHERE r.level = 'district' AND ST_Intersects(r.geom, o.geom))`, &outside)
	if outside != 0 {
		t.Errorf("%d objects outside every district", outside)
	}
}

// The same seed gives the same city; another seed another one.
func TestGeneratedCityIsDeterministic(t *testing.T) {
	digest := func(cfg citygen.Config) string {
		c := citygen.New(cfg)
		src := c.ObjectsForTest()
		h := 0.0
		n := 0
		for {
			f, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b := f.Geometry.Bound()
			h += b.Min[0]*float64(n%7+1) + b.Max[1]
			n++
		}
		return fmt.Sprintf("%d:%.9f", n, h)
	}
	a, b, other := digest(citygen.Config{Grids: 300, Seed: 1}), digest(citygen.Config{Grids: 300, Seed: 1}), digest(citygen.Config{Grids: 300, Seed: 2})
	if a != b {
		t.Errorf("same seed, different cities: %s vs %s", a, b)
	}
	if a == other {
		t.Error("different seeds gave the same city")
	}
}

func BenchmarkGenerateObjects(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		src := citygen.New(citygen.Config{Grids: 2000, Seed: 1}).ObjectsForTest()
		for {
			if _, err := src.Next(); err == io.EOF {
				break
			}
		}
	}
}
