package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/encoding/wkt"
	"github.com/paulmach/orb/geojson"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// reservedParams are query parameters with their own meaning; every other
// parameter of an export or items request is an equality filter.
var reservedParams = map[string]bool{
	"crs": true, "bbox": true, "region": true, "at": true, "since": true, "until": true, "datetime": true,
	"rs": true, "f": true, "limit": true, "offset": true, "after": true, "min_area_m2": true,
	"bbox-crs": true, "crs_note": true,
}

// Findings layers: computed on request, not stored, so they are transcoded
// from the store's GeoJSON instead of read from a table.
var findingLayers = map[string]*grids.Collection{
	"gaps": {
		ID: "gaps", Title: "覆盖缺口 Coverage gaps", GeometryType: "Geometry", Filters: []string{"theme", "region"},
		Description: "areas without a lead, overlaps of two leads, objects and stretches nobody leads, for one duty (theme required)",
		Properties: []grids.Property{
			{Name: "kind", Type: grids.PropString, Title: "gap, overlap, unassigned_object or uncovered_stretch"},
			{Name: "area_m2", Type: grids.PropNumber}, {Name: "region", Type: grids.PropString},
			{Name: "units", Type: grids.PropString, Title: "the units that overlap, comma-separated"},
			{Name: "object_id", Type: grids.PropInteger}, {Name: "layer", Type: grids.PropString},
			{Name: "name", Type: grids.PropString}, {Name: "street", Type: grids.PropString},
			{Name: "from_m", Type: grids.PropNumber}, {Name: "to_m", Type: grids.PropNumber},
		},
	},
	"grid_check": {
		ID: "grid_check", Title: "网格检查 Grid check findings", GeometryType: "Geometry", Filters: []string{"region"},
		Description: "gaps and overlaps between grids, grids leaving their community, sizes outside the guideline, bad codes",
		Properties: []grids.Property{
			{Name: "kind", Type: grids.PropString}, {Name: "grid", Type: grids.PropString},
			{Name: "grids", Type: grids.PropString, Title: "the overlapping grids, comma-separated"},
			{Name: "community", Type: grids.PropString}, {Name: "name", Type: grids.PropString},
			{Name: "area_m2", Type: grids.PropNumber}, {Name: "reason", Type: grids.PropString},
		},
	},
}

// collectionFor finds a readable collection: stored layers, then findings.
func (s *Server) collectionFor(c echo.Context, id string) (*grids.Collection, error) {
	col, err := s.store.Collection(c.Request().Context(), id)
	var nf *grids.NotFoundError
	if errors.As(err, &nf) {
		if f, ok := findingLayers[id]; ok {
			col, err = f, nil
		}
	}
	if err != nil {
		return nil, err
	}
	p, _ := c.Get(principalKey).(grids.Principal)
	if !col.MayRead(p.Role) {
		return nil, fmt.Errorf("%w: %s may not read %s", grids.ErrForbidden, p.Role, id)
	}
	return col, nil
}

// featureQuery reads the filters shared by exports and OGC items.
func featureQuery(c echo.Context, col *grids.Collection, crs geo.CRS) (grids.FeatureQuery, error) {
	var q grids.FeatureQuery
	var err error
	if q.BBox, err = bboxParam(c, crs); err != nil {
		return q, err
	}
	q.Region = c.QueryParam("region")
	if q.Region != "" && !hasFilter(col, "region") {
		return q, bad("region", "%s cannot be filtered by region", col.ID)
	}
	if v := c.QueryParam("at"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return q, bad("at", "want an RFC 3339 time such as 2026-01-31T08:00:00Z")
		}
		q.At = &t
	}
	for _, name := range []string{"since", "until"} {
		if v := c.QueryParam(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, bad(name, "want an RFC 3339 time such as 2026-01-31T08:00:00Z")
			}
			if name == "since" {
				q.Since = &t
			} else {
				q.Until = &t
			}
		}
	}
	if v := c.QueryParam("datetime"); v != "" {
		if q.Since, q.Until, q.At, err = parseDatetime(v); err != nil {
			return q, err
		}
	}
	if (q.At != nil || q.Since != nil || q.Until != nil) && col.Temporal == grids.Timeless {
		return q, bad("datetime", "%s has no time", col.ID)
	}
	if q.Since != nil && q.Until != nil && q.Until.Before(*q.Since) {
		return q, bad("datetime", "the end is before the start")
	}
	q.Equal = map[string]string{}
	for name, vals := range c.QueryParams() {
		if reservedParams[name] || name == "region" {
			continue
		}
		if !hasFilter(col, name) {
			return q, bad(name, "unknown parameter: %s can be filtered by %s", col.ID, strings.Join(col.FilterNames(), ", "))
		}
		q.Equal[name] = vals[0]
	}
	if p, _ := c.Get(principalKey).(grids.Principal); p.Role == grids.RoleUnit && col.ID == "assignments" {
		// A unit reads its own duties only.
		q.OnlyUnit = p.Unit
	}
	return q, nil
}

func hasFilter(col *grids.Collection, name string) bool {
	for _, f := range col.FilterNames() {
		if f == name {
			return true
		}
	}
	return false
}

// parseDatetime reads an OGC datetime: an instant, or an interval a/b with
// ".." or "" for an open end.
func parseDatetime(v string) (since, until, at *time.Time, err error) {
	parse := func(s string) (*time.Time, error) {
		if s == "" || s == ".." {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if d, err2 := time.Parse(time.DateOnly, s); err2 == nil {
				return &d, nil
			}
			return nil, bad("datetime", "%q is not an RFC 3339 time (2026-01-31T08:00:00Z) or date", s)
		}
		return &t, nil
	}
	a, b, interval := strings.Cut(v, "/")
	if !interval {
		at, err = parse(a)
		if at == nil && err == nil {
			err = bad("datetime", "want an instant or an interval start/end")
		}
		return nil, nil, at, err
	}
	if since, err = parse(a); err != nil {
		return
	}
	if until, err = parse(b); err != nil {
		return
	}
	if since == nil && until == nil {
		return nil, nil, nil, nil // "../..": no bound at all
	}
	return since, until, nil, nil
}

// export streams a layer: GET /api/v1/export/{layer}.{geojson|geojsonl|csv}.
func (s *Server) export(c echo.Context) error {
	file := c.Param("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return bad("format", "name the format: /export/%s.geojson, .geojsonl or .csv", file)
	}
	id, ext := file[:dot], file[dot+1:]
	format, ok := featureFormats[ext]
	if !ok {
		return bad("format", "%q is not a format: geojson, geojsonl or csv", ext)
	}
	col, err := s.collectionFor(c, id)
	if err != nil {
		return err
	}
	crs, err := crsParam(c)
	if err != nil {
		return err
	}
	q, err := featureQuery(c, col, crs)
	if err != nil {
		return err
	}
	rs, err := boolParam(c, "rs")
	if err != nil {
		return err
	}
	lw := &lazyWriter{c: c}
	bw := bufio.NewWriterSize(lw, 64<<10)
	fw := format.newWriter(bw, col, crs)
	contentType := format.contentType
	if gw, ok := fw.(*geojsonWriter); ok && gw.seq {
		// Plain lines unless RFC 8142 record separators are asked for.
		gw.rs = rs
		if !rs {
			contentType = "application/x-ndjson"
		}
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	name := id
	if q.Region != "" {
		name += "-" + q.Region
	}
	if crs != geo.WGS84 {
		name += "-" + crs.String()
		h.Set("X-Citygrid-Crs-Note", gcjNote)
	}
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.%s"`, name, format.ext))
	ctx := c.Request().Context()

	if err := fw.begin(nil); err != nil {
		return err
	}
	if _, finding := findingLayers[col.ID]; finding {
		err = s.writeFindings(ctx, c, col, q, fw)
	} else {
		n := 0
		err = s.store.Features(ctx, col, q, fw.encoding(), fw.values(), func(f *grids.FeatureRow) error {
			n++
			if err := fw.feature(f); err != nil {
				return err
			}
			if n == 1 {
				// The first feature goes out at once: the client sees progress
				// before the buffer fills.
				if err := bw.Flush(); err != nil {
					return err
				}
				c.Response().Flush()
			}
			return nil
		})
	}
	if err != nil {
		if lw.started {
			// Too late for an error status: cut the document short so that
			// the client sees it is broken rather than complete.
			s.log.Warn("export broken off", "layer", col.ID, "err", err)
			panic(http.ErrAbortHandler)
		}
		return err
	}
	if err := fw.end(nil); err != nil {
		return err
	}
	return bw.Flush()
}

// writeFindings computes coverage gaps or grid-check findings and passes
// them through the feature writer, with the bbox applied to their bounds.
func (s *Server) writeFindings(ctx context.Context, c echo.Context, col *grids.Collection, q grids.FeatureQuery, fw featureWriter) error {
	var produce func(w io.Writer) error
	switch col.ID {
	case "gaps":
		theme := q.Equal["theme"]
		if theme == "" {
			return bad("theme", "required for gaps")
		}
		minArea := 1.0
		if v := c.QueryParam("min_area_m2"); v != "" {
			var err error
			if minArea, err = strconv.ParseFloat(v, 64); err != nil || minArea < 0 {
				return bad("min_area_m2", "want a number of square metres, 0 or more")
			}
		}
		produce = func(w io.Writer) error { return s.store.WriteGaps(ctx, theme, q.Region, minArea, w) }
	default:
		produce = func(w io.Writer) error {
			return s.store.CheckGrids(ctx, q.Region, grids.GridCheckOptions{}, w)
		}
	}
	if q.At != nil || q.Since != nil || q.Until != nil {
		return bad("datetime", "%s are computed for now only", col.ID)
	}
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
		row, err := findingRow(col, f, kind, counts[kind], fw.encoding(), fw.values())
		if err != nil {
			return err
		}
		if err := fw.feature(row); err != nil {
			return err
		}
	}
}

// findingRow flattens a finding into the collection's properties.
func findingRow(col *grids.Collection, f geo.Feature, kind string, n int, enc grids.GeometryEncoding, values bool) (*grids.FeatureRow, error) {
	row := &grids.FeatureRow{ID: f.ID}
	if row.ID == "" {
		row.ID = kind + "-" + strconv.Itoa(n)
	}
	props := make([]any, len(col.Properties))
	for i, p := range col.Properties {
		v := f.Properties[p.Name]
		if arr, ok := v.([]any); ok {
			parts := make([]string, len(arr))
			for j, x := range arr {
				parts[j] = fmt.Sprint(x)
			}
			v = strings.Join(parts, ",")
		}
		props[i] = v
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
	case grids.AsGeoJSON:
		row.Geom, err = geojson.NewGeometry(orb.Round(f.Geometry, 1e7)).MarshalJSON()
	case grids.AsWKT:
		row.Geom = []byte(wkt.MarshalString(orb.Round(f.Geometry, 1e7)))
	default:
		row.Geom, err = wkb.Marshal(f.Geometry)
	}
	if p, ok := f.Geometry.(orb.Point); ok {
		row.Lon, row.Lat = &p[0], &p[1]
	}
	return row, err
}
