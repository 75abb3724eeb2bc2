package cases

import (
	"context"
	"fmt"
	"sync"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"github.com/citygrid/citygrid/grids"
)

// located is what routing learned about a point from the snapshot.
type located struct {
	snap     *grids.Snapshot
	l        *grids.Located
	routing  Routing
	proposed string // unit code, "" when nobody answers
}

var locatedPool = sync.Pool{New: func() any { return new(grids.Located) }}

// locate routes a point for a category's duty from the locate snapshot (no
// database round trip but for borderline line distances): the leads and
// supporters by the rule of ownership and, where no unit leads the duty,
// the territorial fallback (属地兜底). A point in no district is refused
// with the nearest grid and its distance.
func (s *Store) locate(ctx context.Context, p orb.Point, category, field string) (*located, func(), error) {
	snap := s.resolver.Snapshot()
	theme, ok := snap.CategoryTheme(category)
	if !ok {
		return nil, nil, grids.Invalid("category", "unknown category %q (see /api/v1/categories)", category)
	}
	if theme < 0 {
		return nil, nil, grids.Invalid("category", "%q is a major class; give one of its minor classes", category)
	}
	l := locatedPool.Get().(*grids.Located)
	release := func() { locatedPool.Put(l) }
	snap, err := s.resolver.Locate(ctx, p, theme, l)
	if err != nil {
		release()
		return nil, nil, err
	}
	if !l.Inside {
		release()
		msg := fmt.Sprintf("the point %.6f,%.6f is outside every district", p[0], p[1])
		if l.NearestGrid >= 0 {
			g := snap.Grids[l.NearestGrid]
			msg += fmt.Sprintf("; the nearest grid is %s (%s), %.0f m away", g.Code, g.Name, l.NearestM)
		}
		return nil, nil, grids.Invalid(field, "%s", msg)
	}
	out := &located{snap: snap, l: l}
	t := snap.Themes[theme].Code
	out.routing = Routing{Theme: &t, Via: "none", Leads: []grids.AnswerOwner{}, Supporters: []grids.AnswerOwner{}}
	owners := l.Owners
	if !grids.HasLead(owners, theme) {
		if fb, ok := snap.Fallback(l, theme); ok {
			owners = append([]grids.Owner{fb}, owners...)
		}
	}
	for _, o := range owners {
		a := snap.AnswerOwner(o)
		if o.Lead {
			if len(out.routing.Leads) == 0 {
				out.routing.Via = o.ViaKind
				out.proposed = a.Unit.Code
			}
			out.routing.Leads = append(out.routing.Leads, a)
		} else {
			out.routing.Supporters = append(out.routing.Supporters, a)
		}
	}
	return out, release, nil
}

// regions are the point's district, subdistrict and community.
func (l *located) regions() grids.AnswerRegions {
	region := func(i int32) *grids.CodeName {
		if i < 0 {
			return nil
		}
		return &grids.CodeName{Code: l.snap.Regions[i].Code, Name: l.snap.Regions[i].Name}
	}
	return grids.AnswerRegions{District: region(l.l.District), Subdistrict: region(l.l.Sub), Community: region(l.l.Community)}
}

// grid is the point's grid, if any.
func (l *located) grid() (code *string, version *int) {
	if l.l.Grid < 0 {
		return nil, nil
	}
	g := l.snap.Grids[l.l.Grid]
	return &g.Code, &g.Version
}

// h3Resolutions are the H3 resolutions stored with each case, for hotspots.
func h3Resolutions() []int { return []int{6, 7, 8, 9, 10} }

// h3Cells computes the point's cells once, at intake (h3-go crosses cgo:
// never on the read path).
func h3Cells(p orb.Point) ([5]int64, error) {
	var out [5]int64
	for i, res := range h3Resolutions() {
		c, err := h3.LatLngToCell(h3.NewLatLng(p[1], p[0]), res)
		if err != nil {
			return out, err
		}
		out[i] = int64(c)
	}
	return out, nil
}
