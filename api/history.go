package api

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/load"
)

// gridHistory answers a grid's versions with geometry, who and when, and
// lineage.
func (s *historyAPI) gridHistory(c echo.Context) error {
	h, err := s.history.Grid(c.Request().Context(), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h)
}

// momentParam reads a required RFC 3339 time.
func momentParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, bad(name, "is required: an RFC 3339 time such as 2026-01-31T08:00:00+08:00")
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, bad(name, "want an RFC 3339 time such as 2026-01-31T08:00:00+08:00")
	}
	return t, nil
}

// asOf serves GET /grids: with ?at= the layout as of that moment,
// otherwise live, which is next's.
func (s *historyAPI) asOf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.QueryParam("at") == "" {
			return next(c)
		}
		at, err := momentParam(c, "at")
		if err != nil {
			return err
		}
		page, err := pageParams(c)
		if err != nil {
			return err
		}
		withGeom, err := boolParam(c, "geometry")
		if err != nil {
			return err
		}
		list, err := s.history.At(c.Request().Context(), at, c.QueryParam("region"), withGeom, page)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, list)
	}
}

// layoutDiff answers what changed in a region's grids between two
// moments, as GeoJSON.
func (s *historyAPI) layoutDiff(c echo.Context) error {
	from, err := momentParam(c, "from")
	if err != nil {
		return err
	}
	to, err := momentParam(c, "to")
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	return s.history.Diff(c.Request().Context(), c.QueryParam("region"), from, to, &lazyWriter{c: c})
}

// gridLoad answers the load figures of a region's live grids.
func (s *historyAPI) gridLoad(c echo.Context) error {
	region := c.QueryParam("region")
	if region == "" {
		return bad("region", "is required: a district, subdistrict or community code")
	}
	opt, err := loadOptions(c)
	if err != nil {
		return err
	}
	r, err := load.Region(c.Request().Context(), s.pool, region, opt)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// loadOptions reads the load figures' case window: ?until= ends it (RFC
// 3339, default now).
func loadOptions(c echo.Context) (load.Options, error) {
	var opt load.Options
	if c.QueryParam("until") != "" {
		t, err := momentParam(c, "until")
		if err != nil {
			return opt, err
		}
		opt.Until = t
	}
	return opt, nil
}
