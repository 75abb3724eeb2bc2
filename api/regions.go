package api

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

type regionBody struct {
	Code     *string         `json:"code"`
	Name     *string         `json:"name"`
	Level    *string         `json:"level"`
	Parent   *string         `json:"parent"`
	Geometry json.RawMessage `json:"geometry"`
	Attrs    map[string]any  `json:"attrs"`
}

func (s *placesAPI) regionInput(c echo.Context) (grids.RegionInput, error) {
	var b regionBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return grids.RegionInput{}, err
	}
	g, err := bodyGeometry(c, b.Geometry, "a region")
	if err != nil {
		return grids.RegionInput{}, err
	}
	return grids.RegionInput{Code: b.Code, Name: b.Name, Level: b.Level, Parent: b.Parent, Geometry: g, Attrs: b.Attrs}, nil
}

func (s *placesAPI) listRegions(c echo.Context) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	crs, err := crsParam(c)
	if err != nil {
		return err
	}
	bbox, err := bboxParam(c, crs)
	if err != nil {
		return err
	}
	withGeom, err := boolParam(c, "geometry")
	if err != nil {
		return err
	}
	level := c.QueryParam("level")
	if _, ok := grids.ParseLevel(level); level != "" && !ok {
		return bad("level", "%q is not a level (district, subdistrict or community)", level)
	}
	f := grids.RegionFilter{Level: level, Parent: c.QueryParam("parent"), Query: c.QueryParam("q"), Geometry: withGeom, Bbox: bbox}
	list, err := s.store.Regions(c.Request().Context(), f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *placesAPI) getRegion(c echo.Context) error {
	r, err := s.store.Region(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *placesAPI) createRegion(c echo.Context) error {
	in, err := s.regionInput(c)
	if err != nil {
		return err
	}
	r, err := s.store.CreateRegion(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/regions/"+r.Code)
	return c.JSON(http.StatusCreated, r)
}

func (s *placesAPI) updateRegion(c echo.Context) error {
	in, err := s.regionInput(c)
	if err != nil {
		return err
	}
	r, err := s.store.UpdateRegion(c.Request().Context(), c.Param("code"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *placesAPI) deleteRegion(c echo.Context) error {
	if err := s.store.DeleteRegion(c.Request().Context(), c.Param("code")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
