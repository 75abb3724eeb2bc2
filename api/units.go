package api

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

type unitBody struct {
	Code     *string         `json:"code"`
	Name     *string         `json:"name"`
	Kind     *string         `json:"kind"`
	Parent   *string         `json:"parent"`
	Region   *string         `json:"region"`
	Contact  *grids.Contact  `json:"contact"`
	Geometry json.RawMessage `json:"geometry"`
	Attrs    map[string]any  `json:"attrs"`
}

func (s *placesAPI) unitInput(c echo.Context) (grids.UnitInput, error) {
	var b unitBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return grids.UnitInput{}, err
	}
	crs, err := crsParam(c)
	if err != nil {
		return grids.UnitInput{}, err
	}
	g, err := parseGeometry("geometry", b.Geometry, crs)
	if err != nil {
		return grids.UnitInput{}, err
	}
	return grids.UnitInput{
		Code: b.Code, Name: b.Name, Kind: b.Kind, Parent: b.Parent, Region: b.Region,
		Contact: b.Contact, Geometry: g, Attrs: b.Attrs,
		ClearGeometry: string(b.Geometry) == "null",
	}, nil
}

func (s *placesAPI) listUnits(c echo.Context) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	f := grids.UnitFilter{Kind: c.QueryParam("kind"), Parent: c.QueryParam("parent"), Region: c.QueryParam("region"), Query: c.QueryParam("q")}
	list, err := s.store.Units(c.Request().Context(), f, page)
	if err != nil {
		return err
	}
	p := principalOf(c)
	for i, u := range list.Items {
		list.Items[i] = u.For(p) // contacts are personal data
	}
	return c.JSON(http.StatusOK, list)
}

func (s *placesAPI) getUnit(c echo.Context) error {
	u, err := s.store.Unit(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u.For(principalOf(c)))
}

func (s *placesAPI) createUnit(c echo.Context) error {
	in, err := s.unitInput(c)
	if err != nil {
		return err
	}
	u, err := s.store.CreateUnit(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/units/"+u.Code)
	return c.JSON(http.StatusCreated, u)
}

func (s *placesAPI) updateUnit(c echo.Context) error {
	in, err := s.unitInput(c)
	if err != nil {
		return err
	}
	if in.Code != nil && *in.Code != c.Param("code") {
		return grids.Invalid("code", "the code of a unit cannot change")
	}
	u, err := s.store.UpdateUnit(c.Request().Context(), c.Param("code"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, u)
}

func (s *placesAPI) deleteUnit(c echo.Context) error {
	if err := s.store.DeleteUnit(c.Request().Context(), c.Param("code")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
