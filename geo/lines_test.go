package geo_test

import (
	"fmt"
	"testing"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
)

func TestCheckLine(t *testing.T) {
	a, b, c, d := orb.Point{0, 0}, orb.Point{1, 0}, orb.Point{1, 1}, orb.Point{2, 1}
	mid := orb.Point{0.5, 0}
	cases := []struct {
		name               string
		in, want           orb.LineString
		repeated, retraced int
		zero, overlap      bool
	}{
		{"clean", orb.LineString{a, b, c}, orb.LineString{a, b, c}, 0, 0, false, false},
		{"repeated points", orb.LineString{a, a, b, b, b, c}, orb.LineString{a, b, c}, 3, 0, false, false},
		{"A-B-A", orb.LineString{a, b, a}, orb.LineString{a, b}, 0, 1, false, false},
		{"A-B-C-B-A", orb.LineString{a, b, c, b, a}, orb.LineString{a, b, c}, 0, 2, false, false},
		{"A-B-B-A repeated then retraced", orb.LineString{a, b, b, a}, orb.LineString{a, b}, 1, 1, false, false},
		{"back at the start", orb.LineString{b, a, b, c}, orb.LineString{a, b, c}, 0, 1, false, false},
		{"one point", orb.LineString{a}, orb.LineString{a}, 0, 0, true, false},
		{"zero length", orb.LineString{a, a, a}, orb.LineString{a}, 2, 0, true, false},
		{"spur in the middle", orb.LineString{a, b, c, b, d}, orb.LineString{a, b, c, b, d}, 0, 0, false, true},
		{"runs back part way", orb.LineString{a, b, mid, c}, orb.LineString{a, b, mid, c}, 0, 0, false, true},
		{"closed ring is fine", orb.LineString{a, b, c, a}, orb.LineString{a, b, c, a}, 0, 0, false, false},
		{"crossing is not overlapping", orb.LineString{a, c, b, orb.Point{0, 1}}, orb.LineString{a, c, b, orb.Point{0, 1}}, 0, 0, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append(orb.LineString(nil), tc.in...)
			got := geo.CheckLine(tc.in)
			if !orb.Equal(got.Line, tc.want) || got.Repeated != tc.repeated || got.Retraced != tc.retraced ||
				got.ZeroLength != tc.zero || got.SelfOverlapping != tc.overlap {
				t.Errorf("CheckLine(%v) = %+v, want line %v repeated %d retraced %d zero %v overlap %v",
					tc.in, got, tc.want, tc.repeated, tc.retraced, tc.zero, tc.overlap)
			}
			if got.Repaired() != (tc.repeated+tc.retraced > 0) {
				t.Errorf("Repaired() = %v", got.Repaired())
			}
			if !orb.Equal(in, tc.in) {
				t.Errorf("the input changed: %v", tc.in)
			}
		})
	}
}

func ExampleCheckLine() {
	// A footway drawn out to a gate and back again, with a double click.
	c := geo.CheckLine(orb.LineString{{116.30, 39.99}, {116.30, 39.99}, {116.31, 39.99}, {116.30, 39.99}})
	fmt.Println(c.Line, c.Repeated, c.Retraced, c.ZeroLength, c.SelfOverlapping)
	// Output: [[116.3 39.99] [116.31 39.99]] 1 1 false false
}
