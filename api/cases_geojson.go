package api

import (
	"sort"
	"strconv"

	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/internal/jsonw"
)

// appendPoint appends a map point's properties as encoding/json writes
// cases.Point (same names, order and escaping; the test holds them
// together), without reflection: the map's thousand features a request
// were a third of the server's time.
func appendPoint(b []byte, p *cases.Point) []byte {
	b = append(b, `{"category":`...)
	b = jsonw.AppendString(b, p.Category)
	b = append(b, `,"category_name":`...)
	b = jsonw.AppendString(b, p.CategoryName)
	b = append(b, `,"code":`...)
	b = jsonw.AppendString(b, p.Code)
	b = append(b, `,"deadline":`...)
	b = jsonw.AppendTimePtr(b, p.Deadline)
	b = append(b, `,"grid":`...)
	b = jsonw.AppendStringPtr(b, p.Grid)
	b = append(b, `,"overdue":`...)
	b = strconv.AppendBool(b, p.Overdue)
	b = append(b, `,"reported_at":`...)
	b = jsonw.AppendTime(b, p.ReportedAt)
	b = append(b, `,"source":`...)
	b = jsonw.AppendString(b, p.Source)
	b = append(b, `,"status":`...)
	b = jsonw.AppendString(b, string(p.Status))
	b = append(b, `,"unit":`...)
	b = jsonw.AppendStringPtr(b, p.Unit)
	b = append(b, `,"warning":`...)
	b = strconv.AppendBool(b, p.Warning)
	return append(b, '}')
}

// appendPointCollection appends a page of map points as the GeoJSON
// FeatureCollection of /api/v1/cases.geojson: the features, the counts per
// status and the next page's cursor, with encoding/json's trailing newline.
func appendPointCollection(b []byte, page *cases.PointPage) []byte {
	if b == nil {
		b = make([]byte, 0, 512+420*len(page.Items))
	}
	b = append(b, `{"type":"FeatureCollection","features":[`...)
	for i := range page.Items {
		k := &page.Items[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":"Feature","id":`...)
		b = jsonw.AppendString(b, k.Code)
		b = append(b, `,"geometry":{"type":"Point","coordinates":[`...)
		b = jsonw.AppendFloat(b, k.Lon)
		b = append(b, ',')
		b = jsonw.AppendFloat(b, k.Lat)
		b = append(b, `]},"properties":`...)
		b = appendPoint(b, k)
		b = append(b, '}')
	}
	b = append(b, `],"counts":{`...)
	statuses := make([]string, 0, len(page.Counts))
	for st := range page.Counts {
		statuses = append(statuses, string(st))
	}
	sort.Strings(statuses) // encoding/json sorts a map's keys
	for i, st := range statuses {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonw.AppendString(b, st)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(page.Counts[cases.Status(st)]), 10)
	}
	b = append(b, '}')
	if page.NextCursor != "" {
		b = append(b, `,"next_cursor":`...)
		b = jsonw.AppendString(b, page.NextCursor)
	}
	return append(b, "}\n"...)
}
