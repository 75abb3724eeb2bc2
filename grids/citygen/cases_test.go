package citygen_test

import (
	"context"
	"log/slog"
	"regexp"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/citygen"
)

// Generated cases on a small city take every status, their events tell
// the same story as their rows, their codes are unique and carry their
// local date and district, every case is in its district, and intake
// afterwards continues their codes instead of repeating one.
func TestGeneratedCases(t *testing.T) {
	ctx := context.Background()
	s, _ := load(t, citygen.Config{Grids: 300, Seed: 3})
	res, err := grids.NewResolver(ctx, s.Pool(), slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	cs := cases.NewStore(s, res, cases.Config{})
	now := time.Now()
	sum, err := citygen.LoadCases(ctx, s, cs, citygen.CasesConfig{N: 200, Seed: 5, Now: now, Batch: 120}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Cases != 200 {
		t.Fatalf("%d cases written, want 200", sum.Cases)
	}
	pool := s.Pool()
	q := func(sql string, dst ...any) {
		t.Helper()
		if err := pool.QueryRow(ctx, sql).Scan(dst...); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
	}
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM cases GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[cases.Status]int{}
	for rows.Next() {
		var st cases.Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		seen[st] = n
	}
	for _, st := range cases.Statuses() {
		if seen[st] == 0 {
			t.Errorf("no %s case among %v", st, seen)
		}
	}
	if seen[cases.Closed] < 100 {
		t.Errorf("%d closed of 200: a year's cases are mostly closed", seen[cases.Closed])
	}
	var overdue int
	q(`SELECT count(*) FROM cases c WHERE `+cases.OverdueSQL, &overdue)
	var reworked, returned, lateClosed int
	q(`SELECT count(*) FILTER (WHERE rework_count > 0), count(*) FILTER (WHERE return_count > 0),
	          count(*) FILTER (WHERE status = 'closed' AND NOT handled_on_time) FROM cases`, &reworked, &returned, &lateClosed)
	t.Logf("statuses %v, overdue now %d, reworked %d, returned %d, closed late %d", seen, overdue, reworked, returned, lateClosed)
	if lateClosed == 0 {
		t.Error("no case was handled late")
	}

	// Codes: unique, district-date-sequence with the local date of the report.
	var dup, badCode int
	q(`SELECT count(*) - count(DISTINCT code) FROM cases`, &dup)
	q(`SELECT count(*) FROM cases WHERE code <> district_code || '-' || to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') || '-' || lpad(split_part(code, '-', 3), 5, '0')
	      OR split_part(code, '-', 3) !~ '^\d{5}$'`, &badCode)
	if dup != 0 || badCode != 0 {
		t.Errorf("%d repeated codes, %d codes not district-localdate-sequence", dup, badCode)
	}
	var behind int
	q(`SELECT count(*) FROM (SELECT split_part(code, '-', 1) || '-' || split_part(code, '-', 2) AS prefix,
	       max(split_part(code, '-', 3)::int) AS n FROM cases GROUP BY 1) c
	   LEFT JOIN case_sequences s USING (prefix) WHERE s.last IS NULL OR s.last < c.n`, &behind)
	if behind != 0 {
		t.Errorf("%d days whose case_sequences counter is behind their codes", behind)
	}
	// Places: in their district, with their cells.
	var outside, noGrid int
	q(`SELECT count(*) FROM cases c LEFT JOIN regions r ON r.code = c.district_code
	   WHERE r.id IS NULL OR NOT ST_Intersects(r.geom, c.geom)`, &outside)
	q(`SELECT count(*) FROM cases c WHERE c.grid_code IS NULL OR NOT EXISTS
	     (SELECT 1 FROM grids g WHERE g.code = c.grid_code AND ST_Intersects(g.geom, c.geom))`, &noGrid)
	if outside != 0 || noGrid != 0 {
		t.Errorf("%d cases outside their district, %d outside their grid", outside, noGrid)
	}

	// Events: the first is the report at reported_at, each starts where
	// the last ended, the last ends in the case's status at updated_at.
	var broken int
	q(`WITH e AS (SELECT ev.*, lag(to_status) OVER w AS prev, row_number() OVER w AS k,
	                     count(*) OVER (PARTITION BY case_id) AS n
	              FROM case_events ev WHERE action <> 'merged_in' WINDOW w AS (PARTITION BY case_id ORDER BY at, id))
	   SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM e WHERE e.case_id = c.id)
	      OR EXISTS (SELECT 1 FROM e WHERE e.case_id = c.id AND (
	           (e.k = 1 AND (e.action <> 'report' OR e.at <> c.reported_at OR e.from_status IS NOT NULL))
	        OR (e.k > 1 AND e.from_status IS DISTINCT FROM e.prev)
	        OR (e.k = e.n AND (e.to_status <> c.status OR e.at > c.updated_at))
	        OR e.at > now()))`, &broken)
	if broken != 0 {
		t.Errorf("%d cases whose events do not tell their story", broken)
	}
	// Rows agree with their steps and counters.
	var bad int
	q(`SELECT count(*) FROM cases c WHERE
	       (c.registered_at IS NULL) <> NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = c.id AND e.action = 'register')
	    OR c.dispatch_count <> (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'dispatch')
	    OR c.return_count <> (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'return')
	    OR c.rework_count <> (SELECT count(*) FROM case_events e WHERE e.case_id = c.id AND e.action = 'verify' AND e.data->>'passed' = 'false')
	    OR (c.status IN ('dispatched', 'handling') AND (c.unit_id IS NULL OR c.clock_from IS NULL OR c.due_at IS NULL))
	    OR (c.status = 'suspended' AND (c.due_at > c.updated_at OR c.clock_from IS NOT NULL))
	    OR (c.status = 'suspended' AND (c.due_at IS NOT NULL) <> citygrid_case_late(c.status, c.handled_on_time, c.spent_s, c.limit_hours, c.limit_days))
	    OR (c.status IN ('handled', 'verified', 'closed') AND (c.handled_at IS NULL OR c.handle_s IS NULL OR c.clock_from IS NOT NULL
	        OR c.handled_on_time IS NULL))
	    OR (c.status = 'closed' AND (c.verified_at IS NULL OR c.closed_at < c.verified_at OR c.verified_at < c.handled_at))
	    OR (c.status = 'merged') <> (c.merged_into IS NOT NULL)
	    OR (c.handled_at IS NOT NULL AND c.handled_at < c.dispatched_at)
	    OR c.dispatched_at < c.registered_at OR c.registered_at < c.reported_at`, &bad)
	if bad != 0 {
		t.Errorf("%d cases whose columns disagree with their steps", bad)
	}
	var mergedWrong int
	q(`SELECT count(*) FROM cases m LEFT JOIN cases sv ON sv.code = m.merged_into
	   WHERE m.status = 'merged' AND (sv.id IS NULL OR sv.category_code <> m.category_code
	      OR NOT EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = sv.id AND e.action = 'merged_in' AND e.data->>'case' = m.code))`, &mergedWrong)
	if mergedWrong != 0 {
		t.Errorf("%d merged cases without their survivor's record", mergedWrong)
	}

	// Intake on a generated day continues its sequence.
	var code string
	var lon, lat float64
	var at time.Time
	q(`SELECT code, ST_X(geom), ST_Y(geom), reported_at FROM cases ORDER BY code DESC LIMIT 1`, &code, &lon, &lat, &at)
	back := at.Add(time.Minute)
	admin := grids.Principal{User: "test-admin", Role: grids.RoleAdmin}
	c, _, err := cs.Create(ctx, admin, cases.CreateInput{Lon: &lon, Lat: &lat, Category: "E0101", Source: "inspector", ReportedAt: &back}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{6}-\d{8}-\d{5}$`).MatchString(c.Code) || c.Code <= code && c.Code[:15] == code[:15] {
		t.Errorf("intake after the generator gave %s; the last generated code of that day is %s", c.Code, code)
	}
	var n int
	q(`SELECT count(*) FROM cases WHERE code = '`+c.Code+`'`, &n)
	if n != 1 {
		t.Errorf("code %s is on %d cases", c.Code, n)
	}
}
