package features

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
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
				return findingRows(c, q, enc, values, emit, func(geom func(string) string, each func(*coverage.Finding) error) error {
					return s.cov.Gaps(ctx, q.Equal["theme"], q.Region, q.MinAreaM2, geom, each)
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
				return findingRows(c, q, enc, values, emit, func(geom func(string) string, each func(*coverage.Finding) error) error {
					return s.cov.GridProblems(ctx, q.Region, coverage.GridCheckOptions{}, geom, each)
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

// findingRows streams coverage's findings as rows: PostGIS renders each
// geometry in the asked encoding and leaves out (as NULL) those outside the
// bbox; the equality filters apply to the properties.
func findingRows(col *Collection, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error,
	produce func(geom func(string) string, each func(*coverage.Finding) error) error) error {
	render := func(g string) string {
		switch enc {
		case AsGeoJSON:
			return grids.GeoJSONOf(g)
		case AsWKT:
			return `ST_AsText(ST_ForcePolygonCCW(` + g + `), 7)`
		}
		return `ST_AsBinary(ST_ForcePolygonCCW(` + g + `))`
	}
	geom := render
	if b := q.BBox; b != nil {
		// Bound against bound, as the other layers' && does.
		box := fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, 4326)", fnum(b.Min[0]), fnum(b.Min[1]), fnum(b.Max[0]), fnum(b.Max[1]))
		geom = func(g string) string { return `CASE WHEN ` + g + ` && ` + box + ` THEN ` + render(g) + ` END` }
	}
	counts := map[string]int{}
	return produce(geom, func(f *coverage.Finding) error {
		if f.Geom == nil {
			return nil
		}
		counts[f.Kind]++
		var props map[string]any
		if err := json.Unmarshal(f.Props, &props); err != nil {
			return fmt.Errorf("finding %s: %w", f.ID, err)
		}
		if !findingMatches(col, props, q.Equal) {
			return nil
		}
		row := findingRow(col, f, props, counts[f.Kind], enc, values)
		return emit(row)
	})
}

// fnum writes a coordinate for SQL exactly.
func fnum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// findingMatches applies the equality filters on properties to a finding.
func findingMatches(col *Collection, props map[string]any, equal map[string]string) bool {
	for k, want := range equal {
		p, isProp := col.Property(k)
		if !isProp {
			continue // theme: it chose the findings
		}
		v := flatValue(props[k])
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

// findingRow flattens a finding into the collection's properties; a
// finding without an id (the grid check's) is numbered by kind.
func findingRow(col *Collection, f *coverage.Finding, found map[string]any, n int, enc GeometryEncoding, values bool) *FeatureRow {
	row := &FeatureRow{ID: f.ID, Geom: f.Geom}
	if row.ID == "" {
		row.ID = f.Kind + "-" + strconv.Itoa(n)
	}
	props := make([]any, len(col.Properties))
	for i, p := range col.Properties {
		props[i] = flatValue(found[p.Name])
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
	// A point's coordinates, for CSV's lon and lat columns.
	if enc == AsWKT {
		if xy, ok := strings.CutPrefix(string(f.Geom), "POINT("); ok {
			if x, y, ok := strings.Cut(strings.TrimSuffix(xy, ")"), " "); ok {
				lon, errX := strconv.ParseFloat(x, 64)
				lat, errY := strconv.ParseFloat(y, 64)
				if errX == nil && errY == nil {
					row.Lon, row.Lat = &lon, &lat
				}
			}
		}
	}
	return row
}
