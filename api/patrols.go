package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/ingest"
)

func timeParam(c echo.Context, name string) (*time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, bad(name, "want an RFC 3339 time such as 2026-11-22T20:00:00+08:00")
	}
	return &t, nil
}

// createPatrol stores an inspector's track, sent as GPX or as a GeoJSON
// LineString or MultiLineString (bare, or a Feature whose properties may
// carry inspector, started_at and ended_at).
func (s *coverageAPI) createPatrol(c echo.Context) error {
	crs, err := crsParam(c)
	if err != nil {
		return err
	}
	in := coverage.PatrolInput{Inspector: c.QueryParam("inspector"), Source: "geojson"}
	if in.StartedAt, err = timeParam(c, "started_at"); err != nil {
		return err
	}
	if in.EndedAt, err = timeParam(c, "ended_at"); err != nil {
		return err
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.BodyLimit))
	if err != nil {
		return err
	}
	trimmed := bytes.TrimSpace(body)
	if strings.Contains(c.Request().Header.Get(echo.HeaderContentType), "gpx") || bytes.HasPrefix(trimmed, []byte("<")) {
		track, first, last, err := ingest.ParseGPX(body)
		if err != nil {
			return err
		}
		in.Track, in.Source = track, "gpx"
		if in.StartedAt == nil {
			in.StartedAt = first
		}
		if in.EndedAt == nil {
			in.EndedAt = last
		}
	} else {
		var probe struct {
			Type       string          `json:"type"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties struct {
				Inspector string     `json:"inspector"`
				StartedAt *time.Time `json:"started_at"`
				EndedAt   *time.Time `json:"ended_at"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return bad("body", "want GPX, or a GeoJSON LineString, MultiLineString or Feature: %v", err)
		}
		raw := json.RawMessage(trimmed)
		if probe.Type == "Feature" {
			raw = probe.Geometry
			if probe.Properties.Inspector != "" {
				in.Inspector = probe.Properties.Inspector
			}
			if probe.Properties.StartedAt != nil {
				in.StartedAt = probe.Properties.StartedAt
			}
			if probe.Properties.EndedAt != nil {
				in.EndedAt = probe.Properties.EndedAt
			}
		}
		g, err := parseGeometry("geometry", raw, crs)
		if err != nil {
			return err
		}
		track, ok := ingest.TrackOf(g)
		if !ok {
			return grids.Invalid("geometry", "a track is a LineString or MultiLineString")
		}
		in.Track = track
	}
	if crs != geo.WGS84 && in.Source == "gpx" {
		geo.Convert(in.Track, crs, geo.WGS84)
	}
	p, err := s.cov.CreatePatrol(c.Request().Context(), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

// patrolCoverage answers which streets and alleys were walked.
func (s *coverageAPI) patrolCoverage(c echo.Context) error {
	region := c.QueryParam("region")
	if region == "" {
		return bad("region", "required")
	}
	since, err := timeParam(c, "since")
	if err != nil {
		return err
	}
	if since == nil {
		return bad("since", "required: the start of the period (RFC 3339)")
	}
	until, err := timeParam(c, "until")
	if err != nil {
		return err
	}
	if until == nil {
		now := time.Now()
		until = &now
	}
	buffer := 20.0
	if v := c.QueryParam("buffer_m"); v != "" {
		if buffer, err = strconv.ParseFloat(v, 64); err != nil || buffer <= 0 || buffer > 200 {
			return bad("buffer_m", "want metres, more than 0 and at most 200")
		}
	}
	cov, err := s.cov.CoverageOfPatrols(c.Request().Context(), region, *since, *until, buffer)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cov)
}
