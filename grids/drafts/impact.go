package drafts

import (
	"context"
	"encoding/json"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/load"
)

// Kinds of a grid in an impact, matched by code (a draft grid's origin_code
// names the live grid it was copied from).
const (
	Added     = "added"     // a draft grid copied from no live grid
	Removed   = "removed"   // a live grid no draft grid was copied from
	Reshaped  = "reshaped"  // copied, and its geometry changed
	Unchanged = "unchanged" // copied with the same geometry (a new name only is still unchanged)
)

// What becomes of an assignment whose grid changes.
const (
	Moved    = "moved"    // its grid is reshaped, or all of its area goes to one draft grid
	Split    = "split"    // its grid's area is divided among two or more draft grids
	Orphaned = "orphaned" // its grid disappears and no draft grid covers any of it
)

// minShare is the share of an old grid's area below which a draft grid is
// not one of its successors: the slivers a redrawn edge hands a neighbour
// (a 3 m shift of a 200 m grid moves 1.5%) are not a split.
const minShare = 0.02

// Share is the part of a grid's area another grid holds.
type Share struct {
	Code   string  `json:"code"`
	AreaM2 float64 `json:"area_m2"`
	Share  float64 `json:"share"` // of the grid's own area, 0..1
}

// ImpactGrid is one grid of the live layout or of the draft, and what the
// draft does to it.
type ImpactGrid struct {
	Code          string  `json:"code"`
	Kind          string  `json:"kind"`
	Name          string  `json:"name"`
	LiveVersion   *int    `json:"live_version,omitempty"`
	AreaBeforeM2  float64 `json:"area_before_m2"` // geodesic; 0 for an added grid
	AreaAfterM2   float64 `json:"area_after_m2"`  // 0 for a removed grid
	AreaChangeM2  float64 `json:"area_change_m2"`
	Successors    []Share `json:"successors,omitempty"`   // a live grid's area in the draft grids, largest first
	Predecessors  []Share `json:"predecessors,omitempty"` // an added grid's area from live grids, of the added grid's area
	successorsAll []Share // every draft grid holding part of it, slivers too
}

// ImpactAssignment is a grid assignment whose grid changes, with the
// proposal of what to carry it to: the draft grid that holds most of the
// old grid's area.
type ImpactAssignment struct {
	ID       int64   `json:"id"`
	Theme    string  `json:"theme"`
	Unit     string  `json:"unit"`
	UnitName string  `json:"unit_name"`
	Role     string  `json:"role"`
	Grid     string  `json:"grid"`
	Fate     string  `json:"fate"` // Moved, Split or Orphaned
	Proposal *Share  `json:"proposal"`
	Parts    []Share `json:"parts"` // every draft grid holding part of the grid
}

// ImpactItem is an object or an open case whose grid changes.
type ImpactItem struct {
	ID       int64   `json:"id"`
	Code     string  `json:"code,omitempty"`  // a case's number
	Layer    string  `json:"layer,omitempty"` // an object's layer
	Name     string  `json:"name,omitempty"`
	Status   string  `json:"status,omitempty"`
	Reported *string `json:"reported_grid,omitempty"` // a case's grid at report time
	Before   *string `json:"grid_before"`
	After    *string `json:"grid_after"`
}

// ImpactUnit is a unit whose led area or load in the region changes when
// its assignments are carried as proposed.
type ImpactUnit struct {
	Code     string  `json:"code"`
	Name     string  `json:"name"`
	BeforeM2 float64 `json:"lead_area_before_m2"`
	AfterM2  float64 `json:"lead_area_after_m2"`
	ChangeM2 float64 `json:"change_m2"`
	// The load figures (grids/load: area, street and alley length, objects
	// by layer, cases of the last 90 days) of the grids the unit leads
	// whose shape changes, live (LoadBefore), and of the draft grids those
	// leads are carried to (LoadAfter); LoadChange is after less before.
	// A draft grid the unit already leads for the same duty, unchanged,
	// counts in neither.
	LoadBefore load.Figures `json:"load_before"`
	LoadAfter  load.Figures `json:"load_after"`
	LoadChange load.Figures `json:"load_change"`
}

// Impact is what publishing a draft would change in the live city.
type Impact struct {
	Draft       int64              `json:"draft"`
	ETag        string             `json:"etag"`
	Region      string             `json:"region"`
	Summary     map[string]int     `json:"summary"`
	Grids       []ImpactGrid       `json:"grids"` // every grid but the unchanged ones
	Assignments []ImpactAssignment `json:"assignments"`
	Objects     []ImpactItem       `json:"objects"`
	Cases       []ImpactItem       `json:"cases"`
	Units       []ImpactUnit       `json:"units"`
}

// impactWith names the live grids of the draft's region (old) and the
// draft's grids (new); @id is the draft.
const impactWith = `WITH comm AS MATERIALIZED (
		SELECT r.id FROM drafts d JOIN regions r ON (r.id = d.region_id OR r.parent_id = d.region_id) AND r.level = 'community' WHERE d.id = @id),
	old AS MATERIALIZED (SELECT g.code, g.version, g.name, g.geom, g.area_m2 FROM grids g
		WHERE g.valid_to IS NULL AND g.community_id IN (SELECT id FROM comm)),
	new AS MATERIALIZED (SELECT g.code, g.name, g.geom, g.area_m2, g.origin_code FROM draft_grids g WHERE g.draft_id = @id)`

// itemsSQL lists the objects and the open cases whose grid differs
// before and after the draft is published, by the ownership rule
// (grids/ownership.go: a point's grid is the covering live grid with the
// smallest code): before over the live grids, after over the live grids
// outside the region and the draft's grids.
//
// Only a point inside a changed grid (its live or its draft geometry) can
// change its grid, and every grid that may cover such a point overlaps a
// changed grid's box: those grids (near) are each joined once to the
// objects and cases they cover, grid by grid over their GiST indexes, and
// each item's smallest code before and after is taken from the matches.
// Looking up the grids of each item instead took three index searches an
// item (a subdistrict redrawn whole: 0.35 s for its 4,500 objects, 0.75 s
// for the 10,000 open cases of the 1.2 M-case city). One statement serves
// both, so near is found once.
const itemsSQL = `,
	chg AS MATERIALIZED (SELECT geom FROM old WHERE code = ANY(@old_changed) UNION ALL SELECT geom FROM new WHERE code = ANY(@new_changed)),
	near AS MATERIALIZED (
		SELECT g.code, g.geom, false AS drafted, g.community_id IN (SELECT id FROM comm) AS inside FROM grids g
		WHERE g.id IN (SELECT g.id FROM chg JOIN grids g ON g.valid_to IS NULL AND g.geom && chg.geom)
		UNION ALL
		SELECT n.code, n.geom, true, true FROM draft_grids n
		WHERE n.id IN (SELECT n.id FROM chg JOIN draft_grids n ON n.draft_id = @id AND n.geom && chg.geom)),
	obj AS (
		SELECT x.id, x.layer, x.name, min(h.code COLLATE "C") FILTER (WHERE NOT h.drafted) AS before,
		       min(h.code COLLATE "C") FILTER (WHERE h.drafted OR NOT h.inside) AS after
		FROM near h JOIN objects x ON x.geom && h.geom AND ST_Covers(h.geom, citygrid_middle(x.geom))
		GROUP BY x.id, x.layer, x.name),
	kase AS (
		SELECT x.id, x.code, x.status, x.grid_code, min(h.code COLLATE "C") FILTER (WHERE NOT h.drafted) AS before,
		       min(h.code COLLATE "C") FILTER (WHERE h.drafted OR NOT h.inside) AS after
		FROM near h JOIN cases x ON x.geom && h.geom AND ST_Covers(h.geom, x.geom)
		WHERE x.status NOT IN ` + cases.FinalSQL + `
		GROUP BY x.id, x.code, x.status, x.grid_code)
	SELECT false, m.id, '', m.layer, m.name, '', NULL, m.before, m.after FROM obj m WHERE m.before IS DISTINCT FROM m.after
	UNION ALL
	SELECT true, m.id, m.code, '', '', m.status, m.grid_code, m.before, m.after FROM kase m WHERE m.before IS DISTINCT FROM m.after
	ORDER BY 1, 2`

// Impact compares a draft with the live layout of its region, in one
// read-only snapshot: the grids added, removed and reshaped; the grid
// assignments, objects and open cases whose grid changes; the units whose
// led area changes.
func (s *Store) Impact(ctx context.Context, id int64) (Impact, error) {
	var im Impact
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		im, err = s.impact(ctx, tx, id)
		return err
	})
	return im, err
}

// impact is Impact in the caller's transaction: a publish computes the
// impact it carries assignments by in the transaction that writes them.
func (s *Store) impact(ctx context.Context, tx pgx.Tx, id int64) (Impact, error) {
	var im Impact
	err := func() error {
		d, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		im = Impact{Draft: id, ETag: d.ETag, Region: d.Region, Summary: map[string]int{},
			Grids: []ImpactGrid{}, Assignments: []ImpactAssignment{}, Objects: []ImpactItem{}, Cases: []ImpactItem{}, Units: []ImpactUnit{}}
		gs, err := s.impactGrids(ctx, tx, id)
		if err != nil {
			return err
		}
		byCode := map[string]*ImpactGrid{}
		newArea := map[string]float64{}
		var oldChanged, newChanged []string
		for i := range gs {
			g := &gs[i]
			im.Summary[g.Kind]++
			if g.Kind != Added {
				byCode[g.Code] = g
			}
			if g.Kind != Removed {
				newArea[g.Code] = g.AreaAfterM2
			}
			if g.Kind == Unchanged {
				continue
			}
			if g.Kind != Added {
				oldChanged = append(oldChanged, g.Code)
			}
			if g.Kind != Removed {
				newChanged = append(newChanged, g.Code)
			}
			im.Grids = append(im.Grids, *g)
		}
		if err := s.impactAssignments(ctx, tx, id, byCode, newArea, &im); err != nil {
			return err
		}
		if err := impactItems(ctx, tx, pgx.NamedArgs{"id": id, "old_changed": oldChanged, "new_changed": newChanged}, &im); err != nil {
			return err
		}
		im.Summary["assignments"], im.Summary["objects"], im.Summary["cases"], im.Summary["units"] =
			len(im.Assignments), len(im.Objects), len(im.Cases), len(im.Units)
		return nil
	}()
	return im, err
}

// impactGrids classifies every live grid of the region and every draft
// grid, with how the live grids' areas fall into the draft grids.
func (s *Store) impactGrids(ctx context.Context, tx pgx.Tx, id int64) ([]ImpactGrid, error) {
	rows, err := tx.Query(ctx, impactWith+`,
		same AS MATERIALIZED (SELECT o.code FROM old o JOIN new n ON n.origin_code = o.code AND ST_Equals(o.geom, n.geom)),
		-- Two unchanged grids need no intersection: an unchanged grid's
		-- area stays its own (filled in by the caller).
		pairs AS MATERIALIZED (
			SELECT o.code AS old_code, n.code AS new_code, ST_Area(ST_Intersection(o.geom, n.geom)::geography) AS m2
			FROM old o JOIN new n ON o.geom && n.geom AND ST_Intersects(o.geom, n.geom)
			WHERE o.code NOT IN (SELECT code FROM same) OR n.code NOT IN (SELECT code FROM same)),
		-- Each grid's shares, gathered once per grid: a subquery per row
		-- scanned every pair for each grid (0.54 s of a subdistrict redrawn
		-- whole, 900 grids and 2,700 pairs).
		succ AS (SELECT old_code, json_agg(json_build_object('code', new_code, 'area_m2', m2) ORDER BY m2 DESC, new_code) AS shares
		         FROM pairs WHERE m2 > 0.01 GROUP BY old_code),
		pred AS (SELECT new_code, json_agg(json_build_object('code', old_code, 'area_m2', m2) ORDER BY m2 DESC, old_code) AS shares
		         FROM pairs WHERE m2 > 0.01 GROUP BY new_code)
		SELECT COALESCE(n.code, o.code),
		       CASE WHEN o.code IS NULL THEN 'added' WHEN n.code IS NULL THEN 'removed'
		            WHEN o.code IN (SELECT code FROM same) THEN 'unchanged' ELSE 'reshaped' END,
		       COALESCE(n.name, o.name), o.version, COALESCE(o.area_m2, 0), COALESCE(n.area_m2, 0),
		       COALESCE(succ.shares, '[]'), COALESCE(pred.shares, '[]')
		FROM old o FULL JOIN new n ON n.origin_code = o.code
		LEFT JOIN succ ON succ.old_code = o.code LEFT JOIN pred ON pred.new_code = n.code
		ORDER BY 1`, pgx.NamedArgs{"id": id})
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ImpactGrid, error) {
		var g ImpactGrid
		var succ, pred []byte
		if err := r.Scan(&g.Code, &g.Kind, &g.Name, &g.LiveVersion, &g.AreaBeforeM2, &g.AreaAfterM2, &succ, &pred); err != nil {
			return g, err
		}
		g.AreaChangeM2 = round2(g.AreaAfterM2 - g.AreaBeforeM2)
		g.AreaBeforeM2, g.AreaAfterM2 = round2(g.AreaBeforeM2), round2(g.AreaAfterM2)
		if err := json.Unmarshal(succ, &g.successorsAll); err != nil {
			return g, err
		}
		if g.Kind == Unchanged {
			g.successorsAll = []Share{{Code: g.Code, AreaM2: g.AreaAfterM2, Share: 1}}
		}
		for i := range g.successorsAll {
			sh := &g.successorsAll[i]
			if g.AreaBeforeM2 > 0 {
				sh.Share = round4(sh.AreaM2 / g.AreaBeforeM2)
			}
			sh.AreaM2 = round2(sh.AreaM2)
			if sh.Share >= minShare && g.Kind != Unchanged {
				g.Successors = append(g.Successors, *sh)
			}
		}
		if g.Kind == Added {
			if err := json.Unmarshal(pred, &g.Predecessors); err != nil {
				return g, err
			}
			kept := g.Predecessors[:0]
			for _, sh := range g.Predecessors {
				if g.AreaAfterM2 > 0 {
					sh.Share = round4(sh.AreaM2 / g.AreaAfterM2)
				}
				sh.AreaM2 = round2(sh.AreaM2)
				if sh.Share >= minShare {
					kept = append(kept, sh)
				}
			}
			g.Predecessors = kept
		}
		return g, nil
	})
}

// impactAssignments lists the live grid assignments on changed grids with
// their fate and proposal, and the units whose led area changes when
// every lead is carried as proposed.
func (s *Store) impactAssignments(ctx context.Context, tx pgx.Tx, id int64, byCode map[string]*ImpactGrid, newArea map[string]float64, im *Impact) error {
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	rows, err := tx.Query(ctx, `
		SELECT a.id, a.theme, u.code, u.name, a.role, a.grid_code
		FROM live_assignments a JOIN units u ON u.id = a.unit_id
		WHERE a.target_kind = 'grid' AND a.grid_code = ANY(@codes)
		ORDER BY a.grid_code, a.theme, a.role, a.id`, pgx.NamedArgs{"codes": codes})
	if err != nil {
		return err
	}
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ImpactAssignment, error) {
		var a ImpactAssignment
		return a, r.Scan(&a.ID, &a.Theme, &a.Unit, &a.UnitName, &a.Role, &a.Grid)
	})
	if err != nil {
		return err
	}
	type unitSum struct {
		name          string
		before, after float64
		carried       map[[2]string]bool // (theme, draft grid) already counted
		// The grids whose load the unit leads before and after, changed
		// ones only (see ImpactUnit), by code.
		loadBefore, loadAfter []string
		loadCarried           map[[2]string]bool
	}
	units := map[string]*unitSum{}
	unitOf := func(a ImpactAssignment) *unitSum {
		u := units[a.Unit]
		if u == nil {
			u = &unitSum{name: a.UnitName, carried: map[[2]string]bool{}, loadCarried: map[[2]string]bool{}}
			units[a.Unit] = u
		}
		return u
	}
	// A lead on an unchanged grid counts its load before and after alike:
	// a lead carried onto that grid for the same duty adds none.
	for _, a := range all {
		if a.Role == "lead" && byCode[a.Grid].Kind == Unchanged {
			unitOf(a).loadCarried[[2]string{a.Theme, a.Grid}] = true
		}
	}
	for _, a := range all {
		g := byCode[a.Grid]
		var to *Share
		if len(g.successorsAll) > 0 {
			to = &g.successorsAll[0]
		}
		if a.Role == "lead" {
			u := unitOf(a)
			u.before += g.AreaBeforeM2
			if to != nil && !u.carried[[2]string{a.Theme, to.Code}] {
				// Two leads carried to one merged grid lead it once.
				u.carried[[2]string{a.Theme, to.Code}] = true
				u.after += newArea[to.Code]
			}
			if g.Kind != Unchanged {
				u.loadBefore = append(u.loadBefore, g.Code)
				if to != nil && !u.loadCarried[[2]string{a.Theme, to.Code}] {
					u.loadCarried[[2]string{a.Theme, to.Code}] = true
					u.loadAfter = append(u.loadAfter, to.Code)
				}
			}
		}
		if g.Kind == Unchanged {
			continue
		}
		a.Parts = g.Successors
		if a.Parts == nil {
			a.Parts = []Share{}
		}
		switch {
		case to == nil:
			a.Fate = Orphaned
		case g.Kind == Removed && len(g.Successors) > 1:
			a.Fate = Split
		default:
			a.Fate = Moved
		}
		if to != nil {
			p := *to
			a.Proposal = &p
		}
		im.Assignments = append(im.Assignments, a)
	}
	var oldCodes, newCodes []string
	for _, u := range units {
		oldCodes = append(oldCodes, u.loadBefore...)
		newCodes = append(newCodes, u.loadAfter...)
	}
	oldLoad, err := measure(ctx, tx, `SELECT code, geom FROM grids WHERE valid_to IS NULL AND code = ANY(@codes)`, pgx.NamedArgs{"codes": oldCodes})
	if err != nil {
		return err
	}
	newLoad, err := measure(ctx, tx, `SELECT code, geom FROM draft_grids WHERE draft_id = @id AND code = ANY(@codes)`, pgx.NamedArgs{"id": id, "codes": newCodes})
	if err != nil {
		return err
	}
	for code, u := range units {
		iu := ImpactUnit{Code: code, Name: u.name, BeforeM2: round2(u.before), AfterM2: round2(u.after), ChangeM2: round2(u.after - u.before)}
		for _, c := range u.loadBefore {
			iu.LoadBefore.Add(oldLoad[c])
		}
		for _, c := range u.loadAfter {
			iu.LoadAfter.Add(newLoad[c])
		}
		iu.LoadChange = iu.LoadAfter.Minus(iu.LoadBefore)
		iu.LoadBefore, iu.LoadAfter, iu.LoadChange = roundFigures(iu.LoadBefore), roundFigures(iu.LoadAfter), roundFigures(iu.LoadChange)
		if math.Abs(u.after-u.before) >= 0.01 || !iu.LoadChange.Zero() {
			im.Units = append(im.Units, iu)
		}
	}
	sort.Slice(im.Units, func(i, j int) bool { return im.Units[i].Code < im.Units[j].Code })
	return nil
}

// measure is the load figures (grids/load) of the grids shapesSQL
// selects, by code; none for no codes.
func measure(ctx context.Context, tx pgx.Tx, shapesSQL string, args pgx.NamedArgs) (map[string]load.Figures, error) {
	out := map[string]load.Figures{}
	if codes, _ := args["codes"].([]string); len(codes) == 0 {
		return out, nil
	}
	r, err := load.Measure(ctx, tx, shapesSQL, args, load.Options{})
	if err != nil {
		return nil, err
	}
	for _, g := range r.Grids {
		out[g.Code] = g.Figures
	}
	return out, nil
}

// roundFigures rounds lengths and areas to the centimetre, as the rest of
// the impact, and gives an empty layer count rather than none.
func roundFigures(f load.Figures) load.Figures {
	f.AreaM2, f.StreetM, f.AlleyM = round2(f.AreaM2), round2(f.StreetM), round2(f.AlleyM)
	if f.Objects == nil {
		f.Objects = map[string]int{}
	}
	return f
}

// impactItems fills the impact's objects and cases (itemsSQL).
func impactItems(ctx context.Context, tx pgx.Tx, args pgx.NamedArgs, im *Impact) error {
	rows, err := tx.Query(ctx, impactWith+itemsSQL, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var isCase bool
		var it ImpactItem
		if err := rows.Scan(&isCase, &it.ID, &it.Code, &it.Layer, &it.Name, &it.Status, &it.Reported, &it.Before, &it.After); err != nil {
			return err
		}
		if isCase {
			im.Cases = append(im.Cases, it)
		} else {
			im.Objects = append(im.Objects, it)
		}
	}
	return rows.Err()
}

// ImpactGeoJSON writes the changed areas of a draft as a GeoJSON
// FeatureCollection, one feature per changed grid: an added grid's
// geometry, a removed grid's live geometry, and for a reshaped grid the
// area that changes hands (the symmetric difference of its live and draft
// geometries). Properties: code, kind, name, area before, after and change.
func (s *Store) ImpactGeoJSON(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		d, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, impactWith+`,
			k AS (SELECT COALESCE(n.code, o.code) AS code, COALESCE(n.name, o.name) AS name,
			             CASE WHEN o.code IS NULL THEN 'added' WHEN n.code IS NULL THEN 'removed' ELSE 'reshaped' END AS kind,
			             CASE WHEN o.code IS NULL THEN n.geom WHEN n.code IS NULL THEN o.geom ELSE ST_SymDifference(o.geom, n.geom) END AS geom,
			             COALESCE(o.area_m2, 0) AS before, COALESCE(n.area_m2, 0) AS after
			      FROM old o FULL JOIN new n ON n.origin_code = o.code
			      WHERE o.code IS NULL OR n.code IS NULL OR NOT ST_Equals(o.geom, n.geom))
			SELECT json_build_object('type', 'FeatureCollection', 'draft', @id::bigint, 'etag', @etag::text, 'region', @region::text,
				'features', COALESCE(json_agg(json_build_object('type', 'Feature', 'id', k.code, 'geometry', `+grids.GeoJSONOf("k.geom")+`::json,
					'properties', json_build_object('code', k.code, 'kind', k.kind, 'name', k.name,
						'area_before_m2', round(k.before::numeric, 2), 'area_after_m2', round(k.after::numeric, 2),
						'area_change_m2', round((k.after - k.before)::numeric, 2))) ORDER BY k.code), '[]'))
			FROM k`, pgx.NamedArgs{"id": id, "etag": d.ETag, "region": d.Region}).Scan(&body)
	})
	return body, err
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }
func round4(v float64) float64 { return math.Round(v*10000) / 10000 }
