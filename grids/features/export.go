package features

import (
	"bufio"
	"context"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// exportParams are what an export reads besides ParseQuery's: the output
// CRS, RFC 8142 record separators, a sample size, and the gaps layer's
// sliver size.
var exportParams = []string{"crs", "rs", "limit", "min_area_m2"}

// Export is a checked export request, ready to stream: the HTTP export
// and `citygrid export` share it.
type Export struct {
	store  *Store
	col    *Collection
	format Format
	crs    geo.CRS
	q      FeatureQuery
	rs     bool
	Layer  string
	// ContentType and Filename describe the output; CRSNote is set when the
	// coordinates are not WGS84.
	ContentType, Filename, CRSNote string
}

// NewExport checks an export of file ("grids.geojson", "street.csv") with
// the query parameters of GET /api/v1/export for principal p.
func (s *Store) NewExport(ctx context.Context, file string, params url.Values, p grids.Principal) (*Export, error) {
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return nil, grids.Malformed("format", "name the format: /export/%s.geojson, .geojsonl or .csv", file)
	}
	id, ext := file[:dot], file[dot+1:]
	format, ok := FormatOf(ext)
	if !ok {
		return nil, grids.Malformed("format", "%q is not a format: geojson, geojsonl or csv", ext)
	}
	col, err := s.Readable(ctx, p, id)
	if err != nil {
		return nil, err
	}
	crs, err := geo.ParseCRS(params.Get("crs"))
	if err != nil {
		return nil, grids.Malformed("crs", "%v", err)
	}
	q, err := s.ParseQuery(ctx, params, exportParams, p, col, crs)
	if err != nil {
		return nil, err
	}
	if v := params.Get("limit"); v != "" {
		// The first features by key: a sample of a large layer.
		if q.Limit, err = strconv.Atoi(v); err != nil || q.Limit < 1 {
			return nil, grids.Malformed("limit", "must be a whole number, 1 or more")
		}
	}
	x := &Export{store: s, col: col, format: format, crs: crs, q: q, Layer: id, ContentType: format.ContentType}
	if v := params.Get("rs"); v != "" {
		if x.rs, err = strconv.ParseBool(v); err != nil {
			return nil, grids.Malformed("rs", "want true or false")
		}
	}
	if format.Ext == "geojsonl" && !x.rs {
		// Plain lines unless RFC 8142 record separators are asked for.
		x.ContentType = "application/x-ndjson"
	}
	name := id
	if q.Region != "" {
		name += "-" + q.Region
	}
	if crs != geo.WGS84 {
		name += "-" + crs.String()
		x.CRSNote = CRSNote(crs)
	}
	x.Filename = name + "." + format.Ext
	return x, nil
}

// Write streams the features to w. first (may be nil) is called once the
// first feature is written, each after every feature: a progress bar, or
// a flush so that the client sees data at once. Stored layers come straight
// from a database cursor, so memory stays flat however many features.
func (x *Export) Write(ctx context.Context, w io.Writer, first func() error, each func()) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	fw := x.format.writer(bw, x.col, x.crs, x.rs)
	if err := fw.Begin(nil); err != nil {
		return err
	}
	n := 0
	emit := func(f *FeatureRow) error {
		if err := fw.Feature(f); err != nil {
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
	if err := x.store.Features(ctx, x.col, x.q, fw.Encoding(), fw.Values(), emit); err != nil {
		return err
	}
	if err := fw.End(nil); err != nil {
		return err
	}
	return bw.Flush()
}
