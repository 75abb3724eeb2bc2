package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/coverage"
)

func (s *placesAPI) listGrids(c echo.Context) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	withGeom, err := boolParam(c, "geometry")
	if err != nil {
		return err
	}
	list, err := s.store.Grids(c.Request().Context(), c.QueryParam("region"), withGeom, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *placesAPI) getGrid(c echo.Context) error {
	g, err := s.store.Grid(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, g)
}

func floatParam(c echo.Context, name string) (float64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		return 0, bad(name, "want a number, 0 or more")
	}
	return f, nil
}

// checkGrids streams the tiling check of a region's grids as GeoJSON.
func (s *placesAPI) checkGrids(c echo.Context) error {
	region := c.QueryParam("region") // empty: the whole city
	opt, err := gridCheckOptions(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	return s.cov.CheckGrids(c.Request().Context(), region, opt, &lazyWriter{c: c})
}

// gridCheckOptions reads the tiling check's size thresholds, for the live
// grids' check and a draft's.
func gridCheckOptions(c echo.Context) (coverage.GridCheckOptions, error) {
	var opt coverage.GridCheckOptions
	var err error
	if opt.MinAreaM2, err = floatParam(c, "min_area_m2"); err != nil {
		return opt, err
	}
	if opt.MaxAreaM2, err = floatParam(c, "max_area_m2"); err != nil {
		return opt, err
	}
	opt.SliverM2, err = floatParam(c, "sliver_m2")
	return opt, err
}
