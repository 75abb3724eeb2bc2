package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/features"
)

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// pageParams reads limit and offset.
func pageParams(c echo.Context) (grids.Page, error) {
	p := grids.Page{Limit: defaultLimit}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, bad("limit", "must be a whole number from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, bad("offset", "must be a whole number, 0 or more")
		}
		p.Offset = n
	}
	return p, nil
}

// crsParam reads ?crs=wgs84|gcj02|bd09.
func crsParam(c echo.Context) (geo.CRS, error) {
	crs, err := geo.ParseCRS(c.QueryParam("crs"))
	if err != nil {
		return crs, bad("crs", "%v", err)
	}
	return crs, nil
}

// bboxParam reads ?bbox=minLon,minLat,maxLon,maxLat in the request's CRS.
func bboxParam(c echo.Context, crs geo.CRS) (*orb.Bound, error) {
	return features.ParseBBox(c.QueryParam("bbox"), crs)
}

// boolParam reads true/false/1/0.
func boolParam(c echo.Context, name string) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, bad(name, "want true or false")
	}
	return b, nil
}

// parseGeometry reads a GeoJSON geometry from a request field and converts
// it from the request's CRS to WGS84. A legacy "crs" member naming anything
// but WGS84 longitude/latitude is refused: citygrid stores SRID 4326 only.
func parseGeometry(field string, raw json.RawMessage, crs geo.CRS) (orb.Geometry, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var probe struct {
		Type string          `json:"type"`
		CRS  json.RawMessage `json:"crs"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, bad(field, "not a GeoJSON geometry object")
	}
	if len(probe.CRS) > 0 && !isWGS84Name(probe.CRS) {
		return nil, grids.Invalid(field, "only WGS84 longitude/latitude (EPSG:4326, CRS84) is accepted; convert the data or pass ?crs=gcj02|bd09 for Chinese map coordinates")
	}
	switch probe.Type {
	case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection":
	case "Feature", "FeatureCollection":
		return nil, bad(field, "want a bare GeoJSON geometry, got a %s", probe.Type)
	case "":
		return nil, bad(field, "GeoJSON geometry has no type")
	default:
		return nil, bad(field, "%q is not a GeoJSON geometry type", probe.Type)
	}
	g, err := geojson.UnmarshalGeometry(raw)
	if err != nil {
		return nil, bad(field, "malformed GeoJSON %s: %v", probe.Type, err)
	}
	if err := geo.Validate(g.Geometry()); err != nil {
		return nil, grids.Invalid(field, "%v", err)
	}
	return geo.Convert(g.Geometry(), crs, geo.WGS84), nil
}

func isWGS84Name(raw json.RawMessage) bool {
	s := strings.ToUpper(string(raw))
	return strings.Contains(s, "CRS84") || strings.Contains(s, "EPSG::4326") || strings.Contains(s, "EPSG:4326")
}

// bodyGeometry reads the request's ?crs and the body's geometry field: nil
// when absent; refused when null and the record cannot lose its geometry.
func bodyGeometry(c echo.Context, raw json.RawMessage, what string) (orb.Geometry, error) {
	crs, err := crsParam(c)
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		return nil, grids.Invalid("geometry", "%s cannot lose its geometry", what)
	}
	return parseGeometry("geometry", raw, crs)
}
