package geo

import (
	"fmt"
	"math"

	"github.com/paulmach/orb"
)

// GeometryError says what is wrong with a geometry and where: Path is a
// JSON-pointer-like location inside the geometry's coordinates, such as
// "coordinates/0/3" for the fourth point of the first ring.
type GeometryError struct {
	Path   string
	Reason string
}

func (e *GeometryError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// Validate checks the structure that must hold before a geometry reaches the
// database: no empty parts, finite coordinates inside lon ±180 and lat ±90,
// lines of two distinct points or more, rings closed with four points or
// more. Topological validity (self-intersections, ring nesting) is PostGIS's
// job: the store asks ST_IsValidReason, which knows every case GEOS knows.
func Validate(g orb.Geometry) error {
	if g == nil {
		return &GeometryError{Reason: "geometry is missing"}
	}
	return validate(g, "coordinates")
}

func validate(g orb.Geometry, path string) error {
	switch g := g.(type) {
	case orb.Point:
		if r := checkPoint(g); r != "" {
			return &GeometryError{path, r}
		}
	case orb.MultiPoint:
		if len(g) == 0 {
			return &GeometryError{path, "empty MultiPoint"}
		}
		return checkPoints(g, path)
	case orb.LineString:
		return checkLine(g, path)
	case orb.MultiLineString:
		if len(g) == 0 {
			return &GeometryError{path, "empty MultiLineString"}
		}
		for i, l := range g {
			if err := checkLine(l, idx(path, i)); err != nil {
				return err
			}
		}
	case orb.Polygon:
		return checkPolygon(g, path)
	case orb.MultiPolygon:
		if len(g) == 0 {
			return &GeometryError{path, "empty MultiPolygon"}
		}
		for i, p := range g {
			if err := checkPolygon(p, idx(path, i)); err != nil {
				return err
			}
		}
	case orb.Collection:
		if len(g) == 0 {
			return &GeometryError{"geometries", "empty GeometryCollection"}
		}
		for i, c := range g {
			if err := validate(c, idx("geometries", i)); err != nil {
				return err
			}
		}
	case orb.Ring:
		return checkRing(g, path)
	default:
		return &GeometryError{Reason: fmt.Sprintf("unsupported geometry type %T", g)}
	}
	return nil
}

func idx(path string, i int) string { return fmt.Sprintf("%s/%d", path, i) }

// checkPoint returns why p is unusable, or "" when it is fine. It builds no
// strings for good points: validation runs over every vertex of an import.
func checkPoint(p orb.Point) string {
	switch {
	case math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0):
		return "coordinate is not a finite number"
	case p[0] < -180 || p[0] > 180:
		return fmt.Sprintf("longitude %g is outside -180..180 (are longitude and latitude swapped, or is this a projected CRS?)", p[0])
	case p[1] < -90 || p[1] > 90:
		return fmt.Sprintf("latitude %g is outside -90..90 (are longitude and latitude swapped?)", p[1])
	}
	return ""
}

func checkPoints(ps []orb.Point, path string) error {
	for i, p := range ps {
		if r := checkPoint(p); r != "" {
			return &GeometryError{idx(path, i), r}
		}
	}
	return nil
}

func checkLine(l orb.LineString, path string) error {
	if err := checkPoints(l, path); err != nil {
		return err
	}
	if len(l) < 2 {
		return &GeometryError{path, fmt.Sprintf("a line needs at least 2 points, has %d", len(l))}
	}
	for _, p := range l[1:] {
		if p != l[0] {
			return nil
		}
	}
	return &GeometryError{path, "a line needs two distinct points"}
}

func checkPolygon(p orb.Polygon, path string) error {
	if len(p) == 0 {
		return &GeometryError{path, "polygon has no rings"}
	}
	for i, r := range p {
		if err := checkRing(r, idx(path, i)); err != nil {
			return err
		}
	}
	return nil
}

func checkRing(r orb.Ring, path string) error {
	if err := checkPoints(r, path); err != nil {
		return err
	}
	if len(r) < 4 {
		return &GeometryError{path, fmt.Sprintf("a ring needs at least 4 points (first repeated last), has %d", len(r))}
	}
	if r[0] != r[len(r)-1] {
		return &GeometryError{path, "ring is not closed: its last point must repeat its first"}
	}
	distinct := 1
	for i := 1; i < len(r)-1 && distinct < 3; i++ {
		if r[i] != r[0] && (distinct == 1 || r[i] != r[i-1]) {
			distinct++
		}
	}
	if distinct < 3 {
		return &GeometryError{path, "a ring needs at least 3 distinct points"}
	}
	return nil
}
