package api_test

import (
	"context"
	"math"
	"testing"
)

// draftLoad reads a draft's load figures.
func (e *env) draftLoad(path, token string) loadJSON {
	e.t.Helper()
	return e.loadAt(path+"/load", token)
}

// spread is the heaviest grid's load over the median load.
func spread(l loadJSON) float64 {
	mx := 0.0
	for _, g := range l.Grids {
		mx = max(mx, g.Load)
	}
	return mx / l.Median.Load
}

// A planner redraws a Beijing community by load: derive {target_load: 1}
// draws about as many grids as the live layout has, in the live grids'
// unit of load (a fresh draft reads exactly the live figures), tiling the
// community; their loads spread far less than those of grids derived by
// area with as many grids, and far fewer are flagged.
func TestDraftDeriveByLoadBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	planner := e.token("planner", "")

	// The community with the most live grids and streets to draw along.
	var community string
	var liveN int
	var communityArea float64
	if err := pool.QueryRow(ctx, `
		SELECT c.code, count(*), max(c.area_m2) FROM regions c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE c.level = 'community' GROUP BY c.code ORDER BY count(*) DESC, c.code LIMIT 1`).Scan(&community, &liveN, &communityArea); err != nil {
		t.Fatal(err)
	}
	draft := func(name string) (string, string) {
		t.Helper()
		r := e.do("POST", "/api/v1/drafts", planner, map[string]any{"region": community, "name": name})
		if r.status != 201 {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		return r.header.Get("Location"), r.header.Get("ETag")
	}
	derive := func(path, etag string, body map[string]any) {
		t.Helper()
		if r := e.draftCall("POST", path+"/derive", planner, etag, body); r.status != 200 {
			t.Fatalf("derive %v: %d %s", body, r.status, r.body)
		}
	}

	// A copy of the live grids is scored as the live report scores them.
	fresh, _ := draft("原样")
	live := e.load("region="+community, planner)
	copied := e.draftLoad(fresh, planner)
	if len(copied.Grids) != liveN || len(live.Grids) != liveN {
		t.Fatalf("%d draft grids, %d live in the report, %d live", len(copied.Grids), len(live.Grids), liveN)
	}
	for i, g := range copied.Grids {
		if l := live.Grids[i]; g.Code != l.Code || math.Abs(g.Load-l.Load) > 1e-9 || g.Flag != l.Flag {
			t.Errorf("fresh draft's %s: load %.6f %q, live %s %.6f %q", g.Code, g.Load, g.Flag, l.Code, l.Load, l.Flag)
		}
	}

	byLoadPath, etag := draft("按负载")
	derive(byLoadPath, etag, map[string]any{"target_load": 1})
	byLoad := e.draftGrids(byLoadPath, planner)
	n := len(byLoad)
	if math.Abs(sum(byLoad)-communityArea) > communityArea*1e-3 {
		t.Errorf("grids by load cover %.1f m² of the community's %.1f", sum(byLoad), communityArea)
	}
	if got := e.findings(byLoadPath+"/check", planner); got["gap"] != 0 || got["overlap"] != 0 || got["duplicate_code"] != 0 {
		t.Errorf("grids by load, check: %v", got)
	}
	ll := e.draftLoad(byLoadPath, planner)
	// Load adds up over a tiling, and 1 is the live grids' mean: the
	// draft's loads sum to the number of live grids (streets to about 1%).
	total := 0.0
	for _, g := range ll.Grids {
		total += g.Load
	}
	if math.Abs(total-float64(liveN)) > 0.02*float64(liveN) {
		t.Errorf("the draft's loads add up to %.2f, want the %d live grids' %d", total, liveN, liveN)
	}
	if n < liveN*3/4 || n > liveN*4/3 {
		t.Errorf("target_load 1 drew %d grids for %d live ones", n, liveN)
	}

	byAreaPath, etag := draft("按面积")
	derive(byAreaPath, etag, map[string]any{"target_area": communityArea / float64(n)})
	la := e.draftLoad(byAreaPath, planner)
	if m := len(la.Grids); m < n*3/4 || m > n*4/3 {
		t.Fatalf("target_area %.0f drew %d grids, target_load %d: not comparable", communityArea/float64(n), m, n)
	}
	t.Logf("by load: %d grids, spread %.2f, %d over, %d under; by area: %d grids, spread %.2f, %d over, %d under",
		n, spread(ll), ll.Over, ll.Under, len(la.Grids), spread(la), la.Over, la.Under)
	// In this demo a community holds one object for three grids and no
	// case, so one object weighs about a whole grid's load: a cluster of
	// bus stops keeps a grid over whatever the drawing, and a stop on a
	// street between two grids tips one of them. Balanced by load, still
	// nine grids in ten are unflagged, and far fewer than by area.
	flagged, flaggedByArea := ll.Over+ll.Under, la.Over+la.Under
	if spread(ll) >= spread(la)/2 || flagged*2 > flaggedByArea || flagged*10 > n {
		t.Errorf("by load: spread %.2f, %d over, %d under of %d; by area: spread %.2f, %d over, %d under",
			spread(ll), ll.Over, ll.Under, n, spread(la), la.Over, la.Under)
	}
}
