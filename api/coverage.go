package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

func coverageParams(c echo.Context) (theme, region string, err error) {
	// No region means the whole city: every district.
	theme, region = c.QueryParam("theme"), c.QueryParam("region")
	if theme == "" {
		return "", "", bad("theme", "required")
	}
	return theme, region, nil
}

// coverage answers GET /api/v1/coverage: how far a duty is covered.
func (s *coverageAPI) coverage(c echo.Context) error {
	theme, region, err := coverageParams(c)
	if err != nil {
		return err
	}
	cov, err := s.cov.CoverageOf(c.Request().Context(), theme, region)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cov)
}

// coverageGaps streams the gaps, overlaps, unassigned objects and
// uncovered stretches as GeoJSON.
func (s *coverageAPI) coverageGaps(c echo.Context) error {
	theme, region, err := coverageParams(c)
	if err != nil {
		return err
	}
	minArea := 1.0
	if v := c.QueryParam("min_area_m2"); v != "" {
		if minArea, err = strconv.ParseFloat(v, 64); err != nil || minArea < 0 {
			return bad("min_area_m2", "want a number of square metres, 0 or more")
		}
	}
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/geo+json")
	w.Header().Set("Content-Disposition", `attachment; filename="gaps-`+theme+`-`+region+`.geojson"`)
	return s.cov.WriteGaps(c.Request().Context(), theme, region, minArea, &lazyWriter{c: c})
}

// lazyWriter sends the 200 status only with the first byte, so that an
// error found before any output can still become a proper error response.
// With idle set, each write must reach the client within that time: a
// client that stops reading cannot hold the query open for ever.
type lazyWriter struct {
	c       echo.Context
	started bool
	idle    time.Duration
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.c.Response().WriteHeader(http.StatusOK)
	}
	if l.idle > 0 {
		// Not every ResponseWriter supports deadlines (httptest's
		// recorder); the limit is then the server's own.
		_ = http.NewResponseController(l.c.Response()).SetWriteDeadline(time.Now().Add(l.idle))
	}
	return l.c.Response().Write(p)
}
