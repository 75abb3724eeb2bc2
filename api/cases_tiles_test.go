package api_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/features"
)

// The clustered cases tiles read counts kept ahead (migration 14): they
// agree with the cases before and after the pending changes are folded
// in, follow a transition, and count a running clock overdue whether its
// deadline passed hours ago, minutes ago (the present bucket, read from
// cases) or not at all.
func TestCasesTileCounts(t *testing.T) {
	e, filed := caseCity(t)
	ctx := context.Background()
	fs := features.NewStore(e.store)
	layer, err := features.NewTileSet().Layer("cases")
	if err != nil {
		t.Fatal(err)
	}
	type totals struct {
		count, overdue int
		status         map[string]int // dominant status → clusters
	}
	renderAs := func(z maptile.Zoom, unit, narrowing string) totals {
		t.Helper()
		tile := maptile.At(orb.Point{zgcLon, zgcLat}, z)
		b, err := fs.Tile(ctx, layer, int(tile.Z), int(tile.X), int(tile.Y), narrowing, unit)
		if err != nil {
			t.Fatalf("z%d: %v", z, err)
		}
		out := totals{status: map[string]int{}}
		layers, err := mvt.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			for _, f := range l.Features {
				n, _ := f.Properties["count"].(float64)
				o, _ := f.Properties["overdue"].(float64)
				if n == 0 {
					t.Fatalf("z%d: a feature without a count: %v", z, f.Properties)
				}
				out.count += int(n)
				out.overdue += int(o)
				out.status[f.Properties["status"].(string)]++
			}
		}
		return out
	}
	render := func(z maptile.Zoom, unit string) totals { return renderAs(z, unit, "") }
	// Every case of the lattice is in one tile at z12 and z14 (r8 and r10).
	for _, c := range filed {
		var lon, lat float64
		e.store.Pool().QueryRow(ctx, `SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE code = $1`, c.Code).Scan(&lon, &lat)
		if maptile.At(orb.Point{lon, lat}, 14) != maptile.At(orb.Point{zgcLon, zgcLat}, 14) {
			t.Fatalf("%s is not in the z14 tile of the lattice", c.Code)
		}
	}
	pending := func() (n int) {
		e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM case_tile_deltas`).Scan(&n)
		return n
	}
	cs := cases.NewStore(e.store, e.resolver, cases.Config{})
	check := func(when string, overdue int) {
		t.Helper()
		for _, z := range []maptile.Zoom{12, 14} {
			if got := render(z, ""); got.count != 12 || got.overdue != overdue {
				t.Errorf("%s, z%d: %d cases, %d overdue; want 12 and %d", when, z, got.count, got.overdue, overdue)
			}
		}
		if got := render(12, "JJ"); got.count != 4 || got.overdue != overdue {
			t.Errorf("%s: JJ's z12 tile counts %d cases (%d overdue), want its 4 (%d)", when, got.count, got.overdue, overdue)
		}
	}
	// Every case is counted once per resolution, folded or pending (the
	// server folds too, every few seconds).
	var counted, all int
	e.store.Pool().QueryRow(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM case_tile_cells WHERE res = 9)
		+ (SELECT coalesce(sum(n), 0) FROM case_tile_deltas), (SELECT count(*) FROM cases)`).Scan(&counted, &all)
	if counted != all || all != 12 {
		t.Errorf("r9 counts hold %d cases of %d", counted, all)
	}
	check("before the fold", 1)
	// One chunk of 5 deltas (of more than 12) folds 5 (0 when the
	// server's fold holds the lock) and leaves the tiles exact; a fold in
	// chunks of 5 drains the rest.
	before := pending()
	var taken int
	if err := e.store.Pool().QueryRow(ctx, `SELECT taken FROM citygrid_fold_case_tiles(5)`).Scan(&taken); err != nil {
		t.Fatal(err)
	}
	if left := pending(); (taken != 5 && taken != 0) || left > before-taken {
		t.Errorf("a chunk of 5 took %d of %d deltas, left %d", taken, before, left)
	}
	check("partly folded", 1)
	for start := time.Now(); pending() > 0; {
		if _, err := cs.FoldTiles(ctx, 5); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d changes still pending after folding", pending())
		}
	}
	check("after the fold", 1)

	// The overdue parking case's deadline, moved: minutes ago (in the
	// present bucket), seven hours ago (a bucket over), tomorrow.
	for _, m := range []struct {
		set     string
		overdue int
	}{
		{`citygrid_due_bucket(now()) + (now() - citygrid_due_bucket(now())) / 2`, 1},
		{`now() - interval '7 hours'`, 1},
		{`now() + interval '1 day'`, 0},
	} {
		if _, err := e.store.Pool().Exec(ctx, `UPDATE cases SET due_at = `+m.set+`, warn_at = now() - interval '8 hours' WHERE code = $1`, filed[0].Code); err != nil {
			t.Fatal(err)
		}
		check("deadline "+m.set, m.overdue)
		if _, err := cs.FoldTiles(ctx, 0); err != nil {
			t.Fatal(err)
		}
		check("deadline "+m.set+", folded", m.overdue)
	}

	// Suspended after its time ran out (three hours of two), the case
	// stays overdue: in its own view, the overdue queue and the tiles;
	// resumed, its clock runs on past the deadline.
	dispatcher := e.token("dispatcher", "")
	if _, err := e.store.Pool().Exec(ctx, `UPDATE cases SET clock_from = now() - interval '3 hours', due_at = now() - interval '1 hour',
		warn_at = now() - interval '84 minutes' WHERE code = $1`, filed[0].Code); err != nil {
		t.Fatal(err)
	}
	period := "from=" + url.QueryEscape(time.Now().Add(-24*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))
	dueBefore := rowOf(t, e.stats("/api/v1/stats/units?"+period, adminToken), "JJ")
	s := e.act(dispatcher, filed[0].Code, "suspend", map[string]any{"note": "等待产权单位确认"})
	if !s.Overdue || s.Status != "suspended" || s.Deadline == nil || s.RemainingS == nil || *s.RemainingS > -59*60 {
		t.Errorf("suspended an hour past its deadline: status %s, overdue %v, deadline %v, remaining %v s", s.Status, s.Overdue, s.Deadline, s.RemainingS)
	}
	// The evaluation still counts it due in its deadline's period, and
	// not handled on time.
	if r := rowOf(t, e.stats("/api/v1/stats/units?"+period, adminToken), "JJ"); r.Due != dueBefore.Due || r.HandledOnTime != dueBefore.HandledOnTime || r.Due == 0 {
		t.Errorf("JJ's period after the suspension: due %d, on time %d; before: %d, %d", r.Due, r.HandledOnTime, dueBefore.Due, dueBefore.HandledOnTime)
	}
	if codes := listCodes(t, e, adminToken, "overdue=true"); !slices.Equal(codes, []string{filed[0].Code}) {
		t.Errorf("overdue queue with the case suspended late: %v", codes)
	}
	check("suspended late", 1)
	if _, err := cs.FoldTiles(ctx, 0); err != nil {
		t.Fatal(err)
	}
	check("suspended late, folded", 1)
	if c := e.act(dispatcher, filed[0].Code, "resume", nil); !c.Overdue || c.Status != "dispatched" || c.Deadline == nil || *c.Deadline != *s.Deadline {
		t.Errorf("resumed late: status %s, overdue %v, deadline %v (missed %v)", c.Status, c.Overdue, c.Deadline, *s.Deadline)
	}
	check("resumed late", 1)

	// Registering the reported cases makes "registered" the dominant
	// status of their cells; the counts stay.
	for _, c := range filed {
		if c.Status == "reported" {
			e.act(dispatcher, c.Code, "register", nil)
		}
	}
	for _, fold := range []bool{false, true} {
		if fold {
			cs.FoldTiles(ctx, 0)
		}
		got := render(14, "")
		if got.count != 12 || got.status["reported"] != 0 || got.status["registered"] == 0 {
			t.Errorf("after registering (folded %v): %d cases, statuses %v", fold, got.count, got.status)
		}
	}

	// ?status=open leaves out what is closed, cancelled or merged, at
	// every zoom: clusters and points.
	e.act(dispatcher, filed[1].Code, "cancel", map[string]any{"note": "重复上报"})
	for _, z := range []maptile.Zoom{12, 14} {
		if all, open := render(z, ""), renderAs(z, "", "open"); all.count != 12 || open.count != 11 || open.status["cancelled"] != 0 {
			t.Errorf("z%d after a cancel: %d cases, %d open (%v)", z, all.count, open.count, open.status)
		}
	}
	z15 := maptile.At(orb.Point{zgcLon, zgcLat}, 15)
	for _, q := range []string{"", "?status=open"} {
		r := e.do("GET", tilePath("cases", z15, "")+q, adminToken, nil)
		for _, f := range decodeTile(t, r, z15, "cases") {
			if f.Properties["code"] == filed[1].Code && q != "" {
				t.Errorf("the open points draw the cancelled %s", filed[1].Code)
			}
		}
	}
	if r := e.do("GET", tilePath("cases", z15, "")+"?status=closed", adminToken, nil); r.status != 400 {
		t.Errorf("?status=closed: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/tiles/cases.json?status=open", adminToken, nil); !strings.Contains(string(r.body), "mvt?status=open") {
		t.Errorf("the open TileJSON: %s", r.body)
	}
}
