package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// bucketGrid is a uniform grid of buckets over a bound, each holding the
// ids of the items whose (expanded) bounds touch it. For city data (items
// of similar size, spread evenly) it answers point queries in O(1) with no
// allocation, which a general R-tree cannot match: a lookup touches one
// bucket of a handful of ids.
type bucketGrid struct {
	minX, minY, cell float64
	nx, ny           int
	start            []int32 // bucket b's ids are items[start[b]:start[b+1]]
	items            []int32
}

func newBucketGrid(bounds []orb.Bound, cell float64) bucketGrid {
	g := bucketGrid{cell: cell}
	if len(bounds) == 0 {
		g.nx, g.ny = 1, 1
		g.start = make([]int32, 2)
		return g
	}
	all := bounds[0]
	for _, b := range bounds[1:] {
		all = all.Union(b)
	}
	g.minX, g.minY = all.Min[0], all.Min[1]
	g.nx = max(1, int((all.Max[0]-all.Min[0])/cell)+1)
	g.ny = max(1, int((all.Max[1]-all.Min[1])/cell)+1)
	// Very large extents (a city's bounds and a stray feature abroad) would
	// make a huge, empty grid: coarsen the cell until it stays modest.
	for g.nx*g.ny > 4_000_000 {
		g.cell *= 2
		g.nx = max(1, int((all.Max[0]-all.Min[0])/g.cell)+1)
		g.ny = max(1, int((all.Max[1]-all.Min[1])/g.cell)+1)
	}
	counts := make([]int32, g.nx*g.ny+1)
	g.each(bounds, func(b int, _ int32) { counts[b+1]++ })
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	g.start = counts
	g.items = make([]int32, counts[len(counts)-1])
	fill := make([]int32, g.nx*g.ny)
	g.each(bounds, func(b int, id int32) {
		g.items[g.start[b]+fill[b]] = id
		fill[b]++
	})
	return g
}

func (g *bucketGrid) each(bounds []orb.Bound, fn func(bucket int, id int32)) {
	for id, b := range bounds {
		x0, y0 := g.clampX(b.Min[0]), g.clampY(b.Min[1])
		x1, y1 := g.clampX(b.Max[0]), g.clampY(b.Max[1])
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				fn(y*g.nx+x, int32(id))
			}
		}
	}
}

func (g *bucketGrid) clampX(x float64) int {
	return min(max(int((x-g.minX)/g.cell), 0), g.nx-1)
}

func (g *bucketGrid) clampY(y float64) int {
	return min(max(int((y-g.minY)/g.cell), 0), g.ny-1)
}

// at returns the ids whose bounds may hold p; nil outside the grid.
func (g *bucketGrid) at(p orb.Point) []int32 {
	x, y := (p[0]-g.minX)/g.cell, (p[1]-g.minY)/g.cell
	if x < 0 || y < 0 || x >= float64(g.nx) || y >= float64(g.ny) {
		return nil
	}
	b := int(y)*g.nx + int(x)
	return g.items[g.start[b]:g.start[b+1]]
}

// Location is where a point lies relative to a polygon.
type Location int8

const (
	Outside Location = iota
	Boundary
	Inside
)

// ringLocation is the winding-number test with the same arithmetic and the
// same boundary rule as PostGIS's point-in-polygon (ptarray_contains_point):
// a point exactly on a segment is on the boundary. Using the identical
// orientation formula in float64 makes the index agree with ST_Covers even
// for points exactly on shared edges and vertices.
func ringLocation(r orb.Ring, p orb.Point) Location {
	wn := 0
	s1 := r[0]
	for i := 1; i < len(r); i++ {
		s2 := r[i]
		if s1 == s2 {
			continue
		}
		ymin, ymax := s1[1], s2[1]
		if ymin > ymax {
			ymin, ymax = ymax, ymin
		}
		if p[1] > ymax || p[1] < ymin {
			s1 = s2
			continue
		}
		side := (p[0]-s1[0])*(s2[1]-s1[1]) - (s2[0]-s1[0])*(p[1]-s1[1])
		if side == 0 && inSegmentBox(p, s1, s2) {
			return Boundary
		}
		if side < 0 && s1[1] <= p[1] && p[1] < s2[1] {
			wn++
		} else if side > 0 && s2[1] <= p[1] && p[1] < s1[1] {
			wn--
		}
		s1 = s2
	}
	if wn == 0 {
		return Outside
	}
	return Inside
}

func inSegmentBox(p, a, b orb.Point) bool {
	return min(a[0], b[0]) <= p[0] && p[0] <= max(a[0], b[0]) &&
		min(a[1], b[1]) <= p[1] && p[1] <= max(a[1], b[1])
}

// PolygonLocation says whether p is inside, on the boundary of, or outside
// the polygon (holes excluded, their edges being boundary).
func PolygonLocation(poly orb.Polygon, p orb.Point) Location {
	if len(poly) == 0 {
		return Outside
	}
	loc := ringLocation(poly[0], p)
	if loc != Inside {
		return loc
	}
	for _, hole := range poly[1:] {
		switch ringLocation(hole, p) {
		case Boundary:
			return Boundary
		case Inside:
			return Outside
		}
	}
	return Inside
}

// PolygonIndex finds the polygons that cover a point (ST_Covers: inside or
// on the boundary). Multipolygons enter as their parts, each carrying its
// owner's id.
type PolygonIndex struct {
	grid   bucketGrid
	parts  []orb.Polygon
	owner  []int32
	bounds []orb.Bound
}

// NewPolygonIndex indexes polygons; owner[i] is reported for parts[i].
// cellDeg is the bucket size in degrees (about the size of a typical
// polygon is best).
func NewPolygonIndex(parts []orb.Polygon, owner []int32, cellDeg float64) *PolygonIndex {
	ix := &PolygonIndex{parts: parts, owner: owner, bounds: make([]orb.Bound, len(parts))}
	for i, p := range parts {
		ix.bounds[i] = p.Bound()
	}
	ix.grid = newBucketGrid(ix.bounds, cellDeg)
	return ix
}

// Covering appends to out the owners of parts covering p, with whether p
// lies on that part's boundary, and returns out.
func (ix *PolygonIndex) Covering(p orb.Point, out []Hit) []Hit {
	for _, id := range ix.grid.at(p) {
		if !ix.bounds[id].Contains(p) {
			continue
		}
		if loc := PolygonLocation(ix.parts[id], p); loc != Outside {
			out = append(out, Hit{ID: ix.owner[id], OnBoundary: loc == Boundary})
		}
	}
	return out
}

// Len is the number of indexed parts.
func (ix *PolygonIndex) Len() int { return len(ix.parts) }

// Nearest returns the owner of the part nearest to p and the distance in
// metres (0 when covered). It scans every part's bounds, so it is for the
// rare point outside the covered area, not for the hot path.
func (ix *PolygonIndex) Nearest(p orb.Point) (int32, float64) {
	best, bestD := int32(-1), math.Inf(1)
	m := NewMetric(p[1])
	for i, b := range ix.bounds {
		if m.BoundDistance(p, b) >= bestD {
			continue
		}
		if PolygonLocation(ix.parts[i], p) != Outside {
			return ix.owner[i], 0
		}
		for _, r := range ix.parts[i] {
			for k := 1; k < len(r); k++ {
				if d := m.SegmentDistance(p, r[k-1], r[k]); d < bestD {
					best, bestD = ix.owner[i], d
				}
			}
		}
	}
	return best, bestD
}

// Hit is one indexed feature found at a point.
type Hit struct {
	ID         int32
	OnBoundary bool
	DistanceM  float64
	// Borderline means the distance is within a couple of centimetres of
	// the snap distance: close enough that the caller should confirm it
	// with PostGIS's geography arithmetic before answering.
	Borderline bool
}

// LineIndex finds the lines within a per-line snap distance of a point.
type LineIndex struct {
	grid  bucketGrid
	segA  []orb.Point
	segB  []orb.Point
	line  []int32   // segment → line id
	snapM []float64 // line id → snap distance in metres
}

// BorderlineM is the band around a snap distance inside which the index's
// geodesic approximation (exact to well under a millimetre at these
// distances) defers to PostGIS.
const BorderlineM = 0.02

// NewLineIndex indexes lines with their snap distances in metres.
func NewLineIndex(lines []orb.LineString, snapM []float64, cellDeg float64) *LineIndex {
	ix := &LineIndex{snapM: snapM}
	var bounds []orb.Bound
	for id, l := range lines {
		for k := 1; k < len(l); k++ {
			a, b := l[k-1], l[k]
			// Expand by the snap distance in degrees at this latitude.
			m := NewMetric(a[1])
			dx, dy := (snapM[id]+1)/m.MPerLon, (snapM[id]+1)/m.MPerLat
			bd := orb.Bound{Min: orb.Point{min(a[0], b[0]) - dx, min(a[1], b[1]) - dy},
				Max: orb.Point{max(a[0], b[0]) + dx, max(a[1], b[1]) + dy}}
			bounds = append(bounds, bd)
			ix.segA = append(ix.segA, a)
			ix.segB = append(ix.segB, b)
			ix.line = append(ix.line, int32(id))
		}
	}
	ix.grid = newBucketGrid(bounds, cellDeg)
	return ix
}

// Within appends the lines within their snap distance of p (and those
// borderline), nearest distance per line, to out.
func (ix *LineIndex) Within(p orb.Point, out []Hit) []Hit {
	cands := ix.grid.at(p)
	if len(cands) == 0 {
		return out
	}
	m := NewMetric(p[1])
	first := len(out)
	for _, s := range cands {
		id := ix.line[s]
		d := m.SegmentDistance(p, ix.segA[s], ix.segB[s])
		snap := ix.snapM[id]
		if d > snap+BorderlineM {
			continue
		}
		found := false
		for k := first; k < len(out); k++ {
			if out[k].ID == id {
				found = true
				if d < out[k].DistanceM {
					out[k].DistanceM = d
					out[k].Borderline = math.Abs(d-snap) < BorderlineM
				}
				break
			}
		}
		if !found {
			out = append(out, Hit{ID: id, DistanceM: d, Borderline: math.Abs(d-snap) < BorderlineM})
		}
	}
	return out
}

// Metric measures short distances around a latitude on the WGS84
// ellipsoid: degrees are scaled by the meridional and prime-vertical radii
// of curvature there, which is exact to well under a millimetre for the
// tens of metres that snapping and grid boundaries involve.
type Metric struct {
	MPerLon, MPerLat float64
}

// WGS84 ellipsoid.
const (
	wgs84A  = 6378137.0
	wgs84E2 = 6.69437999014e-3
)

// NewMetric returns the metric at latitude lat (degrees).
func NewMetric(lat float64) Metric {
	phi := lat * math.Pi / 180
	s := math.Sin(phi)
	w := math.Sqrt(1 - wgs84E2*s*s)
	n := wgs84A / w                            // prime vertical radius
	mr := wgs84A * (1 - wgs84E2) / (w * w * w) // meridional radius
	return Metric{MPerLon: n * math.Cos(phi) * math.Pi / 180, MPerLat: mr * math.Pi / 180}
}

// SegmentDistance is the distance in metres from p to segment ab.
func (m Metric) SegmentDistance(p, a, b orb.Point) float64 {
	ax, ay := (a[0]-p[0])*m.MPerLon, (a[1]-p[1])*m.MPerLat
	bx, by := (b[0]-p[0])*m.MPerLon, (b[1]-p[1])*m.MPerLat
	dx, dy := bx-ax, by-ay
	l2 := dx*dx + dy*dy
	t := 0.0
	if l2 > 0 {
		t = min(max(-(ax*dx+ay*dy)/l2, 0), 1)
	}
	x, y := ax+t*dx, ay+t*dy
	return math.Sqrt(x*x + y*y)
}

// BoundDistance is the distance in metres from p to a bound (0 inside).
func (m Metric) BoundDistance(p orb.Point, b orb.Bound) float64 {
	dx := max(b.Min[0]-p[0], 0, p[0]-b.Max[0]) * m.MPerLon
	dy := max(b.Min[1]-p[1], 0, p[1]-b.Max[1]) * m.MPerLat
	return math.Sqrt(dx*dx + dy*dy)
}

// SnapM is the snap distance of line id.
func (ix *LineIndex) SnapM(id int32) float64 { return ix.snapM[id] }
