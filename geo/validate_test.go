package geo

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

func TestValidate(t *testing.T) {
	sq := orb.Ring{{0, 0}, {1, 0}, {1, 1}, {0, 1}, {0, 0}}
	cases := []struct {
		name string
		g    orb.Geometry
		path string // "" means valid
		want string
	}{
		{"point", orb.Point{116, 39}, "", ""},
		{"polygon", orb.Polygon{sq}, "", ""},
		{"multipolygon", orb.MultiPolygon{{sq}}, "", ""},
		{"lon out of range", orb.Point{400, 95}, "coordinates", "longitude 400"},
		{"lat out of range", orb.Point{116, 95}, "coordinates", "latitude 95"},
		{"NaN", orb.Point{math.NaN(), 1}, "coordinates", "finite"},
		{"ring of 3 points", orb.Polygon{{{0, 0}, {1, 0}, {0, 0}}}, "coordinates/0", "at least 4"},
		{"open ring", orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 1}}}, "coordinates/0", "not closed"},
		{"degenerate ring", orb.Polygon{{{0, 0}, {1, 0}, {1, 0}, {0, 0}}}, "coordinates/0", "3 distinct"},
		{"bad hole", orb.Polygon{sq, {{0.2, 0.2}, {0.3, 0.2}, {0.2, 0.2}}}, "coordinates/1", "at least 4"},
		{"bad vertex in second polygon", orb.MultiPolygon{{sq}, {{{0, 0}, {1, 0}, {1, 200}, {0, 0}}}}, "coordinates/1/0/2", "latitude 200"},
		{"one-point line", orb.LineString{{1, 1}}, "coordinates", "at least 2"},
		{"zero-length line", orb.LineString{{1, 1}, {1, 1}}, "coordinates", "distinct"},
		{"empty multipolygon", orb.MultiPolygon{}, "coordinates", "empty"},
		{"nil", nil, "", "missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.g)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			ge, ok := err.(*GeometryError)
			if !ok {
				t.Fatalf("Validate = %v, want a *GeometryError", err)
			}
			if ge.Path != c.path || !strings.Contains(ge.Reason, c.want) {
				t.Errorf("Validate = %q at %q, want %q at %q", ge.Reason, ge.Path, c.want, c.path)
			}
		})
	}
}

func ExampleValidate() {
	open := orb.Polygon{{{116.30, 39.98}, {116.31, 39.98}, {116.31, 39.99}, {116.30, 39.99}}}
	fmt.Println(Validate(open))
	// Output: coordinates/0: ring is not closed: its last point must repeat its first
}

func BenchmarkValidatePolygon(b *testing.B) {
	b.ReportAllocs()
	ring := make(orb.Ring, 1001)
	for i := range 1000 {
		a := float64(i) / 1000 * 2 * math.Pi
		ring[i] = orb.Point{116.3 + 0.01*math.Cos(a), 39.9 + 0.01*math.Sin(a)}
	}
	ring[1000] = ring[0]
	p := orb.Polygon{ring}
	for b.Loop() {
		if err := Validate(p); err != nil {
			b.Fatal(err)
		}
	}
}
