package ingest

import (
	"time"

	"github.com/paulmach/orb"
	"github.com/tkrajina/gpxgo/gpx"

	"github.com/citygrid/citygrid/grids"
)

// ParseGPX reads the tracks of a GPX file as one multi-line and the time
// of its first and last points.
func ParseGPX(b []byte) (orb.MultiLineString, *time.Time, *time.Time, error) {
	g, err := gpx.ParseBytes(b)
	if err != nil {
		return nil, nil, nil, grids.Invalid("body", "not a GPX file: %v", err)
	}
	var ml orb.MultiLineString
	var first, last *time.Time
	for _, t := range g.Tracks {
		for _, seg := range t.Segments {
			var l orb.LineString
			for _, p := range seg.Points {
				l = append(l, orb.Point{p.Longitude, p.Latitude})
				if !p.Timestamp.IsZero() {
					ts := p.Timestamp
					if first == nil || ts.Before(*first) {
						first = &ts
					}
					if last == nil || ts.After(*last) {
						last = &ts
					}
				}
			}
			if len(l) >= 2 {
				ml = append(ml, l)
			}
		}
	}
	if len(ml) == 0 {
		return nil, nil, nil, grids.Invalid("body", "the GPX file has no track with two points or more")
	}
	return ml, first, last, nil
}

// TrackOf turns a GeoJSON line geometry into a multi-line.
func TrackOf(g orb.Geometry) (orb.MultiLineString, bool) {
	switch g := g.(type) {
	case orb.LineString:
		return orb.MultiLineString{g}, true
	case orb.MultiLineString:
		return g, true
	}
	return nil, false
}
