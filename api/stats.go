package api

import (
	"bytes"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/internal/ledger"
)

// statsAPI serves the evaluation of cases (考核), its ledger (台账), the red
// and black lists and the hotspots of the map.
type statsAPI struct {
	cases *cases.Store
	hot   *cases.Hotspots
}

// minRankedDue is how many cases a unit or grid must have due in the
// period to be ranked: a rate of one or two cases says nothing.
const minRankedDue = 5

// period reads from and to (required): an RFC 3339 time, or a date, which
// is midnight in the city's time zone; to is exclusive. The shared case
// filters then read the rest of the query without them, since for
// statistics from and to are the evaluation window, not the report time.
func (s *statsAPI) period(c echo.Context) (from, to time.Time, f cases.Filter, err error) {
	q := c.QueryParams()
	parse := func(name string) (time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return time.Time{}, bad(name, "required: an RFC 3339 time or a date such as 2026-11-01")
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, v, s.cases.Location()); err == nil {
			return t, nil
		}
		return time.Time{}, bad(name, "want an RFC 3339 time such as 2026-11-01T00:00:00+08:00 or a date such as 2026-11-01")
	}
	if from, err = parse("from"); err != nil {
		return
	}
	if to, err = parse("to"); err != nil {
		return
	}
	if !from.Before(to) {
		err = bad("to", "must be after from")
		return
	}
	// Here from and to bound the evaluation window, not the report time.
	rest := maps.Clone(q)
	delete(rest, "from")
	delete(rest, "to")
	f, err = caseFilter(c, rest)
	return
}

// stats answers GET /api/v1/stats/{units,grids,regions,categories}.
func (s *statsAPI) stats(by string) echo.HandlerFunc {
	return func(c echo.Context) error {
		format := c.QueryParam("format")
		switch format {
		case "", "json", "csv", "xlsx":
		default:
			return bad("format", "%q is not a format (json, csv or xlsx)", format)
		}
		level := c.QueryParam("level")
		from, to, f, err := s.period(c)
		if err != nil {
			return err
		}
		out, err := s.cases.Stats(c.Request().Context(), principalOf(c), cases.StatsQuery{Filter: f, From: from, To: to, By: by, Level: level})
		if err != nil {
			return err
		}
		if format == "" || format == "json" {
			return c.JSON(http.StatusOK, out)
		}
		return s.ledger(c, out, format)
	}
}

// ranking answers GET /api/v1/stats/ranking.
func (s *statsAPI) ranking(c echo.Context) error {
	by := map[string]string{"unit": cases.ByUnit, "": cases.ByUnit, "grid": cases.ByGrid}[c.QueryParam("by")]
	if by == "" {
		return bad("by", "%q is not a ranking (unit or grid)", c.QueryParam("by"))
	}
	n := 10
	if v := c.QueryParam("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			return bad("n", "must be a whole number from 1 to 100")
		}
	}
	from, to, f, err := s.period(c)
	if err != nil {
		return err
	}
	all := false
	switch c.QueryParam("unranked") {
	case "", "top":
	case "all":
		all = true
	default:
		return bad("unranked", "%q is not a choice (top: the n with the most cases due, or all)", c.QueryParam("unranked"))
	}
	out, err := s.cases.Ranking(c.Request().Context(), principalOf(c), cases.RankingQuery{Filter: f, From: from, To: to, By: by, N: n,
		MinDue: minRankedDue, AllUnranked: all})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// ledgerColumns are the ledger's columns, in the order of ledgerRow.
var ledgerColumns = []ledger.Column{
	{Header: "排名", Kind: ledger.Int, Width: 6},
	{Header: "代码", Width: 16},
	{Header: "名称", Width: 28},
	{Header: "应处置数", Kind: ledger.Int, Width: 10},
	{Header: "按期处置数", Kind: ledger.Int, Width: 10},
	{Header: "按期处置率", Kind: ledger.Percent, Width: 11},
	{Header: "应结案数", Kind: ledger.Int, Width: 10},
	{Header: "结案数", Kind: ledger.Int, Width: 10},
	{Header: "结案率", Kind: ledger.Percent, Width: 10},
	{Header: "立案数", Kind: ledger.Int, Width: 10},
	{Header: "按时立案数", Kind: ledger.Int, Width: 10},
	{Header: "按时立案率", Kind: ledger.Percent, Width: 11},
	{Header: "派遣数", Kind: ledger.Int, Width: 10},
	{Header: "准确派遣数", Kind: ledger.Int, Width: 10},
	{Header: "准确派遣率", Kind: ledger.Percent, Width: 11},
	{Header: "核查数", Kind: ledger.Int, Width: 10},
	{Header: "返工数", Kind: ledger.Int, Width: 10},
	{Header: "返工率", Kind: ledger.Percent, Width: 10},
	{Header: "退回数", Kind: ledger.Int, Width: 10},
	{Header: "平均处置工时(小时)", Kind: ledger.Number, Width: 14},
}

func ledgerRow(r cases.StatsRow) []any {
	return []any{r.Rank, r.Code, r.Name, r.Due, r.HandledOnTime, r.OnTimeRate, r.DueToClose, r.Closed, r.ClosingRate,
		r.Registered, r.RegisteredOnTime, r.RegistrationRate, r.Dispatched, r.DispatchedCorrectly, r.CorrectDispatchRate,
		r.Verified, r.Reworked, r.ReworkRate, r.Returned, r.AvgHandleHours}
}

// ledgerNames name a grouping in the ledger's sheet and file.
var ledgerNames = map[string]string{cases.ByUnit: "单位", cases.ByGrid: "网格", cases.ByRegion: "区域", cases.ByCategory: "类别"}

// ledger writes the evaluation as a CSV or XLSX file with a Chinese file
// name (RFC 5987, with an ASCII fallback for old clients).
func (s *statsAPI) ledger(c echo.Context, st cases.Stats, format string) error {
	loc := s.cases.Location()
	span := st.From.In(loc).Format("20060102") + "-" + st.To.In(loc).Format("20060102")
	t := ledger.Table{Sheet: ledgerNames[st.By] + "考核", Columns: ledgerColumns}
	for _, r := range st.Rows {
		t.Rows = append(t.Rows, ledgerRow(r))
	}
	var b bytes.Buffer
	ctype := "text/csv; charset=utf-8"
	if format == "xlsx" {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
		if err := ledger.WriteXLSX(&b, t); err != nil {
			return err
		}
	} else if err := ledger.WriteCSV(&b, t); err != nil {
		return err
	}
	name := "案件考核台账_" + ledgerNames[st.By] + "_" + span + "." + format
	ascii := "case-stats-" + st.By + "-" + span + "." + format
	c.Response().Header().Set("Content-Disposition",
		mime.FormatMediaType("attachment", map[string]string{"filename": ascii})+"; filename*=UTF-8''"+url.PathEscape(name))
	return c.Blob(http.StatusOK, ctype, b.Bytes())
}

// hotspots answers GET /api/v1/cases/hotspots: the filtered cases counted
// per H3 cell of resolution res (default 8), as GeoJSON hexagons.
func (s *statsAPI) hotspots(c echo.Context) error {
	res := 8
	if v := c.QueryParam("res"); v != "" {
		var err error
		if res, err = strconv.Atoi(v); err != nil {
			return bad("res", "must be a whole number from 6 to 10")
		}
	}
	f, err := caseFilter(c, c.QueryParams())
	if err != nil {
		return err
	}
	cells, err := s.hot.Query(c.Request().Context(), principalOf(c), f, res)
	if err != nil {
		return err
	}
	type feature struct {
		Type       string        `json:"type"`
		ID         string        `json:"id"`
		Geometry   any           `json:"geometry"`
		Properties cases.Hotspot `json:"properties"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Res      int       `json:"res"`
		Total    int       `json:"total"`
		Overdue  int       `json:"overdue"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Res: res, Features: make([]feature, 0, len(cells))}
	for _, h := range cells {
		ring := make([][2]float64, len(h.Shape[0]))
		for i, p := range h.Shape[0] {
			ring[i] = [2]float64{p[0], p[1]}
		}
		fc.Total += h.Count
		fc.Overdue += h.Overdue
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: h.Cell,
			Geometry: map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}}, Properties: h})
	}
	return c.JSON(http.StatusOK, fc)
}
