package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/cases"
)

// casesAPI serves the case loop: intake, queues, the workflow and history.
type casesAPI struct {
	cases *cases.Store
	cfg   Config
	// bodies keeps the map's GeoJSON bodies (*[]byte) for reuse: at a few
	// hundred kilobytes a page, allocating each was most of the server's
	// garbage.
	bodies sync.Pool
}

// createCase answers POST /api/v1/cases. An Idempotency-Key header makes a
// retry return the first answer's case instead of filing a second one.
func (s *casesAPI) createCase(c echo.Context) error {
	key := strings.TrimSpace(c.Request().Header.Get("Idempotency-Key"))
	if len(key) > 200 {
		return bad("Idempotency-Key", "at most 200 characters")
	}
	var in cases.CreateInput
	var sum []byte
	if isMultipart(c) { // a case part and photo parts (photos.go)
		var err error
		if sum, err = s.readMultipartCase(c, &in); err != nil {
			return err
		}
	} else {
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.BodyLimit))
		if err != nil {
			return err
		}
		if err := decodeBytes(body, &in); err != nil {
			return err
		}
		h := sha256.Sum256(canonicalJSON(body))
		sum = h[:]
	}
	out, replayed, err := s.cases.Create(c.Request().Context(), principalOf(c), in, key, sum)
	if err != nil {
		return err
	}
	out.Photos = withHrefs(out.Code, out.Photos)
	status := http.StatusCreated
	if replayed {
		c.Response().Header().Set("Idempotent-Replayed", "true")
		status = http.StatusOK
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/cases/"+out.Code)
	return c.JSON(status, out)
}

// canonicalJSON compacts a body so that a retry differing only in spacing
// is the same request.
func canonicalJSON(body []byte) []byte {
	var b bytes.Buffer
	if json.Compact(&b, body) != nil {
		return body
	}
	return b.Bytes()
}

// decodeBytes reads a JSON object strictly, as decodeJSON does.
func decodeBytes(body []byte, v any) error { return decodeStrict(bytes.NewReader(body), v) }

func (s *casesAPI) getCase(c echo.Context) error {
	out, err := s.cases.Get(c.Request().Context(), principalOf(c), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

func (s *casesAPI) caseEvents(c echo.Context) error {
	out, err := s.cases.Events(c.Request().Context(), principalOf(c), c.Param("code"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"code": c.Param("code"), "events": out})
}

// act answers POST /api/v1/cases/{code}/{action}.
func (s *casesAPI) act(c echo.Context) error {
	var in cases.ActionInput
	if isMultipart(c) { // note, passed and photo parts (photos.go)
		if err := s.readMultipartAction(c, &in); err != nil {
			return err
		}
	} else if c.Request().ContentLength != 0 {
		if err := decodeJSON(c, s.cfg.BodyLimit, &in); err != nil {
			return err
		}
	}
	out, err := s.cases.Act(c.Request().Context(), principalOf(c), c.Param("code"), c.Param("action"), in)
	if err != nil {
		return err
	}
	out.Photos = withHrefs(out.Code, out.Photos)
	return c.JSON(http.StatusOK, out)
}

// caseFilter reads the filters shared by lists, GeoJSON, hotspots and
// statistics (cases.ParseFilter) from params, and the bounding box in the
// request's coordinate system.
func caseFilter(c echo.Context, params url.Values) (cases.Filter, error) {
	f, err := cases.ParseFilter(params)
	if err != nil {
		return f, err
	}
	crs, err := crsParam(c)
	if err != nil {
		return f, err
	}
	if f.BBox, err = bboxParam(c, crs); err != nil {
		return f, err
	}
	return f, f.Check()
}

func (s *casesAPI) listCases(c echo.Context) error {
	f, err := caseFilter(c, c.QueryParams())
	if err != nil {
		return err
	}
	q := cases.ListQuery{Filter: f, Sort: c.QueryParam("sort"), Cursor: c.QueryParam("cursor"), Limit: defaultLimit}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return bad("limit", "must be a whole number from 1 to %d", maxLimit)
		}
		q.Limit = n
	}
	out, err := s.cases.List(c.Request().Context(), principalOf(c), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// maxPooledBody is the largest GeoJSON body kept for reuse (a page of
// 10,000 points is about 4 MB; rarer than the map's pages of 1,000).
const maxPooledBody = 1 << 20

// casesGeoJSON answers GET /api/v1/cases.geojson: the same filters, as a
// FeatureCollection of points for the map.
func (s *casesAPI) casesGeoJSON(c echo.Context) error {
	f, err := caseFilter(c, c.QueryParams())
	if err != nil {
		return err
	}
	q := cases.ListQuery{Filter: f, Sort: c.QueryParam("sort"), Cursor: c.QueryParam("cursor"), Limit: 1000}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return bad("limit", "must be a whole number from 1 to 10000")
		}
		q.Limit = n
	}
	page, err := s.cases.Points(c.Request().Context(), principalOf(c), q)
	if err != nil {
		return err
	}
	bp, _ := s.bodies.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	body := appendPointCollection((*bp)[:0], &page)
	err = c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	if cap(body) <= maxPooledBody {
		*bp = body
		s.bodies.Put(bp)
	}
	return err
}
