package api

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// crsNote is what the collection's crs_note member says (RFC 7946 has no
// CRS member) when the coordinates are not WGS84.
func crsNote(crs geo.CRS) string {
	switch crs {
	case geo.BD09:
		return "coordinates are BD-09 (百度 09), the datum of Baidu maps, not WGS84 as RFC 7946 requires; request without crs= for WGS84"
	case geo.GCJ02:
		return "coordinates are GCJ-02 (国测局 02), the datum of Chinese web maps (AMap, Tencent), not WGS84 as RFC 7946 requires; request without crs= for WGS84"
	}
	return ""
}

// featureFormat is an output format of features.
type featureFormat struct {
	ext, contentType string
	// newWriter writes features of collection c to w in crs.
	newWriter func(w *bufio.Writer, c *grids.Collection, crs geo.CRS) featureWriter
}

var featureFormats = map[string]featureFormat{
	"geojson":  {"geojson", "application/geo+json", newGeoJSONWriter},
	"geojsonl": {"geojsonl", "application/geo+json-seq", newGeoJSONLWriter},
	"csv":      {"csv", "text/csv; charset=utf-8", newCSVWriter},
}

// featureWriter writes a stream of features in one format. begin may add
// collection members (GeoJSON only); end closes the document with extra
// members (GeoJSON only, e.g. OGC paging links).
type featureWriter interface {
	encoding() grids.GeometryEncoding
	values() bool
	begin(members map[string]any) error
	feature(f *grids.FeatureRow) error
	end(members map[string]any) error
}

// convertGeometry turns WKB of a WGS84 geometry into the target CRS,
// rounded to 7 decimals (1 cm) like the WGS84 output.
func convertGeometry(b []byte, crs geo.CRS) (orb.Geometry, error) {
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	return orb.Round(geo.Apply(g, crs.FromWGS84()), 1e7), nil
}

// geojsonWriter writes an RFC 7946 FeatureCollection.
type geojsonWriter struct {
	w   *bufio.Writer
	c   *grids.Collection
	crs geo.CRS
	n   int
	seq bool // one feature per line, no collection
	rs  bool // RFC 8142 record separators
	buf []byte
}

func newGeoJSONWriter(w *bufio.Writer, c *grids.Collection, crs geo.CRS) featureWriter {
	return &geojsonWriter{w: w, c: c, crs: crs}
}

func newGeoJSONLWriter(w *bufio.Writer, c *grids.Collection, crs geo.CRS) featureWriter {
	return &geojsonWriter{w: w, c: c, crs: crs, seq: true}
}

func (g *geojsonWriter) encoding() grids.GeometryEncoding {
	if g.crs == geo.WGS84 {
		return grids.AsGeoJSON
	}
	return grids.AsWKB
}

func (g *geojsonWriter) values() bool { return false }

func (g *geojsonWriter) begin(members map[string]any) error {
	if g.seq {
		return nil
	}
	g.w.WriteString(`{"type":"FeatureCollection","name":`)
	g.writeJSON(g.c.ID)
	if g.crs != geo.WGS84 {
		g.w.WriteString(`,"crs_note":`)
		g.writeJSON(crsNote(g.crs))
	}
	for k, v := range members {
		g.w.WriteString(",")
		g.writeJSON(k)
		g.w.WriteString(":")
		g.writeJSON(v)
	}
	_, err := g.w.WriteString(`,"features":[`)
	return err
}

func (g *geojsonWriter) writeJSON(v any) {
	b, _ := json.Marshal(v)
	g.w.Write(b)
}

func (g *geojsonWriter) feature(f *grids.FeatureRow) error {
	switch {
	case g.rs:
		g.w.WriteByte(0x1e)
	case g.seq:
	case g.n > 0:
		g.w.WriteString(",\n")
	}
	g.n++
	g.w.WriteString(`{"type":"Feature","id":`)
	if g.c.NumericID {
		g.w.WriteString(f.ID)
	} else {
		g.buf = strconv.AppendQuote(g.buf[:0], f.ID)
		g.w.Write(g.buf)
	}
	g.w.WriteString(`,"geometry":`)
	switch {
	case f.Geom == nil:
		g.w.WriteString("null")
	case g.crs == geo.WGS84:
		g.w.Write(f.Geom)
	default:
		geom, err := convertGeometry(f.Geom, g.crs)
		if err != nil {
			return err
		}
		b, err := geojson.NewGeometry(geom).MarshalJSON()
		if err != nil {
			return err
		}
		g.w.Write(b)
	}
	g.w.WriteString(`,"properties":`)
	g.w.Write(f.Props)
	if g.seq {
		_, err := g.w.WriteString("}\n")
		return err
	}
	_, err := g.w.WriteString("}")
	return err
}

func (g *geojsonWriter) end(members map[string]any) error {
	if g.seq {
		return nil
	}
	g.w.WriteString("]")
	for k, v := range members {
		g.w.WriteString(",")
		g.writeJSON(k)
		g.w.WriteString(":")
		g.writeJSON(v)
	}
	_, err := g.w.WriteString("}\n")
	return err
}

// csvWriter writes one row per feature: id, the properties, lon and lat
// for points, and the geometry as WKT. The UTF-8 byte order mark is there
// for Excel, which otherwise reads Chinese names as mojibake.
type csvWriter struct {
	w   *bufio.Writer
	cw  *csv.Writer
	c   *grids.Collection
	crs geo.CRS
	rec []string
}

func newCSVWriter(w *bufio.Writer, c *grids.Collection, crs geo.CRS) featureWriter {
	return &csvWriter{w: w, cw: csv.NewWriter(w), c: c, crs: crs}
}

func (c *csvWriter) encoding() grids.GeometryEncoding {
	if c.crs == geo.WGS84 {
		return grids.AsWKT
	}
	return grids.AsWKB
}

func (c *csvWriter) values() bool { return true }

func (c *csvWriter) begin(map[string]any) error {
	c.w.WriteString("\ufeff")
	head := []string{"fid"}
	for _, p := range c.c.Properties {
		head = append(head, p.Name)
	}
	return c.cw.Write(append(head, "lon", "lat", "wkt"))
}

func (c *csvWriter) feature(f *grids.FeatureRow) error {
	c.rec = append(c.rec[:0], f.ID)
	for i, v := range f.Values {
		switch {
		case v == nil:
			c.rec = append(c.rec, "")
		case c.c.Properties[i].Type == grids.PropString && formulaLike(*v):
			// Excel would run a name like =HYPERLINK(…) as a formula; a
			// leading apostrophe makes it text (OWASP's CSV injection advice).
			c.rec = append(c.rec, "'"+*v)
		default:
			c.rec = append(c.rec, *v)
		}
	}
	lon, lat, wktText := "", "", ""
	switch {
	case f.Geom == nil:
	case c.crs == geo.WGS84:
		wktText = string(f.Geom)
		if f.Lon != nil && f.Lat != nil {
			lon, lat = strconv.FormatFloat(*f.Lon, 'f', 7, 64), strconv.FormatFloat(*f.Lat, 'f', 7, 64)
		}
	default:
		g, err := convertGeometry(f.Geom, c.crs)
		if err != nil {
			return err
		}
		wktText = wkt.MarshalString(g)
		if p, ok := g.(orb.Point); ok {
			lon, lat = strconv.FormatFloat(p[0], 'f', 7, 64), strconv.FormatFloat(p[1], 'f', 7, 64)
		}
	}
	return c.cw.Write(append(c.rec, lon, lat, wktText))
}

func formulaLike(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

func (c *csvWriter) end(map[string]any) error {
	c.cw.Flush()
	return c.cw.Error()
}
