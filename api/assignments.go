package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

type assignmentBody struct {
	Theme      string   `json:"theme"`
	Unit       string   `json:"unit"`
	Role       string   `json:"role"`
	TargetKind string   `json:"target_kind"`
	Target     string   `json:"target"`
	FromM      *float64 `json:"from_m"`
	ToM        *float64 `json:"to_m"`
	Note       string   `json:"note"`
}

func idParam(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return 0, bad("id", "must be an assignment id (a whole number)")
	}
	return id, nil
}

func (s *placesAPI) listAssignments(c echo.Context) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	f := grids.AssignmentFilter{Unit: c.QueryParam("unit"), Theme: c.QueryParam("theme"), TargetKind: c.QueryParam("target_kind"),
		Target: c.QueryParam("target"), Role: c.QueryParam("role")}
	if v := c.QueryParam("at"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return bad("at", "want an RFC 3339 time such as 2026-01-31T08:00:00+08:00")
		}
		f.At = &t
	}
	if err := f.ScopeFor(principalOf(c)); err != nil {
		return err // a unit token asking for another unit's
	}
	list, err := s.assignments.Assignments(c.Request().Context(), f, page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, list)
}

func (s *placesAPI) getAssignment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	a, err := s.assignments.AssignmentFor(c.Request().Context(), principalOf(c), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *placesAPI) createAssignment(c echo.Context) error {
	var b assignmentBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return err
	}
	a, err := s.assignments.CreateAssignment(c.Request().Context(), grids.NewAssignment(b))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/assignments/"+strconv.FormatInt(a.ID, 10))
	return c.JSON(http.StatusCreated, a)
}

type assignmentPatch struct {
	Unit  *string  `json:"unit"`
	Role  *string  `json:"role"`
	FromM *float64 `json:"from_m"`
	ToM   *float64 `json:"to_m"`
	Note  *string  `json:"note"`
}

// changeAssignment ends the assignment and starts its successor, so that
// history keeps both; the answer is the successor.
func (s *placesAPI) changeAssignment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	var b assignmentPatch
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return err
	}
	a, err := s.assignments.ChangeAssignment(c.Request().Context(), id, grids.AssignmentChange(b))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *placesAPI) endAssignment(c echo.Context) error {
	id, err := idParam(c)
	if err != nil {
		return err
	}
	a, err := s.assignments.EndAssignment(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

type bulkBody struct {
	Theme  string `json:"theme"`
	Unit   string `json:"unit"`
	Role   string `json:"role"`
	Region string `json:"region"`
	Layer  string `json:"layer"`
	Note   string `json:"note"`
}

func (s *placesAPI) bulkAssign(c echo.Context) error {
	var b bulkBody
	if err := decodeJSON(c, s.cfg.BodyLimit, &b); err != nil {
		return err
	}
	res, err := s.assignments.Bulk(c.Request().Context(), grids.BulkAssign(b))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}
