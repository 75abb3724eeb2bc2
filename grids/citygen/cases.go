package citygen

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"golang.org/x/sync/errgroup"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

// CasesConfig says how many cases to generate and over how long.
type CasesConfig struct {
	N      int       // cases to write
	Seed   uint64    // same seed, same cases (codes and ids depend on what is there)
	Months int       // reported over this many months before Now (default 12)
	Now    time.Time // the end of the span (default time.Now())
	Batch  int       // cases per COPY (default 5,000)
	// Workers generate and copy batches at once (default 2).
	Workers int
}

// CasesSummary counts what LoadCases wrote.
type CasesSummary struct {
	Cases, Events int
	Statuses      map[cases.Status]int
	Overdue       int
	Partitions    int
}

// LoadCases fills the loaded city with cases as a city sees them:
// clustered around markets, schools, stations and alleys, categories
// weighted by what is there, over the span with the day's and the week's
// rhythm, each carried through the loop as far as its story goes by Now
// with an event for every step. Codes come from the case sequences as at
// intake and routing from the store's snapshot, as at intake; progress is
// called after each batch.
func LoadCases(ctx context.Context, s *grids.Store, cs *cases.Store, cfg CasesConfig, progress func(done, total int)) (CasesSummary, error) {
	if cfg.Months <= 0 {
		cfg.Months = 12
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Now = cfg.Now.Truncate(time.Microsecond)
	if cfg.Batch <= 0 {
		cfg.Batch = 5000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	sum := CasesSummary{Statuses: map[cases.Status]int{}}
	w, err := loadWorld(ctx, s, cs, cfg)
	if err != nil {
		return sum, err
	}
	from := cfg.Now.AddDate(0, -cfg.Months, 0)
	// Three months ahead: intake after the demo never falls in the default
	// partition.
	if err := s.Pool().QueryRow(ctx, `SELECT citygrid_case_partitions($1, $2)`,
		time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC),
		time.Date(cfg.Now.Year(), cfg.Now.Month()+4, 1, 0, 0, 0, 0, time.UTC)).Scan(&sum.Partitions); err != nil {
		return sum, fmt.Errorf("monthly partitions: %w", err)
	}
	batches := (cfg.N + cfg.Batch - 1) / cfg.Batch
	var mu sync.Mutex
	next := 0
	g, gctx := errgroup.WithContext(ctx)
	for range cfg.Workers {
		g.Go(func() error {
			for {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= batches {
					return nil
				}
				n := min(cfg.Batch, cfg.N-b*cfg.Batch)
				gen := w.newGen(cfg, b)
				cs := gen.batch(gctx, n)
				if err := gctx.Err(); err != nil {
					return err
				}
				events, err := w.write(gctx, s, cs)
				if err != nil {
					return err
				}
				mu.Lock()
				sum.Cases += len(cs)
				sum.Events += events
				for _, c := range cs {
					sum.Statuses[c.status]++
					if c.overdue(cfg.Now) {
						sum.Overdue++
					}
				}
				done := sum.Cases
				mu.Unlock()
				if progress != nil {
					progress(done, cfg.N)
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return sum, err
	}
	// COPY leaves the visibility map unset and the statistics stale: the
	// queues' index-only counts and the planner's estimates need both.
	for _, t := range []string{"cases", "case_events", "case_sequences"} {
		if _, err := s.Pool().Exec(ctx, `VACUUM (ANALYZE) `+pgx.Identifier{t}.Sanitize()); err != nil {
			return sum, fmt.Errorf("vacuum %s: %w", t, err)
		}
	}
	return sum, nil
}

// anchor is a place reports gather around.
type anchor struct {
	kind string
	name string
	pt   orb.Point
}

// kinds of anchors with the share of reports near them, their spread and
// the categories reported there with their weights (street order and
// sanitation far more than a road collapse).
var anchorKinds = []struct {
	kind    string
	share   float64
	spreadM float64
	cats    []weighted
}{
	{"market", 0.25, 40, []weighted{{"E0503", 30}, {"E0501", 20}, {"E0101", 20}, {"E0103", 10}, {"E0505", 8}, {"E0504", 7}, {"E0502", 5}}},
	{"school", 0.15, 50, []weighted{{"E0504", 25}, {"E0505", 15}, {"E0501", 15}, {"E0101", 15}, {"E0201", 10}, {"E0103", 10}, {"E0302", 5}}},
	{"station", 0.20, 25, []weighted{{"E0504", 30}, {"E0505", 25}, {"E0101", 15}, {"E0103", 10}, {"E0201", 10}, {"E0501", 10}}},
	{"alley", 0.20, 20, []weighted{{"E0101", 25}, {"E0102", 15}, {"E0201", 15}, {"E0202", 10}, {"E0505", 10}, {"E0106", 6},
		{"E0110", 5}, {"E0301", 5}, {"E0302", 5}, {"E0401", 2}, {"E0402", 2}}},
	// The rest of the city: everything, components too.
	{"", 0.20, 0, []weighted{{"E0101", 15}, {"E0103", 10}, {"E0504", 10}, {"E0505", 8}, {"E0502", 8}, {"E0201", 8}, {"E0106", 5},
		{"E0506", 4}, {"E0301", 3}, {"E0110", 3}, {"E0102", 5}, {"E0202", 4}, {"E0401", 1}, {"E0402", 1}, {"C", 15}}},
}

type weighted struct {
	code string
	w    float64
}

type category struct {
	code, name  string
	hours, days *int
}

// world is what the generator reads once: where reports gather, the
// categories, the units and the city's extent.
type world struct {
	cs         *cases.Store
	anchors    map[string][]anchor
	cumul      map[string][]float64 // cumulative anchor weights: a few hotspots draw most reports
	cats       map[string]category
	components []string
	kindCats   [][]weighted
	units      map[string]int64
	extent     orb.Bound
	caseSeq    string
}

func loadWorld(ctx context.Context, s *grids.Store, cs *cases.Store, cfg CasesConfig) (*world, error) {
	w := &world{cs: cs, anchors: map[string][]anchor{}, cumul: map[string][]float64{}, cats: map[string]category{}, units: map[string]int64{}}
	pool := s.Pool()
	rows, err := pool.Query(ctx, `SELECT layer, name, ST_X(p), ST_Y(p) FROM (
		SELECT layer, name, CASE WHEN ST_Dimension(geom) = 1 THEN ST_LineInterpolatePoint(ST_GeometryN(geom, 1), 0.5)
		                         ELSE ST_PointOnSurface(geom) END AS p
		FROM objects WHERE layer IN ('market', 'school', 'station', 'alley')) o ORDER BY layer, name, 3, 4`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var a anchor
		if err := rows.Scan(&a.kind, &a.name, &a.pt[0], &a.pt[1]); err != nil {
			return nil, err
		}
		w.anchors[a.kind] = append(w.anchors[a.kind], a)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for kind, as := range w.anchors {
		r := rand.New(rand.NewPCG(cfg.Seed, uint64(len(kind))))
		cum := make([]float64, len(as))
		t := 0.0
		for i := range as {
			t += math.Exp(1.2 * r.NormFloat64())
			cum[i] = t
		}
		w.cumul[kind] = cum
	}
	rows, err = pool.Query(ctx, `SELECT code, name_zh, time_limit_hours, time_limit_days FROM categories
		WHERE kind IN ('event', 'component') AND parent_code IS NOT NULL ORDER BY code`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var c category
		if err := rows.Scan(&c.code, &c.name, &c.hours, &c.days); err != nil {
			return nil, err
		}
		w.cats[c.code] = c
		if c.code[0] == 'C' {
			w.components = append(w.components, c.code)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, k := range anchorKinds {
		var ws []weighted
		for _, c := range k.cats {
			if _, ok := w.cats[c.code]; ok || (c.code == "C" && len(w.components) > 0) {
				ws = append(ws, c)
			}
		}
		if len(ws) == 0 {
			return nil, errors.New("the city has none of the usual categories (E0101, E0504, …): load the default categories first")
		}
		w.kindCats = append(w.kindCats, ws)
	}
	rows, err = pool.Query(ctx, `SELECT code, id FROM units`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var id int64
		if err := rows.Scan(&code, &id); err != nil {
			return nil, err
		}
		w.units[code] = id
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var minx, miny, maxx, maxy *float64
	if err := pool.QueryRow(ctx, `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
		FROM (SELECT ST_Extent(geom) AS e FROM regions WHERE level = 'district') x`).Scan(&minx, &miny, &maxx, &maxy); err != nil {
		return nil, err
	}
	if minx == nil {
		return nil, errors.New("no districts: load a city first (citygrid demo generated)")
	}
	w.extent = orb.Bound{Min: orb.Point{*minx, *miny}, Max: orb.Point{*maxx, *maxy}}
	if err := pool.QueryRow(ctx, `SELECT pg_get_serial_sequence('cases', 'id')`).Scan(&w.caseSeq); err != nil {
		return nil, err
	}
	return w, nil
}

// gcase is a generated case: its row and its history.
type gcase struct {
	id                              int64
	code, prefix                    string
	reportedAt                      time.Time
	status                          cases.Status
	suspendedFrom                   *cases.Status
	cat                             category
	source, description, reportedBy string
	reporterName, reporterPhone     string
	pt                              orb.Point
	place                           cases.Placement
	proposedID, unitID, firstUnitID *int64
	unitCode                        string
	manual                          bool
	dispatches, returns, reworks    int
	spentS                          int64
	clockFrom, due, warn            *time.Time
	registeredAt, dispatchedAt      *time.Time
	registeredOnTime, handledOnTime *bool
	handledAt, verifiedAt, closedAt *time.Time
	handleS                         *int64
	mergedInto                      *gcase
	mergedIn                        []*gcase
	updatedAt                       time.Time
	events                          []gevent
	warningSent, overdueSent        bool
}

type gevent struct {
	at                time.Time
	actor, role, unit string
	action            string
	from              *cases.Status
	to                cases.Status
	note              string
	data              map[string]any
}

func (c *gcase) step(at time.Time, actor, role, unit, action string, to cases.Status, note string, data map[string]any) {
	var from *cases.Status
	if len(c.events) > 0 {
		f := c.status
		from = &f
	}
	c.events = append(c.events, gevent{at: at, actor: actor, role: role, unit: unit, action: action, from: from, to: to, note: note, data: data})
	c.status, c.updatedAt = to, at
}

// overdue is the list filter's overdue (cases.Filter) as of now.
func (c *gcase) overdue(now time.Time) bool {
	return (c.clockFrom != nil && c.due != nil && c.due.Before(now)) ||
		(c.handledOnTime != nil && !*c.handledOnTime && c.status.Open())
}

// statusAt is the status a case had at t.
func (c *gcase) statusAt(t time.Time) (cases.Status, bool) {
	st, ok := cases.Status(""), false
	for _, e := range c.events {
		if e.at.After(t) {
			break
		}
		st, ok = e.to, true
	}
	return st, ok
}

// gen draws one batch's cases; each batch has its own random stream, so
// the same seed gives the same cases whatever the workers' order.
type gen struct {
	w     *world
	cfg   CasesConfig
	r     *rand.Rand
	first bool // the run's first batch
}

func (w *world) newGen(cfg CasesConfig, batch int) *gen {
	return &gen{w: w, cfg: cfg, r: rand.New(rand.NewPCG(cfg.Seed, 0x5eed0000+uint64(batch))), first: batch == 0}
}

// targets: where a case's story ends, when Now does not end it first. The
// first cases of a run take each status in turn, so that even a small
// demo shows all of them.
var targets = []weighted{{string(cases.Closed), 78}, {string(cases.Cancelled), 3}, {string(cases.Merged), 2},
	{string(cases.Reported), 1}, {string(cases.Registered), 2}, {string(cases.Dispatched), 3}, {string(cases.Handling), 4},
	{string(cases.Handled), 2.5}, {string(cases.Verified), 1.5}, {string(cases.Suspended), 1}}

// forcedOrder is the statuses the first cases take in turn: a merged
// case last, when open cases it can duplicate exist.
func forcedOrder() []cases.Status {
	var out []cases.Status
	for _, t := range targets {
		if t.code != string(cases.Merged) {
			out = append(out, cases.Status(t.code))
		}
	}
	return append(out, cases.Merged)
}

func (g *gen) pick(ws []weighted) string {
	t := 0.0
	for _, x := range ws {
		t += x.w
	}
	v := g.r.Float64() * t
	for _, x := range ws {
		if v -= x.w; v < 0 {
			return x.code
		}
	}
	return ws[len(ws)-1].code
}

func (g *gen) between(a, b time.Duration) time.Duration {
	return a + time.Duration(g.r.Float64()*float64(b-a))
}

// logn is a lognormal duration around median.
func (g *gen) logn(median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*g.r.NormFloat64()))
}

func (g *gen) batch(ctx context.Context, n int) []*gcase {
	out := make([]*gcase, 0, n)
	for len(out) < n && ctx.Err() == nil {
		target := cases.Status(g.pick(targets))
		order := forcedOrder()
		forced := g.first && len(out) < len(order)
		if forced {
			target = order[len(out)]
		}
		c := g.one(ctx, target, forced, out)
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// hourWeight is the day's rhythm of reports (local time): inspectors'
// rounds in the morning and afternoon, few at night.
var hourWeight = [24]float64{0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.3, 0.7, 1, 1, 1, 0.9, 0.6, 0.6, 0.9, 0.9, 0.85, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05}

// weekWeight is the week's: fewer inspectors at the weekend.
var weekWeight = [7]float64{0.65, 1, 1, 1, 1, 0.95, 0.75} // Sunday first

// reportTime draws a report time in [from, to) with the day's and week's
// rhythm.
func (g *gen) reportTime(from, to time.Time) time.Time {
	loc := g.w.cs.Location()
	for {
		t := from.Add(time.Duration(g.r.Float64() * float64(to.Sub(from))))
		l := t.In(loc)
		if g.r.Float64() < hourWeight[l.Hour()]*weekWeight[l.Weekday()] {
			return t.Truncate(time.Second)
		}
	}
}

// where draws a point and its category.
func (g *gen) where() (orb.Point, string, string) {
	v := g.r.Float64()
	k := len(anchorKinds) - 1
	for i, a := range anchorKinds {
		if v -= a.share; v < 0 {
			k = i
			break
		}
	}
	ak := anchorKinds[k]
	as := g.w.anchors[ak.kind]
	cat := g.pick(g.w.kindCats[k])
	if cat == "C" {
		cat = g.w.components[g.r.IntN(len(g.w.components))]
	}
	if ak.kind == "" || len(as) == 0 {
		b := g.w.extent
		return orb.Point{b.Min[0] + g.r.Float64()*(b.Max[0]-b.Min[0]), b.Min[1] + g.r.Float64()*(b.Max[1]-b.Min[1])}, cat, ""
	}
	cum := g.w.cumul[ak.kind]
	i := sort.SearchFloat64s(cum, g.r.Float64()*cum[len(cum)-1])
	a := as[min(i, len(as)-1)]
	return jitter(a.pt, ak.spreadM, g.r), cat, a.name
}

func jitter(p orb.Point, m float64, r *rand.Rand) orb.Point {
	dx, dy := r.NormFloat64()*m, r.NormFloat64()*m
	return orb.Point{p[0] + dx/(111320*math.Cos(p[1]*math.Pi/180)), p[1] + dy/110574}
}

var sourceWeights = []weighted{{"inspector", 55}, {"hotline", 20}, {"citizen", 12}, {"patrol", 6}, {"supervisor", 4}, {"secret_inspection", 3}}

var reporterSurnames = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"}

// one draws a case and carries it through the loop towards its target.
func (g *gen) one(ctx context.Context, target cases.Status, forced bool, sofar []*gcase) *gcase {
	now := g.cfg.Now
	from := now.AddDate(0, -g.cfg.Months, 0)
	c := &gcase{source: g.pick(sourceWeights)}
	var near string
	var survivor *gcase
	if target == cases.Merged {
		// A second report of a problem already reported nearby: of a case
		// still open a few hours after its report (the duplicate comes
		// within three hours and is merged soon after), the latest first,
		// so that the story does not depend on the hour the generator runs.
		open := func(o *gcase) bool {
			at := o.reportedAt.Add(4 * time.Hour)
			st, ok := o.statusAt(at)
			return o.status != cases.Merged && o.status != cases.Cancelled && at.Before(now) && ok && st.Open() && st != cases.Suspended
		}
		for k := len(sofar) - 1; k >= 0 && survivor == nil; k-- {
			if open(sofar[k]) {
				survivor = sofar[k]
			}
		}
		if survivor == nil {
			target = cases.Cancelled
		}
	}
	for try := 0; ; try++ {
		var cat string
		if survivor != nil {
			c.pt, cat = jitter(survivor.pt, 15, g.r), survivor.cat.code
		} else {
			c.pt, cat, near = g.where()
		}
		pl, err := g.w.cs.Place(ctx, c.pt, cat)
		if err == nil {
			c.place, c.cat = pl, g.w.cats[cat]
			break
		}
		if try > 20 {
			return nil // a city of slivers: let the batch draw another
		}
	}
	switch {
	case survivor != nil:
		c.reportedAt = survivor.reportedAt.Add(g.between(10*time.Minute, 3*time.Hour))
	case forced:
		// Old enough for its story to have reached its status.
		c.reportedAt = g.reportTime(now.Add(-10*24*time.Hour), now.Add(-3*24*time.Hour))
	case target.Open() && g.r.Float64() < 0.85:
		// The open queue is mostly this fortnight's; the rest are stuck.
		c.reportedAt = g.reportTime(later2(from, now.Add(-14*24*time.Hour)), now.Add(-time.Minute))
	default:
		c.reportedAt = g.reportTime(from, now.Add(-time.Minute))
	}
	if !c.reportedAt.Before(now) {
		return nil
	}
	c.description = c.cat.name
	if near != "" {
		c.description = near + "附近" + c.cat.name
	}
	role := grids.RoleInspector
	c.reportedBy = fmt.Sprintf("demo-inspector-%02d", g.r.IntN(40)+1)
	if c.source == "hotline" || c.source == "citizen" {
		role, c.reportedBy = grids.RoleDispatcher, "demo-hotline"
		c.reporterName = reporterSurnames[g.r.IntN(len(reporterSurnames))] + []string{"先生", "女士"}[g.r.IntN(2)]
		c.reporterPhone = fmt.Sprintf("13%d%08d", g.r.IntN(10), g.r.IntN(100000000))
	}
	if id, ok := g.w.units[c.place.ProposedUnit]; ok {
		c.proposedID = &id
	}
	c.step(c.reportedAt, c.reportedBy, string(role), "", "report", cases.Reported, "", nil)
	g.story(c, target, survivor)
	c.finish(now)
	return c
}

const dispatcher = "demo-dispatcher"

// story takes the case's steps until its target or Now.
func (g *gen) story(c *gcase, target cases.Status, survivor *gcase) {
	now := g.cfg.Now
	t := c.reportedAt
	cs := g.w.cs
	d := string(grids.RoleDispatcher)
	later := func(dt time.Duration) bool {
		t = t.Add(dt).Truncate(time.Second)
		return t.Before(now)
	}
	if target == cases.Reported {
		return
	}
	if survivor != nil {
		if !later(g.logn(20*time.Minute, 0.6)) {
			return
		}
		if st, ok := survivor.statusAt(t); !ok || !st.Open() || st == cases.Suspended {
			c.step(t, dispatcher, d, "", cases.ActCancel, cases.Cancelled, "重复上报，原案已办结", nil)
			return
		}
		st, _ := survivor.statusAt(t)
		c.mergedInto, c.closedAt = survivor, ptr(t)
		c.step(t, dispatcher, d, "", cases.ActMerge, cases.Merged, "", map[string]any{"into": ""})
		survivor.mergedIn = append(survivor.mergedIn, c)
		survivor.updatedAt = later2(survivor.updatedAt, t)
		survivor.events = append(survivor.events, gevent{at: t, actor: dispatcher, role: d, action: "merged_in", from: &st, to: st,
			data: map[string]any{"case": ""}})
		return
	}
	if target == cases.Cancelled && g.r.Float64() < 0.5 {
		if later(g.logn(30*time.Minute, 0.8)) {
			c.step(t, dispatcher, d, "", cases.ActCancel, cases.Cancelled, "现场核实无此问题", nil)
		}
		return
	}
	// Registration: mostly within the hour, some late.
	reg := g.logn(15*time.Minute, 0.7)
	if g.r.Float64() < 0.08 {
		reg = g.between(70*time.Minute, 6*time.Hour)
	}
	if !later(reg) {
		return
	}
	c.registeredAt = ptr(t)
	c.registeredOnTime = ptr(cs.RegisteredOnTime(c.reportedAt, t))
	c.step(t, dispatcher, d, "", cases.ActRegister, cases.Registered, "", nil)
	if target == cases.Registered {
		return
	}
	if target == cases.Cancelled {
		if later(g.logn(2*time.Hour, 0.8)) {
			c.step(t, dispatcher, d, "", cases.ActCancel, cases.Cancelled, "不属于城市管理职责范围", nil)
		}
		return
	}
	unit := c.place.ProposedUnit
	if _, ok := g.w.units[unit]; !ok {
		unit = g.fallbackUnit(c, "")
		if unit == "" {
			return // nobody to send it to: it waits for the dispatcher
		}
	}
	if !later(g.logn(10*time.Minute, 0.8)) || !g.dispatch(c, t, unit) {
		return
	}
	if target != cases.Dispatched && g.r.Float64() < 0.05 {
		// Not ours: the unit returns it and the dispatcher sends it on.
		if !later(g.between(30*time.Minute, 4*time.Hour)) {
			return
		}
		c.step(t, "demo-unit", string(grids.RoleUnit), c.unitCode, cases.ActReturn, cases.Registered, "非本单位职责",
			map[string]any{"unit": c.unitCode})
		c.returns++
		other := g.fallbackUnit(c, c.unitCode)
		c.unitID, c.unitCode = nil, ""
		c.spentS, c.clockFrom, c.due, c.warn = 0, nil, nil, nil
		if other == "" || !later(g.logn(30*time.Minute, 0.6)) || !g.dispatch(c, t, other) {
			return
		}
	}
	if target == cases.Dispatched {
		return
	}
	unitActor := func() (string, string, string) { return "demo-unit", string(grids.RoleUnit), c.unitCode }
	if g.r.Float64() < 0.8 {
		if !later(g.logn(20*time.Minute, 0.8)) {
			return
		}
		a, r, u := unitActor()
		c.step(t, a, r, u, cases.ActHandle, cases.Handling, "", nil)
	}
	if target == cases.Suspended || g.r.Float64() < 0.02 {
		if !later(g.between(time.Hour, 24*time.Hour)) {
			return
		}
		st := c.status
		c.suspendedFrom = &st
		g.stopClock(c, t)
		c.due, c.warn = cases.SuspendedDeadline(c.due, t), nil
		c.step(t, dispatcher, d, "", cases.ActSuspend, cases.Suspended, "等待产权单位确认", nil)
		if target == cases.Suspended || !later(g.between(24*time.Hour, 5*24*time.Hour)) {
			return
		}
		c.suspendedFrom = nil
		c.step(t, dispatcher, d, "", cases.ActResume, st, "", nil)
		if due, warn, ok := g.w.cs.Resumed(c.cat.hours, c.cat.days, t, c.spentS, c.due); ok {
			c.clockFrom, c.due, c.warn = ptr(t), &due, &warn
		}
	}
	if target == cases.Handling && g.r.Float64() < 0.5 {
		return // still at work; overdue when its deadline has passed
	}
	for rework := 0; ; rework++ {
		if !later(g.handleTime(c, t)) {
			return
		}
		g.stopClock(c, t)
		c.handledAt, c.handleS = ptr(t), ptr(c.spentS)
		c.handledOnTime = ptr(c.due == nil || !t.After(*c.due))
		a, r, u := unitActor()
		c.step(t, a, r, u, cases.ActHandled, cases.Handled, "已处置完毕", nil)
		if target == cases.Handled || !later(g.logn(3*time.Hour, 0.8)) {
			return
		}
		if rework == 0 && g.r.Float64() < 0.06 {
			c.reworks++
			c.handledAt, c.handledOnTime, c.handleS = nil, nil, nil
			c.step(t, "demo-inspector-01", string(grids.RoleInspector), "", cases.ActVerify, cases.Handling, "复查未通过：仍有残留",
				map[string]any{"passed": false})
			g.startClock(c, t)
			continue
		}
		break
	}
	c.verifiedAt = ptr(t)
	c.step(t, "demo-inspector-01", string(grids.RoleInspector), "", cases.ActVerify, cases.Verified, "", map[string]any{"passed": true})
	if target == cases.Verified || !later(g.logn(30*time.Minute, 0.8)) {
		return
	}
	c.closedAt = ptr(t)
	c.step(t, dispatcher, d, "", cases.ActClose, cases.Closed, "", nil)
}

// handleTime is how long after t the unit reports the case handled: a
// share of what is left of the limit, past it for about one case in ten.
func (g *gen) handleTime(c *gcase, t time.Time) time.Duration {
	f := math.Exp(math.Log(0.45) + 0.6*g.r.NormFloat64())
	left, from := 4*time.Hour, t
	if c.due != nil && c.clockFrom != nil {
		left, from = c.due.Sub(*c.clockFrom), *c.clockFrom
	}
	at := from.Add(time.Duration(f * float64(left)))
	return max(at.Sub(t), g.between(5*time.Minute, 30*time.Minute))
}

// fallbackUnit is who a dispatcher sends a case to that nobody leads
// here, or that its unit returned: another lead or supporter of the
// routing, else the subdistrict office.
func (g *gen) fallbackUnit(c *gcase, not string) string {
	var r cases.Routing
	_ = json.Unmarshal(c.place.Routing, &r)
	for _, o := range slices.Concat(r.Leads, r.Supporters) {
		if o.Unit.Code != not && o.Unit.Code != "" {
			if _, ok := g.w.units[o.Unit.Code]; ok {
				return o.Unit.Code
			}
		}
	}
	if c.place.Subdistrict != nil {
		if _, ok := g.w.units["JD"+*c.place.Subdistrict]; ok && "JD"+*c.place.Subdistrict != not {
			return "JD" + *c.place.Subdistrict
		}
	}
	return ""
}

func (g *gen) dispatch(c *gcase, t time.Time, unit string) bool {
	id := g.w.units[unit]
	c.unitID, c.unitCode = &id, unit
	if c.firstUnitID == nil {
		c.firstUnitID = &id
	}
	c.manual = unit != c.place.ProposedUnit
	c.dispatches++
	c.dispatchedAt = ptr(t)
	c.step(t, dispatcher, string(grids.RoleDispatcher), "", cases.ActDispatch, cases.Dispatched, "",
		map[string]any{"unit": unit, "manual": c.manual})
	g.startClock(c, t)
	return true
}

// startClock and stopClock keep the case's clock by the store's rules.
func (g *gen) startClock(c *gcase, t time.Time) {
	due, warn, ok := g.w.cs.Deadline(c.cat.hours, c.cat.days, t, c.spentS)
	if !ok {
		return
	}
	c.clockFrom, c.due, c.warn = ptr(t), &due, &warn
}

func (g *gen) stopClock(c *gcase, t time.Time) {
	if c.clockFrom == nil {
		return
	}
	c.spentS += int64(g.w.cs.Spent(c.cat.hours, c.cat.days, *c.clockFrom, t) / time.Second)
	c.clockFrom = nil
}

// finish sets the notices' flags as the deadline sweeper would have.
func (c *gcase) finish(now time.Time) {
	if c.clockFrom != nil {
		c.warningSent = c.warn != nil && !c.warn.After(now)
		c.overdueSent = c.due != nil && c.due.Before(now)
	} else if c.handledOnTime != nil && !*c.handledOnTime {
		c.warningSent, c.overdueSent = true, true
	}
}

func ptr[T any](v T) *T { return &v }

func later2(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// write reserves the batch's ids and code numbers, then copies its cases
// and events in one transaction.
func (w *world) write(ctx context.Context, s *grids.Store, cs []*gcase) (int, error) {
	pool := s.Pool()
	// Code numbers per district and day, reserved as intake takes them, so
	// intake afterwards continues after the last one.
	need := map[string]int{}
	for _, c := range cs {
		c.prefix = w.cs.CodePrefix(*c.place.District, c.reportedAt)
		need[c.prefix]++
	}
	prefixes := make([]string, 0, len(need))
	for p := range need {
		prefixes = append(prefixes, p)
	}
	slices.Sort(prefixes) // one lock order for concurrent batches
	counts := make([]int32, len(prefixes))
	for i, p := range prefixes {
		counts[i] = int32(need[p])
	}
	last := map[string]int{}
	for attempt := 0; ; attempt++ {
		rows, err := pool.Query(ctx, `INSERT INTO case_sequences (prefix, last)
			SELECT * FROM unnest($1::text[], $2::int[]) ORDER BY 1
			ON CONFLICT (prefix) DO UPDATE SET last = case_sequences.last + excluded.last RETURNING prefix, last`, prefixes, counts)
		if err == nil {
			for rows.Next() {
				var p string
				var n int
				if err = rows.Scan(&p, &n); err != nil {
					break
				}
				last[p] = n
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		var pe *pgconn.PgError
		if err != nil && errors.As(err, &pe) && pe.Code == "40P01" && attempt < 3 {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("case sequences: %w", err)
		}
		break
	}
	slices.SortStableFunc(cs, func(a, b *gcase) int { return a.reportedAt.Compare(b.reportedAt) })
	for _, c := range cs {
		n := last[c.prefix] - need[c.prefix] + 1
		need[c.prefix]--
		c.code = cases.CaseCode(c.prefix, n)
	}
	rows, err := pool.Query(ctx, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, w.caseSeq, len(cs))
	if err != nil {
		return 0, fmt.Errorf("case ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("case ids: %w", err)
	}
	for i, c := range cs {
		c.id = ids[i]
	}
	caseRows := make([][]any, 0, len(cs))
	var eventRows [][]any
	for _, c := range cs {
		row, err := c.row()
		if err != nil {
			return 0, err
		}
		caseRows = append(caseRows, row)
		slices.SortStableFunc(c.events, func(a, b gevent) int { return a.at.Compare(b.at) })
		for _, e := range c.events {
			if e.action == cases.ActMerge {
				e.data = map[string]any{"into": c.mergedInto.code}
			}
			if e.action == "merged_in" {
				for _, m := range c.mergedIn {
					if m.closedAt != nil && m.closedAt.Equal(e.at) {
						e.data = map[string]any{"case": m.code}
					}
				}
			}
			if e.data == nil {
				e.data = map[string]any{}
			}
			data, err := json.Marshal(e.data)
			if err != nil {
				return 0, err
			}
			eventRows = append(eventRows, []any{c.id, e.at, e.actor, e.role, nilIfEmpty(e.unit), e.action,
				statusOrNil(e.from), string(e.to), e.note, data})
		}
	}
	err = s.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cases"}, caseColumns, pgx.CopyFromRows(caseRows)); err != nil {
			return fmt.Errorf("copy cases: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"case_events"}, []string{"case_id", "at", "actor", "actor_role",
			"actor_unit", "action", "from_status", "to_status", "note", "data"}, pgx.CopyFromRows(eventRows)); err != nil {
			return fmt.Errorf("copy case events: %w", err)
		}
		return nil
	})
	return len(eventRows), err
}

var caseColumns = []string{"id", "code", "reported_at", "status", "suspended_from", "category_code", "theme_code", "source",
	"description", "location_quality", "needs_confirmation", "geom", "reporters", "reported_by", "grid_code", "grid_version",
	"district_code", "subdistrict_code", "community_code", "routing", "proposed_unit_id", "unit_id", "first_unit_id",
	"manual_dispatch", "dispatch_count", "return_count", "rework_count", "limit_hours", "limit_days", "spent_s",
	"clock_from", "due_at", "warn_at", "warning_sent", "overdue_sent", "registered_at", "registered_on_time", "dispatched_at",
	"handled_at", "handled_on_time", "handle_s", "verified_at", "closed_at", "merged_into",
	"h3_r6", "h3_r7", "h3_r8", "h3_r9", "h3_r10", "updated_at"}

func (c *gcase) row() ([]any, error) {
	reporters := []cases.Reporter{}
	if c.reporterName != "" {
		reporters = append(reporters, cases.Reporter{Name: c.reporterName, Phone: c.reporterPhone, Source: c.source, Case: c.code})
	}
	for _, m := range c.mergedIn {
		if m.status == cases.Merged {
			r := cases.Reporter{Name: m.reporterName, Phone: m.reporterPhone, Source: m.source, Case: m.code}
			reporters = append(reporters, r)
		}
	}
	rep, err := json.Marshal(reporters)
	if err != nil {
		return nil, err
	}
	var merged *string
	if c.mergedInto != nil {
		merged = &c.mergedInto.code
	}
	var susp *string
	if c.suspendedFrom != nil {
		s := string(*c.suspendedFrom)
		susp = &s
	}
	pl := c.place
	needsConfirmation := pl.ProposedUnit == ""
	return []any{c.id, c.code, c.reportedAt, string(c.status), susp, c.cat.code, pl.Theme, c.source,
		c.description, "gps", needsConfirmation, ewkbPoint(c.pt), rep, c.reportedBy, pl.Grid, pl.GridVersion,
		pl.District, pl.Subdistrict, pl.Community, pl.Routing, c.proposedID, c.unitID, c.firstUnitID,
		c.manual, c.dispatches, c.returns, c.reworks, c.cat.hours, c.cat.days, c.spentS,
		c.clockFrom, c.due, c.warn, c.warningSent, c.overdueSent, c.registeredAt, c.registeredOnTime, c.dispatchedAt,
		c.handledAt, c.handledOnTime, c.handleS, c.verifiedAt, c.closedAt, merged,
		pl.Cells[0], pl.Cells[1], pl.Cells[2], pl.Cells[3], pl.Cells[4], c.updatedAt}, nil
}

// ewkbPoint is a WGS84 point as EWKB, which PostGIS takes in binary COPY.
func ewkbPoint(p orb.Point) []byte {
	b := make([]byte, 25)
	b[0] = 1
	binary.LittleEndian.PutUint32(b[1:], 0x20000001)
	binary.LittleEndian.PutUint32(b[5:], 4326)
	binary.LittleEndian.PutUint64(b[9:], math.Float64bits(p[0]))
	binary.LittleEndian.PutUint64(b[17:], math.Float64bits(p[1]))
	return b
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func statusOrNil(s *cases.Status) *string {
	if s == nil {
		return nil
	}
	v := string(*s)
	return &v
}
