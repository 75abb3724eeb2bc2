package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
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
	"github.com/citygrid/citygrid/grids/coverage"
)

// commonParams have their own meaning in exports and OGC items alike;
// each adds its own (exportParams, ogcParams). Every other parameter is an
// equality filter on a property.
var commonParams = []string{"bbox", "region", "at", "since", "until", "datetime", "f"}

var exportParams = []string{"crs", "rs", "limit", "min_area_m2"}

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

// collectionFor finds a collection the caller may read: stored layers,
// then findings.
func (s *Server) collectionFor(c echo.Context, id string) (*grids.Collection, error) {
	return readableCollection(c.Request().Context(), s.store, principalOf(c), id)
}

func principalOf(c echo.Context) grids.Principal {
	p, _ := c.Get(principalKey).(grids.Principal)
	return p
}

func readableCollection(ctx context.Context, store *grids.Store, p grids.Principal, id string) (*grids.Collection, error) {
	col, err := store.Collection(ctx, id)
	var nf *grids.NotFoundError
	if errors.As(err, &nf) {
		if f, ok := findingLayers[id]; ok {
			col, err = f, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if !col.MayRead(p.Role) {
		return nil, fmt.Errorf("%w: %s may not read %s", grids.ErrForbidden, p.Role, id)
	}
	return col, nil
}

// featureQuery reads the filters shared by exports and OGC items; own
// lists the parameters the caller reads itself.
func featureQuery(ctx context.Context, store *grids.Store, params url.Values, own []string, p grids.Principal, col *grids.Collection, crs geo.CRS) (grids.FeatureQuery, error) {
	var q grids.FeatureQuery
	var err error
	if q.BBox, err = bboxValue(params.Get("bbox"), crs); err != nil {
		return q, err
	}
	q.Region = params.Get("region")
	if q.Region != "" {
		if !hasFilter(col, "region") {
			return q, bad("region", "%s cannot be filtered by region", col.ID)
		}
		if _, err := store.Region(ctx, q.Region); err != nil {
			var nf *grids.NotFoundError
			if errors.As(err, &nf) {
				return q, grids.Invalid("region", "region %q does not exist", q.Region)
			}
			return q, err
		}
	}
	parseTime := func(name string) (*time.Time, error) {
		v := params.Get(name)
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, bad(name, "want an RFC 3339 time such as 2026-01-31T08:00:00Z")
		}
		return &t, nil
	}
	if q.At, err = parseTime("at"); err != nil {
		return q, err
	}
	if q.Since, err = parseTime("since"); err != nil {
		return q, err
	}
	if q.Until, err = parseTime("until"); err != nil {
		return q, err
	}
	if v := params.Get("datetime"); v != "" {
		if q.At != nil || q.Since != nil || q.Until != nil {
			return q, bad("datetime", "give datetime, or at, or since/until, not two of them")
		}
		since, until, instant, err := parseDatetime(v)
		if err != nil {
			return q, err
		}
		switch {
		case instant != nil && col.Temporal == grids.Versioned:
			q.At = instant // the versions valid at that moment
		case instant != nil:
			q.Since, q.Until = instant, instant // changed at that moment
		default:
			q.Since, q.Until = since, until
		}
	}
	if q.At != nil && (q.Since != nil || q.Until != nil) {
		return q, bad("at", "give at, or since/until, not both")
	}
	if (q.At != nil || q.Since != nil || q.Until != nil) && col.Temporal == grids.Timeless {
		return q, bad("datetime", "%s has no time", col.ID)
	}
	if q.At != nil && col.Temporal != grids.Versioned {
		return q, bad("at", "%s keeps no history; datetime or since/until select by the time of the last change", col.ID)
	}
	if q.Since != nil && q.Until != nil && q.Until.Before(*q.Since) {
		return q, bad("datetime", "the end is before the start")
	}
	q.Equal = map[string]string{}
	for name, vals := range params {
		if slices.Contains(commonParams, name) || slices.Contains(own, name) {
			continue
		}
		prop, ok := col.Property(name)
		if !ok && slices.Contains(col.Filters, name) {
			q.Equal[name] = vals[0] // a filter that is not a property: gaps' theme
			continue
		}
		if !ok {
			return q, bad(name, "unknown parameter: %s can be filtered by %s", col.ID, strings.Join(col.FilterNames(), ", "))
		}
		v := vals[0]
		switch prop.Type {
		case grids.PropInteger:
			_, err = strconv.ParseInt(v, 10, 64)
		case grids.PropNumber:
			var f float64
			if f, err = strconv.ParseFloat(v, 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				err = errors.New("not finite")
			}
		case grids.PropDateTime:
			_, err = time.Parse(time.RFC3339Nano, v)
		}
		if err != nil {
			return q, bad(name, "%q is not a%s %s", v, map[bool]string{true: "n"}[prop.Type == grids.PropInteger], prop.Type)
		}
		q.Equal[name] = v
	}
	if p.Role == grids.RoleUnit && col.ID == "assignments" {
		// A unit reads its own duties only; a unit token without a unit
		// (which token creation refuses) reads none.
		if p.Unit == "" {
			return q, grids.ErrForbidden
		}
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
		// "../..": every version there ever was.
		since = &time.Time{}
	}
	return since, until, nil, nil
}

// Export is a checked export request, ready to stream: the HTTP export
// and `citygrid export` share it.
type Export struct {
	store  *grids.Store
	col    *grids.Collection
	format featureFormat
	crs    geo.CRS
	q      grids.FeatureQuery
	rs     bool
	params url.Values
	Layer  string
	// ContentType and Filename describe the output; CRSNote is set when the
	// coordinates are not WGS84.
	ContentType, Filename, CRSNote string
}

// NewExport checks an export of file ("grids.geojson", "street.csv") with
// the query parameters of GET /api/v1/export for principal p.
func NewExport(ctx context.Context, store *grids.Store, file string, params url.Values, p grids.Principal) (*Export, error) {
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return nil, bad("format", "name the format: /export/%s.geojson, .geojsonl or .csv", file)
	}
	id, ext := file[:dot], file[dot+1:]
	format, ok := featureFormats[ext]
	if !ok {
		return nil, bad("format", "%q is not a format: geojson, geojsonl or csv", ext)
	}
	col, err := readableCollection(ctx, store, p, id)
	if err != nil {
		return nil, err
	}
	crs, err := geo.ParseCRS(params.Get("crs"))
	if err != nil {
		return nil, bad("crs", "%v", err)
	}
	q, err := featureQuery(ctx, store, params, exportParams, p, col, crs)
	if err != nil {
		return nil, err
	}
	if v := params.Get("limit"); v != "" {
		// The first features by key: a sample of a large layer.
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 {
			return nil, bad("limit", "must be a whole number, 1 or more")
		}
	}
	x := &Export{store: store, col: col, format: format, crs: crs, q: q, params: params, Layer: id, ContentType: format.contentType}
	if v := params.Get("rs"); v != "" {
		if x.rs, err = strconv.ParseBool(v); err != nil {
			return nil, bad("rs", "want true or false")
		}
	}
	if ext == "geojsonl" && !x.rs {
		// Plain lines unless RFC 8142 record separators are asked for.
		x.ContentType = "application/x-ndjson"
	}
	name := id
	if q.Region != "" {
		name += "-" + q.Region
	}
	if crs != geo.WGS84 {
		name += "-" + crs.String()
		x.CRSNote = crsNote(crs)
	}
	x.Filename = name + "." + format.ext
	return x, nil
}

// Write streams the features to w. first (may be nil) is called once the
// first feature is written, each after every feature: a progress bar, or
// a flush so that the client sees data at once. Stored layers come straight
// from a database cursor, so memory stays flat however many features.
func (x *Export) Write(ctx context.Context, w io.Writer, first func() error, each func()) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fw := x.format.newWriter(bw, x.col, x.crs)
	if gw, ok := fw.(*geojsonWriter); ok && gw.seq {
		gw.rs = x.rs
	}
	if err := fw.begin(nil); err != nil {
		return err
	}
	n := 0
	emit := func(f *grids.FeatureRow) error {
		if err := fw.feature(f); err != nil {
			return err
		}
		if n++; n == 1 && first != nil {
			if err := bw.Flush(); err != nil {
				return err
			}
			if err := first(); err != nil {
				return err
			}
		}
		if each != nil {
			each()
		}
		return nil
	}
	var err error
	if _, finding := findingLayers[x.col.ID]; finding {
		err = x.writeFindings(ctx, fw.encoding(), fw.values(), emit)
	} else {
		err = x.store.Features(ctx, x.col, x.q, fw.encoding(), fw.values(), emit)
	}
	if err != nil {
		return err
	}
	if err := fw.end(nil); err != nil {
		return err
	}
	return bw.Flush()
}

// exportIdle is how long an export waits for its client to take the next
// 64 KiB before giving up and freeing its database connection.
const exportIdle = 2 * time.Minute

// export streams a layer: GET /api/v1/export/{layer}.{geojson|geojsonl|csv}.
func (s *Server) export(c echo.Context) error {
	x, err := NewExport(c.Request().Context(), s.store, c.Param("file"), c.QueryParams(), principalOf(c))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, x.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": x.Filename}))
	if x.CRSNote != "" {
		h.Set("X-Citygrid-Crs-Note", x.CRSNote)
	}
	// Wait a little for a slot rather than refuse at once: exports are
	// often started in batches by scripts.
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	case <-time.After(s.cfg.ExportWait):
		return errBusy
	case <-c.Request().Context().Done():
		return c.Request().Context().Err()
	}
	lw := &lazyWriter{c: c, idle: exportIdle}
	err = x.Write(c.Request().Context(), lw, func() error {
		c.Response().Flush()
		return nil
	}, nil)
	if err != nil && lw.started {
		// Too late for an error status: cut the document short so that the
		// client sees it is broken rather than complete.
		s.log.Warn("export broken off", "layer", x.Layer, "err", err)
		panic(http.ErrAbortHandler)
	}
	return err
}

// writeFindings computes coverage gaps or grid-check findings and passes
// them on as rows, with the bbox applied to their bounds.
func (x *Export) writeFindings(ctx context.Context, enc grids.GeometryEncoding, values bool, emit func(*grids.FeatureRow) error) error {
	var produce func(w io.Writer) error
	q := x.q
	switch x.col.ID {
	case "gaps":
		theme := q.Equal["theme"]
		if theme == "" {
			return bad("theme", "required for gaps")
		}
		minArea := 1.0
		if v := x.params.Get("min_area_m2"); v != "" {
			var err error
			if minArea, err = strconv.ParseFloat(v, 64); err != nil || minArea < 0 {
				return bad("min_area_m2", "want a number of square metres, 0 or more")
			}
		}
		produce = func(w io.Writer) error { return coverage.NewStore(x.store).WriteGaps(ctx, theme, q.Region, minArea, w) }
	default:
		produce = func(w io.Writer) error {
			return coverage.NewStore(x.store).CheckGrids(ctx, q.Region, coverage.GridCheckOptions{}, w)
		}
	}
	if q.At != nil || q.Since != nil || q.Until != nil {
		return bad("datetime", "%s are computed for now only", x.col.ID)
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
		if !findingMatches(x.col, f, q.Equal) {
			continue
		}
		row, err := findingRow(x.col, f, kind, counts[kind], enc, values)
		if err != nil {
			return err
		}
		if err := emit(row); err != nil {
			return err
		}
	}
}

// findingMatches applies the equality filters on properties to a finding.
func findingMatches(col *grids.Collection, f geo.Feature, equal map[string]string) bool {
	for k, want := range equal {
		p, isProp := col.Property(k)
		if !isProp {
			continue // theme: it chose the findings
		}
		v := flatValue(f.Properties[k])
		if p.Type == grids.PropNumber || p.Type == grids.PropInteger {
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
func findingRow(col *grids.Collection, f geo.Feature, kind string, n int, enc grids.GeometryEncoding, values bool) (*grids.FeatureRow, error) {
	row := &grids.FeatureRow{ID: f.ID}
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
