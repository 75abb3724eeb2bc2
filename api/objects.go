package api

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

type objectBody struct {
	Code     *string         `json:"code"`
	Name     *string         `json:"name"`
	Layer    *string         `json:"layer"`
	Category *string         `json:"category"`
	Geometry json.RawMessage `json:"geometry"`
	Attrs    map[string]any  `json:"attrs"`
}

func (s *placesAPI) objectInput(c echo.Context) (grids.ObjectInput, error) {
	var b objectBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return grids.ObjectInput{}, err
	}
	g, err := bodyGeometry(c, b.Geometry, "an object")
	if err != nil {
		return grids.ObjectInput{}, err
	}
	return grids.ObjectInput{Code: b.Code, Name: b.Name, Layer: b.Layer, Category: b.Category, Geometry: g, Attrs: b.Attrs}, nil
}

func objectID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, bad("id", "must be an object id (a whole number)")
	}
	return id, nil
}

func (s *placesAPI) listObjects(c echo.Context) error {
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
	list, err := s.store.Objects(c.Request().Context(), grids.ObjectFilter{Layer: c.QueryParam("layer"), Region: c.QueryParam("region"),
		Bbox: bbox, Query: c.QueryParam("q"), Geometry: withGeom}, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *placesAPI) getObject(c echo.Context) error {
	id, err := objectID(c)
	if err != nil {
		return err
	}
	o, err := s.store.Object(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

func (s *placesAPI) createObject(c echo.Context) error {
	in, err := s.objectInput(c)
	if err != nil {
		return err
	}
	o, err := s.store.CreateObject(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/objects/"+strconv.FormatInt(o.ID, 10))
	return c.JSON(http.StatusCreated, o)
}

func (s *placesAPI) updateObject(c echo.Context) error {
	id, err := objectID(c)
	if err != nil {
		return err
	}
	in, err := s.objectInput(c)
	if err != nil {
		return err
	}
	o, err := s.store.UpdateObject(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, o)
}

func (s *placesAPI) deleteObject(c echo.Context) error {
	id, err := objectID(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteObject(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *placesAPI) gridObjects(c echo.Context) error {
	inv, err := s.store.GridObjects(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, inv)
}
