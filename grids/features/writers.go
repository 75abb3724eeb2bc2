package features

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
)

// CRSNote is what the collection's crs_note member says (RFC 7946 has no
// CRS member) when the coordinates are not WGS84.
func CRSNote(crs geo.CRS) string {
	switch crs {
	case geo.BD09:
		return "coordinates are BD-09 (百度 09), the datum of Baidu maps, not WGS84 as RFC 7946 requires; request without crs= for WGS84"
	case geo.GCJ02:
		return "coordinates are GCJ-02 (国测局 02), the datum of Chinese web maps (AMap, Tencent), not WGS84 as RFC 7946 requires; request without crs= for WGS84"
	}
	return ""
}

// Format is an output format of features: its file extension and media
// type.
type Format struct {
	Ext, ContentType string
}

// FormatOf returns the format of a file extension: geojson, geojsonl or
// geojsonseq (GeoJSON text sequence, as GDAL names it) or csv.
func FormatOf(ext string) (Format, bool) {
	switch ext {
	case "geojson":
		return Format{"geojson", "application/geo+json"}, true
	case "geojsonl", "geojsonseq":
		return Format{"geojsonl", "application/geo+json-seq"}, true
	case "csv":
		return Format{"csv", "text/csv; charset=utf-8"}, true
	}
	return Format{}, false
}

// writer writes features of collection c to w in crs; rs asks a GeoJSON
// sequence for RFC 8142 record separators.
func (f Format) writer(w *bufio.Writer, c *Collection, crs geo.CRS, rs bool) Writer {
	switch f.Ext {
	case "geojsonl":
		return NewGeoJSONSeqWriter(w, c, crs, rs)
	case "csv":
		return NewCSVWriter(w, c, crs)
	}
	return NewGeoJSONWriter(w, c, crs)
}

// Writer writes a stream of features in one format. Begin may add
// collection members (GeoJSON only); End closes the document with extra
// members (GeoJSON only, e.g. OGC paging links). Encoding and Values say
// how the writer wants its rows read (Store.Features).
type Writer interface {
	Encoding() GeometryEncoding
	Values() bool
	Begin(members map[string]any) error
	Feature(f *FeatureRow) error
	End(members map[string]any) error
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
	c   *Collection
	crs geo.CRS
	n   int
	seq bool // one feature per line, no collection
	rs  bool // RFC 8142 record separators
	buf []byte
}

// NewGeoJSONWriter writes an RFC 7946 FeatureCollection of c's features.
func NewGeoJSONWriter(w *bufio.Writer, c *Collection, crs geo.CRS) Writer {
	return &geojsonWriter{w: w, c: c, crs: crs}
}

// NewGeoJSONSeqWriter writes one GeoJSON feature a line, each after an
// RFC 8142 record separator if rs.
func NewGeoJSONSeqWriter(w *bufio.Writer, c *Collection, crs geo.CRS, rs bool) Writer {
	return &geojsonWriter{w: w, c: c, crs: crs, seq: true, rs: rs}
}

func (g *geojsonWriter) Encoding() GeometryEncoding {
	if g.crs == geo.WGS84 {
		return AsGeoJSON
	}
	return AsWKB
}

func (g *geojsonWriter) Values() bool { return false }

func (g *geojsonWriter) Begin(members map[string]any) error {
	if g.seq {
		return nil
	}
	g.w.WriteString(`{"type":"FeatureCollection","name":`)
	g.writeJSON(g.c.ID)
	if g.crs != geo.WGS84 {
		g.w.WriteString(`,"crs_note":`)
		g.writeJSON(CRSNote(g.crs))
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

func (g *geojsonWriter) Feature(f *FeatureRow) error {
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
		g.buf = appendQuotedID(g.buf[:0], f.ID)
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

// appendQuotedID appends id as strconv.AppendQuote does, which ids have
// always been written with; the codes of a page are printable ASCII, which
// it leaves as they are, and only the others pay for its rune checks.
func appendQuotedID(b []byte, id string) []byte {
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.AppendQuote(b, id)
		}
	}
	b = append(b, '"')
	b = append(b, id...)
	return append(b, '"')
}

func (g *geojsonWriter) End(members map[string]any) error {
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
	c   *Collection
	crs geo.CRS
	rec []string
}

// NewCSVWriter writes c's features as CSV (see csvWriter).
func NewCSVWriter(w *bufio.Writer, c *Collection, crs geo.CRS) Writer {
	return &csvWriter{w: w, cw: csv.NewWriter(w), c: c, crs: crs}
}

func (c *csvWriter) Encoding() GeometryEncoding {
	if c.crs == geo.WGS84 {
		return AsWKT
	}
	return AsWKB
}

func (c *csvWriter) Values() bool { return true }

func (c *csvWriter) Begin(map[string]any) error {
	c.w.WriteString("\ufeff")
	head := []string{"fid"}
	for _, p := range c.c.Properties {
		head = append(head, p.Name)
	}
	return c.cw.Write(append(head, "lon", "lat", "wkt"))
}

func (c *csvWriter) Feature(f *FeatureRow) error {
	c.rec = append(c.rec[:0], f.ID)
	for i, v := range f.Values {
		switch {
		case v == nil:
			c.rec = append(c.rec, "")
		case c.c.Properties[i].Type == PropString && formulaLike(*v):
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

func (c *csvWriter) End(map[string]any) error {
	c.cw.Flush()
	return c.cw.Error()
}
