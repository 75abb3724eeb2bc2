package api

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/calendar"
)

// calendarYear is a year of the working calendar as the API shows it.
type calendarYear struct {
	Year        int            `json:"year"`
	Timezone    string         `json:"timezone"`
	Days        []calendar.Day `json:"days"`
	WorkingDays int            `json:"working_days"`
	// Ignored counts the days of an iCalendar feed outside the year.
	Ignored int `json:"ignored,omitempty"`
}

func yearOf(c *calendar.Calendar, year int) calendarYear {
	days := c.Days(year)
	if days == nil {
		days = []calendar.Day{}
	}
	return calendarYear{Year: year, Timezone: c.Zone().String(), Days: days, WorkingDays: c.WorkingDays(year)}
}

func yearParam(c echo.Context) (int, error) {
	year, err := strconv.Atoi(c.Param("year"))
	if err != nil {
		return 0, bad("year", "want a year such as 2026")
	}
	return year, calendar.CheckYearNumber(year)
}

// getCalendar answers a year's holidays and make-up working days, read
// from the database so that a write is seen at once on every server.
func (s *calendarAPI) getCalendar(c echo.Context) error {
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	cal, err := s.holder.Store().Load(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, yearOf(cal, year))
}

// putCalendar replaces a year's exceptions from JSON, CSV or iCalendar;
// every row is checked first and nothing is written unless all pass.
func (s *calendarAPI) putCalendar(c echo.Context) error {
	year, err := yearParam(c)
	if err != nil {
		return err
	}
	ctype := c.Request().Header.Get(echo.HeaderContentType)
	media, _, _ := mime.ParseMediaType(ctype)
	body := http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.BodyLimit)
	var (
		entries []calendar.Entry
		ignored int
	)
	switch media {
	case "text/csv":
		entries, err = calendar.ParseCSV(body)
	case "text/calendar":
		entries, ignored, err = calendar.ParseICal(body, year)
	case "application/json", "":
		var in struct {
			Days []struct {
				Date string `json:"date"`
				Kind string `json:"kind"`
				Name string `json:"name"`
			} `json:"days"`
		}
		if err = decodeJSON(c, s.cfg.BodyLimit, &in); err == nil {
			if in.Days == nil {
				return bad("days", "required: the year's holidays and make-up working days (an empty list clears the year)")
			}
			for i, d := range in.Days {
				entries = append(entries, calendar.Entry{Row: fmt.Sprintf("days/%d", i), Date: d.Date, Kind: d.Kind, Name: d.Name})
			}
		}
	default:
		return echo.NewHTTPError(http.StatusUnsupportedMediaType,
			fmt.Sprintf("Content-Type %q: send application/json, text/csv or text/calendar", ctype))
	}
	if err != nil {
		return err
	}
	days, err := calendar.CheckYear(year, entries)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	store := s.holder.Store()
	if err := store.ReplaceYear(ctx, year, days); err != nil {
		return err
	}
	// The notification reloads every server's holder; this one reloads now
	// so that its next deadline reads the new year. A year's answer needs
	// only that year's days.
	if err := s.holder.Reload(ctx); err != nil {
		s.log.Warn("reloading the working calendar after a change; the notification will retry", "err", err)
	}
	out := yearOf(calendar.New(store.Zone(), days), year)
	out.Ignored = ignored
	return c.JSON(http.StatusOK, out)
}
