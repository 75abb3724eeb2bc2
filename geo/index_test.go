package geo_test

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/citygrid/citygrid/geo"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
	"github.com/paulmach/orb/planar"
)

// Test coordinates live on a binary lattice near Beijing: base and steps
// are powers of two, so a vertex, a point a dyadic fraction of the way
// along an edge, and the orientation products of both are exact in
// float64. A point "on the edge" is then on it in exact arithmetic too, and
// the brute-force reference below cannot disagree with the index by
// rounding.
const (
	baseLon = 116.25
	baseLat = 39.875
	u       = 1.0 / 1024 // about 85 m east-west, 109 m north-south: a city grid
)

// at is the lattice point x, y units from the base.
func at(x, y float64) orb.Point { return orb.Point{baseLon + x*u, baseLat + y*u} }

// rect is the counter-clockwise ring of a box, in units.
func rect(x0, y0, x1, y1 float64) orb.Ring {
	return orb.Ring{at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)}
}

func ring(xy ...float64) orb.Ring {
	var r orb.Ring
	for i := 0; i+1 < len(xy); i += 2 {
		r = append(r, at(xy[i], xy[i+1]))
	}
	return append(r, r[0])
}

func reversed(r orb.Ring) orb.Ring {
	r = slices.Clone(r)
	slices.Reverse(r)
	return r
}

func TestPolygonLocation(t *testing.T) {
	square := orb.Polygon{rect(0, 0, 4, 4)}
	holed := orb.Polygon{rect(0, 0, 4, 4), reversed(rect(1, 1, 2, 2))}
	diamond := orb.Polygon{ring(2, 0, 4, 2, 2, 4, 0, 2)}
	triangle := orb.Polygon{ring(0, 0, 4, 0, 0, 4)}
	cases := []struct {
		name string
		poly orb.Polygon
		p    orb.Point
		want geo.Location
	}{
		{"inside", square, at(3, 3), geo.Inside},
		{"outside", square, at(5, 1), geo.Outside},
		{"outside, level with the bottom edge", square, at(-1, 0), geo.Outside},
		{"outside, level with the top edge", square, at(5, 4), geo.Outside},
		{"outside, below a vertical edge", square, at(4, -1), geo.Outside},
		{"on the bottom edge", square, at(2, 0), geo.Boundary},
		{"on the right edge", square, at(4, 1.5), geo.Boundary},
		{"on the top edge", square, at(0.5, 4), geo.Boundary},
		{"on the closing edge", square, at(0, 3), geo.Boundary},
		{"on the first vertex", square, at(0, 0), geo.Boundary},
		{"on a middle vertex", square, at(4, 4), geo.Boundary},
		{"level with two vertices, inside", diamond, at(1, 2), geo.Inside},
		{"level with two vertices, west", diamond, at(-1, 2), geo.Outside},
		{"level with two vertices, east", diamond, at(5, 2), geo.Outside},
		{"below the bottom vertex", diamond, at(2, -1), geo.Outside},
		{"on the bottom vertex", diamond, at(2, 0), geo.Boundary},
		{"on a slanted edge", triangle, at(2, 2), geo.Boundary},
		{"on a slanted edge, a sixteenth along", triangle, at(0.25, 3.75), geo.Boundary},
		{"just outside a slanted edge", triangle, at(2+1.0/1024, 2), geo.Outside},
		{"just inside a slanted edge", triangle, at(2-1.0/1024, 2), geo.Inside},
		{"in the hole", holed, at(1.5, 1.5), geo.Outside},
		{"on the hole's edge", holed, at(1.5, 1), geo.Boundary},
		{"on the hole's vertex", holed, at(2, 2), geo.Boundary},
		{"between hole and shell", holed, at(3, 3), geo.Inside},
		{"empty polygon", orb.Polygon{}, at(0, 0), geo.Outside},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := geo.PolygonLocation(c.poly, c.p); got != c.want {
				t.Errorf("PolygonLocation = %v, want %v", got, c.want)
			}
			// The winding number makes orientation irrelevant.
			flipped := make(orb.Polygon, len(c.poly))
			for i, r := range c.poly {
				flipped[i] = reversed(r)
			}
			if got := geo.PolygonLocation(flipped, c.p); got != c.want {
				t.Errorf("with rings reversed: PolygonLocation = %v, want %v", got, c.want)
			}
		})
	}
}

// city is a small set of parts with the situations a city's grids meet:
// shared edges and vertices, a hole, a multipolygon whose parts touch, and
// a concave polygon much larger than a bucket.
func city() (parts []orb.Polygon, owner []int32) {
	add := func(id int32, p orb.Polygon) {
		parts = append(parts, p)
		owner = append(owner, id)
	}
	add(10, orb.Polygon{rect(0, 0, 2, 2)})
	add(11, orb.Polygon{rect(2, 0, 4, 2)})
	add(12, orb.Polygon{rect(0, 2, 4, 6), reversed(rect(1, 3, 3, 5))})
	add(13, orb.Polygon{rect(6, 0, 7, 1)})
	add(13, orb.Polygon{rect(7, 1, 8, 2)})
	// A U: 30 × 30 units with a 10 × 20 notch from the top.
	add(14, orb.Polygon{ring(10, 0, 40, 0, 40, 30, 30, 30, 30, 10, 20, 10, 20, 30, 10, 30)})
	return parts, owner
}

func TestPolygonIndexCovering(t *testing.T) {
	parts, owner := city()
	type hit = geo.Hit
	cases := []struct {
		name string
		p    orb.Point
		want []hit
	}{
		{"inside", at(1, 1), []hit{{ID: 10}}},
		{"on an edge shared by two", at(2, 1), []hit{{ID: 10, OnBoundary: true}, {ID: 11, OnBoundary: true}}},
		{"on a vertex shared by three", at(2, 2), []hit{{ID: 10, OnBoundary: true}, {ID: 11, OnBoundary: true}, {ID: 12, OnBoundary: true}}},
		{"on an outer vertex", at(0, 0), []hit{{ID: 10, OnBoundary: true}}},
		{"on an outer edge", at(4, 1), []hit{{ID: 11, OnBoundary: true}}},
		{"in a hole", at(2, 4), nil},
		{"on a hole's edge", at(1, 4), []hit{{ID: 12, OnBoundary: true}}},
		{"on a hole's vertex", at(3, 5), []hit{{ID: 12, OnBoundary: true}}},
		{"between hole and shell", at(0.5, 5), []hit{{ID: 12}}},
		{"in a multipolygon's first part", at(6.5, 0.5), []hit{{ID: 13}}},
		{"in a multipolygon's second part", at(7.5, 1.5), []hit{{ID: 13}}},
		// Each part is reported: the owner appears once per part.
		{"where a multipolygon's parts touch", at(7, 1), []hit{{ID: 13, OnBoundary: true}, {ID: 13, OnBoundary: true}}},
		{"beside a multipolygon's parts", at(6.5, 1.5), nil},
		{"in a U's arm, many buckets from its edges", at(15, 25), []hit{{ID: 14}}},
		{"in a U's base", at(25, 5), []hit{{ID: 14}}},
		{"in a U's notch", at(25, 20), nil},
		{"on a U's notch edge", at(20, 20), []hit{{ID: 14, OnBoundary: true}}},
		{"on a U's notch bottom", at(25, 10), []hit{{ID: 14, OnBoundary: true}}},
		{"on the index's east edge", at(40, 15), []hit{{ID: 14, OnBoundary: true}}},
		{"on the index's north-east corner", at(40, 30), []hit{{ID: 14, OnBoundary: true}}},
		{"between polygons", at(5, 1), nil},
		{"west of everything", at(-1, 1), nil},
		{"far away", at(5000, -3000), nil},
	}
	// From buckets a quarter of a polygon wide to one bucket for all.
	for _, cell := range []float64{u / 4, u, 7 * u, 1} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		if ix.Len() != len(parts) {
			t.Errorf("cell %g: Len() = %d, want %d", cell, ix.Len(), len(parts))
		}
		for _, c := range cases {
			got := sortedHits(ix.Covering(c.p, nil))
			if !slices.Equal(got, c.want) {
				t.Errorf("cell %g, %s: Covering = %v, want %v", cell, c.name, got, c.want)
			}
		}
	}
}

func sortedHits(h []geo.Hit) []geo.Hit {
	slices.SortFunc(h, func(a, b geo.Hit) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if a.OnBoundary == b.OnBoundary {
			return 0
		}
		if a.OnBoundary {
			return 1
		}
		return -1
	})
	return h
}

// Covering appends: what is in out stays, and a reused slice means no
// allocation, which the locate path depends on.
func TestPolygonIndexCoveringAppends(t *testing.T) {
	parts, owner := city()
	ix := geo.NewPolygonIndex(parts, owner, u)
	out := ix.Covering(at(1, 1), []geo.Hit{{ID: 99}})
	if want := []geo.Hit{{ID: 99}, {ID: 10}}; !slices.Equal(out, want) {
		t.Errorf("Covering onto a non-empty slice = %v, want %v", out, want)
	}
	buf := make([]geo.Hit, 0, 8)
	allocs := testing.AllocsPerRun(100, func() {
		buf = ix.Covering(at(2, 2), buf[:0])
	})
	if allocs != 0 {
		t.Errorf("Covering allocates %.0f times per call with a reused slice, want 0", allocs)
	}
}

func TestPolygonIndexEmpty(t *testing.T) {
	ix := geo.NewPolygonIndex(nil, nil, 0.001)
	if ix.Len() != 0 {
		t.Errorf("Len() = %d, want 0", ix.Len())
	}
	for _, p := range []orb.Point{{0, 0}, at(0, 0), {-180, -90}} {
		if got := ix.Covering(p, nil); len(got) != 0 {
			t.Errorf("Covering(%v) on an empty index = %v", p, got)
		}
	}
	if id, d := ix.Nearest(at(0, 0)); id != -1 || !math.IsInf(d, 1) {
		t.Errorf("Nearest on an empty index = %d, %v; want -1, +Inf", id, d)
	}
}

// onSegmentExact says whether p lies on segment ab in exact rational
// arithmetic: independent of the index's float64 orientation test.
func onSegmentExact(p, a, b orb.Point) bool {
	if p[0] < min(a[0], b[0]) || p[0] > max(a[0], b[0]) || p[1] < min(a[1], b[1]) || p[1] > max(a[1], b[1]) {
		return false
	}
	r := func(f float64) *big.Rat { return new(big.Rat).SetFloat64(f) }
	sub := func(x, y float64) *big.Rat { return new(big.Rat).Sub(r(x), r(y)) }
	l := new(big.Rat).Mul(sub(p[0], a[0]), sub(b[1], a[1]))
	rr := new(big.Rat).Mul(sub(b[0], a[0]), sub(p[1], a[1]))
	return l.Cmp(rr) == 0
}

// bruteCovering is ST_Covers by another route: orb's ray casting for the
// interior (it treats a hole's edge as outside, so the boundary is checked
// first, exactly) over every part, no index.
func bruteCovering(parts []orb.Polygon, owner []int32, p orb.Point) []geo.Hit {
	var out []geo.Hit
	for i, poly := range parts {
		if !poly.Bound().Contains(p) {
			continue
		}
		on := false
		for _, r := range poly {
			for k := 1; k < len(r) && !on; k++ {
				on = onSegmentExact(p, r[k-1], r[k])
			}
		}
		if on {
			out = append(out, geo.Hit{ID: owner[i], OnBoundary: true})
		} else if planar.PolygonContains(poly, p) {
			out = append(out, geo.Hit{ID: owner[i]})
		}
	}
	return sortedHits(out)
}

// randomCity is a jittered n × n grid of quads that share their edges
// and vertices (every fifth one holed, pairs of far-apart quads under one
// owner), overlapped by star-shaped polygons many buckets wide, all on the
// lattice.
func randomCity(rng *rand.Rand, n int) (parts []orb.Polygon, owner []int32) {
	const step = 16.0 // in lattice units of u/16
	q := func(x, y float64) orb.Point { return at(x/16, y/16) }
	jit := make([][2]float64, (n+1)*(n+1))
	for i := range jit {
		jit[i] = [2]float64{float64(rng.IntN(9) - 4), float64(rng.IntN(9) - 4)}
	}
	v := func(i, j int) orb.Point {
		d := jit[j*(n+1)+i]
		return q(float64(i)*step+d[0], float64(j)*step+d[1])
	}
	for j := range n {
		for i := range n {
			id := int32(j*n + i)
			if id%7 == 3 && int(id) >= n*n/2 {
				id -= int32(n * n / 2) // a second part of a quad far south
			}
			poly := orb.Polygon{{v(i, j), v(i+1, j), v(i+1, j+1), v(i, j+1), v(i, j)}}
			if (j*n+i)%5 == 0 {
				cx, cy := float64(i)*step+8, float64(j)*step+8
				poly = append(poly, orb.Ring{q(cx-3, cy-3), q(cx-3, cy+3), q(cx+3, cy+3), q(cx+3, cy-3), q(cx-3, cy-3)})
			}
			parts = append(parts, poly)
			owner = append(owner, id)
		}
	}
	for s := range max(6, n*n/100) {
		cx, cy := float64(rng.IntN(n*16)), float64(rng.IntN(n*16))
		radius := float64(40 + rng.IntN(80))
		const k = 24
		var r orb.Ring
		for i := range k {
			a := 2*math.Pi*float64(i)/k + float64(s)
			rad := radius
			if i%2 == 1 {
				rad /= 2
			}
			r = append(r, q(math.Round(cx+rad*math.Cos(a)), math.Round(cy+rad*math.Sin(a))))
		}
		r = append(r, r[0])
		parts = append(parts, orb.Polygon{r})
		owner = append(owner, int32(n*n+s))
	}
	return parts, owner
}

// testPoints are uniform points over and around the extent, lattice points
// (level with vertices, on axis-parallel edges), vertices, and points a
// dyadic fraction of the way along edges (exactly on them).
func testPoints(rng *rand.Rand, parts []orb.Polygon, n int) []orb.Point {
	b := parts[0].Bound()
	for _, p := range parts {
		b = b.Union(p.Bound())
	}
	b = b.Pad(2 * u)
	var pts []orb.Point
	for range n {
		pts = append(pts, orb.Point{b.Min[0] + rng.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + rng.Float64()*(b.Max[1]-b.Min[1])})
	}
	for range n / 2 {
		pts = append(pts, at(float64(rng.IntN(24*16)-32)/16, float64(rng.IntN(24*16)-32)/16))
	}
	for range n {
		poly := parts[rng.IntN(len(parts))]
		r := poly[rng.IntN(len(poly))]
		k := 1 + rng.IntN(len(r)-1)
		a, c := r[k-1], r[k]
		t := float64(rng.IntN(17)) / 16
		pts = append(pts, orb.Point{a[0] + (c[0]-a[0])*t, a[1] + (c[1]-a[1])*t})
	}
	return pts
}

func TestPolygonIndexAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	parts, owner := randomCity(rng, 20)
	pts := testPoints(rng, parts, 2000)
	want := make([][]geo.Hit, len(pts))
	boundary := 0
	for i, p := range pts {
		want[i] = bruteCovering(parts, owner, p)
		if len(want[i]) > 0 && want[i][0].OnBoundary {
			boundary++
		}
	}
	if boundary < len(pts)/5 {
		t.Fatalf("only %d of %d test points are on a boundary: the test would not test it", boundary, len(pts))
	}
	for _, cell := range []float64{u / 8, u, 0.001, 0.05} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		bad := 0
		for i, p := range pts {
			got := sortedHits(ix.Covering(p, nil))
			if !slices.Equal(got, want[i]) {
				if bad++; bad <= 5 {
					t.Errorf("cell %g: Covering(%v) = %v, brute force says %v", cell, p, got, want[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("cell %g: %d of %d points disagree", cell, bad, len(pts))
		}
	}
}

// Grids drawn on a decimal lattice (corners at whole thousandths of a
// degree, as generated and surveyed grids often are) put their edges on
// bucket edges that float64 can only round: a point on such an edge must
// still find the polygons on both sides, whichever bucket it falls in.
func TestPolygonIndexDecimalEdges(t *testing.T) {
	const n = 40
	dec := func(i int, base float64) float64 {
		f, _ := strconv.ParseFloat(strconv.FormatFloat(base+float64(i)/1000, 'f', 3, 64), 64)
		return f
	}
	var parts []orb.Polygon
	var owner []int32
	for j := range n {
		for i := range n {
			x0, y0, x1, y1 := dec(i, 116.3), dec(j, 39.9), dec(i+1, 116.3), dec(j+1, 39.9)
			parts = append(parts, orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}})
			owner = append(owner, int32(j*n+i))
		}
	}
	for _, cell := range []float64{0.001, 0.0005, 0.003} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		bad := 0
		for j := range n {
			for i := 1; i < n; i++ {
				// A point on the edge between columns i-1 and i, and one on
				// the edge between rows i-1 and i.
				for _, p := range []orb.Point{{dec(i, 116.3), dec(j, 39.9) + 0.0004}, {dec(j, 116.3) + 0.0004, dec(i, 39.9)}} {
					got, want := sortedHits(ix.Covering(p, nil)), bruteCovering(parts, owner, p)
					if len(want) != 2 || !slices.Equal(got, want) {
						if bad++; bad <= 5 {
							t.Errorf("cell %g: Covering(%v) = %v, want %v", cell, p, got, want)
						}
					}
				}
			}
		}
	}
}

// bruteNearest is Nearest without buckets: every part, 0 when covered,
// else the nearest edge; ties within a millimetre (the index's and the
// database's rounding) go to the smaller owner.
func bruteNearest(parts []orb.Polygon, owner []int32, p orb.Point) (int32, float64) {
	m := geo.NewMetric(p[1])
	d := make([]float64, len(parts))
	best := math.Inf(1)
	for i, poly := range parts {
		d[i] = math.Inf(1)
		if len(bruteCovering(parts[i:i+1], owner[i:i+1], p)) > 0 {
			d[i] = 0
		}
		for _, r := range poly {
			for k := 1; k < len(r); k++ {
				d[i] = min(d[i], m.SegmentDistance(p, r[k-1], r[k]))
			}
		}
		best = min(best, d[i])
	}
	id := int32(-1)
	for i := range parts {
		if d[i] <= best+1e-3 && (id < 0 || owner[i] < id) {
			id = owner[i]
		}
	}
	return id, best
}

func TestPolygonIndexNearest(t *testing.T) {
	parts, owner := city()
	cases := []struct {
		name  string
		p     orb.Point
		want  int32
		eastU float64 // if set, the distance is this many units east or west
	}{
		{"covered", at(1, 1), 10, 0},
		{"on a boundary", at(2, 1), 10, 0},
		{"in a hole", at(2, 4), 12, 1},
		{"in a U's notch", at(22, 20), 14, 2},
		{"west of everything", at(-3, 1), 10, 3},
		// As far from 10 as from 11, which meet there: the smaller owner.
		{"south of a shared vertex", at(2, -3), 10, 0},
		{"far east", at(400, 15), 14, 360},
	}
	for _, cell := range []float64{u / 4, u, 7 * u, 1} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		for _, c := range cases {
			id, d := ix.Nearest(c.p)
			wantID, wantD := bruteNearest(parts, owner, c.p)
			if c.eastU > 0 && math.Abs(wantD-c.eastU*u*geo.NewMetric(c.p[1]).MPerLon) > 1e-6 {
				t.Fatalf("%s: brute force says %.4f m", c.name, wantD)
			}
			if id != c.want || id != wantID || math.Abs(d-wantD) > 1e-6 {
				t.Errorf("cell %g, %s: Nearest = %d, %.4f m; want %d (brute force %d), %.4f m", cell, c.name, id, d, c.want, wantID, wantD)
			}
		}
	}
}

// Ties go to the smaller owner whatever order the parts come in, as the
// database's "ORDER BY round(d, 3), code" does.
func TestPolygonIndexNearestTie(t *testing.T) {
	parts := []orb.Polygon{{rect(2, 0, 4, 2)}, {rect(0, 0, 2, 2)}}
	owner := []int32{20, 5}
	cases := []struct {
		name   string
		p      orb.Point
		southU float64 // how far south of the parts, in units
	}{
		{"south of the shared vertex", at(2, -3), 3},
		{"on the shared edge", at(2, 1), 0},
		{"on the shared vertex", at(2, 0), 0},
	}
	for _, cell := range []float64{u / 2, u, 1} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		for _, c := range cases {
			wantD := c.southU * u * geo.NewMetric(c.p[1]).MPerLat
			if id, d := ix.Nearest(c.p); id != 5 || math.Abs(d-wantD) > 1e-6 {
				t.Errorf("cell %g, %s: Nearest = %d, %.4f m; want 5, %.4f m", cell, c.name, id, d, wantD)
			}
		}
	}
}

// From outside the indexed extent the bucket rings' corners are nearer
// than their middles: a part several rows away can beat one on p's row.
func TestPolygonIndexNearestFromOutside(t *testing.T) {
	parts := []orb.Polygon{{rect(2, 0, 3, 1)}, {rect(0, 6, 1, 7)}}
	owner := []int32{1, 2}
	p := at(-40, 0.5)
	m := geo.NewMetric(p[1])
	wantD := math.Hypot(40*u*m.MPerLon, 5.5*u*m.MPerLat) // to (0, 6)
	for _, cell := range []float64{u / 2, u, 2 * u} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		if id, d := ix.Nearest(p); id != 2 || math.Abs(d-wantD) > 1e-6 {
			t.Errorf("cell %g: Nearest = %d, %.3f m; want 2, %.3f m", cell, id, d, wantD)
		}
	}
}

// Nearest agrees with every part searched, for points inside, in holes,
// between polygons and far outside the indexed extent in every direction.
func TestPolygonIndexNearestAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	parts, owner := randomCity(rng, 20)
	pts := testPoints(rng, parts, 300)
	for range 300 {
		// Up to a few kilometres outside, in any direction.
		a, r := rng.Float64()*2*math.Pi, 20+rng.Float64()*60
		pts = append(pts, at(10+r*math.Cos(a), 10+r*math.Sin(a)))
	}
	for _, cell := range []float64{u / 2, 0.001, 0.05} {
		ix := geo.NewPolygonIndex(parts, owner, cell)
		bad := 0
		for _, p := range pts {
			id, d := ix.Nearest(p)
			wantID, wantD := bruteNearest(parts, owner, p)
			if id != wantID || math.Abs(d-wantD) > 1e-6 {
				if bad++; bad <= 5 {
					t.Errorf("cell %g: Nearest(%v) = %d, %.4f m; brute force %d, %.4f m", cell, p, id, d, wantID, wantD)
				}
			}
		}
		if bad > 0 {
			t.Errorf("cell %g: %d of %d points disagree", cell, bad, len(pts))
		}
	}
}

// vincenty is the WGS84 ellipsoidal distance in metres (Vincenty's inverse
// formula, accurate to a tenth of a millimetre): the reference for
// Metric, independent of it.
func vincenty(p1, p2 orb.Point) float64 {
	const a, f = 6378137.0, 1 / 298.257223563
	const b = a * (1 - f)
	rad := math.Pi / 180
	lambdaL := (p2[0] - p1[0]) * rad
	u1, u2 := math.Atan((1-f)*math.Tan(p1[1]*rad)), math.Atan((1-f)*math.Tan(p2[1]*rad))
	sinU1, cosU1 := math.Sincos(u1)
	sinU2, cosU2 := math.Sincos(u2)
	lambda := lambdaL
	var sinSigma, cosSigma, sigma, cos2Alpha, cos2SigmaM float64
	for range 200 {
		sinL, cosL := math.Sincos(lambda)
		sinSigma = math.Hypot(cosU2*sinL, cosU1*sinU2-sinU1*cosU2*cosL)
		if sinSigma == 0 {
			return 0
		}
		cosSigma = sinU1*sinU2 + cosU1*cosU2*cosL
		sigma = math.Atan2(sinSigma, cosSigma)
		sinAlpha := cosU1 * cosU2 * sinL / sinSigma
		cos2Alpha = 1 - sinAlpha*sinAlpha
		cos2SigmaM = 0
		if cos2Alpha != 0 {
			cos2SigmaM = cosSigma - 2*sinU1*sinU2/cos2Alpha
		}
		c := f / 16 * cos2Alpha * (4 + f*(4-3*cos2Alpha))
		prev := lambda
		lambda = lambdaL + (1-c)*f*sinAlpha*(sigma+c*sinSigma*(cos2SigmaM+c*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
		if math.Abs(lambda-prev) < 1e-14 {
			break
		}
	}
	u2s := cos2Alpha * (a*a - b*b) / (b * b)
	bigA := 1 + u2s/16384*(4096+u2s*(-768+u2s*(320-175*u2s)))
	bigB := u2s / 1024 * (256 + u2s*(-128+u2s*(74-47*u2s)))
	dSigma := bigB * sinSigma * (cos2SigmaM + bigB/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
		bigB/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
	return b * bigA * (sigma - dSigma)
}

func TestVincentyReference(t *testing.T) {
	// Vincenty's own worked example (Flinders Peak to Buninyong), 54,972.271 m.
	flinders := orb.Point{144 + 25/60.0 + 29.52440/3600, -(37 + 57/60.0 + 3.72030/3600)}
	buninyong := orb.Point{143 + 55/60.0 + 35.38390/3600, -(37 + 39/60.0 + 10.15610/3600)}
	if d := vincenty(flinders, buninyong); math.Abs(d-54972.271) > 0.001 {
		t.Errorf("vincenty(Flinders Peak, Buninyong) = %.4f m, want 54972.271 m", d)
	}
}

// geodesicSegmentDistance is the distance from p to segment ab as PostGIS
// geography measures it: the edge is the great-circle arc between its ends,
// the distance the ellipsoid's, here minimised over the arc by golden
// section.
func geodesicSegmentDistance(p, a, b orb.Point) float64 {
	rad := math.Pi / 180
	vec := func(q orb.Point) [3]float64 {
		sl, cl := math.Sincos(q[1] * rad)
		so, co := math.Sincos(q[0] * rad)
		return [3]float64{cl * co, cl * so, sl}
	}
	va, vb := vec(a), vec(b)
	omega := math.Acos(min(1, va[0]*vb[0]+va[1]*vb[1]+va[2]*vb[2]))
	along := func(t float64) orb.Point {
		wa, wb := 1-t, t
		if omega > 1e-15 {
			wa, wb = math.Sin((1-t)*omega)/math.Sin(omega), math.Sin(t*omega)/math.Sin(omega)
		}
		x, y, z := wa*va[0]+wb*vb[0], wa*va[1]+wb*vb[1], wa*va[2]+wb*vb[2]
		return orb.Point{math.Atan2(y, x) / rad, math.Atan2(z, math.Hypot(x, y)) / rad}
	}
	f := func(t float64) float64 { return vincenty(p, along(t)) }
	lo, hi := 0.0, 1.0
	g := (math.Sqrt(5) - 1) / 2
	for range 80 {
		m1, m2 := hi-g*(hi-lo), lo+g*(hi-lo)
		if f(m1) < f(m2) {
			hi = m2
		} else {
			lo = m1
		}
	}
	return min(f(0), f(1), f((lo+hi)/2))
}

// offset is the point east and north metres from p, by Vincenty's
// distances (a few Newton steps), so that test points do not lean on the
// Metric under test.
func offset(p orb.Point, east, north float64) orb.Point {
	q := p
	step := 1e-5
	for range 20 {
		de := vincenty(orb.Point{p[0], q[1]}, orb.Point{q[0], q[1]}) * math.Copysign(1, q[0]-p[0])
		dn := vincenty(orb.Point{q[0], p[1]}, orb.Point{q[0], q[1]}) * math.Copysign(1, q[1]-p[1])
		mLon := vincenty(orb.Point{q[0], q[1]}, orb.Point{q[0] + step, q[1]}) / step
		mLat := vincenty(orb.Point{q[0], q[1]}, orb.Point{q[0], q[1] + step}) / step
		q[0] += (east - de) / mLon
		q[1] += (north - dn) / mLat
	}
	return q
}

// Metric's distances are PostGIS geography's to a millimetre, a twentieth
// of BorderlineM (the band where the index defers to PostGIS), for the
// tens of metres snapping involves on segments of up to 200 m. The error
// is mostly the great-circle edge's bulge away from the straight lon/lat
// line the index measures to, which grows with the square of the segment's
// length: 0.8 mm at 200 m and 45°N, but 20 mm at 1 km and 80 mm at 2 km,
// so longer segments would need splitting before they are indexed.
func TestMetricSegmentDistance(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	worst := 0.0
	for _, lat := range []float64{0.5, 22.5, 31.2, 39.9, 45.75, 53.5} {
		for range 40 {
			a := orb.Point{100 + rng.Float64()*20, lat + rng.Float64()*0.01}
			l, dir := 1+rng.Float64()*199, rng.Float64()*2*math.Pi
			b := offset(a, l*math.Cos(dir), l*math.Sin(dir))
			// Up to 30 m away: beyond the snap distances layers use (5–20 m).
			d, dir2 := rng.Float64()*30, rng.Float64()*2*math.Pi
			tt := rng.Float64()
			p := offset(orb.Point{a[0] + tt*(b[0]-a[0]), a[1] + tt*(b[1]-a[1])}, d*math.Cos(dir2), d*math.Sin(dir2))
			got := geo.NewMetric(p[1]).SegmentDistance(p, a, b)
			want := geodesicSegmentDistance(p, a, b)
			worst = max(worst, math.Abs(got-want))
			if math.Abs(got-want) > 0.001 {
				t.Errorf("lat %g: SegmentDistance(%v, %v, %v) = %.5f m, geodesic %.5f m", lat, p, a, b, got, want)
			}
		}
	}
	t.Logf("worst difference from the geodesic: %.3f mm", worst*1000)
	if worst*20 > geo.BorderlineM {
		t.Errorf("worst difference %.4f m is not small beside BorderlineM %.2f m", worst, geo.BorderlineM)
	}
}

// BoundDistance is the distance to the nearest of the bound's edges, 0
// inside: the lower bound the searches prune with.
func TestMetricBoundDistance(t *testing.T) {
	b := orb.Bound{Min: at(0, 0), Max: at(1, 1)}
	edges := [][2]orb.Point{{at(0, 0), at(1, 0)}, {at(1, 0), at(1, 1)}, {at(1, 1), at(0, 1)}, {at(0, 1), at(0, 0)}}
	rng := rand.New(rand.NewPCG(21, 22))
	for range 500 {
		p := at(rng.Float64()*5-2, rng.Float64()*5-2)
		m := geo.NewMetric(p[1])
		want := 0.0
		if !b.Contains(p) {
			want = math.Inf(1)
			for _, e := range edges {
				want = min(want, m.SegmentDistance(p, e[0], e[1]))
			}
		}
		if got := m.BoundDistance(p, b); math.Abs(got-want) > 1e-6 {
			t.Errorf("BoundDistance(%v) = %.4f m, want %.4f m", p, got, want)
		}
	}
	m := geo.NewMetric(baseLat)
	if got, want := m.BoundDistance(at(0.5, 1.5), b), 0.5*u*m.MPerLat; math.Abs(got-want) > 1e-9 {
		t.Errorf("half a unit north: %.4f m, want %.4f m", got, want)
	}
}

// Against orb's spherical distance the metric can differ only by the
// ellipsoid's flattening: the radii of curvature lie within a·(1 ± e²), so
// by at most e² ≈ 0.67% — a check of units and axes, not of precision.
func TestMetricAgainstOrb(t *testing.T) {
	const e2 = 6.69437999014e-3
	rng := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		p := orb.Point{73 + rng.Float64()*62, 18 + rng.Float64()*36}
		q := orb.Point{p[0] + (rng.Float64()-0.5)*0.001, p[1] + (rng.Float64()-0.5)*0.001}
		got := geo.NewMetric(p[1]).SegmentDistance(p, q, q)
		want := orbgeo.Distance(p, q)
		if math.Abs(got-want) > e2*want+1e-3 {
			t.Errorf("distance %v to %v = %.3f m, orb says %.3f m", p, q, got, want)
		}
	}
}

func TestLineIndexWithin(t *testing.T) {
	var diagonal orb.LineString
	for i := range 41 {
		diagonal = append(diagonal, at(3+float64(i)/2, -5+float64(i)/2))
	}
	lines := []orb.LineString{
		{at(0, 0), at(1, 0), at(2, 0)},  // a street, 10 m
		{at(1.5, -0.75), at(1.5, 0.75)}, // crossing it, 5 m
		diagonal,                        // 40 short segments, 20 m
		{at(30, 0), at(30.5, 0)},        // snap 0
		{at(40, 0)},                     // a single point: no segment
	}
	snaps := []float64{10, 5, 20, 0, 10}
	type want struct {
		id         int32
		borderline bool
	}
	cases := []struct {
		name string
		p    orb.Point
		want []want
	}{
		{"on a line", at(0.5, 0), []want{{0, false}}},
		{"9.97 m from a 10 m line", offset(at(0.5, 0), 0, 9.97), []want{{0, false}}},
		{"9.99 m: borderline", offset(at(0.5, 0), 0, 9.99), []want{{0, true}}},
		{"10.01 m: beyond, but borderline", offset(at(0.5, 0), 0, -10.01), []want{{0, true}}},
		{"10.03 m: beyond", offset(at(0.5, 0), 0, 10.03), nil},
		{"4 m from a vertex: one hit for two segments", offset(at(1, 0), 0, -4), []want{{0, false}}},
		{"6 m beyond the end", offset(at(2, 0), 6, 0), []want{{0, false}}},
		{"10 m beyond the end, aslant: borderline", offset(at(2, 0), 6, 8), []want{{0, true}}},
		{"at a crossing", at(1.5, 0), []want{{0, false}, {1, false}}},
		{"3 m east of a crossing", offset(at(1.5, 0), 3, 0), []want{{0, false}, {1, false}}},
		{"3 m east, 7 m north of a crossing", offset(at(1.5, 0), 3, 7), []want{{0, false}, {1, false}}},
		{"6 m from a 5 m line", offset(at(1.5, 0.5), 6, 0), nil},
		{"on a diagonal", at(13, 5), []want{{2, false}}},
		{"15 m from a diagonal", offset(at(13, 5), 12, -9), []want{{2, false}}},
		{"25 m from a diagonal", offset(at(13, 5), 20, -15), nil},
		{"on a snap-0 line", at(30.25, 0), []want{{3, true}}},
		{"1 cm from a snap-0 line", offset(at(30.25, 0), 0, 0.01), []want{{3, true}}},
		{"3 cm from a snap-0 line", offset(at(30.25, 0), 0, 0.03), nil},
		{"at a one-point line", at(40, 0), nil},
		{"far away", at(-500, 300), nil},
	}
	for _, cell := range []float64{u / 8, u, 1} {
		ix := geo.NewLineIndex(lines, snaps, cell)
		for i, s := range snaps {
			if got := ix.SnapM(int32(i)); got != s {
				t.Errorf("SnapM(%d) = %g, want %g", i, got, s)
			}
		}
		for _, c := range cases {
			got := sortedHits(ix.Within(c.p, nil))
			if len(got) != len(c.want) {
				t.Errorf("cell %g, %s: Within = %v, want lines %v", cell, c.name, got, c.want)
				continue
			}
			for k, h := range got {
				wantD := math.Inf(1)
				l := lines[c.want[k].id]
				for j := 1; j < len(l); j++ {
					wantD = min(wantD, geodesicSegmentDistance(c.p, l[j-1], l[j]))
				}
				if h.ID != c.want[k].id || h.Borderline != c.want[k].borderline || math.Abs(h.DistanceM-wantD) > 0.001 {
					t.Errorf("cell %g, %s: hit %+v, want line %d borderline %v at %.4f m", cell, c.name, h, c.want[k].id, c.want[k].borderline, wantD)
				}
			}
		}
	}
}

func TestLineIndexEmptyAndAppends(t *testing.T) {
	if got := geo.NewLineIndex(nil, nil, 0.001).Within(at(0, 0), nil); len(got) != 0 {
		t.Errorf("Within on an empty index = %v", got)
	}
	ix := geo.NewLineIndex([]orb.LineString{{at(0, 0), at(1, 0)}, {at(0, 0), at(0, 1)}}, []float64{10, 10}, u)
	out := ix.Within(at(0.5, 0), []geo.Hit{{ID: 99}})
	if len(out) != 2 || out[0].ID != 99 || out[1].ID != 0 {
		t.Errorf("Within onto a non-empty slice = %v, want the hit after ID 99", out)
	}
	// A line already in out from an earlier call is not merged with.
	out = ix.Within(at(0, 0), out)
	if want := []geo.Hit{{ID: 99}, {ID: 0}, {ID: 0}, {ID: 1}}; len(out) != 4 || !slices.Equal(append(out[:2:2], sortedHits(out[2:])...), want) {
		t.Errorf("second Within gave %v, want %v", out, want)
	}
	buf := make([]geo.Hit, 0, 8)
	if allocs := testing.AllocsPerRun(100, func() { buf = ix.Within(at(0, 0), buf[:0]) }); allocs != 0 {
		t.Errorf("Within allocates %.0f times per call with a reused slice, want 0", allocs)
	}
}

// A line whose later segment lies nearer than an earlier one keeps the
// nearer distance, and with it that distance's borderline flag.
func TestLineIndexNearestSegmentWins(t *testing.T) {
	a := at(0, 0)
	// Out 100 m east and back to 2 cm north of the start: the way back is
	// a centimetre nearer to p, in the borderline band of a 10 m snap.
	line := orb.LineString{a, offset(a, 100, 0), offset(a, 0, 0.02)}
	ix := geo.NewLineIndex([]orb.LineString{line}, []float64{10}, u)
	for _, c := range []struct {
		north      float64
		borderline bool
	}{
		{10.01, true},   // 10.01 m, then 10.00 m: both borderline
		{9.985, false},  // 9.985 m (borderline), then 9.975 m (not)
		{-9.975, false}, // south: the way out is the nearer
	} {
		p := offset(a, 50, c.north)
		got := ix.Within(p, nil)
		wantD := min(geodesicSegmentDistance(p, line[0], line[1]), geodesicSegmentDistance(p, line[1], line[2]))
		if len(got) != 1 || math.Abs(got[0].DistanceM-wantD) > 0.001 || got[0].Borderline != c.borderline {
			t.Errorf("%g m north: Within = %v, want one hit at %.4f m, borderline %v", c.north, got, wantD, c.borderline)
		}
	}
}

// randomLines are random walks over a few kilometres with steps of 10 to
// 150 m, some with a 500 m snap distance (the most a layer may have).
func randomLines(rng *rand.Rand) ([]orb.LineString, []float64) {
	var lines []orb.LineString
	var snaps []float64
	for i := range 200 {
		p := at(rng.Float64()*30, rng.Float64()*30)
		l := orb.LineString{p}
		dir := rng.Float64() * 2 * math.Pi
		for range 2 + rng.IntN(30) {
			dir += (rng.Float64() - 0.5) * 1.5
			step := 10 + rng.Float64()*140
			p = offset(p, step*math.Cos(dir), step*math.Sin(dir))
			l = append(l, p)
		}
		lines = append(lines, l)
		snap := []float64{0, 5, 10, 15, 20}[rng.IntN(5)]
		if i%40 == 0 {
			snap = 500
		}
		snaps = append(snaps, snap)
	}
	return lines, snaps
}

func bruteWithin(lines []orb.LineString, snaps []float64, p orb.Point) []geo.Hit {
	m := geo.NewMetric(p[1])
	var out []geo.Hit
	for id, l := range lines {
		d := math.Inf(1)
		for k := 1; k < len(l); k++ {
			d = min(d, m.SegmentDistance(p, l[k-1], l[k]))
		}
		if d <= snaps[id]+geo.BorderlineM {
			out = append(out, geo.Hit{ID: int32(id), DistanceM: d, Borderline: math.Abs(d-snaps[id]) < geo.BorderlineM})
		}
	}
	return out
}

func TestLineIndexAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	lines, snaps := randomLines(rng)
	var pts []orb.Point
	for range 500 {
		pts = append(pts, at(rng.Float64()*34-2, rng.Float64()*34-2))
	}
	for range 1500 {
		l := lines[rng.IntN(len(lines))]
		k := 1 + rng.IntN(len(l)-1)
		t := rng.Float64()
		q := orb.Point{l[k-1][0] + t*(l[k][0]-l[k-1][0]), l[k-1][1] + t*(l[k][1]-l[k-1][1])}
		d, dir := rng.Float64()*25, rng.Float64()*2*math.Pi
		pts = append(pts, offset(q, d*math.Cos(dir), d*math.Sin(dir)))
	}
	hits := 0
	want := make([][]geo.Hit, len(pts))
	for i, p := range pts {
		want[i] = bruteWithin(lines, snaps, p)
		hits += len(want[i])
	}
	if hits < len(pts) {
		t.Fatalf("only %d hits over %d points: the test would not test much", hits, len(pts))
	}
	for _, cell := range []float64{u / 8, 0.001, 0.05} {
		ix := geo.NewLineIndex(lines, snaps, cell)
		bad := 0
		for i, p := range pts {
			got := sortedHits(ix.Within(p, nil))
			if !slices.EqualFunc(got, want[i], func(a, b geo.Hit) bool {
				return a.ID == b.ID && a.Borderline == b.Borderline && math.Abs(a.DistanceM-b.DistanceM) < 1e-9
			}) {
				if bad++; bad <= 5 {
					t.Errorf("cell %g: Within(%v) = %v, brute force %v", cell, p, got, want[i])
				}
			}
		}
		if bad > 0 {
			t.Errorf("cell %g: %d of %d points disagree", cell, bad, len(pts))
		}
	}
}

func ExamplePolygonIndex() {
	// Two grids sharing an edge. Owners are the caller's numbers, here
	// positions in a table of codes.
	codes := []string{"110108001001", "110108001002"}
	parts := []orb.Polygon{
		{{{116.300, 39.980}, {116.310, 39.980}, {116.310, 39.990}, {116.300, 39.990}, {116.300, 39.980}}},
		{{{116.310, 39.980}, {116.320, 39.980}, {116.320, 39.990}, {116.310, 39.990}, {116.310, 39.980}}},
	}
	ix := geo.NewPolygonIndex(parts, []int32{0, 1}, 0.001)
	for _, p := range []orb.Point{{116.305, 39.985}, {116.310, 39.985}, {116.330, 39.985}} {
		fmt.Printf("%v:", p)
		for _, h := range ix.Covering(p, nil) {
			fmt.Printf(" %s (boundary %v)", codes[h.ID], h.OnBoundary)
		}
		fmt.Println()
	}
	id, d := ix.Nearest(orb.Point{116.330, 39.985})
	fmt.Printf("nearest: %s, %.1f m\n", codes[id], d)
	// Output:
	// [116.305 39.985]: 110108001001 (boundary false)
	// [116.31 39.985]: 110108001001 (boundary true) 110108001002 (boundary true)
	// [116.33 39.985]:
	// nearest: 110108001002, 854.1 m
}

func ExampleLineIndex_Within() {
	// A street whose layer snaps points within 15 m. Its 850 m segment is
	// measured along the great circle, as PostGIS geography measures it
	// (ST_Distance gives 11.091 m and 14.423 m for these points).
	street := orb.LineString{{116.3100, 39.9800}, {116.3200, 39.9800}}
	ix := geo.NewLineIndex([]orb.LineString{street}, []float64{15}, 0.001)
	for _, p := range []orb.Point{{116.3150, 39.9801}, {116.3150, 39.98013}, {116.3150, 39.9802}} {
		for _, h := range ix.Within(p, nil) {
			fmt.Printf("%v: line %d at %.2f m, borderline %v\n", p, h.ID, h.DistanceM, h.Borderline)
		}
	}
	// Output:
	// [116.315 39.9801]: line 0 at 11.09 m, borderline false
	// [116.315 39.98013]: line 0 at 14.42 m, borderline false
}

// benchCity is a 100 × 100 jittered grid of about 85 × 110 m quads (ten
// thousand grids, a district's worth) with a hundred larger polygons over
// it, indexed with the bucket size citygrid uses for grids.
func benchCity(b *testing.B) (*geo.PolygonIndex, []orb.Polygon) {
	parts, owner := randomCity(rand.New(rand.NewPCG(11, 12)), 100)
	return geo.NewPolygonIndex(parts, owner, 0.001), parts
}

func BenchmarkPolygonIndexCovering(b *testing.B) {
	ix, _ := benchCity(b)
	rng := rand.New(rand.NewPCG(13, 14))
	pts := make([]orb.Point, 1024)
	for i := range pts {
		pts[i] = at(rng.Float64()*100, rng.Float64()*100)
	}
	b.ReportAllocs()
	hits := make([]geo.Hit, 0, 8)
	i := 0
	for b.Loop() {
		hits = ix.Covering(pts[i%len(pts)], hits[:0])
		i++
	}
}

func BenchmarkPolygonIndexNearest(b *testing.B) {
	ix, parts := benchCity(b)
	rng := rand.New(rand.NewPCG(15, 16))
	// In the holes: near grids, covered by none.
	var holes []orb.Point
	for _, p := range parts {
		if len(p) > 1 {
			c := p[1].Bound().Center()
			if len(ix.Covering(c, nil)) == 0 {
				holes = append(holes, c)
			}
		}
	}
	// Outside the city, up to 5 km beyond its edge in any direction.
	outside := make([]orb.Point, 1024)
	for i := range outside {
		a, r := rng.Float64()*2*math.Pi, 75+rng.Float64()*50
		outside[i] = at(50+r*math.Cos(a), 50+r*math.Sin(a))
	}
	for _, c := range []struct {
		name string
		pts  []orb.Point
	}{{"hole", holes}, {"outside", outside}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ix.Nearest(c.pts[i%len(c.pts)])
				i++
			}
		})
	}
}

func BenchmarkLineIndexWithin(b *testing.B) {
	lines, snaps := randomLines(rand.New(rand.NewPCG(17, 18)))
	ix := geo.NewLineIndex(lines, snaps, 0.001)
	rng := rand.New(rand.NewPCG(19, 20))
	pts := make([]orb.Point, 1024)
	for i := range pts {
		pts[i] = at(rng.Float64()*30, rng.Float64()*30)
	}
	b.ReportAllocs()
	hits := make([]geo.Hit, 0, 16)
	i := 0
	for b.Loop() {
		hits = ix.Within(pts[i%len(pts)], hits[:0])
		i++
	}
}
