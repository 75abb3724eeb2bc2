package geo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// Reference pairs published with the eviltransform and coordtransform
// libraries, which implement the same standard algorithm.
func TestWGS84ToGCJ02(t *testing.T) {
	cases := []struct {
		name     string
		wgs, gcj orb.Point
	}{
		{"shanghai", orb.Point{121.5272106, 31.1774276}, orb.Point{121.531541859215, 31.17530398364597}},
		{"shenzhen", orb.Point{113.912316, 22.543847}, orb.Point{113.9171764808363, 22.540796131694766}},
		{"beijing", orb.Point{116.377817, 39.911954}, orb.Point{116.38404722455657, 39.91334545536069}},
		{"tiananmen", orb.Point{116.404, 39.915}, orb.Point{116.41024449916938, 39.91640428150164}},
		{"outside China", orb.Point{2.35, 48.85}, orb.Point{2.35, 48.85}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := WGS84ToGCJ02(c.wgs)
			if d := orbgeo.Distance(got, c.gcj); d > 0.001 {
				t.Errorf("WGS84ToGCJ02(%v) = %v, want %v (off by %.4f m)", c.wgs, got, c.gcj, d)
			}
			back := GCJ02ToWGS84(c.gcj)
			if d := orbgeo.Distance(back, c.wgs); d > 0.01 {
				t.Errorf("GCJ02ToWGS84(%v) = %v, want %v (off by %.4f m)", c.gcj, back, c.wgs, d)
			}
		})
	}
}

func TestBD09(t *testing.T) {
	cases := []struct {
		name    string
		gcj, bd orb.Point
	}{
		{"tiananmen", orb.Point{116.404, 39.915}, orb.Point{116.41036949371029, 39.92133699351021}},
	}
	for _, c := range cases {
		got := GCJ02ToBD09(c.gcj)
		if d := orbgeo.Distance(got, c.bd); d > 0.001 {
			t.Errorf("%s: GCJ02ToBD09 = %v, want %v (%.4f m)", c.name, got, c.bd, d)
		}
	}
	// coordtransform's closed-form inverse of BD-09 at 116.404,39.915; ours is
	// refined by iteration and so lies within a few decimetres of it.
	approx := orb.Point{116.39762729119315, 39.90865673957631}
	got := BD09ToGCJ02(orb.Point{116.404, 39.915})
	if d := orbgeo.Distance(got, approx); d > 1 {
		t.Errorf("BD09ToGCJ02 = %v, want near %v (%.3f m)", got, approx, d)
	}
}

// Every conversion must come back to where it started within 0.01 m,
// anywhere in China.
func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		p := orb.Point{73 + r.Float64()*62, 18 + r.Float64()*35}
		for _, c := range []CRS{GCJ02, BD09} {
			there := c.FromWGS84()(p)
			back := c.ToWGS84()(there)
			if d := orbgeo.Distance(p, back); d > 0.01 {
				t.Fatalf("point %d %v via %s: round trip off by %.4f m", i, p, c, d)
			}
			if d := orbgeo.Distance(p, there); d < 1 {
				t.Fatalf("point %d %v: %s offset only %.3f m; conversion did nothing", i, p, c, d)
			}
		}
	}
}

func TestOffsetSizeAtZhongguancun(t *testing.T) {
	// The data README says GCJ-02 is about 540 m off at Zhongguancun.
	p := orb.Point{116.3165, 39.9835}
	d := orbgeo.Distance(p, WGS84ToGCJ02(p))
	if d < 400 || d > 700 {
		t.Errorf("offset %.0f m, want about 540 m", d)
	}
}

func TestParseCRS(t *testing.T) {
	for in, want := range map[string]CRS{"": WGS84, "WGS84": WGS84, "epsg:4326": WGS84, "gcj02": GCJ02, "GCJ-02": GCJ02, "bd09": BD09} {
		got, err := ParseCRS(in)
		if err != nil || got != want {
			t.Errorf("ParseCRS(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseCRS("utm50"); err == nil {
		t.Error("ParseCRS(utm50) should fail")
	}
}

func TestConvertGeometry(t *testing.T) {
	poly := orb.Polygon{{{116.3, 39.9}, {116.4, 39.9}, {116.4, 40.0}, {116.3, 39.9}}}
	want := WGS84ToGCJ02(orb.Point{116.4, 40.0})
	got := Convert(poly.Clone(), WGS84, GCJ02).(orb.Polygon)
	if got[0][2] != want {
		t.Errorf("vertex 2 = %v, want %v", got[0][2], want)
	}
	if got[0][0] != got[0][3] {
		t.Error("ring no longer closed after conversion")
	}
	back := Convert(got, GCJ02, WGS84).(orb.Polygon)
	if d := orbgeo.Distance(back[0][1], orb.Point{116.4, 39.9}); d > 0.01 {
		t.Errorf("round trip off by %.4f m", d)
	}
}

func ExampleGCJ02ToWGS84() {
	// A location reported from an AMap-based phone app near Peking University.
	wgs := GCJ02ToWGS84(orb.Point{116.3104, 39.9928})
	fmt.Printf("%.6f %.6f\n", wgs[0], wgs[1])
	// Output: 116.304307 39.991529
}

// sink keeps the compiler from discarding benchmarked conversions.
var sink orb.Point

func BenchmarkWGS84ToGCJ02(b *testing.B) {
	b.ReportAllocs()
	p := orb.Point{116.3165, 39.9835}
	for b.Loop() {
		sink = WGS84ToGCJ02(p)
	}
}

func BenchmarkGCJ02ToWGS84(b *testing.B) {
	b.ReportAllocs()
	p := orb.Point{116.3165, 39.9835}
	for b.Loop() {
		sink = GCJ02ToWGS84(p)
	}
}

func BenchmarkBD09ToWGS84(b *testing.B) {
	b.ReportAllocs()
	p := orb.Point{116.3165, 39.9835}
	for b.Loop() {
		sink = BD09ToWGS84(p)
	}
}

func BenchmarkConvertPolygon1000(b *testing.B) {
	b.ReportAllocs()
	ring := make(orb.Ring, 1001)
	for i := range 1000 {
		a := float64(i) / 1000 * 2 * math.Pi
		ring[i] = orb.Point{116.3 + 0.01*math.Cos(a), 39.9 + 0.01*math.Sin(a)}
	}
	ring[1000] = ring[0]
	for b.Loop() {
		Convert(orb.Polygon{ring}, GCJ02, WGS84)
	}
}
