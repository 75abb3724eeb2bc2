package grids_test

import (
	"context"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"

	"github.com/citygrid/citygrid/grids"
)

// BenchmarkTile renders z14 tiles of the bench city (20,000 grids) in
// PostGIS, round-robin over every tile covering the city: the uncached cost
// of a tile request without HTTP. Reports the mean tile size. The gaps
// layer is drawn for sanitation, unassigned for four duties.
func BenchmarkTile(b *testing.B) {
	s, _ := loadBenchCity(b)
	ctx := context.Background()
	var bd orb.Bound
	if err := s.Pool().QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM regions) x`).
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
	layers := map[string]grids.TileLayer{}
	for _, l := range grids.TileLayers() {
		layers[l.ID] = l
	}
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
			l := layers[bc.layer]
			i, size := 0, 0
			for b.Loop() {
				t := tiles[i%len(tiles)]
				mvt, err := s.Tile(ctx, l, int(t.Z), int(t.X), int(t.Y), bc.theme)
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
