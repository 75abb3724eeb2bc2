package grids

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/citygrid/citygrid/geo"
)

// Snapshot is an immutable in-memory copy of everything a locate needs:
// live grids, regions, objects and assignments, with their spatial indexes.
// Readers use it without locks; a refresh builds a new one and swaps it in.
type Snapshot struct {
	Built    time.Time
	Duration time.Duration

	Grids    []GridRef
	Regions  []RegionRef
	Objects  []ObjectRef
	Units    []UnitRef
	Themes   []Theme
	themeIdx map[string]int16
	catTheme map[string]int16 // category code → theme
	catRules map[string]CategoryRules
	unitByID map[int64]int32 // units.id → Units

	gridIdx    *geo.PolygonIndex
	regionIdx  *geo.PolygonIndex
	objPolyIdx *geo.PolygonIndex
	objLineIdx *geo.LineIndex
	lineObj    []int32 // line id → Objects index

	// Hot data in small flat arrays: a lookup touches a few entries at
	// random among tens of thousands, so what decides its speed is how many
	// cache lines it pulls in, not how much it computes.
	gridCommunity []int32 // grid → community (Regions index)
	regionParent  []int32 // region → parent
	// regionFallback is the unit that answers for a region where no unit
	// leads a duty (属地兜底), -1 if none; see Fallback.
	regionFallback []int32
	cityFallback   int32
	gridDuties     dutyTable
	regionDuties   dutyTable
	objectDuties   dutyTable
}

// dutyTable holds every carrier's duties in one array: carrier c's are
// all[off[c]:off[c+1]].
type dutyTable struct {
	off []int32
	all []duty
}

func (t dutyTable) of(c int32) []duty { return t.all[t.off[c]:t.off[c+1]] }

// newDutyTable builds a table for n carriers from per-carrier lists.
func newDutyTable(lists [][]duty) dutyTable {
	t := dutyTable{off: make([]int32, len(lists)+1)}
	for i, l := range lists {
		t.all = append(t.all, l...)
		t.off[i+1] = int32(len(t.all))
	}
	return t
}

// GridRef is a live grid as the index knows it.
type GridRef struct {
	Code      string
	Name      string
	Version   int
	Community int32 // Regions index, -1 if unknown
	AreaM2    float64
}

// RegionRef is a region as the index knows it.
type RegionRef struct {
	Code   string
	Name   string
	Level  Level
	Parent int32 // Regions index, -1 for districts
}

// ObjectRef is an object as the index knows it.
type ObjectRef struct {
	ID    int64
	Code  string
	Name  string
	Layer string
	Line  bool
}

// UnitRef is a unit as the index knows it.
type UnitRef struct {
	Code string
	Name string
	Kind string
}

type duty struct {
	theme int16
	unit  int32
	lead  bool
	id    int64
}

// Via kinds: what carried the assignment that decided.
const (
	ViaObject = "object"
	ViaGrid   = "grid"
	ViaRegion = "region"
)

// Located is the answer for one point. It holds indexes into the snapshot
// and reuses its slices across calls, so a lookup allocates nothing once
// warmed up; the API turns it into JSON.
type Located struct {
	Point      orb.Point
	Inside     bool
	Grid       int32 // -1 when no grid covers the point
	OnBoundary bool
	Adjacent   []int32
	District   int32
	Sub        int32
	Community  int32
	Objects    []ObjectHit
	Owners     []Owner
	// NearestGrid and NearestM are set when the point is in no grid.
	NearestGrid int32
	NearestM    float64
	// Borderline lists object hits the index could not decide alone (a
	// distance within 2 cm of the snap distance); Resolver.Locate settles
	// them with PostGIS.
	Borderline bool

	hits []geo.Hit
	pc   pointCarriers
}

// ObjectHit is an object at the point: a polygon covering it (distance 0) or
// a line within its layer's snap distance.
type ObjectHit struct {
	Object    int32
	DistanceM float64
}

// Owner is a unit answering for a duty at the point, and the rule that
// decided: the object, grid or region whose assignment matched.
type Owner struct {
	Theme   int16
	Unit    int32
	Lead    bool
	ViaKind string
	Via     int32 // index into Objects, Grids or Regions
	ID      int64 // the assignment
}

// CategoryRules are what a case takes from its category: the handling
// limit (hours or working days) and where duplicates are looked for.
// Categories are reference data that change with migrations, so the
// snapshot's copy serves every intake without a query.
type CategoryRules struct {
	Name                 string
	LimitHours           *int
	LimitDays            *int
	DuplicateRadiusM     float64
	DuplicateWindowHours int
}

// Category returns a category's rules; ok is false for an unknown code.
func (s *Snapshot) Category(code string) (CategoryRules, bool) {
	r, ok := s.catRules[code]
	return r, ok
}

// UnitCode returns the code of the unit with database id id; ok is false
// for a unit made since the snapshot was built (callers ask the database).
func (s *Snapshot) UnitCode(id int64) (string, bool) {
	if i, ok := s.unitByID[id]; ok {
		return s.Units[i].Code, true
	}
	return "", false
}

// ThemeIndex returns the index of a theme code, or -1.
func (s *Snapshot) ThemeIndex(code string) int16 {
	if i, ok := s.themeIdx[code]; ok {
		return i
	}
	return -1
}

// CategoryTheme returns the theme index a category implies, or -1 if the
// category is unknown (ok false) or has no theme.
func (s *Snapshot) CategoryTheme(code string) (int16, bool) {
	t, ok := s.catTheme[code]
	return t, ok
}

// liveAssignment is the SQL condition, over the assignments table's own
// columns, of an assignment in force now: what the snapshot loads and
// LocateDB reads.
const liveAssignment = `valid_from <= now() AND (valid_to IS NULL OR valid_to > now())`

// Locate answers for one WGS84 point. theme < 0 asks for every theme. The
// result is written into out, whose slices are reused.
func (s *Snapshot) Locate(p orb.Point, theme int16, out *Located) {
	s.LocatePlace(p, out)
	// Objects: covering polygons, then lines within snap distance; each
	// object once (a multipolygon's parts meet at vertices, a multiline's
	// parts each have a distance), in the rule's order.
	out.hits = s.objPolyIdx.Covering(p, out.hits[:0])
	for _, h := range out.hits {
		out.addObject(ObjectHit{Object: h.ID})
	}
	out.hits = s.objLineIdx.Within(p, out.hits[:0])
	for _, h := range out.hits {
		snap := s.lineSnap(h.ID)
		if h.Borderline {
			out.Borderline = true
		}
		if h.DistanceM <= snap || h.Borderline {
			out.addObject(ObjectHit{Object: s.lineObj[h.ID], DistanceM: h.DistanceM})
		}
	}
	s.sortObjects(out.Objects)
	s.owners(theme, out)
}

// LocatePlace finds the point's grids, regions and nearest grid only, for
// answers that list neither objects nor owners: the object indexes and the
// duties are not read (out.Objects and out.Owners stay empty).
func (s *Snapshot) LocatePlace(p orb.Point, out *Located) {
	*out = Located{Point: p, Grid: -1, District: -1, Sub: -1, Community: -1, NearestGrid: -1,
		Adjacent: out.Adjacent[:0], Objects: out.Objects[:0], Owners: out.Owners[:0], hits: out.hits[:0],
		pc: out.pc}
	// Grid: among the grids covering the point, the one with the smallest
	// code; the others touching it are adjacent. That rule is deterministic
	// and does not depend on load order.
	out.hits = s.gridIdx.Covering(p, out.hits)
	for _, h := range out.hits {
		if out.Grid < 0 || codeBefore(s.Grids[h.ID].Code, s.Grids[out.Grid].Code) {
			if out.Grid >= 0 {
				out.Adjacent = append(out.Adjacent, out.Grid)
			}
			out.Grid = h.ID
		} else {
			out.Adjacent = append(out.Adjacent, h.ID)
		}
		out.OnBoundary = out.OnBoundary || h.OnBoundary
	}
	if out.Grid >= 0 {
		s.regionChain(s.gridCommunity[out.Grid], out)
	}
	if out.District < 0 {
		// No grid (or a grid without a known community): the regions
		// themselves, smallest code per level.
		out.hits = s.regionIdx.Covering(p, out.hits[:0])
		for _, h := range out.hits {
			r := s.Regions[h.ID]
			slot := &out.District
			switch r.Level {
			case Subdistrict:
				slot = &out.Sub
			case Community:
				slot = &out.Community
			}
			if *slot < 0 || codeBefore(r.Code, s.Regions[*slot].Code) {
				*slot = h.ID
			}
		}
	}
	out.Inside = out.District >= 0
	if out.Grid < 0 && s.gridIdx.Len() > 0 {
		out.NearestGrid, out.NearestM = s.gridIdx.Nearest(p)
	}
}

// addObject adds a hit, keeping one per object at its smallest distance.
func (l *Located) addObject(h ObjectHit) {
	for i := range l.Objects {
		if l.Objects[i].Object == h.Object {
			l.Objects[i].DistanceM = min(l.Objects[i].DistanceM, h.DistanceM)
			return
		}
	}
	l.Objects = append(l.Objects, h)
}

func (s *Snapshot) lineSnap(line int32) float64 { return s.objLineIdx.SnapM(line) }

// sortObjects puts hits in the rule's order with an insertion sort: there
// are a handful, and sort.Slice would allocate.
func (s *Snapshot) sortObjects(h []ObjectHit) {
	key := func(o ObjectHit) objectKey {
		ref := &s.Objects[o.Object]
		return objectKey{line: ref.Line, distanceM: o.DistanceM, id: ref.ID}
	}
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && objectBefore(key(h[j]), key(h[j-1])); j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

func (s *Snapshot) regionChain(community int32, out *Located) {
	if community < 0 {
		return
	}
	out.Community = community
	if sd := s.regionParent[community]; sd >= 0 {
		out.Sub = sd
		out.District = s.regionParent[sd]
	}
}

// owners hands the point's carriers to the rule of ownership
// (ownership.go).
func (s *Snapshot) owners(theme int16, out *Located) {
	pc := &out.pc
	pc.reset()
	for _, o := range out.Objects {
		pc.objects = append(pc.objects, carrier{duties: s.objectDuties.of(o.Object), kind: carrierObject, via: o.Object})
	}
	if out.Grid >= 0 {
		pc.grid = carrier{duties: s.gridDuties.of(out.Grid), kind: carrierGrid, via: out.Grid}
	}
	if out.Community >= 0 {
		pc.community = carrier{duties: s.regionDuties.of(out.Community), kind: carrierRegion, via: out.Community}
	}
	if out.Sub >= 0 {
		pc.subdistrict = carrier{duties: s.regionDuties.of(out.Sub), kind: carrierRegion, via: out.Sub}
	}
	if out.District >= 0 {
		pc.district = carrier{duties: s.regionDuties.of(out.District), kind: carrierRegion, via: out.District}
	}
	out.Owners = owners(out.Owners, pc, theme, len(s.Themes))
}

// LoadSnapshot reads everything live from PostGIS and builds the indexes.
func LoadSnapshot(ctx context.Context, pool *pgxpool.Pool) (*Snapshot, error) {
	start := time.Now()
	snap := &Snapshot{themeIdx: map[string]int16{}, catTheme: map[string]int16{}, catRules: map[string]CategoryRules{}}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)

	themes, err := Collect(ctx, tx, `SELECT code, name_zh, name_en, description FROM themes ORDER BY sort, code`,
		func(r pgx.Rows, t *Theme) error { return r.Scan(&t.Code, &t.NameZh, &t.NameEn, &t.Description) })
	if err != nil {
		return nil, err
	}
	snap.Themes = themes
	for i, t := range themes {
		snap.themeIdx[t.Code] = int16(i)
	}
	rows, err := tx.Query(ctx, `SELECT code, COALESCE(theme_code, ''), name_zh, time_limit_hours, time_limit_days,
		duplicate_radius_m, duplicate_window_hours FROM categories`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code, theme string
		var r CategoryRules
		if err := rows.Scan(&code, &theme, &r.Name, &r.LimitHours, &r.LimitDays, &r.DuplicateRadiusM, &r.DuplicateWindowHours); err != nil {
			return nil, err
		}
		snap.catTheme[code] = snap.ThemeIndex(theme)
		snap.catRules[code] = r
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Regions, parents before children so parent indexes are known.
	regionByID := map[int64]int32{}
	var regionParts []orb.Polygon
	var regionOwner []int32
	rows, err = tx.Query(ctx, `
		SELECT id, code, name, level, parent_id, ST_AsBinary(geom) FROM regions
		ORDER BY CASE level WHEN 'district' THEN 0 WHEN 'subdistrict' THEN 1 ELSE 2 END, code`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var parent *int64
		var r RegionRef
		var g []byte
		if err := rows.Scan(&id, &r.Code, &r.Name, &r.Level, &parent, &g); err != nil {
			return nil, err
		}
		r.Parent = -1
		if parent != nil {
			if p, ok := regionByID[*parent]; ok {
				r.Parent = p
			}
		}
		idx := int32(len(snap.Regions))
		regionByID[id] = idx
		snap.Regions = append(snap.Regions, r)
		geom, err := wkb.Unmarshal(g)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", r.Code, err)
		}
		for _, p := range polygons(geom) {
			regionParts = append(regionParts, p)
			regionOwner = append(regionOwner, idx)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	snap.regionIdx = geo.NewPolygonIndex(regionParts, regionOwner, 0.02)

	gridByCode := map[string]int32{}
	var gridParts []orb.Polygon
	var gridOwner []int32
	rows, err = tx.Query(ctx, `
		SELECT code, name, version, community_id, area_m2, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL ORDER BY code`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var g GridRef
		var community int64
		var b []byte
		if err := rows.Scan(&g.Code, &g.Name, &g.Version, &community, &g.AreaM2, &b); err != nil {
			return nil, err
		}
		g.Community = -1
		if c, ok := regionByID[community]; ok {
			g.Community = c
		}
		idx := int32(len(snap.Grids))
		gridByCode[g.Code] = idx
		snap.Grids = append(snap.Grids, g)
		geom, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("grid %s: %w", g.Code, err)
		}
		for _, p := range polygons(geom) {
			gridParts = append(gridParts, p)
			gridOwner = append(gridOwner, idx)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	snap.gridIdx = geo.NewPolygonIndex(gridParts, gridOwner, 0.001)

	// Objects: polygons (covering) and lines (within their layer's snap
	// distance). Points answer for nothing at a reported location.
	objByID := map[int64]int32{}
	var polyParts []orb.Polygon
	var polyOwner []int32
	var lines []orb.LineString
	var lineSnap []float64
	rows, err = tx.Query(ctx, `
		SELECT o.id, COALESCE(o.code, ''), o.name, o.layer, l.snap_m, ST_AsBinary(o.geom)
		FROM objects o JOIN layers l ON l.code = o.layer
		WHERE ST_Dimension(o.geom) > 0 ORDER BY o.id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var o ObjectRef
		var snapM float64
		var b []byte
		if err := rows.Scan(&o.ID, &o.Code, &o.Name, &o.Layer, &snapM, &b); err != nil {
			return nil, err
		}
		geom, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", o.ID, err)
		}
		idx := int32(len(snap.Objects))
		switch g := geom.(type) {
		case orb.LineString:
			o.Line = true
			lines = append(lines, g)
			lineSnap = append(lineSnap, snapM)
			snap.lineObj = append(snap.lineObj, idx)
		case orb.MultiLineString:
			o.Line = true
			for _, l := range g {
				lines = append(lines, l)
				lineSnap = append(lineSnap, snapM)
				snap.lineObj = append(snap.lineObj, idx)
			}
		default:
			for _, p := range polygons(geom) {
				polyParts = append(polyParts, p)
				polyOwner = append(polyOwner, idx)
			}
		}
		objByID[o.ID] = idx
		snap.Objects = append(snap.Objects, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	snap.objPolyIdx = geo.NewPolygonIndex(polyParts, polyOwner, 0.001)
	snap.objLineIdx = geo.NewLineIndex(lines, lineSnap, 0.001)

	unitByID := map[int64]int32{}
	snap.unitByID = unitByID
	var territorial []territorialUnit
	rows, err = tx.Query(ctx, `SELECT id, code, name, kind, region_id, COALESCE((attrs->>'fallback')::boolean, false)
		FROM units ORDER BY code`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var u UnitRef
		var region *int64
		var fallback bool
		if err := rows.Scan(&id, &u.Code, &u.Name, &u.Kind, &region, &fallback); err != nil {
			return nil, err
		}
		t := territorialUnit{unit: int32(len(snap.Units)), kind: u.Kind, fallback: fallback, region: -1}
		if region != nil {
			if r, ok := regionByID[*region]; ok {
				t.region = r
			}
		}
		territorial = append(territorial, t)
		unitByID[id] = int32(len(snap.Units))
		snap.Units = append(snap.Units, u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	snap.regionFallback, snap.cityFallback = fallbacks(snap.Regions, territorial)

	gridDuties := make([][]duty, len(snap.Grids))
	regionDuties := make([][]duty, len(snap.Regions))
	objectDuties := make([][]duty, len(snap.Objects))
	rows, err = tx.Query(ctx, `
		SELECT id, theme_code, unit_id, role = 'lead', target_kind, grid_code, region_id, object_id
		FROM assignments
		WHERE `+liveAssignment+`
		ORDER BY role, id`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var d duty
		var theme, kind string
		var unit int64
		var grid *string
		var region, object *int64
		if err := rows.Scan(&d.id, &theme, &unit, &d.lead, &kind, &grid, &region, &object); err != nil {
			return nil, err
		}
		d.theme = snap.ThemeIndex(theme)
		u, ok := unitByID[unit]
		if !ok || d.theme < 0 {
			continue
		}
		d.unit = u
		switch {
		case grid != nil:
			if g, ok := gridByCode[*grid]; ok {
				gridDuties[g] = append(gridDuties[g], d)
			}
		case region != nil:
			if r, ok := regionByID[*region]; ok {
				regionDuties[r] = append(regionDuties[r], d)
			}
		case object != nil:
			if o, ok := objByID[*object]; ok {
				objectDuties[o] = append(objectDuties[o], d)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	snap.gridDuties = newDutyTable(gridDuties)
	snap.regionDuties = newDutyTable(regionDuties)
	snap.objectDuties = newDutyTable(objectDuties)
	snap.gridCommunity = make([]int32, len(snap.Grids))
	for i, g := range snap.Grids {
		snap.gridCommunity[i] = g.Community
	}
	snap.regionParent = make([]int32, len(snap.Regions))
	for i, r := range snap.Regions {
		snap.regionParent[i] = r.Parent
	}
	snap.Built = time.Now()
	snap.Duration = time.Since(start)
	return snap, tx.Commit(ctx)
}

func polygons(g orb.Geometry) []orb.Polygon {
	switch g := g.(type) {
	case orb.Polygon:
		return []orb.Polygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

// Resolver holds the current snapshot and keeps it fresh.
type Resolver struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	cur   atomic.Pointer[Snapshot]
	dirty chan struct{}
	mu    sync.Mutex // one rebuild at a time
	// heard counts the changes heard, built is what heard was when the
	// current snapshot's build began: a build that began after a change
	// was heard holds it (the notice comes after the commit), so Run need
	// not build again for it (a publish rebuilds before it answers, and
	// its notice arrives meanwhile).
	heard, built atomic.Int64
	// Rebuilt counts snapshot builds, for tests and metrics.
	Rebuilt atomic.Int64
	// locateDB is LocateDB's statement.
	locateDB numberedSQL
}

// NewResolver builds the first snapshot.
func NewResolver(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*Resolver, error) {
	r := &Resolver{pool: pool, log: log, dirty: make(chan struct{}, 1)}
	var err error
	if r.locateDB, err = numberNamed(locateDBSQL, "x", "y", "theme"); err != nil {
		return nil, err
	}
	if err := r.Rebuild(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Snapshot returns the current snapshot; it stays valid as long as the
// caller holds it, whatever refreshes happen meanwhile.
func (r *Resolver) Snapshot() *Snapshot { return r.cur.Load() }

// Rebuild loads a new snapshot and swaps it in.
func (r *Resolver) Rebuild(ctx context.Context) error { return r.rebuild(ctx, false) }

// rebuild is Rebuild; onlyIfStale skips it when the current snapshot's
// build (another caller's, waited for on the lock) began after the last
// change was heard.
func (r *Resolver) rebuild(ctx context.Context, onlyIfStale bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	heard := r.heard.Load()
	if onlyIfStale && r.built.Load() == heard {
		return nil
	}
	snap, err := LoadSnapshot(ctx, r.pool)
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	r.built.Store(heard)
	r.Rebuilt.Add(1)
	r.log.Info("locate index built", "grids", len(snap.Grids), "regions", len(snap.Regions),
		"objects", len(snap.Objects), "took", snap.Duration.Round(time.Millisecond).String())
	return nil
}

// Changed is the change listener's callback: changes of the tables the
// index holds mark it dirty; Run rebuilds.
func (r *Resolver) Changed(table string) {
	switch table {
	case "regions", "grids", "objects", "assignments", "units", AnyChange:
		r.heard.Add(1)
		select {
		case r.dirty <- struct{}{}:
		default:
		}
	}
}

// Run rebuilds the snapshot after changes until ctx ends. Bursts of changes
// (an import, a publish) are coalesced: it waits 50 ms of quiet first.
func (r *Resolver) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
		}
		quiet := time.NewTimer(50 * time.Millisecond)
	wait:
		for {
			select {
			case <-ctx.Done():
				quiet.Stop()
				return
			case <-r.dirty:
				quiet.Reset(50 * time.Millisecond)
			case <-quiet.C:
				break wait
			}
		}
		if err := r.rebuild(ctx, true); err != nil && ctx.Err() == nil {
			r.log.Error("rebuilding the locate index", "err", err)
			r.Changed(AnyChange) // try again after the next quiet spell
			time.Sleep(time.Second)
		}
	}
}

// LocatePlace finds the point's grids and regions with the current
// snapshot (Snapshot.LocatePlace); it never asks PostGIS.
func (r *Resolver) LocatePlace(p orb.Point, out *Located) *Snapshot {
	snap := r.Snapshot()
	snap.LocatePlace(p, out)
	return snap
}

// Locate answers for a WGS84 point with the current snapshot, asking
// PostGIS only about line distances within 2 cm of a snap distance.
func (r *Resolver) Locate(ctx context.Context, p orb.Point, theme int16, out *Located) (*Snapshot, error) {
	snap := r.Snapshot()
	snap.Locate(p, theme, out)
	if out.Borderline {
		if err := r.settleBorderline(ctx, snap, theme, out); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// settleBorderline asks PostGIS whether borderline lines are within their
// snap distance (ST_DWithin on geography), and recomputes owners.
func (r *Resolver) settleBorderline(ctx context.Context, snap *Snapshot, theme int16, out *Located) error {
	var ids []int64
	for _, o := range out.Objects {
		if snap.Objects[o.Object].Line {
			ids = append(ids, snap.Objects[o.Object].ID)
		}
	}
	rows, err := r.pool.Query(ctx, `
		SELECT o.id, ST_DWithin(o.geom::geography, ST_SetSRID(ST_Point(@x, @y), 4326)::geography, l.snap_m)
		FROM objects o JOIN layers l ON l.code = o.layer WHERE o.id = ANY(@ids)`,
		pgx.NamedArgs{"x": out.Point[0], "y": out.Point[1], "ids": ids})
	if err != nil {
		return err
	}
	within := map[int64]bool{}
	for rows.Next() {
		var id int64
		var ok bool
		if err := rows.Scan(&id, &ok); err != nil {
			return err
		}
		within[id] = ok
	}
	if err := rows.Err(); err != nil {
		return err
	}
	kept := out.Objects[:0]
	for _, o := range out.Objects {
		ref := snap.Objects[o.Object]
		if !ref.Line || within[ref.ID] {
			kept = append(kept, o)
		}
	}
	out.Objects = kept
	out.Borderline = false
	out.Owners = out.Owners[:0]
	snap.owners(theme, out)
	return nil
}

// Stats describe a snapshot for logs and health output.
func (s *Snapshot) Stats() map[string]any {
	return map[string]any{"grids": len(s.Grids), "regions": len(s.Regions), "objects": len(s.Objects),
		"units": len(s.Units), "built": s.Built.UTC().Format(time.RFC3339Nano), "build_ms": s.Duration.Milliseconds()}
}
