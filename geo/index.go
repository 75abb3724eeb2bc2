package geo

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
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
	return newFilteredBucketGrid(bounds, cell, nil)
}

// newFilteredBucketGrid is newBucketGrid where keep, when set, decides
// whether an item whose bounds touch a bucket really reaches it.
func newFilteredBucketGrid(bounds []orb.Bound, cell float64, keep func(id int32, bucket orb.Bound) bool) bucketGrid {
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
	each := g.each
	if keep != nil {
		each = func(bounds []orb.Bound, fn func(int, int32)) {
			g.each(bounds, func(b int, id int32) {
				x, y := float64(b%g.nx), float64(b/g.nx)
				bb := orb.Bound{Min: orb.Point{g.minX + x*g.cell, g.minY + y*g.cell},
					Max: orb.Point{g.minX + (x+1)*g.cell, g.minY + (y+1)*g.cell}}
				if keep(id, bb) {
					fn(b, id)
				}
			})
		}
	}
	counts := make([]int32, g.nx*g.ny+1)
	each(bounds, func(b int, _ int32) { counts[b+1]++ })
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	g.start = counts
	g.items = make([]int32, counts[len(counts)-1])
	fill := make([]int32, g.nx*g.ny)
	each(bounds, func(b int, id int32) {
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

// box is the bound of buckets x0..x1 by y0..y1.
func (g *bucketGrid) box(x0, y0, x1, y1 int) orb.Bound {
	return orb.Bound{
		Min: orb.Point{g.minX + float64(x0)*g.cell, g.minY + float64(y0)*g.cell},
		Max: orb.Point{g.minX + float64(x1+1)*g.cell, g.minY + float64(y1+1)*g.cell}}
}

// span returns the range of items whose bounds may hold p; empty outside
// the grid.
func (g *bucketGrid) span(p orb.Point) (int32, int32) {
	x, y := (p[0]-g.minX)/g.cell, (p[1]-g.minY)/g.cell
	if x < 0 || y < 0 || x >= float64(g.nx) || y >= float64(g.ny) {
		return 0, 0
	}
	b := int(y)*g.nx + int(x)
	return g.start[b], g.start[b+1]
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
func ringLocation(r []orb.Point, p orb.Point) Location {
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
	// itemBounds[k] is bounds[grid.items[k]]: a bucket's candidates' bounds
	// lie next to each other in memory.
	itemBounds []orb.Bound
	// Every ring's points in one array: part p's rings are
	// ringOff[partRing[p]:partRing[p+1]+1], ring r's points
	// pts[ringOff[r]:ringOff[r+1]]. A lookup then follows no pointers to
	// test a candidate, which on a city of 20,000 grids halves its cost.
	pts      []orb.Point
	ringOff  []int32
	partRing []int32
}

// NewPolygonIndex indexes polygons; owner[i] is reported for parts[i].
// cellDeg is the bucket size in degrees (about the size of a typical
// polygon is best).
func NewPolygonIndex(parts []orb.Polygon, owner []int32, cellDeg float64) *PolygonIndex {
	ix := &PolygonIndex{parts: parts, owner: owner, bounds: make([]orb.Bound, len(parts))}
	for i, p := range parts {
		ix.bounds[i] = p.Bound()
	}
	// A polygon is listed only in the buckets it reaches, not every bucket
	// its bounds touch: jittered or slanted grids have bounds much larger
	// than themselves. Buckets are grown by 1e-9° so that a polygon touching
	// a bucket's edge stays listed there.
	ix.grid = newFilteredBucketGrid(ix.bounds, cellDeg, func(id int32, b orb.Bound) bool {
		if b.Min[0] <= ix.bounds[id].Min[0] && ix.bounds[id].Max[0] <= b.Max[0] &&
			b.Min[1] <= ix.bounds[id].Min[1] && ix.bounds[id].Max[1] <= b.Max[1] {
			return true // wholly inside the bucket
		}
		c := clip.Polygon(b.Pad(1e-9), parts[id].Clone())
		return len(c) > 0 && len(c[0]) > 0
	})
	ix.itemBounds = make([]orb.Bound, len(ix.grid.items))
	for k, id := range ix.grid.items {
		ix.itemBounds[k] = ix.bounds[id]
	}
	ix.partRing = make([]int32, 0, len(parts)+1)
	for _, p := range parts {
		ix.partRing = append(ix.partRing, int32(len(ix.ringOff)))
		for _, r := range p {
			ix.ringOff = append(ix.ringOff, int32(len(ix.pts)))
			ix.pts = append(ix.pts, r...)
		}
	}
	ix.partRing = append(ix.partRing, int32(len(ix.ringOff)))
	ix.ringOff = append(ix.ringOff, int32(len(ix.pts)))
	return ix
}

// location is PolygonLocation on the flattened copy of part id.
func (ix *PolygonIndex) location(id int32, p orb.Point) Location {
	r0, r1 := ix.partRing[id], ix.partRing[id+1]
	if r0 == r1 {
		return Outside
	}
	loc := ringLocation(ix.pts[ix.ringOff[r0]:ix.ringOff[r0+1]], p)
	if loc != Inside {
		return loc
	}
	for r := r0 + 1; r < r1; r++ {
		switch ringLocation(ix.pts[ix.ringOff[r]:ix.ringOff[r+1]], p) {
		case Boundary:
			return Boundary
		case Inside:
			return Outside
		}
	}
	return Inside
}

// Covering appends to out the owners of parts covering p, with whether p
// lies on that part's boundary, and returns out.
func (ix *PolygonIndex) Covering(p orb.Point, out []Hit) []Hit {
	lo, hi := ix.grid.span(p)
	for k := lo; k < hi; k++ {
		if b := &ix.itemBounds[k]; p[0] < b.Min[0] || p[0] > b.Max[0] || p[1] < b.Min[1] || p[1] > b.Max[1] {
			continue
		}
		id := ix.grid.items[k]
		if loc := ix.location(id, p); loc != Outside {
			out = append(out, Hit{ID: ix.owner[id], OnBoundary: loc == Boundary})
		}
	}
	return out
}

// Len is the number of indexed parts.
func (ix *PolygonIndex) Len() int { return len(ix.parts) }

// Nearest returns the owner of the part nearest to p and the distance in
// metres (0 when covered). It searches the buckets in rings around p and
// stops once the buckets left are farther than the best distance found.
func (ix *PolygonIndex) Nearest(p orb.Point) (int32, float64) {
	g := &ix.grid
	if len(ix.parts) == 0 {
		return -1, math.Inf(1)
	}
	best, bestD, bestPart := int32(-1), math.Inf(1), int32(-1)
	m := NewMetric(p[1])
	cx, cy := g.clampX(p[0]), g.clampY(p[1])
	// rest is how near p the buckets r or more rings from (cx, cy) can
	// be: the nearest of the four strips beyond the square searched so far
	// (+Inf once nothing is left). From outside the extent a ring's
	// corners are nearer than its middle, so the ring number alone is no
	// bound.
	rest := func(r int) float64 {
		d := math.Inf(1)
		strip := func(x0, y0, x1, y1 int) {
			x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, g.nx-1), min(y1, g.ny-1)
			if x0 <= x1 && y0 <= y1 {
				d = min(d, m.BoundDistance(p, g.box(x0, y0, x1, y1)))
			}
		}
		strip(cx+r, 0, g.nx-1, g.ny-1)
		strip(0, 0, cx-r, g.ny-1)
		strip(0, cy+r, g.nx-1, g.ny-1)
		strip(0, 0, g.nx-1, cy-r)
		return d
	}
	// Parts as far as the best (within a millimetre) are still checked:
	// ties (parts meeting at the nearest point, or all covering p) go to
	// the smaller owner, which callers number in code order.
	check := func(x, y int) {
		if m.BoundDistance(p, g.box(x, y, x, y)) > bestD+1e-3 {
			return
		}
		b := y*g.nx + x
		for _, id := range g.items[g.start[b]:g.start[b+1]] {
			// The best part is listed in every bucket it reaches.
			if id == bestPart || m.BoundDistance(p, ix.bounds[id]) > bestD+1e-3 {
				continue
			}
			d := math.Inf(1)
			if PolygonLocation(ix.parts[id], p) != Outside {
				d = 0
			} else {
				for _, r := range ix.parts[id] {
					for k := 1; k < len(r); k++ {
						d = min(d, m.SegmentDistance(p, r[k-1], r[k]))
					}
				}
			}
			if d < bestD-1e-3 || (d <= bestD+1e-3 && ix.owner[id] < best) {
				best, bestD, bestPart = ix.owner[id], min(d, bestD), id
			}
		}
	}
	for r := 0; ; r++ {
		if d := rest(r); math.IsInf(d, 1) || bestD+1e-3 < d {
			break
		}
		// The ring's bottom and top rows, then its sides: from outside the
		// extent many rings are searched, so each costs its length only.
		for _, y := range [2]int{cy - r, cy + r} {
			if y >= 0 && y < g.ny {
				for x := max(cx-r, 0); x <= min(cx+r, g.nx-1); x++ {
					check(x, y)
				}
			}
			if r == 0 {
				break
			}
		}
		for y := max(cy-r+1, 0); y <= min(cy+r-1, g.ny-1); y++ {
			for _, x := range [2]int{cx - r, cx + r} {
				if x >= 0 && x < g.nx {
					check(x, y)
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
	segBd []orb.Bound // each segment's bounds grown by its snap distance
	line  []int32     // segment → line id
	snapM []float64   // line id → snap distance in metres
}

// BorderlineM is the band around a snap distance inside which the index's
// geodesic approximation (exact to well under a millimetre at these
// distances) defers to PostGIS.
const BorderlineM = 0.02

// maxSegmentM is the longest segment the line index measures as it is.
// Distances are taken in a plane around the point, to the straight
// lon/lat segment, while PostGIS geography follows great circles: the two
// part by about L²/8 · tan(lat)/R, 0.8 mm at 200 m but 16–20 mm at 1 km,
// which is the 2 cm a borderline answer may be off. Longer segments are
// indexed as pieces along their great circle.
const maxSegmentM = 200

// NewLineIndex indexes lines with their snap distances in metres.
func NewLineIndex(lines []orb.LineString, snapM []float64, cellDeg float64) *LineIndex {
	ix := &LineIndex{snapM: snapM}
	var bounds []orb.Bound
	var pieces []orb.Point
	for id, l := range lines {
		for k := 1; k < len(l); k++ {
			pieces = greatCirclePieces(pieces[:0], l[k-1], l[k], maxSegmentM)
			for j := 1; j < len(pieces); j++ {
				a, b := pieces[j-1], pieces[j]
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
	}
	ix.grid = newBucketGrid(bounds, cellDeg)
	// Copy each bucket's segments next to each other, as for polygons.
	n := len(ix.grid.items)
	a, b, line, bd := make([]orb.Point, n), make([]orb.Point, n), make([]int32, n), make([]orb.Bound, n)
	for k, s := range ix.grid.items {
		a[k], b[k], line[k], bd[k] = ix.segA[s], ix.segB[s], ix.line[s], bounds[s]
	}
	ix.segA, ix.segB, ix.line, ix.segBd = a, b, line, bd
	return ix
}

// Within appends the lines within their snap distance of p (and those
// borderline), nearest distance per line, to out.
func (ix *LineIndex) Within(p orb.Point, out []Hit) []Hit {
	lo, hi := ix.grid.span(p)
	if lo == hi {
		return out
	}
	m := NewMetric(p[1])
	first := len(out)
	for s := lo; s < hi; s++ {
		if b := &ix.segBd[s]; p[0] < b.Min[0] || p[0] > b.Max[0] || p[1] < b.Min[1] || p[1] > b.Max[1] {
			continue
		}
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

// greatCirclePieces appends a, the points that cut the great circle from a
// to b into pieces of at most maxM metres, and b.
func greatCirclePieces(out []orb.Point, a, b orb.Point, maxM float64) []orb.Point {
	out = append(out, a)
	m := NewMetric((a[1] + b[1]) / 2)
	dx, dy := (b[0]-a[0])*m.MPerLon, (b[1]-a[1])*m.MPerLat
	n := int(math.Ceil(math.Sqrt(dx*dx+dy*dy) / maxM))
	if n > 1 {
		va, vb := unitVector(a), unitVector(b)
		omega := math.Acos(min(1, max(-1, va[0]*vb[0]+va[1]*vb[1]+va[2]*vb[2])))
		if so := math.Sin(omega); so > 0 {
			for i := 1; i < n; i++ {
				t := float64(i) / float64(n)
				wa, wb := math.Sin((1-t)*omega)/so, math.Sin(t*omega)/so
				out = append(out, lonLatOf([3]float64{wa*va[0] + wb*vb[0], wa*va[1] + wb*vb[1], wa*va[2] + wb*vb[2]}))
			}
		}
	}
	return append(out, b)
}

// unitVector places a lon/lat point on the unit sphere, as PostGIS
// geography does before it follows a great circle.
func unitVector(p orb.Point) [3]float64 {
	lon, lat := p[0]*math.Pi/180, p[1]*math.Pi/180
	return [3]float64{math.Cos(lat) * math.Cos(lon), math.Cos(lat) * math.Sin(lon), math.Sin(lat)}
}

func lonLatOf(v [3]float64) orb.Point {
	return orb.Point{math.Atan2(v[1], v[0]) * 180 / math.Pi, math.Atan2(v[2], math.Hypot(v[0], v[1])) * 180 / math.Pi}
}
