package features

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// computed is how a layer computed on request is made. The catalogue holds
// one per computed layer; Features and Export reach the rows through it
// alone, so a layer's source changes in its entry and nowhere else.
type computed struct {
	// check reads the layer's own parameters into a parsed query and
	// refuses what the layer cannot compute.
	check func(q *FeatureQuery, params url.Values) error
	// rows yields the layer's features for a checked query, in the asked
	// encoding (values: properties as text), as Store.Features does.
	rows func(ctx context.Context, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error) error
}

// computedCollection returns the computed layer id, or nil: findings made on
// request, not stored. Time filters are refused by their Temporal (they
// are computed for now only).
func (s *Store) computedCollection(id string) *Collection {
	switch id {
	case "gaps":
		c := &Collection{
			ID: "gaps", Title: "覆盖缺口 Coverage gaps", GeometryType: "Geometry", Temporal: Timeless, Filters: []string{"theme", "region"},
			Description: "areas without a lead, overlaps of two leads, objects and stretches nobody leads, for one duty (theme required)",
			Properties: []Property{
				{Name: "kind", Type: PropString, Title: "gap, overlap, unassigned_object or uncovered_stretch"},
				{Name: "area_m2", Type: PropNumber}, {Name: "region", Type: PropString},
				{Name: "units", Type: PropString, Title: "the units that overlap, comma-separated"},
				{Name: "object_id", Type: PropInteger}, {Name: "layer", Type: PropString},
				{Name: "name", Type: PropString}, {Name: "street", Type: PropString},
				{Name: "from_m", Type: PropNumber}, {Name: "to_m", Type: PropNumber},
			},
		}
		c.compute = &computed{
			check: checkGaps,
			rows: func(ctx context.Context, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error) error {
				return transcode(c, q, enc, values, emit, func(w io.Writer) error {
					return s.core.WriteGaps(ctx, q.Equal["theme"], q.Region, q.MinAreaM2, w)
				})
			},
		}
		return c
	case "grid_check":
		c := &Collection{
			ID: "grid_check", Title: "网格检查 Grid check findings", GeometryType: "Geometry", Temporal: Timeless, Filters: []string{"region"},
			Description: "gaps and overlaps between grids, grids leaving their community, sizes outside the guideline, bad codes",
			Properties: []Property{
				{Name: "kind", Type: PropString}, {Name: "grid", Type: PropString},
				{Name: "grids", Type: PropString, Title: "the overlapping grids, comma-separated"},
				{Name: "community", Type: PropString}, {Name: "name", Type: PropString},
				{Name: "area_m2", Type: PropNumber}, {Name: "reason", Type: PropString},
			},
		}
		c.compute = &computed{
			check: func(*FeatureQuery, url.Values) error { return nil },
			rows: func(ctx context.Context, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error) error {
				return transcode(c, q, enc, values, emit, func(w io.Writer) error {
					return s.core.CheckGrids(ctx, q.Region, grids.GridCheckOptions{}, w)
				})
			},
		}
		return c
	}
	return nil
}

// checkGaps requires the duty and reads min_area_m2 (default 1 m²).
func checkGaps(q *FeatureQuery, params url.Values) error {
	if q.Equal["theme"] == "" {
		return grids.Malformed("theme", "required for gaps")
	}
	q.MinAreaM2 = 1
	if v := params.Get("min_area_m2"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return grids.Malformed("min_area_m2", "want a number of square metres, 0 or more")
		}
		q.MinAreaM2 = f
	}
	return nil
}

// transcode runs a computation that writes a GeoJSON FeatureCollection and
// passes its features on as rows, with the bbox applied to their bounds
// and the equality filters to their properties.
func transcode(col *Collection, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error, produce func(io.Writer) error) error {
	// Computation errors (an unknown theme or region) must become proper
	// responses: run it to completion first. Findings are few (thousands),
	// so holding them is cheap.
	var buf strings.Builder
	if err := produce(&buf); err != nil {
		return err
	}
	fr, err := geo.NewFeatureReader(strings.NewReader(buf.String()))
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.Geometry == nil || (q.BBox != nil && !f.Geometry.Bound().Intersects(*q.BBox)) {
			continue
		}
		kind, _ := f.Properties["kind"].(string)
		counts[kind]++
		if !findingMatches(col, f, q.Equal) {
			continue
		}
		row, err := findingRow(col, f, kind, counts[kind], enc, values)
		if err != nil {
			return err
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}

// findingMatches applies the equality filters on properties to a finding.
func findingMatches(col *Collection, f geo.Feature, equal map[string]string) bool {
	for k, want := range equal {
		p, isProp := col.Property(k)
		if !isProp {
			continue // theme: it chose the findings
		}
		v := flatValue(f.Properties[k])
		if p.Type == PropNumber || p.Type == PropInteger {
			a, errA := strconv.ParseFloat(fmt.Sprint(v), 64)
			b, errB := strconv.ParseFloat(want, 64)
			if errA != nil || errB != nil || a != b {
				return false
			}
			continue
		}
		if v == nil || fmt.Sprint(v) != want {
			return false
		}
	}
	return true
}

// flatValue joins arrays (the units of an overlap) into one text.
func flatValue(v any) any {
	if arr, ok := v.([]any); ok {
		parts := make([]string, len(arr))
		for j, x := range arr {
			parts[j] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return v
}

// findingRow flattens a finding into the collection's properties.
func findingRow(col *Collection, f geo.Feature, kind string, n int, enc GeometryEncoding, values bool) (*FeatureRow, error) {
	row := &FeatureRow{ID: f.ID}
	if row.ID == "" {
		row.ID = kind + "-" + strconv.Itoa(n)
	}
	props := make([]any, len(col.Properties))
	for i, p := range col.Properties {
		props[i] = flatValue(f.Properties[p.Name])
	}
	if values {
		row.Values = make([]*string, len(props))
		for i, v := range props {
			if v != nil {
				s := fmt.Sprint(v)
				row.Values[i] = &s
			}
		}
	} else {
		var b strings.Builder
		b.WriteByte('{')
		for i, p := range col.Properties {
			if i > 0 {
				b.WriteByte(',')
			}
			k, _ := json.Marshal(p.Name)
			v, _ := json.Marshal(props[i])
			b.Write(k)
			b.WriteByte(':')
			b.Write(v)
		}
		b.WriteByte('}')
		row.Props = []byte(b.String())
	}
	var err error
	switch enc {
	case AsGeoJSON:
		row.Geom, err = geojson.NewGeometry(orb.Round(f.Geometry, 1e7)).MarshalJSON()
	case AsWKT:
		row.Geom = []byte(wkt.MarshalString(orb.Round(f.Geometry, 1e7)))
	default:
		row.Geom, err = wkb.Marshal(f.Geometry)
	}
	if p, ok := f.Geometry.(orb.Point); ok {
		row.Lon, row.Lat = &p[0], &p[1]
	}
	return row, err
}
