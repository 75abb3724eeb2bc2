package grids

import "math"

// The rule of ownership in Go. The in-memory locate (Snapshot.Locate) and
// the SQL path (Resolver.LocateDB, ?engine=db) gather the same facts about
// a point their own way, then both hand them to the functions below, so
// they cannot choose a different grid, order the carriers differently or
// pick other leads. The rule's SQL twin, "what a lead covers" for coverage
// and the gaps and unassigned tiles, is the views of
// migrations/00006_ownership.sql; it answers a different question (which
// areas and objects have any lead) over the same assignments: the views
// take those without an end (valid_to IS NULL), the snapshot those in force
// now, which are the same rows as long as nothing writes an assignment
// with a start or an end in the future, and nothing does.
//
// The rule:
//   - The point's grid is the covering live grid with the smallest code;
//     the other covering grids are adjacent (a point on a shared edge).
//     Outside every grid, the covering region of each level with the
//     smallest code.
//   - The carriers of duties at the point, most specific first: the objects
//     there (polygons covering it, then lines within their layer's snap
//     distance, nearest first, ties by id), the grid, then its community,
//     subdistrict and district (属地兜底: the territory answers last).
//   - Per duty, carriers are asked in that order; each one's assignments of
//     the duty are taken until a carrier gives a lead. The leads come first,
//     then the supporters, each in carrier order.

// codeBefore is the boundary rule's tie-break between covering grids, and
// between covering regions of one level where no grid says which.
func codeBefore(a, b string) bool { return a < b }

// objectKey is what orders the objects found at a point.
type objectKey struct {
	line      bool
	distanceM float64
	id        int64
}

// objectBefore orders the objects at a point: polygons before lines, then
// nearest first, then by id so that the order never depends on how an
// index or a query plan happened to return them. Distances are compared to
// the centimetre, as answers show them: the index and PostGIS measure them
// apart by fractions of a millimetre, and two streets the same shown
// distance away must not be ordered by that dust.
func objectBefore(a, b objectKey) bool {
	if a.line != b.line {
		return !a.line
	}
	if da, db := math.Round(a.distanceM*100), math.Round(b.distanceM*100); da != db {
		return da < db
	}
	return a.id < b.id
}

// carrier is one place whose assignments may answer for a point. via
// indexes the carrier in the caller's own tables; negative means absent.
// It is kept small: a lookup builds a handful and reads them once.
type carrier struct {
	duties []duty
	via    int32
	kind   carrierKind
}

type carrierKind uint8

const (
	carrierObject carrierKind = iota
	carrierGrid
	carrierRegion
)

// viaKinds names each carrier kind as answers name it.
var viaKinds = [...]string{carrierObject: ViaObject, carrierGrid: ViaGrid, carrierRegion: ViaRegion}

// pointCarriers is what carries duties at a point, as one path found it.
type pointCarriers struct {
	objects                                []carrier // in objectBefore order
	grid, community, subdistrict, district carrier
}

func (p *pointCarriers) reset() {
	none := carrier{via: -1}
	p.objects = p.objects[:0]
	p.grid, p.community, p.subdistrict, p.district = none, none, none, none
}

// appendDuties appends the carrier's duties of theme and says whether one
// of them leads.
func (c *carrier) appendDuties(out []Owner, theme int16) ([]Owner, bool) {
	lead := false
	for _, d := range c.duties {
		if d.theme == theme {
			out = append(out, Owner{Theme: theme, Unit: d.unit, Lead: d.lead, ViaKind: viaKinds[c.kind], Via: c.via, ID: d.id})
			lead = lead || d.lead
		}
	}
	return out, lead
}

// appendOwners applies the rule for one duty to the carriers of a point, in
// the rule's order (objects, grid, community, subdistrict, district), and
// appends the owners it gives to out.
func appendOwners(out []Owner, p *pointCarriers, theme int16) []Owner {
	start := len(out)
	lead := false
	for i := range p.objects {
		if out, lead = p.objects[i].appendDuties(out, theme); lead {
			break
		}
	}
	if !lead {
		for _, c := range [...]*carrier{&p.grid, &p.community, &p.subdistrict, &p.district} {
			if c.via < 0 {
				continue
			}
			if out, lead = c.appendDuties(out, theme); lead {
				break
			}
		}
	}
	// Leads first, then supporters, each in carrier order (a stable
	// insertion sort: there are a handful, and sort.SliceStable allocates).
	own := out[start:]
	for i := 1; i < len(own); i++ {
		for j := i; j > 0 && own[j].Lead && !own[j-1].Lead; j-- {
			own[j], own[j-1] = own[j-1], own[j]
		}
	}
	return out
}

// owners applies the rule for every duty (theme < 0) or one, over themes
// duties, to the carriers of a point.
func owners(out []Owner, p *pointCarriers, theme int16, themes int) []Owner {
	if theme >= 0 {
		return appendOwners(out, p, theme)
	}
	for t := int16(0); t < int16(themes); t++ {
		out = appendOwners(out, p, t)
	}
	return out
}

// ViaFallback marks an owner that no assignment named: the territorial
// authority the rule falls back to where no unit leads the duty.
const ViaFallback = "fallback"

// territorialUnit is what the fallback rule needs to know of a unit.
type territorialUnit struct {
	unit     int32
	kind     string
	region   int32 // Regions index, -1 if none
	fallback bool  // attrs.fallback: the department that takes what nobody leads
}

// fallbacks finds each region's territorial authority (属地兜底), for
// routing a case where no unit leads the case's duty: a subdistrict's
// office (a subdistrict_office unit of that subdistrict), a district's
// department marked fallback (its city-management department), and the
// city's (a fallback department of no region). The first by code wins.
// Coverage never counts these: the gap stays visible.
func fallbacks(regions []RegionRef, units []territorialUnit) (byRegion []int32, city int32) {
	byRegion = make([]int32, len(regions))
	for i := range byRegion {
		byRegion[i] = -1
	}
	city = -1
	for _, u := range units { // in code order
		switch {
		case u.region < 0:
			if u.fallback && city < 0 {
				city = u.unit
			}
		case byRegion[u.region] >= 0:
		case regions[u.region].Level == Subdistrict && u.kind == "subdistrict_office",
			regions[u.region].Level == District && u.fallback:
			byRegion[u.region] = u.unit
		}
	}
	return byRegion, city
}

// Fallback is the territorial authority for a located point where no unit
// leads a duty: the subdistrict's office, else the district's fallback
// department, else the city's; ok is false when there is none (or the point
// is in no district). The owner's Via is the region that decided.
func (s *Snapshot) Fallback(l *Located, theme int16) (Owner, bool) {
	o := Owner{Theme: theme, Lead: true, ViaKind: ViaFallback, Unit: -1}
	switch {
	case l.Sub >= 0 && s.regionFallback[l.Sub] >= 0:
		o.Unit, o.Via = s.regionFallback[l.Sub], l.Sub
	case l.District >= 0 && s.regionFallback[l.District] >= 0:
		o.Unit, o.Via = s.regionFallback[l.District], l.District
	case l.District >= 0 && s.cityFallback >= 0:
		o.Unit, o.Via = s.cityFallback, l.District
	}
	return o, o.Unit >= 0
}

// HasLead says whether the owners include a lead of the theme.
func HasLead(owners []Owner, theme int16) bool {
	for _, o := range owners {
		if o.Lead && o.Theme == theme {
			return true
		}
	}
	return false
}
