package features_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/features"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// benchStore opens the kept scale benchmark city (20,000 grids, about
// 200,000 objects; CITYGRID_BENCH_GRIDS overrides), the same database the
// locate benchmarks in grids use, and builds it when it is missing.
func benchStore(b *testing.B) *grids.Store {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("CITYGRID_BENCH_GRIDS")); err == nil {
		n = v
	}
	url, existed := testdb.Kept(b, "city"+strconv.Itoa(n))
	ctx := context.Background()
	pool, err := db.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	s := grids.NewStore(pool, grids.DefaultCodeRules())
	var count int
	pool.QueryRow(ctx, `SELECT count(*) FROM grids`).Scan(&count)
	if !existed || count == 0 {
		if _, err := citygen.Load(ctx, s, citygen.Config{Grids: n, Seed: 1}, func(string) {}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkTile renders z14 tiles of the bench city (20,000 grids) in
// PostGIS, round-robin over every tile covering the city: the uncached cost
// of a tile request without HTTP. Reports the mean tile size. The gaps
// layer is drawn for sanitation, unassigned for four duties.
func BenchmarkTile(b *testing.B) {
	core := benchStore(b)
	s := features.NewStore(core)
	ctx := context.Background()
	var bd orb.Bound
	if err := core.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM regions) x`).
		Scan(&bd.Min[0], &bd.Min[1], &bd.Max[0], &bd.Max[1]); err != nil {
		b.Fatal(err)
	}
	const z = 14
	nw, se := maptile.At(orb.Point{bd.Min[0], bd.Max[1]}, z), maptile.At(orb.Point{bd.Max[0], bd.Min[1]}, z)
	var tiles []maptile.Tile
	for x := nw.X; x <= se.X; x++ {
		for y := nw.Y; y <= se.Y; y++ {
			tiles = append(tiles, maptile.New(x, y, z))
		}
	}
	set := features.NewTileSet()
	for _, bc := range []struct{ layer, theme string }{
		{"grids", ""}, {"streets", ""}, {"objects", ""}, {"regions", ""}, {"gaps", "sanitation"},
		// An area duty led by grids, an object duty over points (shops),
		// one over lines (streets and alleys), one nobody leads.
		{"unassigned", "sanitation"}, {"unassigned", "frontage"}, {"unassigned", "road_chief"}, {"unassigned", "place_name_signs"},
	} {
		name := bc.layer
		if bc.layer == "unassigned" {
			name += "/" + bc.theme
		}
		b.Run(name, func(b *testing.B) {
			l, err := set.Layer(bc.layer)
			if err != nil {
				b.Fatal(err)
			}
			i, size := 0, 0
			for b.Loop() {
				t := tiles[i%len(tiles)]
				mvt, err := s.Tile(ctx, l, int(t.Z), int(t.X), int(t.Y), bc.theme, "")
				if err != nil {
					b.Fatal(err)
				}
				size += len(mvt)
				i++
			}
			b.ReportMetric(float64(size)/float64(i), "bytes/tile")
		})
	}
}
