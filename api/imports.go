package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// importFile loads a GeoJSON FeatureCollection (or GeoJSONL) of regions,
// grids, units or objects, or an OpenStreetMap file (kind osm), streamed from
// the request body in one transaction.
func (s *Server) importFile(c echo.Context) error {
	kind := c.Param("kind")
	if kind != "osm" && !contains(grids.ImportKinds, kind) {
		return &grids.NotFoundError{What: "import kind", Key: kind}
	}
	crs, err := crsParam(c)
	if err != nil {
		return err
	}
	fix, err := boolParam(c, "fix")
	if err != nil {
		return err
	}
	level := c.QueryParam("level")
	if kind == "regions" {
		if _, ok := grids.ParseLevel(level); !ok {
			return bad("level", "regions need level=district, subdistrict or community")
		}
	}
	opt := grids.ImportOptions{
		Kind: kind, Level: grids.Level(level), Layer: c.QueryParam("layer"),
		CodeProp: c.QueryParam("code_prop"), NameProp: c.QueryParam("name_prop"), ParentProp: c.QueryParam("parent_prop"),
		CRS: crs, Fix: fix, Within: c.QueryParam("region"),
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.ImportLimit)
	var src grids.FeatureSource
	if kind == "osm" {
		m, err := grids.ParseOSMMapping(nil)
		if err != nil {
			return err
		}
		r, err := grids.NewOSMReader(c.Request().Context(), body, m)
		if err != nil {
			return bad("body", "%v", err)
		}
		defer r.Close()
		src, opt.Kind, opt.Source = r, "objects", "osm"
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
	res, err := s.store.Import(c.Request().Context(), src, opt)
	if err != nil {
		return err
	}
	if kind == "osm" {
		res.Kind = "osm"
	}
	return c.JSON(http.StatusOK, res)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func importProblems(ie *grids.ImportError) []grids.FieldError {
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
