package api_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids/cases"
)

// A case suspended after its time ran out, stored before suspensions kept
// the deadline they missed, gets that deadline back from its history: its
// period's evaluation counts it due again. A case whose stored clock does
// not match its history is left as it is, and a second run mends nothing.
func TestKeepMissedDeadlines(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	inspector, dispatcher := e.token("inspector", ""), e.token("dispatcher", "")
	// Three parking cases, dispatched; the clock of each started its limit
	// and an hour ago, in its history and in its row alike.
	var codes []string
	for i := range 3 {
		c := e.file(inspector, map[string]any{"lon": zgcLon + float64(i)*0.002, "lat": zgcLat,
			"category": "E0504", "source": "inspector", "description": "占道停车"})
		e.act(dispatcher, c.Code, "register", nil)
		e.act(dispatcher, c.Code, "dispatch", nil)
		if _, err := pool.Exec(ctx, `
			WITH c AS (UPDATE cases SET clock_from = now() - make_interval(hours => limit_hours + 1),
				due_at = now() - interval '1 hour', warn_at = now() - interval '1 hour' - make_interval(secs => limit_hours * 720)
				WHERE code = $1 RETURNING id, clock_from)
			UPDATE case_events e SET at = c.clock_from FROM c WHERE e.case_id = c.id AND e.action = 'dispatch'`, c.Code); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c.Code)
	}
	period := "from=" + url.QueryEscape(time.Now().Add(-24*time.Hour).Format(time.RFC3339)) +
		"&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	due := func() int { return rowOf(t, e.stats("/api/v1/stats/units?"+period, adminToken), "JJ").Due }
	var missed []time.Time
	for _, code := range codes {
		s := e.act(dispatcher, code, "suspend", map[string]any{"note": "等待产权单位确认"})
		if s.Deadline == nil {
			t.Fatalf("%s suspended an hour late kept no deadline", code)
		}
		missed = append(missed, parseTime(t, *s.Deadline))
	}
	before := due()
	// As the rule before migration 22 stored them: no deadline. The third
	// one's stored clock no longer matches its history.
	if _, err := pool.Exec(ctx, `UPDATE cases SET due_at = NULL, spent_s = spent_s + CASE WHEN code = $2 THEN 600 ELSE 0 END
		WHERE code = ANY($1)`, codes, codes[2]); err != nil {
		t.Fatal(err)
	}
	if got := due(); got != before-3 {
		t.Fatalf("JJ's due cases without the deadlines: %d, want %d", got, before-3)
	}

	cs := cases.NewStore(e.store, e.resolver, cases.Config{})
	if n, err := cs.KeepMissedDeadlines(ctx); err != nil || n != 2 {
		t.Fatalf("mended %d cases (%v), want 2", n, err)
	}
	for i, code := range codes {
		var got *time.Time
		if err := pool.QueryRow(ctx, `SELECT due_at FROM cases WHERE code = $1`, code).Scan(&got); err != nil {
			t.Fatal(err)
		}
		switch {
		case i < 2 && (got == nil || !got.Equal(missed[i])):
			t.Errorf("%s: deadline %v, want the missed %v", code, got, missed[i])
		case i == 2 && got != nil:
			t.Errorf("%s, its clock unlike its history, was given the deadline %v", code, got)
		}
	}
	if got := due(); got != before-1 {
		t.Errorf("JJ's due cases after mending: %d, want %d", got, before-1)
	}
	if n, err := cs.KeepMissedDeadlines(ctx); err != nil || n != 0 {
		t.Errorf("a second run mended %d cases (%v)", n, err)
	}
	// The case stays overdue and keeps its deadline when resumed.
	if c := e.act(dispatcher, codes[0], "resume", nil); !c.Overdue || c.Deadline == nil || !parseTime(t, *c.Deadline).Equal(missed[0]) {
		t.Errorf("resumed: overdue %v, deadline %v, want %v", c.Overdue, c.Deadline, missed[0])
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
