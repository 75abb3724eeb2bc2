package grids

import (
	"context"
	"errors"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Answer is a locate result in the API's words: codes and names.
type Answer struct {
	Inside      bool           `json:"inside"`
	Point       LonLat         `json:"point"`
	Input       *InputPoint    `json:"input,omitempty"`
	Regions     AnswerRegions  `json:"regions"`
	Grid        *AnswerGrid    `json:"grid"`
	OnBoundary  bool           `json:"on_boundary"`
	Adjacent    []AnswerGrid   `json:"adjacent"`
	Objects     []AnswerObject `json:"objects"`
	Owners      []AnswerOwner  `json:"owners"`
	NearestGrid *AnswerNearest `json:"nearest_grid,omitempty"`
	Engine      string         `json:"engine"`

	// room holds what the pointers above point to when AnswerInto
	// renders the answer, so that a reused Answer allocates nothing.
	room answerRoom
}

type answerRoom struct {
	regions [3]CodeName
	grid    AnswerGrid
	nearest AnswerNearest
}

// LonLat is a WGS84 position.
type LonLat struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// InputPoint is the point as the client sent it.
type InputPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs"`
}

// AnswerRegions are the point's district, subdistrict and community.
type AnswerRegions struct {
	District    *CodeName `json:"district"`
	Subdistrict *CodeName `json:"subdistrict"`
	Community   *CodeName `json:"community"`
}

// CodeName names a region or unit.
type CodeName struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// AnswerGrid is a grid at the point.
type AnswerGrid struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// AnswerObject is an object at the point.
type AnswerObject struct {
	ID        int64   `json:"id"`
	Code      string  `json:"code,omitempty"`
	Name      string  `json:"name"`
	Layer     string  `json:"layer"`
	DistanceM float64 `json:"distance_m"`
}

// AnswerOwner is a unit answering for a duty, and why.
type AnswerOwner struct {
	Theme        string     `json:"theme"`
	ThemeName    string     `json:"theme_name"`
	Role         string     `json:"role"`
	Unit         AnswerUnit `json:"unit"`
	Via          AnswerVia  `json:"via"`
	AssignmentID int64      `json:"assignment_id,omitempty"` // none for a fallback
}

// AnswerUnit is the unit of an owner.
type AnswerUnit struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// AnswerVia names what carried the assignment that decided: an object at
// the point, the grid, or a region (the territorial fallback).
type AnswerVia struct {
	Kind  string `json:"kind"`
	Code  string `json:"code,omitempty"`
	ID    int64  `json:"id,omitempty"`
	Name  string `json:"name"`
	Level string `json:"level,omitempty"`
	Layer string `json:"layer,omitempty"`
}

// AnswerNearest is the nearest grid to a point outside every grid.
type AnswerNearest struct {
	Code      string  `json:"code"`
	Name      string  `json:"name"`
	DistanceM float64 `json:"distance_m"`
}

// Answer renders a located point.
func (s *Snapshot) Answer(l *Located) Answer {
	a := new(Answer) // on the heap: its pointers point into its own room
	s.AnswerInto(l, a)
	return *a
}

// AnswerInto renders a located point into a, reusing a's slices: a server
// that keeps one Answer per request in flight renders without allocating.
func (s *Snapshot) AnswerInto(l *Located, a *Answer) {
	*a = Answer{Inside: l.Inside, Point: LonLat{l.Point[0], l.Point[1]}, OnBoundary: l.OnBoundary,
		Adjacent: a.Adjacent[:0], Objects: a.Objects[:0], Owners: a.Owners[:0], Engine: "index"}
	if a.Adjacent == nil {
		a.Adjacent = make([]AnswerGrid, 0, len(l.Adjacent))
	}
	if a.Objects == nil {
		a.Objects = make([]AnswerObject, 0, len(l.Objects))
	}
	if a.Owners == nil {
		a.Owners = make([]AnswerOwner, 0, len(l.Owners))
	}
	region := func(i int32, slot *CodeName) *CodeName {
		if i < 0 {
			return nil
		}
		*slot = CodeName{Code: s.Regions[i].Code, Name: s.Regions[i].Name}
		return slot
	}
	a.Regions = AnswerRegions{District: region(l.District, &a.room.regions[0]), Subdistrict: region(l.Sub, &a.room.regions[1]),
		Community: region(l.Community, &a.room.regions[2])}
	grid := func(i int32) AnswerGrid {
		g := s.Grids[i]
		return AnswerGrid{Code: g.Code, Name: g.Name, Version: g.Version}
	}
	if l.Grid >= 0 {
		a.room.grid = grid(l.Grid)
		a.Grid = &a.room.grid
	}
	for _, i := range l.Adjacent {
		a.Adjacent = append(a.Adjacent, grid(i))
	}
	// An insertion sort: a point touches a handful of grids, and
	// sort.Slice would allocate.
	for i := 1; i < len(a.Adjacent); i++ {
		for j := i; j > 0 && codeBefore(a.Adjacent[j].Code, a.Adjacent[j-1].Code); j-- {
			a.Adjacent[j], a.Adjacent[j-1] = a.Adjacent[j-1], a.Adjacent[j]
		}
	}
	for _, o := range l.Objects {
		ref := s.Objects[o.Object]
		a.Objects = append(a.Objects, AnswerObject{ID: ref.ID, Code: ref.Code, Name: ref.Name, Layer: ref.Layer, DistanceM: round2(o.DistanceM)})
	}
	for _, o := range l.Owners {
		a.Owners = append(a.Owners, s.AnswerOwner(o))
	}
	if l.Grid < 0 && l.NearestGrid >= 0 {
		g := s.Grids[l.NearestGrid]
		a.room.nearest = AnswerNearest{Code: g.Code, Name: g.Name, DistanceM: round2(l.NearestM)}
		a.NearestGrid = &a.room.nearest
	}
}

// AnswerOwner renders one owner.
func (s *Snapshot) AnswerOwner(o Owner) AnswerOwner {
	u := s.Units[o.Unit]
	t := s.Themes[o.Theme]
	via := AnswerVia{Kind: o.ViaKind}
	switch o.ViaKind {
	case ViaObject:
		ref := s.Objects[o.Via]
		via.ID, via.Code, via.Name, via.Layer = ref.ID, ref.Code, ref.Name, ref.Layer
	case ViaGrid:
		via.Code, via.Name = s.Grids[o.Via].Code, s.Grids[o.Via].Name
	case ViaRegion, ViaFallback:
		r := s.Regions[o.Via]
		via.Code, via.Name, via.Level = r.Code, r.Name, string(r.Level)
	}
	return AnswerOwner{Theme: t.Code, ThemeName: t.NameZh, Role: role(o.Lead), Unit: AnswerUnit(u), Via: via, AssignmentID: o.ID}
}

func role(lead bool) string {
	if lead {
		return "lead"
	}
	return "support"
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}

// LocateDB answers the same question with PostGIS alone, for verification
// and for servers whose index is still loading (?engine=db): ST_Covers for
// grids, regions and polygon objects, ST_DWithin on geography for lines.
// The facts come from SQL; the choices are the rule's (ownership.go).
func (r *Resolver) LocateDB(ctx context.Context, p orb.Point, theme string) (Answer, error) {
	a := Answer{Point: LonLat{p[0], p[1]}, Adjacent: []AnswerGrid{}, Objects: []AnswerObject{}, Owners: []AnswerOwner{}, Engine: "db"}
	args := pgx.NamedArgs{"x": p[0], "y": p[1], "theme": theme}
	const pt = `ST_SetSRID(ST_Point(@x, @y), 4326)`
	rows, err := r.pool.Query(ctx, `
		SELECT g.code, g.name, g.version, ST_Covers(ST_Boundary(g.geom), `+pt+`), c.code, c.name, sd.code, sd.name, d.code, d.name
		FROM grids g
		LEFT JOIN regions c ON c.id = g.community_id
		LEFT JOIN regions sd ON sd.id = c.parent_id
		LEFT JOIN regions d ON d.id = sd.parent_id
		WHERE g.valid_to IS NULL AND g.geom && `+pt+` AND ST_Covers(g.geom, `+pt+`)`, args)
	if err != nil {
		return a, err
	}
	for rows.Next() {
		var g AnswerGrid
		var onEdge bool
		var cc, cn, sc, sn, dc, dn *string
		if err := rows.Scan(&g.Code, &g.Name, &g.Version, &onEdge, &cc, &cn, &sc, &sn, &dc, &dn); err != nil {
			rows.Close()
			return a, err
		}
		a.OnBoundary = a.OnBoundary || onEdge
		switch {
		case a.Grid == nil || codeBefore(g.Code, a.Grid.Code):
			if a.Grid != nil {
				a.Adjacent = append(a.Adjacent, *a.Grid)
			}
			a.Grid = &g
			a.Regions = AnswerRegions{District: codeName(dc, dn), Subdistrict: codeName(sc, sn), Community: codeName(cc, cn)}
		default:
			a.Adjacent = append(a.Adjacent, g)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, err
	}
	sort.Slice(a.Adjacent, func(i, j int) bool { return codeBefore(a.Adjacent[i].Code, a.Adjacent[j].Code) })
	if a.Grid == nil {
		rows, err := r.pool.Query(ctx, `SELECT level, code, name FROM regions WHERE geom && `+pt+` AND ST_Covers(geom, `+pt+`)`, args)
		if err != nil {
			return a, err
		}
		for rows.Next() {
			var level, code, name string
			if err := rows.Scan(&level, &code, &name); err != nil {
				rows.Close()
				return a, err
			}
			slot := &a.Regions.District
			switch Level(level) {
			case Subdistrict:
				slot = &a.Regions.Subdistrict
			case Community:
				slot = &a.Regions.Community
			}
			if *slot == nil || codeBefore(code, (*slot).Code) {
				*slot = &CodeName{Code: code, Name: name}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return a, err
		}
		var g AnswerNearest
		err = r.pool.QueryRow(ctx, `
			SELECT code, name, d FROM (
				SELECT code, name, ST_Distance(geom::geography, `+pt+`::geography) AS d FROM grids
				WHERE valid_to IS NULL ORDER BY geom <-> `+pt+` LIMIT 32) near
			ORDER BY round(d::numeric, 3), code LIMIT 1`, args).Scan(&g.Code, &g.Name, &g.DistanceM)
		if err == nil {
			g.DistanceM = round2(g.DistanceM)
			a.NearestGrid = &g
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return a, err
		}
	}
	a.Inside = a.Regions.District != nil
	// Two indexable queries: an OR of spatial conditions would make the
	// planner scan every object.
	rows, err = r.pool.Query(ctx, `
		SELECT o.id, COALESCE(o.code, ''), o.name, o.layer, 0::float8, false
		FROM objects o
		WHERE o.geom && `+pt+` AND ST_Dimension(o.geom) = 2 AND ST_Covers(o.geom, `+pt+`)
		UNION ALL
		SELECT o.id, COALESCE(o.code, ''), o.name, o.layer, ST_Distance(o.geom::geography, `+pt+`::geography), true
		FROM objects o JOIN layers l ON l.code = o.layer
		-- a box a little larger than the largest snap distance (a degree
		-- of longitude is over 60 km anywhere in China), computed once,
		-- lets the GiST index pick candidates before the spheroid maths
		WHERE o.geom && ST_Expand(`+pt+`, (SELECT max(snap_m) + 1 FROM layers) / 60000.0)
		  AND ST_Dimension(o.geom) = 1 AND ST_DWithin(o.geom::geography, `+pt+`::geography, l.snap_m)`, args)
	if err != nil {
		return a, err
	}
	var keys []objectKey
	for rows.Next() {
		var o AnswerObject
		var line bool
		if err := rows.Scan(&o.ID, &o.Code, &o.Name, &o.Layer, &o.DistanceM, &line); err != nil {
			rows.Close()
			return a, err
		}
		a.Objects = append(a.Objects, o)
		keys = append(keys, objectKey{line: line, distanceM: o.DistanceM, id: o.ID})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, err
	}
	sort.Sort(byObjectKey{a.Objects, keys})
	for i := range a.Objects {
		a.Objects[i].DistanceM = round2(a.Objects[i].DistanceM)
	}
	return a, r.ownersDB(ctx, &a, theme)
}

// byObjectKey sorts answer objects in the rule's order.
type byObjectKey struct {
	objs []AnswerObject
	keys []objectKey
}

func (b byObjectKey) Len() int           { return len(b.objs) }
func (b byObjectKey) Less(i, j int) bool { return objectBefore(b.keys[i], b.keys[j]) }
func (b byObjectKey) Swap(i, j int) {
	b.objs[i], b.objs[j] = b.objs[j], b.objs[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

func codeName(code, name *string) *CodeName {
	if code == nil {
		return nil
	}
	return &CodeName{Code: *code, Name: deref(name)}
}

// ownersDB reads the live assignments of the carriers in a from SQL and
// lets the rule of ownership choose among them.
func (r *Resolver) ownersDB(ctx context.Context, a *Answer, theme string) error {
	var vias []AnswerVia
	var keys []string
	var pc pointCarriers
	pc.reset()
	add := func(slot *carrier, kind carrierKind, v AnswerVia, key string) *carrier {
		*slot = carrier{kind: kind, via: int32(len(vias))}
		vias = append(vias, v)
		keys = append(keys, key)
		return slot
	}
	for _, o := range a.Objects {
		pc.objects = append(pc.objects, carrier{})
		add(&pc.objects[len(pc.objects)-1], carrierObject, AnswerVia{Kind: ViaObject, ID: o.ID, Code: o.Code, Name: o.Name, Layer: o.Layer}, "object:"+strconv.FormatInt(o.ID, 10))
	}
	if a.Grid != nil {
		add(&pc.grid, carrierGrid, AnswerVia{Kind: ViaGrid, Code: a.Grid.Code, Name: a.Grid.Name}, "grid:"+a.Grid.Code)
	}
	var codes []string
	for _, cn := range []*CodeName{a.Regions.Community, a.Regions.Subdistrict, a.Regions.District} {
		if cn != nil {
			codes = append(codes, cn.Code)
		}
	}
	if len(codes) > 0 {
		rows, err := r.pool.Query(ctx, `SELECT id, code, name, level FROM regions WHERE code = ANY(@codes)`, pgx.NamedArgs{"codes": codes})
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var code, name, level string
			if err := rows.Scan(&id, &code, &name, &level); err != nil {
				rows.Close()
				return err
			}
			slot := &pc.district
			switch Level(level) {
			case Subdistrict:
				slot = &pc.subdistrict
			case Community:
				slot = &pc.community
			}
			add(slot, carrierRegion, AnswerVia{Kind: ViaRegion, Code: code, Name: name, Level: level}, "region:"+strconv.FormatInt(id, 10))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	// The same live assignments the snapshot loads, in its order.
	rows, err := r.pool.Query(ctx, `
		SELECT a.id, a.target_key, a.theme_code, t.name_zh, a.role = 'lead', u.code, u.name, u.kind
		FROM assignments a JOIN units u ON u.id = a.unit_id JOIN themes t ON t.code = a.theme_code
		WHERE a.target_key = ANY(@keys) AND (@theme = '' OR a.theme_code = @theme)
		  AND a.valid_from <= now() AND (a.valid_to IS NULL OR a.valid_to > now())
		ORDER BY t.sort, t.code, a.role, a.id`, pgx.NamedArgs{"keys": keys, "theme": theme})
	if err != nil {
		return err
	}
	var themes [][2]string // code, name
	var units []AnswerUnit
	duties := make([][]duty, len(vias))
	for rows.Next() {
		var d duty
		var key, code, name string
		var u AnswerUnit
		if err := rows.Scan(&d.id, &key, &code, &name, &d.lead, &u.Code, &u.Name, &u.Kind); err != nil {
			rows.Close()
			return err
		}
		if len(themes) == 0 || themes[len(themes)-1][0] != code {
			themes = append(themes, [2]string{code, name})
		}
		d.theme = int16(len(themes) - 1)
		d.unit = int32(len(units))
		units = append(units, u)
		for i, k := range keys {
			if k == key {
				duties[i] = append(duties[i], d)
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range pc.objects {
		pc.objects[i].duties = duties[pc.objects[i].via]
	}
	for _, c := range []*carrier{&pc.grid, &pc.community, &pc.subdistrict, &pc.district} {
		if c.via >= 0 {
			c.duties = duties[c.via]
		}
	}
	for _, o := range owners(nil, &pc, -1, len(themes)) {
		t := themes[o.Theme]
		a.Owners = append(a.Owners, AnswerOwner{Theme: t[0], ThemeName: t[1], Role: role(o.Lead), Unit: units[o.Unit],
			Via: vias[o.Via], AssignmentID: o.ID})
	}
	return nil
}
