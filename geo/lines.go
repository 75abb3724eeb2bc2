package geo

import (
	"math"

	"github.com/paulmach/orb"
)

// LineCheck is what CheckLine found in a line and what it made of it.
type LineCheck struct {
	// Line is the repaired line: Repeated and Retraced say what changed.
	Line orb.LineString
	// Repeated is how many points that repeated the one before were dropped.
	Repeated int
	// Retraced is how many points were dropped because the line went back
	// over its own path at an end (A-B-A becomes A-B, A-B-C-B-A becomes A-B-C).
	Retraced int
	// ZeroLength: every point is the same; nothing is left to import.
	ZeroLength bool
	// SelfOverlapping: after the repairs, a segment still runs back over
	// another (a spur in the middle, A-B-C-B-D); no repair is guessed.
	SelfOverlapping bool
}

// Repaired tells whether the line changed.
func (c LineCheck) Repaired() bool { return c.Repeated > 0 || c.Retraced > 0 }

// CheckLine cleans up a line as digitised by hand or cut from a larger
// map: repeated points go, an out-and-back line is reduced to the path it
// covers; a line of no length or one that still overlaps itself is
// reported. The input is not changed.
func CheckLine(ls orb.LineString) LineCheck {
	var c LineCheck
	line := make(orb.LineString, 0, len(ls))
	for i, p := range ls {
		if i > 0 && p == line[len(line)-1] {
			c.Repeated++
			continue
		}
		line = append(line, p)
	}
	if len(line) < 2 {
		c.Line, c.ZeroLength = line, true
		return c
	}
	var n int
	line, n = trimRetrace(line)
	c.Retraced += n
	// The same at the start: reversed, the start is an end.
	line.Reverse()
	line, n = trimRetrace(line)
	c.Retraced += n
	line.Reverse()
	c.Line = line
	c.SelfOverlapping = selfOverlapping(line)
	return c
}

// trimRetrace drops the end of a line that walks back along the way it
// came (…-B-C-B-A turns at C): the longest such tail, so that an out and
// back line keeps only the way out. line has no repeated points.
func trimRetrace(line orb.LineString) (orb.LineString, int) {
	last := len(line) - 1
	for k := (last + 1) / 2; k < last; k++ { // k: where the line turns
		back := true
		for i := 1; k+i <= last && back; i++ {
			back = line[k+i] == line[k-i]
		}
		if back {
			return line[:k+1], last - k
		}
	}
	return line, 0
}

// selfOverlapping tells whether two segments of the line share a stretch of
// positive length. Lines from a city extract have hundreds of points at
// most, so every pair is tried, bounding boxes first.
func selfOverlapping(line orb.LineString) bool {
	for i := 0; i+1 < len(line); i++ {
		a, b := line[i], line[i+1]
		ab := orb.Bound{Min: a, Max: a}.Extend(b)
		for j := i + 1; j+1 < len(line); j++ {
			c, d := line[j], line[j+1]
			if !ab.Intersects(orb.Bound{Min: c, Max: c}.Extend(d)) {
				continue
			}
			if segmentsOverlap(a, b, c, d) {
				return true
			}
		}
	}
	return false
}

// segmentsOverlap: c-d lies on the line through a-b and the two share more
// than a point.
func segmentsOverlap(a, b, c, d orb.Point) bool {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return false
	}
	// Collinear within rounding: c and d within eps (in the coordinates'
	// units, a tenth of a millimetre in degrees) of the line through a-b.
	const eps = 1e-9
	n := math.Sqrt(l2)
	cross := func(p orb.Point) float64 { return dx*(p[1]-a[1]) - dy*(p[0]-a[0]) }
	if math.Abs(cross(c)) > eps*n || math.Abs(cross(d)) > eps*n {
		return false
	}
	// Positions of c and d along a-b, a at 0 and b at 1.
	at := func(p orb.Point) float64 { return (dx*(p[0]-a[0]) + dy*(p[1]-a[1])) / l2 }
	lo, hi := at(c), at(d)
	if lo > hi {
		lo, hi = hi, lo
	}
	return (math.Min(hi, 1)-math.Max(lo, 0))*n > eps
}
