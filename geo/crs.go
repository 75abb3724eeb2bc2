package geo

import (
	"fmt"
	"math"
	"strings"

	"github.com/paulmach/orb"
)

// CRS is a geographic coordinate system in which Chinese locations arrive.
// citygrid stores and answers in WGS84; the others are converted on the way
// in and, on request, on the way out.
type CRS uint8

const (
	// WGS84 is EPSG:4326, the system of GPS and OpenStreetMap.
	WGS84 CRS = iota
	// GCJ02 is the obfuscated "Mars" system that Chinese web maps and the
	// AMap and Tencent SDKs use by law.
	GCJ02
	// BD09 is Baidu's further offset of GCJ-02.
	BD09
)

// ParseCRS reads a CRS name as users type it: wgs84 (also 4326, epsg:4326),
// gcj02 (gcj-02, gcj) and bd09 (bd-09, bd). The empty string is WGS84.
func ParseCRS(s string) (CRS, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "wgs84", "wgs-84", "4326", "epsg:4326":
		return WGS84, nil
	case "gcj02", "gcj-02", "gcj":
		return GCJ02, nil
	case "bd09", "bd-09", "bd", "bd09ll":
		return BD09, nil
	}
	return WGS84, fmt.Errorf("unknown coordinate system %q (use wgs84, gcj02 or bd09)", s)
}

func (c CRS) String() string {
	switch c {
	case GCJ02:
		return "gcj02"
	case BD09:
		return "bd09"
	}
	return "wgs84"
}

// Krasovsky 1940 ellipsoid, on which the GCJ-02 offset is defined.
const (
	krasovskyA  = 6378245.0
	krasovskyE2 = 0.00669342162296594323
	bdXPi       = math.Pi * 3000.0 / 180.0
)

// OutOfChina reports whether p lies outside the box in which GCJ-02 differs
// from WGS84. Points outside pass through every conversion unchanged, as the
// standard algorithm does.
func OutOfChina(p orb.Point) bool {
	return p[0] < 72.004 || p[0] > 137.8347 || p[1] < 0.8293 || p[1] > 55.8271
}

// gcjOffset is the GCJ-02 shift, in degrees, of a WGS84 point.
func gcjOffset(p orb.Point) (dLon, dLat float64) {
	x, y := p[0]-105.0, p[1]-35.0
	xPi, yPi := x*math.Pi, y*math.Pi
	common := (20.0*math.Sin(6.0*xPi) + 20.0*math.Sin(2.0*xPi)) * 2.0 / 3.0

	dLat = -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	dLat += common
	dLat += (20.0*math.Sin(yPi) + 40.0*math.Sin(yPi/3.0)) * 2.0 / 3.0
	dLat += (160.0*math.Sin(yPi/12.0) + 320.0*math.Sin(yPi/30.0)) * 2.0 / 3.0

	dLon = 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	dLon += common
	dLon += (20.0*math.Sin(xPi) + 40.0*math.Sin(xPi/3.0)) * 2.0 / 3.0
	dLon += (150.0*math.Sin(xPi/12.0) + 300.0*math.Sin(xPi/30.0)) * 2.0 / 3.0

	radLat := p[1] / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - krasovskyE2*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyE2)) / (magic * sqrtMagic) * math.Pi)
	dLon = (dLon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLon, dLat
}

// WGS84ToGCJ02 applies the GCJ-02 offset.
func WGS84ToGCJ02(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	dLon, dLat := gcjOffset(p)
	return orb.Point{p[0] + dLon, p[1] + dLat}
}

// inverseTolerance is the largest residual, in degrees, that an inverse
// conversion leaves: 1e-9° is about 0.1 mm, well inside the 0.01 m promise.
const inverseTolerance = 1e-9

// GCJ02ToWGS84 inverts the GCJ-02 offset. The offset has no closed-form
// inverse; a fixed-point iteration converges to within 1e-9° (about 0.1 mm)
// in a handful of steps because the offset changes slowly with position.
func GCJ02ToWGS84(g orb.Point) orb.Point {
	if OutOfChina(g) {
		return g
	}
	w := g
	for range 30 {
		c := WGS84ToGCJ02(w)
		dx, dy := c[0]-g[0], c[1]-g[1]
		w[0] -= dx
		w[1] -= dy
		if math.Abs(dx) < inverseTolerance && math.Abs(dy) < inverseTolerance {
			break
		}
	}
	return w
}

// GCJ02ToBD09 applies Baidu's offset.
func GCJ02ToBD09(p orb.Point) orb.Point {
	if OutOfChina(p) {
		return p
	}
	x, y := p[0], p[1]
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bdXPi)
	return orb.Point{z*math.Cos(theta) + 0.0065, z*math.Sin(theta) + 0.006}
}

// BD09ToGCJ02 inverts Baidu's offset: the usual closed-form approximation,
// refined by iteration so that the round trip closes within 1e-9°.
func BD09ToGCJ02(b orb.Point) orb.Point {
	if OutOfChina(b) {
		return b
	}
	x, y := b[0]-0.0065, b[1]-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*bdXPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bdXPi)
	g := orb.Point{z * math.Cos(theta), z * math.Sin(theta)}
	for range 10 {
		c := GCJ02ToBD09(g)
		dx, dy := c[0]-b[0], c[1]-b[1]
		if math.Abs(dx) < inverseTolerance && math.Abs(dy) < inverseTolerance {
			break
		}
		g[0] -= dx
		g[1] -= dy
	}
	return g
}

// WGS84ToBD09 converts through GCJ-02.
func WGS84ToBD09(p orb.Point) orb.Point { return GCJ02ToBD09(WGS84ToGCJ02(p)) }

// BD09ToWGS84 converts through GCJ-02.
func BD09ToWGS84(p orb.Point) orb.Point { return GCJ02ToWGS84(BD09ToGCJ02(p)) }

// ToWGS84 returns the conversion of a point in c to WGS84.
func (c CRS) ToWGS84() orb.Projection {
	switch c {
	case GCJ02:
		return GCJ02ToWGS84
	case BD09:
		return BD09ToWGS84
	}
	return identity
}

// FromWGS84 returns the conversion of a WGS84 point to c.
func (c CRS) FromWGS84() orb.Projection {
	switch c {
	case GCJ02:
		return WGS84ToGCJ02
	case BD09:
		return WGS84ToBD09
	}
	return identity
}

func identity(p orb.Point) orb.Point { return p }

// Convert converts every coordinate of g in place from one CRS to another and
// returns it. Converting to the same CRS leaves g untouched.
func Convert(g orb.Geometry, from, to CRS) orb.Geometry {
	if from == to || g == nil {
		return g
	}
	toW, fromW := from.ToWGS84(), to.FromWGS84()
	return Apply(g, func(p orb.Point) orb.Point { return fromW(toW(p)) })
}

// Apply replaces every point of g in place by f(point) and returns g. Unlike
// orb/project it does not copy, which matters for imports of large files.
func Apply(g orb.Geometry, f orb.Projection) orb.Geometry {
	switch g := g.(type) {
	case orb.Point:
		return f(g)
	case orb.MultiPoint:
		for i := range g {
			g[i] = f(g[i])
		}
	case orb.LineString:
		for i := range g {
			g[i] = f(g[i])
		}
	case orb.MultiLineString:
		for _, l := range g {
			Apply(l, f)
		}
	case orb.Ring:
		for i := range g {
			g[i] = f(g[i])
		}
	case orb.Polygon:
		for _, r := range g {
			Apply(r, f)
		}
	case orb.MultiPolygon:
		for _, p := range g {
			Apply(p, f)
		}
	case orb.Collection:
		for i := range g {
			g[i] = Apply(g[i], f)
		}
	case orb.Bound:
		return orb.Bound{Min: f(g.Min), Max: f(g.Max)}
	}
	return g
}
