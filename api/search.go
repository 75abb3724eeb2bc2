package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/search"
)

// searchAnswer is GET /api/v1/search's body.
type searchAnswer struct {
	Query   string          `json:"query"`
	Results []search.Result `json:"results"`
}

func (s *searchAPI) find(c echo.Context) error {
	q, err := search.ParseQuery(c.QueryParam("q"), c.QueryParam("kind"), c.QueryParam("region"), c.QueryParam("limit"))
	if err != nil {
		return err
	}
	rs, err := s.search.Search(c.Request().Context(), q)
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []search.Result{}
	}
	return c.JSON(http.StatusOK, searchAnswer{Query: q.Text, Results: rs})
}

// place answers where an address lies, as the case intake places a
// hotline call's address: a 422 address_not_found with candidates when
// nothing matches.
func (s *searchAPI) place(c echo.Context) error {
	p, err := s.search.Geocode(c.Request().Context(), c.QueryParam("address"), c.QueryParam("region"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}
