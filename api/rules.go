package api

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/coverage"
)

func ruleID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, bad("id", "must be a rule id (a whole number)")
	}
	return id, nil
}

func (s *coverageAPI) listRules(c echo.Context) error {
	rules, err := s.cov.Rules(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": rules})
}

func (s *coverageAPI) getRule(c echo.Context) error {
	id, err := ruleID(c)
	if err != nil {
		return err
	}
	r, err := s.cov.Rule(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

func (s *coverageAPI) createRule(c echo.Context) error {
	var in coverage.RuleInput
	if err := decodeJSON(c, s.cfg.BodyLimit, &in); err != nil {
		return err
	}
	r, err := s.cov.CreateRule(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

func (s *coverageAPI) updateRule(c echo.Context) error {
	id, err := ruleID(c)
	if err != nil {
		return err
	}
	var in coverage.RuleInput
	if err := decodeJSON(c, s.cfg.BodyLimit, &in); err != nil {
		return err
	}
	r, err := s.cov.UpdateRule(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// ruleMatches answers /rules/{id}/matches and /rules/{id}/matches.geojson.
func (s *coverageAPI) ruleMatches(c echo.Context) error {
	id, err := ruleID(c)
	if err != nil {
		return err
	}
	region := c.QueryParam("region")
	if c.Param("format") == ".geojson" || c.Path() == "/api/v1/rules/:id/matches.geojson" {
		c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
		return s.cov.WriteRuleMatches(c.Request().Context(), id, region, &lazyWriter{c: c})
	}
	limit := 1000
	if v := c.QueryParam("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 100000 {
			return bad("limit", "want a whole number from 1 to 100,000")
		}
	}
	matches, total, err := s.cov.RuleMatches(c.Request().Context(), id, region, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"rule": id, "total": total, "items": matches})
}
