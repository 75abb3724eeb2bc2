package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
)

// importFile loads a GeoJSON FeatureCollection (or GeoJSONL) of regions,
// grids, units or objects, or an OpenStreetMap file (kind osm), streamed from
// the request body in one transaction.
func (s *Server) importFile(c echo.Context) error {
	kind := c.Param("kind")
	opt := ingest.ImportOptions{
		Kind: kind, Level: grids.Level(c.QueryParam("level")), Layer: c.QueryParam("layer"),
		CodeProp: c.QueryParam("code_prop"), NameProp: c.QueryParam("name_prop"), ParentProp: c.QueryParam("parent_prop"),
		Within: c.QueryParam("region"),
	}
	if kind == "osm" {
		opt.Kind, opt.Source = "objects", "osm"
	}
	// Refused before the body is read: it may be gigabytes.
	if err := opt.Check(); err != nil {
		return err
	}
	var err error
	if opt.CRS, err = crsParam(c); err != nil {
		return err
	}
	flags := []struct {
		name string
		dst  *bool
	}{{"fix", &opt.Fix}, {"dry_run", &opt.DryRun}, {"allow_shrink", &opt.AllowShrink}, {"replace_tags", &opt.ReplaceTags}}
	for _, f := range flags {
		if *f.dst, err = boolParam(c, f.name); err != nil {
			return err
		}
	}
	if opt.Strict, err = boolParam(c, "strict"); err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.ImportLimit)
	var src ingest.FeatureSource
	if kind == "osm" {
		m, err := ingest.ParseOSMMapping(nil)
		if err != nil {
			return err
		}
		r, err := ingest.NewOSMReader(c.Request().Context(), body, m)
		if err != nil {
			return bad("body", "%v", err)
		}
		defer r.Close()
		src = r
	} else {
		fr, err := geo.NewFeatureReader(body)
		if err != nil {
			return bad("body", "%v", err)
		}
		if fr.CRSName != "" && !isWGS84Name([]byte(fr.CRSName)) {
			return grids.Invalid("crs", "the file declares %s; citygrid takes WGS84 longitude/latitude (or ?crs=gcj02|bd09)", fr.CRSName)
		}
		src = fr
	}
	res, err := s.ingest.Import(c.Request().Context(), src, opt)
	if err != nil {
		return err
	}
	if kind == "osm" {
		res.Kind = "osm"
	}
	return c.JSON(http.StatusOK, res)
}

func importProblems(ie *ingest.ImportError) []grids.FieldError {
	out := make([]grids.FieldError, len(ie.Problems))
	for i, p := range ie.Problems {
		msg := p.Reason
		if p.Code != "" {
			msg = fmt.Sprintf("%s: %s", p.Code, p.Reason)
		}
		out[i] = grids.FieldError{Field: fmt.Sprintf("features/%d", p.Index), Message: msg}
	}
	return out
}
