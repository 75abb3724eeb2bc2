package grids_test

import (
	"context"
	"errors"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"

	"github.com/citygrid/citygrid/internal/db"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/internal/testdb"
)

// The migrations go up, all the way down, and up again on a real database.
func TestMigrationsUpDownUp(t *testing.T) {
	ctx := context.Background()
	pool, err := db.Connect(ctx, testdb.Empty(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for step, fn := range []func() error{
		func() error { _, err := m.Up(ctx); return err },
		func() error { _, err := m.DownTo(ctx, 0); return err },
		func() error { _, err := m.Up(ctx); return err },
	} {
		if err := fn(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	cur, latest, err := m.Versions(ctx)
	if err != nil || cur != latest || cur == 0 {
		t.Fatalf("versions = %d, %d, %v; want current = latest > 0", cur, latest, err)
	}
	var themes int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM themes`).Scan(&themes); err != nil || themes < 15 {
		t.Fatalf("themes seeded: %d, %v", themes, err)
	}
}

// Invalid geometry that slips past the API is refused by the database.
func TestDatabaseRefusesInvalidGeometry(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	for name, wkt := range map[string]string{
		"bow tie":      "MULTIPOLYGON(((116 39,116.01 39.01,116.01 39,116 39.01,116 39)))",
		"out of range": "MULTIPOLYGON(((400 39,400.01 39,400.01 39.01,400 39)))",
	} {
		_, err := pool.Exec(ctx, `INSERT INTO regions (code, name, level, geom) VALUES ('110108', 'x', 'district', ST_GeomFromText(@wkt, 4326))`,
			pgx.NamedArgs{"wkt": wkt})
		if err == nil {
			t.Errorf("%s: inserted", name)
		}
	}
	_, err := pool.Exec(ctx, `INSERT INTO regions (code, name, level, geom) VALUES ('110108', 'x', 'district', ST_GeomFromText('MULTIPOLYGON(((116 39,116.01 39,116.01 39.01,116 39)))', 3857))`)
	if err == nil {
		t.Error("SRID 3857 geometry inserted")
	}
}

func TestRegionHierarchy(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	d, err := s.CreateRegion(ctx, grids.RegionInput{Code: gridstest.Ptr("110108"), Name: gridstest.Ptr("海淀区"), Level: gridstest.Ptr("district"), Geometry: gridstest.Square(116.2, 39.9, 0.2)})
	if err != nil {
		t.Fatal(err)
	}
	// 0.2° x 0.2° at 40°N is about 17 km x 22 km.
	if d.AreaM2 < 3.5e8 || d.AreaM2 > 4.0e8 {
		t.Errorf("district area %.0f m², want about 3.8e8", d.AreaM2)
	}
	if _, err := s.CreateRegion(ctx, grids.RegionInput{Code: gridstest.Ptr("110108001000"), Name: gridstest.Ptr("万寿路街道"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.25, 39.95, 0.05)}); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		in    grids.RegionInput
		field string
	}{
		{"outside its parent", grids.RegionInput{Code: gridstest.Ptr("110108002000"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.35, 39.95, 0.1)}, "geometry"},
		{"parent missing", grids.RegionInput{Code: gridstest.Ptr("110108002000"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110109"), Geometry: gridstest.Square(116.25, 39.95, 0.01)}, "parent"},
		{"parent at wrong level", grids.RegionInput{Code: gridstest.Ptr("110108001001"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("community"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.25, 39.95, 0.01)}, "parent"},
		{"code not nested", grids.RegionInput{Code: gridstest.Ptr("110109002000"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.25, 39.95, 0.01)}, "code"},
		{"bad code format", grids.RegionInput{Code: gridstest.Ptr("11010800200"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: gridstest.Square(116.25, 39.95, 0.01)}, "code"},
		{"self-intersecting", grids.RegionInput{Code: gridstest.Ptr("110108002000"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"),
			Geometry: orb.Polygon{{{116.25, 39.95}, {116.26, 39.96}, {116.26, 39.95}, {116.25, 39.96}, {116.25, 39.95}}}}, "geometry"},
		{"a line", grids.RegionInput{Code: gridstest.Ptr("110108002000"), Name: gridstest.Ptr("x"), Level: gridstest.Ptr("subdistrict"), Parent: gridstest.Ptr("110108"), Geometry: orb.LineString{{116.25, 39.95}, {116.26, 39.96}}}, "geometry"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.CreateRegion(ctx, c.in)
			var ve *grids.ValidationError
			if !errors.As(err, &ve) || ve.Problems[0].Field != c.field {
				t.Fatalf("err = %v, want a validation error on %q", err, c.field)
			}
		})
	}
	list, err := s.Regions(ctx, grids.RegionFilter{}, grids.Page{Limit: 10})
	if err != nil || list.Total != 2 {
		t.Fatalf("regions after refused creates: %d, %v; want 2", list.Total, err)
	}
	if _, err := s.UpdateRegion(ctx, "110108", grids.RegionInput{Geometry: gridstest.Square(116.3, 39.9, 0.1)}); err == nil {
		t.Error("district shrunk away from its subdistrict")
	}
	var ce *grids.ConflictError
	if err := s.DeleteRegion(ctx, "110108"); !errors.As(err, &ce) {
		t.Errorf("deleting a district with children: %v, want conflict", err)
	}
}

func TestUnits(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	city, err := s.CreateUnit(ctx, grids.UnitInput{Code: gridstest.Ptr("CG"), Name: gridstest.Ptr("城管局"), Kind: gridstest.Ptr("department"),
		Contact: &grids.Contact{Phone: "12319"}})
	if err != nil {
		t.Fatal(err)
	}
	if city.Contact.Phone != "12319" {
		t.Errorf("contact = %+v", city.Contact)
	}
	if _, err := s.CreateUnit(ctx, grids.UnitInput{Code: gridstest.Ptr("CG-HD"), Name: gridstest.Ptr("海淀城管"), Kind: gridstest.Ptr("department"), Parent: gridstest.Ptr("CG")}); err != nil {
		t.Fatal(err)
	}
	var ce *grids.ConflictError
	if _, err := s.CreateUnit(ctx, grids.UnitInput{Code: gridstest.Ptr("CG"), Name: gridstest.Ptr("again"), Kind: gridstest.Ptr("department")}); !errors.As(err, &ce) || ce.Field != "code" {
		t.Errorf("duplicate code: %v", err)
	}
	var ve *grids.ValidationError
	if _, err := s.UpdateUnit(ctx, "CG", grids.UnitInput{Parent: gridstest.Ptr("CG-HD")}); !errors.As(err, &ve) || ve.Problems[0].Field != "parent" {
		t.Errorf("cycle: %v", err)
	}
	if _, err := s.CreateUnit(ctx, grids.UnitInput{Code: gridstest.Ptr("x y"), Name: gridstest.Ptr(""), Kind: gridstest.Ptr("team")}); !errors.As(err, &ve) || len(ve.Problems) != 3 {
		t.Errorf("three bad fields: %v", err)
	}
	u, err := s.UpdateUnit(ctx, "CG-HD", grids.UnitInput{Name: gridstest.Ptr("海淀区城管委"), Parent: gridstest.Ptr("")})
	if err != nil || u.Name != "海淀区城管委" || u.Parent != "" {
		t.Errorf("update: %+v, %v", u, err)
	}
	if err := s.DeleteUnit(ctx, "CG-HD"); err != nil {
		t.Error(err)
	}
	var nf *grids.NotFoundError
	if _, err := s.Unit(ctx, "CG-HD"); !errors.As(err, &nf) {
		t.Errorf("deleted unit: %v", err)
	}
}

func TestOneLeadPerTargetAndTheme(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	_, err := pool.Exec(ctx, `
		INSERT INTO units (code, name, kind) VALUES ('A', 'a', 'contractor'), ('B', 'b', 'contractor');
		INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code)
		SELECT 'sanitation', id, 'lead', 'grid', '110108001001001' FROM units WHERE code = 'A';
		INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code)
		SELECT 'sanitation', id, 'support', 'grid', '110108001001001' FROM units WHERE code = 'B';`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code)
		SELECT 'sanitation', id, 'lead', 'grid', '110108001001001' FROM units WHERE code = 'B'`)
	if err == nil {
		t.Fatal("a second live lead was accepted")
	}
	// Once the first lead ends, a new one may start.
	_, err = pool.Exec(ctx, `
		UPDATE assignments SET valid_to = now() WHERE role = 'lead';
		INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code, valid_from)
		SELECT 'sanitation', id, 'lead', 'grid', '110108001001001', now() + interval '1 second' FROM units WHERE code = 'B';`)
	if err != nil {
		t.Fatalf("lead after the first ended: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := context.Background()
	s := gridstest.NewStore(t)
	tokens := grids.NewTokenStore(s.Pool())
	tok, secret, err := tokens.Create(ctx, grids.TokenInput{Name: "ops", Role: "planner"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tokens.Authenticate(ctx, secret)
	if err != nil || p.Role != grids.RolePlanner || p.TokenID != tok.ID {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	if _, err := tokens.Authenticate(ctx, secret+"x"); !errors.Is(err, grids.ErrUnauthenticated) {
		t.Errorf("wrong secret: %v", err)
	}
	if err := tokens.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tokens.Authenticate(ctx, secret); !errors.Is(err, grids.ErrUnauthenticated) {
		t.Errorf("revoked token still works: %v", err)
	}
	if _, _, err := tokens.Create(ctx, grids.TokenInput{Role: "unit"}); err == nil {
		t.Error("unit token without a unit")
	}
	var stored []byte
	if err := s.Pool().QueryRow(ctx, `SELECT token_hash FROM api_tokens WHERE id = $1`, tok.ID).Scan(&stored); err != nil || string(stored) == secret {
		t.Errorf("token stored in clear or missing: %v", err)
	}
}
