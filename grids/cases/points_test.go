package cases_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/internal/testdb"
)

// A map point names its unit by code from the locate snapshot, and by a
// query for a unit made since the snapshot was built (a dispatch to it
// may commit before the snapshot's refresh).
func TestPointsUnitMadeSinceSnapshot(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ('OLD', '老单位', 'department')`); err != nil {
		t.Fatal(err)
	}
	resolver, err := grids.NewResolver(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := resolver.Snapshot().UnitCode(1 << 40); ok {
		t.Fatal("a unit that does not exist has a code")
	}
	// Made after the snapshot, which nothing here refreshes.
	if _, err := pool.Exec(ctx, `INSERT INTO units (code, name, kind) VALUES ('NEW', '新单位', 'department')`); err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `
		INSERT INTO cases (code, reported_at, status, category_code, source, location_quality, geom, reported_by,
			district_code, routing, unit_id, h3_r6, h3_r7, h3_r8, h3_r9, h3_r10)
		SELECT v.code, now() - v.age * interval '1 hour', v.status, (SELECT min(code) FROM categories WHERE parent_code IS NOT NULL),
			'inspector', 'gps', ST_SetSRID(ST_MakePoint(116.3, 39.9), 4326), 'test', '110108', '{}',
			(SELECT id FROM units WHERE code = v.unit), 0, 0, 0, 0, 0
		FROM (VALUES ('C-OLD', 1, 'dispatched', 'OLD'), ('C-NEW', 2, 'handling', 'NEW'), ('C-NONE', 3, 'registered', NULL),
			('C-NEW2', 4, 'dispatched', 'NEW')) v(code, age, status, unit)`)
	if err != nil {
		t.Fatal(err)
	}
	s := cases.NewStore(grids.NewStore(pool, grids.DefaultCodeRules()), resolver, cases.Config{})
	page, err := s.Points(ctx, grids.Principal{Role: grids.RoleAnalyst}, cases.ListQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"C-OLD": "OLD", "C-NEW": "NEW", "C-NONE": "", "C-NEW2": "NEW"}
	if len(page.Items) != len(want) {
		t.Fatalf("%d points, want %d", len(page.Items), len(want))
	}
	for i, p := range page.Items {
		unit := ""
		if p.Unit != nil {
			unit = *p.Unit
		}
		if unit != want[p.Code] {
			t.Errorf("%s: unit %q, want %q", p.Code, unit, want[p.Code])
		}
		if i > 0 && p.ReportedAt.After(page.Items[i-1].ReportedAt) {
			t.Errorf("%s is newer than the point before it", p.Code)
		}
		if p.CategoryName == "" {
			t.Errorf("%s: no category name", p.Code)
		}
	}
	if page.Counts[cases.Dispatched] != 2 || page.Total != 4 {
		t.Errorf("counts %v total %d", page.Counts, page.Total)
	}
}
