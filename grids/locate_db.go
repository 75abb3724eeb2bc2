package grids

import (
	"context"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// locateDBPoint is the located point in the statement below.
const locateDBPoint = `ST_SetSRID(ST_Point(@x, @y), 4326)`

// locateDBSQL gathers in one statement every fact the rule of ownership
// needs about a point, one tagged row per fact:
//
//	g  a covering live grid: code, name, version (n), its community (id), on its edge (b)
//	r  a region: id, code, name, level (s1), parent (n, 0 for none): the chain of
//	   each covering grid's community, or, outside every grid, the covering regions
//	n  outside every grid, the nearest one: code, name, distance (f)
//	o  an object: id, code, name, layer (s1), distance (f), a line (b)
//	a  a live assignment of any of those carriers: id, target key (code), unit
//	   name, code and kind (name, s2, s3), theme (s1), a lead (b)
//
// It gathers a superset (every covering grid's carriers); which grid and
// carriers count is the rule's choice, made in Go (ownership.go). Each part
// is bounded by an index: the GiST indexes behind && (for lines a box a
// little larger than the largest snap distance, since a degree of longitude
// is over 60 km anywhere in China, before the spheroid maths), the primary
// keys, and the assignments' per-target indexes (assignments_live_target
// holds only rows without an end, and the rule also takes those ending in
// the future). la is inlined into each of du's three reads (NOT
// MATERIALIZED), so each keeps its own target's index.
const locateDBSQL = `
WITH cg AS MATERIALIZED (
	SELECT code, name, version, community_id, ST_Covers(ST_Boundary(geom), ` + locateDBPoint + `) AS edge
	FROM grids WHERE valid_to IS NULL AND geom && ` + locateDBPoint + ` AND ST_Covers(geom, ` + locateDBPoint + `)),
rg AS MATERIALIZED (
	SELECT id, code, name, level, parent_id FROM regions
	WHERE NOT EXISTS (SELECT FROM cg) AND geom && ` + locateDBPoint + ` AND ST_Covers(geom, ` + locateDBPoint + `)
	UNION
	SELECT x.id, x.code, x.name, x.level, x.parent_id
	FROM cg JOIN regions c ON c.id = cg.community_id
	LEFT JOIN regions sd ON sd.id = c.parent_id
	LEFT JOIN regions d ON d.id = sd.parent_id,
	LATERAL (VALUES (c.id, c.code, c.name, c.level, c.parent_id), (sd.id, sd.code, sd.name, sd.level, sd.parent_id),
		(d.id, d.code, d.name, d.level, d.parent_id)) x(id, code, name, level, parent_id)
	WHERE x.id IS NOT NULL),
ob AS MATERIALIZED (
	SELECT o.id, o.code, o.name, o.layer, k.dim = 1 AS line,
		CASE WHEN k.dim = 1 THEN ST_Distance(o.geom::geography, ` + locateDBPoint + `::geography) ELSE 0 END AS d
	FROM objects o JOIN layers l ON l.code = o.layer, LATERAL (SELECT ST_Dimension(o.geom) AS dim) k
	WHERE o.geom && ST_Expand(` + locateDBPoint + `, (SELECT max(snap_m) + 1 FROM layers) / 60000.0)
	  AND CASE k.dim WHEN 2 THEN ST_Covers(o.geom, ` + locateDBPoint + `)
		WHEN 1 THEN ST_DWithin(o.geom::geography, ` + locateDBPoint + `::geography, l.snap_m) ELSE false END),
la AS NOT MATERIALIZED (
	SELECT id, target_key, theme_code, role, unit_id, grid_code, region_id, object_id FROM assignments
	WHERE (@theme = '' OR theme_code = @theme) AND ` + liveAssignment + `),
du AS (
	SELECT id, target_key, theme_code, role, unit_id FROM la WHERE grid_code = ANY(ARRAY(SELECT code FROM cg))
	UNION ALL
	SELECT id, target_key, theme_code, role, unit_id FROM la WHERE region_id = ANY(ARRAY(SELECT id FROM rg))
	UNION ALL
	SELECT id, target_key, theme_code, role, unit_id FROM la WHERE object_id = ANY(ARRAY(SELECT id FROM ob)))
SELECT 'g' AS kind, community_id AS id, code, name, ''::text AS s1, ''::text AS s2, ''::text AS s3,
	version::bigint AS n, 0::float8 AS f, edge AS b FROM cg
UNION ALL
SELECT 'r', id, code, name, level, '', '', COALESCE(parent_id, 0), 0, false FROM rg
UNION ALL
SELECT 'o', id, COALESCE(code, ''), name, layer, '', '', 0, d, line FROM ob
UNION ALL
(SELECT 'n', 0, code, name, '', '', '', 0, d, false FROM (
	SELECT code, name, ST_Distance(geom::geography, ` + locateDBPoint + `::geography) AS d FROM grids
	WHERE NOT EXISTS (SELECT FROM cg) AND valid_to IS NULL ORDER BY geom <-> ` + locateDBPoint + ` LIMIT 32) near
	ORDER BY round(d::numeric, 3), code LIMIT 1)
UNION ALL
SELECT 'a', a.id, a.target_key, u.name, a.theme_code, u.code, u.kind, 0, 0, a.role = 'lead'
FROM du a JOIN units u ON u.id = a.unit_id`

// numberedSQL is a statement written with named arguments, numbered once:
// pgx would otherwise lex the whole statement again on every call, which
// for locateDBSQL was a third of the SQL path's time in the server
// (BenchmarkLocateDB's profile).
type numberedSQL struct {
	sql   string
	names []string // of $1, $2, …
}

// numberNamed numbers the named arguments of sql, which must be exactly
// names.
func numberNamed(sql string, names ...string) (numberedSQL, error) {
	self := pgx.StrictNamedArgs{}
	for _, n := range names {
		self[n] = n
	}
	out, args, err := self.RewriteQuery(context.Background(), nil, sql, nil)
	if err != nil {
		return numberedSQL{}, err
	}
	q := numberedSQL{sql: out}
	for _, a := range args {
		q.names = append(q.names, a.(string))
	}
	return q, nil
}

// args lists the values of na in the statement's order.
func (q numberedSQL) args(na pgx.NamedArgs) []any {
	out := make([]any, len(q.names))
	for i, n := range q.names {
		out[i] = na[n]
	}
	return out
}

// locateDBFact is one row of locateDBSQL.
type locateDBFact struct {
	kind       string
	id         int64
	code, name string
	s1, s2, s3 string
	n          int64
	f          float64
	b          bool
}

// LocateDB answers the same question with PostGIS alone, for verification
// and for servers whose index is still loading (?engine=db): ST_Covers for
// grids, regions and polygon objects, ST_DWithin on geography for lines.
// The facts come from SQL, in one round trip; the choices are the rule's
// (ownership.go).
func (r *Resolver) LocateDB(ctx context.Context, p orb.Point, theme string) (Answer, error) {
	a := Answer{Point: LonLat{p[0], p[1]}, Adjacent: []AnswerGrid{}, Objects: []AnswerObject{}, Owners: []AnswerOwner{}, Engine: "db"}
	// The pool plans every statement anew (internal/db: custom plans keep
	// optional filters cheap elsewhere), and planning this one costs more
	// than running it; its generic plan is index scans whatever the point.
	// set_config(…, true) holds until the batch's implicit transaction
	// ends, so the connection goes back to the pool as it came.
	var b pgx.Batch
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	b.Queue(r.locateDB.sql, r.locateDB.args(pgx.NamedArgs{"x": p[0], "y": p[1], "theme": theme})...)
	br := r.pool.SendBatch(ctx, &b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return a, err
	}
	rows, err := br.Query()
	if err != nil {
		return a, err
	}
	var facts []locateDBFact
	for rows.Next() {
		var f locateDBFact
		if err := rows.Scan(&f.kind, &f.id, &f.code, &f.name, &f.s1, &f.s2, &f.s3, &f.n, &f.f, &f.b); err != nil {
			rows.Close()
			return a, err
		}
		facts = append(facts, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return a, err
	}
	if err := br.Close(); err != nil {
		return a, err
	}
	answerDB(&a, facts, r.Snapshot())
	return a, nil
}

// regionDB is a region as locateDBSQL gives it.
type regionDB struct {
	id     int64
	code   string
	name   string
	level  Level
	parent int64
}

// answerDB builds the answer from the facts of locateDBSQL, with the rule's
// choices: the grid, the regions, the objects' order and the owners; snap
// gives only the themes.
func answerDB(a *Answer, facts []locateDBFact, snap *Snapshot) {
	var communityID int64
	regions := map[int64]regionDB{}
	var keys []objectKey
	var duties []locateDBFact
	for _, f := range facts {
		switch f.kind {
		case "g":
			g := AnswerGrid{Code: f.code, Name: f.name, Version: int(f.n)}
			a.OnBoundary = a.OnBoundary || f.b
			switch {
			case a.Grid == nil || codeBefore(g.Code, a.Grid.Code):
				if a.Grid != nil {
					a.Adjacent = append(a.Adjacent, *a.Grid)
				}
				a.Grid = &g
				communityID = f.id
			default:
				a.Adjacent = append(a.Adjacent, g)
			}
		case "r":
			regions[f.id] = regionDB{id: f.id, code: f.code, name: f.name, level: Level(f.s1), parent: f.n}
		case "n":
			a.NearestGrid = &AnswerNearest{Code: f.code, Name: f.name, DistanceM: round2(f.f)}
		case "o":
			a.Objects = append(a.Objects, AnswerObject{ID: f.id, Code: f.code, Name: f.name, Layer: f.s1, DistanceM: f.f})
			keys = append(keys, objectKey{line: f.b, distanceM: f.f, id: f.id})
		case "a":
			duties = append(duties, f)
		}
	}
	sort.Slice(a.Adjacent, func(i, j int) bool { return codeBefore(a.Adjacent[i].Code, a.Adjacent[j].Code) })
	sort.Sort(byObjectKey{a.Objects, keys})
	for i := range a.Objects {
		a.Objects[i].DistanceM = round2(a.Objects[i].DistanceM)
	}

	// The regions: the chosen grid's community and its parents, or outside
	// every grid the covering region of each level with the smallest code.
	var chain [3]*regionDB // community, subdistrict, district
	if a.Grid != nil {
		id := communityID
		for i := range chain {
			reg, ok := regions[id]
			if !ok {
				break
			}
			chain[i] = &reg
			id = reg.parent
		}
	} else {
		for _, reg := range regions {
			slot := 2
			switch reg.level {
			case Subdistrict:
				slot = 1
			case Community:
				slot = 0
			}
			if chain[slot] == nil || codeBefore(reg.code, chain[slot].code) {
				reg := reg
				chain[slot] = &reg
			}
		}
	}
	named := func(reg *regionDB) *CodeName {
		if reg == nil {
			return nil
		}
		return &CodeName{Code: reg.code, Name: reg.name}
	}
	a.Regions = AnswerRegions{Community: named(chain[0]), Subdistrict: named(chain[1]), District: named(chain[2])}
	a.Inside = a.Regions.District != nil

	// The carriers, as the rule orders them, and their duties.
	var vias []AnswerVia
	via := map[string]int32{} // target key → vias index
	var pc pointCarriers
	pc.reset()
	add := func(slot *carrier, kind carrierKind, v AnswerVia, key string) {
		*slot = carrier{kind: kind, via: int32(len(vias))}
		via[key] = int32(len(vias))
		vias = append(vias, v)
	}
	pc.objects = make([]carrier, len(a.Objects))
	for i, o := range a.Objects {
		add(&pc.objects[i], carrierObject, AnswerVia{Kind: ViaObject, ID: o.ID, Code: o.Code, Name: o.Name, Layer: o.Layer}, "object:"+strconv.FormatInt(o.ID, 10))
	}
	if a.Grid != nil {
		add(&pc.grid, carrierGrid, AnswerVia{Kind: ViaGrid, Code: a.Grid.Code, Name: a.Grid.Name}, "grid:"+a.Grid.Code)
	}
	for i, slot := range [...]*carrier{&pc.community, &pc.subdistrict, &pc.district} {
		if reg := chain[i]; reg != nil {
			add(slot, carrierRegion, AnswerVia{Kind: ViaRegion, Code: reg.code, Name: reg.name, Level: string(reg.level)},
				"region:"+strconv.FormatInt(reg.id, 10))
		}
	}
	// Each carrier's duties in the snapshot's order (leads first, then by
	// id); the themes, reference data that change only with migrations, are
	// the snapshot's, so the rule walks them in the index path's order.
	sort.Slice(duties, func(i, j int) bool {
		if duties[i].b != duties[j].b {
			return duties[i].b
		}
		return duties[i].id < duties[j].id
	})
	var units []AnswerUnit
	perVia := make([][]duty, len(vias))
	for _, f := range duties {
		v, ok := via[f.code]
		t := snap.ThemeIndex(f.s1)
		if !ok || t < 0 {
			continue // a carrier the rule did not choose (another covering grid's), or a theme the snapshot skips too
		}
		perVia[v] = append(perVia[v], duty{id: f.id, lead: f.b, theme: t, unit: int32(len(units))})
		units = append(units, AnswerUnit{Code: f.s2, Name: f.name, Kind: f.s3})
	}
	for i := range pc.objects {
		pc.objects[i].duties = perVia[pc.objects[i].via]
	}
	for _, c := range [...]*carrier{&pc.grid, &pc.community, &pc.subdistrict, &pc.district} {
		if c.via >= 0 {
			c.duties = perVia[c.via]
		}
	}
	for _, o := range owners(nil, &pc, -1, len(snap.Themes)) {
		t := snap.Themes[o.Theme]
		a.Owners = append(a.Owners, AnswerOwner{Theme: t.Code, ThemeName: t.NameZh, Role: role(o.Lead), Unit: units[o.Unit],
			Via: vias[o.Via], AssignmentID: o.ID})
	}
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
