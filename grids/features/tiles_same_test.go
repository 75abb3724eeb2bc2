package features

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/internal/testdb"
)

// beforeSQL is a layer's tile query as it was before migration 20 gave
// grids and objects their Web Mercator copies and grids their community's
// code: every feature projected as it is drawn, grids joined to their
// community, and the test for an empty geometry left where PostgreSQL
// pushes it into the scan. It is kept only to hold today's tiles to those.
func beforeSQL(l TileLayer, z int, args pgx.NamedArgs) string {
	from, cols := l.from, l.cols
	if l.ID == "grids" {
		from = "grids g JOIN regions c ON c.id = g.community_id"
		cols = "g.id AS fid, g.code, g.name, c.code AS community, round(g.area_m2) AS area_m2"
	}
	g := l.geom
	if l.clip {
		g = "ST_ClipByBox2D(" + g + ", env.e)"
	}
	g = "ST_Transform(" + g + ", 3857)"
	if l.simplifyBelow > 0 {
		g = "CASE WHEN @z < " + strconv.Itoa(l.simplifyBelow) + " THEN ST_Simplify(" + g + ", @tolerance, true) ELSE " + g + " END"
	}
	filter := l.filter
	if filter == "" {
		filter = l.geom
	}
	with := ""
	if l.with != "" {
		with = ",\n\t\t" + l.with
	}
	return `
		WITH env AS MATERIALIZED (
			SELECT ST_TileEnvelope(@z, @x, @y) AS m,
			       ST_Transform(ST_TileEnvelope(@z, @x, @y, margin => 0.015625), 4326) AS e,
			       ST_Transform(ST_TileEnvelope(@z, @x, @y), 4326) AS t)` + with + `
		SELECT ST_AsMVT(t, @layer, 4096, 'geom', 'fid') FROM (
			SELECT ST_AsMVTGeom(` + g + `, env.m, 4096, 64, true) AS geom, ` + cols + `
			FROM env, ` + from + `
			WHERE ` + filter + ` && env.e AND ` + l.where + `
		) t WHERE t.geom IS NOT NULL`
}

// Every tile of a generated city, at every zoom the stored layers are
// drawn at up to z16 (and z14 of the layers drawn per duty), comes out
// byte for byte as the query before migration 20 drew it.
func TestTilesAsBefore(t *testing.T) {
	ctx := context.Background()
	pool, s := tileCity(t)
	var bd orb.Bound
	if err := pool.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM regions) x`).
		Scan(&bd.Min[0], &bd.Min[1], &bd.Max[0], &bd.Max[1]); err != nil {
		t.Fatal(err)
	}
	set := NewTileSet()
	for _, c := range []struct {
		layer, theme string
		zooms        []int
	}{
		{"regions", "", []int{12, 13, 14, 15, 16}},
		{"grids", "", []int{13, 14, 15, 16}},
		{"streets", "", []int{12, 13, 14, 15, 16}},
		{"objects", "", []int{14, 15, 16}},
		{"gaps", "sanitation", []int{14}},
		{"unassigned", "sanitation", []int{14}},
		{"unassigned", "road_chief", []int{14}},
	} {
		l, err := set.Layer(c.layer)
		if err != nil {
			t.Fatal(err)
		}
		for _, z := range c.zooms {
			nw, se := maptile.At(orb.Point{bd.Min[0], bd.Max[1]}, maptile.Zoom(z)), maptile.At(orb.Point{bd.Max[0], bd.Min[1]}, maptile.Zoom(z))
			drawn := 0
			for x := nw.X; x <= se.X; x++ {
				for y := nw.Y; y <= se.Y; y++ {
					got, err := s.Tile(ctx, l, z, int(x), int(y), c.theme, "")
					if err != nil {
						t.Fatalf("%s %d/%d/%d: %v", c.layer, z, x, y, err)
					}
					args := pgx.NamedArgs{"z": z, "x": int(x), "y": int(y), "layer": l.ID, "theme": c.theme,
						"tolerance": 2 * math.Pi * 6378137 / (256 * math.Exp2(float64(z)))}
					var want []byte
					if err := pool.QueryRow(ctx, beforeSQL(l, z, args), args).Scan(&want); err != nil {
						t.Fatalf("%s %d/%d/%d before: %v", c.layer, z, x, y, err)
					}
					if len(want) == 0 {
						want = nil
					}
					if !bytes.Equal(got, want) {
						t.Errorf("%s?theme=%s %d/%d/%d: %d bytes, before %d", c.layer, c.theme, z, x, y, len(got), len(want))
					}
					if got != nil {
						drawn++
					}
				}
			}
			if drawn == 0 {
				t.Errorf("%s z%d: every tile empty; the city should fill some", c.layer, z)
			}
			t.Logf("%s?theme=%s z%d: %d tiles drawn of %d", c.layer, c.theme, z, drawn, (se.X-nw.X+1)*(se.Y-nw.Y+1))
		}
	}
}

// tileCity is a generated city of 600 grids on a fresh database.
func tileCity(t *testing.T) (*pgxpool.Pool, *Store) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	core := grids.NewStore(pool, grids.DefaultCodeRules())
	if _, err := citygen.Load(ctx, core, citygen.Config{Grids: 600, Seed: 5}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	return pool, NewStore(core)
}

// A community whose code is changed in the database directly (as an
// analyst's QGIS session might) is drawn with the new code on its grids.
func TestTileGridsFollowCommunityCode(t *testing.T) {
	ctx := context.Background()
	pool, s := tileCity(t)
	var lon, lat float64
	var code string
	if err := pool.QueryRow(ctx, `SELECT ST_X(p), ST_Y(p), c.code FROM grids g JOIN regions c ON c.id = g.community_id,
		ST_PointOnSurface(g.geom) p WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1`).Scan(&lon, &lat, &code); err != nil {
		t.Fatal(err)
	}
	renamed := code[:len(code)-3] + "999"
	if _, err := pool.Exec(ctx, `UPDATE regions SET code = $2 WHERE code = $1`, code, renamed); err != nil {
		t.Fatal(err)
	}
	l, err := NewTileSet().Layer("grids")
	if err != nil {
		t.Fatal(err)
	}
	tile := maptile.At(orb.Point{lon, lat}, 15)
	b, err := s.Tile(ctx, l, 15, int(tile.X), int(tile.Y), "", "")
	if err != nil {
		t.Fatal(err)
	}
	layers, err := mvt.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[any]int{}
	for _, f := range layers[0].Features {
		seen[f.Properties["community"]]++
	}
	if seen[renamed] == 0 || seen[code] != 0 {
		t.Errorf("communities drawn %v; want %s, not %s", seen, renamed, code)
	}
}

// A tile that runs out of time is given up in PostgreSQL too: the
// rendering waiting on a lock answers with the deadline, and no backend
// keeps waiting for the lock afterwards.
func TestTileDeadlineStopsPostgreSQL(t *testing.T) {
	ctx := context.Background()
	pool := testdb.Pool(t)
	core := grids.NewStore(pool, grids.DefaultCodeRules())
	s := NewStore(core)
	l, err := NewTileSet().Layer("grids")
	if err != nil {
		t.Fatal(err)
	}
	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `LOCK TABLE grids IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Tile(tctx, l, 14, 13516, 6396, "", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("tile behind a lock: %v, want the deadline", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the tile gave up after %s", d)
	}
	var waiting int
	if err := lock.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%ST_AsMVT%'`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	if waiting != 0 {
		t.Errorf("%d backends still wait to draw the tile", waiting)
	}
}
