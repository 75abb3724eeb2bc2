package cases

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Groupings of the evaluation.
const (
	ByUnit     = "units"
	ByGrid     = "grids"
	ByRegion   = "regions"
	ByCategory = "categories"
)

// StatsQuery asks for the evaluation of one period, grouped one way.
type StatsQuery struct {
	// Filter narrows the cases; its From and To (report time) are ignored:
	// the period below is the evaluation window.
	Filter
	From, To time.Time // [From, To)
	By       string    // units, grids, regions, categories
	Level    string    // for regions: district, subdistrict (default), community
	// MinDue ranks only rows with at least this many cases due; the others
	// get no rank.
	MinDue int
}

// StatsRow is one unit's, grid's, region's or category's evaluation.
// Counts are the numerators and denominators of the rates, so that a
// reader can check each one; a rate is null when its denominator is 0.
type StatsRow struct {
	Code string `json:"code"`
	Name string `json:"name"`
	// Due: cases whose handling deadline fell in the period (neither
	// cancelled nor merged).
	Due           int      `json:"due"`
	HandledOnTime int      `json:"handled_on_time"`
	OnTimeRate    *float64 `json:"on_time_rate"` // 按期处置率 = handled_on_time / due
	// DueToClose: the cases due in the period, which should all be closed
	// by now; Closed: those of them closed (a reopened case is not).
	DueToClose  int      `json:"due_to_close"`
	Closed      int      `json:"closed"`
	ClosingRate *float64 `json:"closing_rate"` // 结案率 = closed / due_to_close
	// Registered: cases registered in the period.
	Registered       int      `json:"registered"`
	RegisteredOnTime int      `json:"registered_on_time"`
	RegistrationRate *float64 `json:"registration_rate"` // 按时立案率
	// Dispatched: the due cases (a deadline needs a dispatch);
	// DispatchedCorrectly: dispatched once, never returned and handled by
	// that unit.
	Dispatched          int      `json:"dispatched"`
	DispatchedCorrectly int      `json:"dispatched_correctly"`
	CorrectDispatchRate *float64 `json:"correct_dispatch_rate"` // 准确派遣率
	// Verified: due cases verified or sent back by a verification;
	// Reworked: those sent back at least once.
	Verified   int      `json:"verified"`
	Reworked   int      `json:"reworked"`
	ReworkRate *float64 `json:"rework_rate"` // 返工率 = reworked / verified
	// Returned: due cases a unit returned at least once.
	Returned int `json:"returned"`
	// AvgHandleHours: the mean working time from dispatch to handled of
	// the due cases handled, in hours of the limit's clock.
	AvgHandleHours *float64 `json:"avg_handle_hours"`
	// Rank by on-time handling rate, ties by closing rate, then by cases
	// due; null when not ranked (too few cases due).
	Rank *int `json:"rank"`

	key any // the grouping key: a unit id or a code
}

// Stats is the evaluation of a period.
type Stats struct {
	By     string     `json:"by"`
	Level  string     `json:"level,omitempty"`
	From   time.Time  `json:"from"`
	To     time.Time  `json:"to"`
	MinDue int        `json:"min_due"`
	Rows   []StatsRow `json:"rows"`
}

// grouping is how a grouping keys its rows and names them.
type grouping struct {
	key  string // over cases c
	join string // over the rated aggregate r, giving code and name
}

func groupingOf(by, level string) (grouping, error) {
	switch by {
	case ByUnit:
		return grouping{`c.unit_id`, `JOIN units u ON u.id = r.key CROSS JOIN LATERAL (SELECT u.code, u.name) n`}, nil
	case ByGrid:
		return grouping{`c.grid_code`, `CROSS JOIN LATERAL (SELECT r.key AS code,
			coalesce((SELECT g.name FROM grids g WHERE g.code = r.key ORDER BY g.version DESC LIMIT 1), r.key) AS name) n`}, nil
	case ByCategory:
		return grouping{`c.category_code`, `CROSS JOIN LATERAL (SELECT r.key AS code,
			coalesce((SELECT cat.name_zh FROM categories cat WHERE cat.code = r.key), r.key) AS name) n`}, nil
	case ByRegion:
		col := map[string]string{"district": "district_code", "subdistrict": "subdistrict_code", "community": "community_code"}[level]
		if col == "" {
			return grouping{}, grids.Malformed("level", "%q is not a level (district, subdistrict or community)", level)
		}
		return grouping{`c.` + col, `CROSS JOIN LATERAL (SELECT r.key AS code,
			coalesce((SELECT reg.name FROM regions reg WHERE reg.code = r.key), r.key) AS name) n`}, nil
	}
	return grouping{}, grids.Malformed("by", "%q is not a grouping (units, grids, regions or categories)", by)
}

// statsWindow are the cases a period evaluates: due in it (the outcome
// metrics) or registered in it (on-time registration).
const statsWindow = `((c.due_at >= @from AND c.due_at < @to) OR (c.registered_at >= @from AND c.registered_at < @to))`

// statsMetrics defines every metric, once, over w (the windowed cases with
// their grouping key and the flags due and reg); every grouping and the
// ranking read them from here.
const statsMetrics = `
	count(*) FILTER (WHERE due) AS due,
	count(*) FILTER (WHERE due AND handled_on_time) AS handled_on_time,
	count(*) FILTER (WHERE due) AS due_to_close,
	count(*) FILTER (WHERE due AND status = 'closed') AS closed,
	count(*) FILTER (WHERE reg) AS registered,
	count(*) FILTER (WHERE reg AND registered_on_time) AS registered_on_time,
	count(*) FILTER (WHERE due AND dispatch_count > 0) AS dispatched,
	count(*) FILTER (WHERE due AND dispatch_count = 1 AND return_count = 0 AND handled_at IS NOT NULL
	                        AND unit_id = first_unit_id) AS dispatched_correctly,
	count(*) FILTER (WHERE due AND (verified_at IS NOT NULL OR rework_count > 0)) AS verified,
	count(*) FILTER (WHERE due AND rework_count > 0) AS reworked,
	count(*) FILTER (WHERE due AND return_count > 0) AS returned,
	avg(handle_s) FILTER (WHERE due AND handled_at IS NOT NULL) / 3600.0 AS avg_handle_hours`

// statsRates are the rates of the metrics, over m.
const statsRates = `
	m.handled_on_time::float8 / nullif(m.due, 0) AS on_time_rate,
	m.closed::float8 / nullif(m.due_to_close, 0) AS closing_rate,
	m.registered_on_time::float8 / nullif(m.registered, 0) AS registration_rate,
	m.dispatched_correctly::float8 / nullif(m.dispatched, 0) AS correct_dispatch_rate,
	m.reworked::float8 / nullif(m.verified, 0) AS rework_rate`

// statsSQL is the evaluation query of a grouping over the filter's WHERE.
func statsSQL(g grouping, where string) string {
	return fmt.Sprintf(`WITH w AS (
	SELECT %s AS key,
	       (c.due_at >= @from AND c.due_at < @to AND c.status NOT IN ('cancelled', 'merged')) AS due,
	       (c.registered_at >= @from AND c.registered_at < @to) AS reg,
	       c.status, c.handled_on_time, c.registered_on_time, c.dispatch_count, c.return_count, c.rework_count,
	       c.handled_at, c.verified_at, c.unit_id, c.first_unit_id, c.handle_s
	  FROM cases c%s
), m AS (
	SELECT key, %s FROM w WHERE key IS NOT NULL GROUP BY key
), r AS (
	SELECT m.*, %s FROM m
)
SELECT r.key, n.code, n.name, r.due, r.handled_on_time, r.on_time_rate, r.due_to_close, r.closed, r.closing_rate,
       r.registered, r.registered_on_time, r.registration_rate, r.dispatched, r.dispatched_correctly,
       r.correct_dispatch_rate, r.verified, r.reworked, r.rework_rate, r.returned, r.avg_handle_hours,
       CASE WHEN r.due >= @min_due THEN rank() OVER (PARTITION BY r.due >= @min_due
            ORDER BY r.on_time_rate DESC NULLS LAST, r.closing_rate DESC NULLS LAST, r.due DESC) END AS rank
  FROM r %s
 ORDER BY rank NULLS LAST, r.due DESC, n.code`, g.key, where, statsMetrics, statsRates, g.join)
}

// Stats evaluates the period. A unit-role principal asking by unit gets
// its own row alone, ranked among every unit; by another grouping, its
// own cases only.
func (s *Store) Stats(ctx context.Context, p grids.Principal, q StatsQuery) (Stats, error) {
	if q.By == ByRegion && q.Level == "" {
		q.Level = "subdistrict"
	}
	out := Stats{By: q.By, From: q.From, To: q.To, MinDue: q.MinDue, Rows: []StatsRow{}}
	if q.By == ByRegion {
		out.Level = q.Level
	}
	if !q.From.Before(q.To) {
		return out, grids.Invalid("to", "must be after from")
	}
	g, err := groupingOf(q.By, q.Level)
	if err != nil {
		return out, err
	}
	f := q.Filter
	f.From, f.To = nil, nil
	if err := f.Check(); err != nil {
		return out, err
	}
	ownRow := p.Role == grids.RoleUnit && q.By == ByUnit
	scope := p
	if ownRow {
		// Ranked among every unit; the other rows are dropped below.
		scope = grids.Principal{Role: grids.RoleAnalyst}
	}
	args := pgx.NamedArgs{"from": q.From, "to": q.To, "min_due": q.MinDue}
	where := f.where(scope, args, true)
	if where == "" {
		where = " WHERE " + statsWindow
	} else {
		where += " AND " + statsWindow
	}
	var own int64
	if ownRow {
		if err := s.pool.QueryRow(ctx, `SELECT coalesce((SELECT id FROM units WHERE code = $1), 0)`, p.Unit).Scan(&own); err != nil {
			return out, err
		}
	}
	rows, err := s.pool.Query(ctx, statsSQL(g, where), args)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var r StatsRow
		var rank *int64
		if err := rows.Scan(&r.key, &r.Code, &r.Name, &r.Due, &r.HandledOnTime, &r.OnTimeRate, &r.DueToClose, &r.Closed,
			&r.ClosingRate, &r.Registered, &r.RegisteredOnTime, &r.RegistrationRate, &r.Dispatched, &r.DispatchedCorrectly,
			&r.CorrectDispatchRate, &r.Verified, &r.Reworked, &r.ReworkRate, &r.Returned, &r.AvgHandleHours, &rank); err != nil {
			return out, err
		}
		if rank != nil {
			n := int(*rank)
			r.Rank = &n
		}
		if ownRow {
			if id, _ := r.key.(int64); id != own {
				continue
			}
		}
		out.Rows = append(out.Rows, r)
	}
	return out, rows.Err()
}

// Ranking is the red list (best) and the black list (worst) of a period.
type Ranking struct {
	By     string    `json:"by"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Metric string    `json:"metric"`
	// MinDue: rows with fewer cases due are not ranked. Unranked lists
	// the n of them with the most cases due (all of them when asked:
	// a city's twenty thousand grids made a 4.8 MB answer of a top ten),
	// UnrankedTotal counts them.
	MinDue        int        `json:"min_due"`
	Red           []StatsRow `json:"red"`
	Black         []StatsRow `json:"black"`
	Unranked      []StatsRow `json:"unranked"`
	Note          string     `json:"note"`
	UnrankedTotal int        `json:"unranked_total"`
}

// RankingQuery asks for the best and worst n units or grids.
type RankingQuery struct {
	Filter
	From, To time.Time
	By       string // units or grids
	N        int
	MinDue   int
	// AllUnranked lists every unranked row, not only the n with the most
	// cases due.
	AllUnranked bool
}

// Ranking answers the red and black lists, published for every role: it
// ranks every unit or grid whatever the principal's own scope.
func (s *Store) Ranking(ctx context.Context, p grids.Principal, q RankingQuery) (Ranking, error) {
	out := Ranking{By: q.By, From: q.From, To: q.To, MinDue: q.MinDue, Metric: "on_time_rate",
		Red: []StatsRow{}, Black: []StatsRow{}, Unranked: []StatsRow{}}
	if q.By != ByUnit && q.By != ByGrid {
		return out, grids.Malformed("by", "%q is not a ranking (unit or grid)", q.By)
	}
	st, err := s.Stats(ctx, grids.Principal{Role: grids.RoleAnalyst}, StatsQuery{Filter: q.Filter, From: q.From, To: q.To, By: q.By, MinDue: q.MinDue})
	if err != nil {
		return out, err
	}
	var ranked []StatsRow
	for _, r := range st.Rows {
		if r.Rank == nil {
			out.Unranked = append(out.Unranked, r)
		} else {
			ranked = append(ranked, r)
		}
	}
	out.UnrankedTotal = len(out.Unranked)
	if !q.AllUnranked && len(out.Unranked) > q.N {
		sort.SliceStable(out.Unranked, func(i, j int) bool { return out.Unranked[i].Due > out.Unranked[j].Due })
		out.Unranked = out.Unranked[:q.N]
	}
	red := min(q.N, len(ranked))
	out.Red = append(out.Red, ranked[:red]...)
	// The black list never repeats the red one: with fewer than 2n ranked,
	// it holds the rest, worst first.
	for i := len(ranked) - 1; i >= red && len(out.Black) < q.N; i-- {
		out.Black = append(out.Black, ranked[i])
	}
	out.Note = fmt.Sprintf("ranked by on-time handling rate (按期处置率), ties by closing rate (结案率), then by cases due; "+
		"%d with fewer than %d cases due are not ranked", out.UnrankedTotal, q.MinDue)
	return out, nil
}
