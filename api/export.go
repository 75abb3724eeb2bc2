package api

import (
	"mime"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

func principalOf(c echo.Context) grids.Principal {
	p, _ := c.Get(principalKey).(grids.Principal)
	return p
}

// exportIdle is how long an export waits for its client to take the next
// 64 KiB before giving up and freeing its database connection.
const exportIdle = 2 * time.Minute

// export streams a layer: GET /api/v1/export/{layer}.{geojson|geojsonl|csv}.
// grids/features checks and writes it; this adds the headers, the export
// slots and what to do when the client or the stream breaks.
func (s *gisAPI) export(c echo.Context) error {
	x, err := s.features.NewExport(c.Request().Context(), c.Param("file"), c.QueryParams(), principalOf(c))
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, x.ContentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": x.Filename}))
	if x.CRSNote != "" {
		h.Set("X-Citygrid-Crs-Note", x.CRSNote)
	}
	// Wait a little for a slot rather than refuse at once: exports are
	// often started in batches by scripts.
	select {
	case s.exports <- struct{}{}:
		defer func() { <-s.exports }()
	case <-time.After(s.cfg.ExportWait):
		return errBusy
	case <-c.Request().Context().Done():
		return c.Request().Context().Err()
	}
	lw := &lazyWriter{c: c, idle: exportIdle}
	err = x.Write(c.Request().Context(), lw, func() error {
		c.Response().Flush()
		return nil
	}, nil)
	if err != nil && lw.started {
		// Too late for an error status: cut the document short so that the
		// client sees it is broken rather than complete.
		s.log.Warn("export broken off", "layer", x.Layer, "err", err)
		panic(http.ErrAbortHandler)
	}
	return err
}
