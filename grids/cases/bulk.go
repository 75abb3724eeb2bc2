package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/paulmach/orb"
)

// Placement is where intake would put a point and who it would propose,
// for bulk loads that must route as intake does (demo cases, imports).
type Placement struct {
	District, Subdistrict, Community *string
	Grid                             *string
	GridVersion                      *int
	Theme                            *string
	Routing                          []byte // the routing column's JSON
	ProposedUnit                     string // "" when nobody answers: the dispatcher chooses
	Cells                            [5]int64
}

// Place routes a point for a category from the locate snapshot, as Create
// does; a point outside every district is refused the same way.
func (s *Store) Place(ctx context.Context, p orb.Point, category string) (Placement, error) {
	loc, release, err := s.locate(ctx, p, category, "lon")
	if err != nil {
		return Placement{}, err
	}
	defer release()
	var c Case
	s.place(&c, loc)
	out := Placement{Theme: c.Theme}
	if c.ProposedUnit != nil {
		out.ProposedUnit = c.ProposedUnit.Code
	}
	r := loc.regions()
	out.District, out.Subdistrict, out.Community = regionCode(r.District), regionCode(r.Subdistrict), regionCode(r.Community)
	out.Grid, out.GridVersion = loc.grid()
	if out.Routing, err = json.Marshal(c.Routing); err != nil {
		return out, err
	}
	out.Cells, err = h3Cells(p)
	return out, err
}

// CodePrefix is the case_sequences key of a district's local day, the
// first two parts of a case code.
func (s *Store) CodePrefix(district string, reportedAt time.Time) string {
	return district + "-" + reportedAt.In(s.cfg.Location).Format("20060102")
}

// CaseCode is the code of the n-th case of a prefix.
func CaseCode(prefix string, n int) string { return fmt.Sprintf("%s-%05d", prefix, n) }

// Deadline is where a handling clock started at from ends, and where its
// warning falls, with spentS seconds already counted; ok is false for a
// category without a limit.
func (s *Store) Deadline(limitHours, limitDays *int, from time.Time, spentS int64) (due, warn time.Time, ok bool) {
	c := Case{limitHours: limitHours, limitDays: limitDays, spentS: spentS}
	s.startClock(&c, from)
	if c.Deadline == nil {
		return due, warn, false
	}
	return *c.Deadline, *c.warnAt, true
}

// Resumed is Deadline for a suspended case resuming at from; kept is the
// deadline its suspension kept (SuspendedDeadline), nil for none.
func (s *Store) Resumed(limitHours, limitDays *int, from time.Time, spentS int64, kept *time.Time) (due, warn time.Time, ok bool) {
	c := Case{limitHours: limitHours, limitDays: limitDays, spentS: spentS, Deadline: kept}
	s.resumeClock(&c, from)
	if c.clockFrom == nil {
		return due, warn, false
	}
	return *c.Deadline, *c.warnAt, true
}

// Spent is the limit-clock time between two instants for a category's
// limit (natural time, or working time on the working calendar).
func (s *Store) Spent(limitHours, limitDays *int, from, to time.Time) time.Duration {
	clk, _, ok := s.clock(limitHours, limitDays)
	if !ok {
		return to.Sub(from)
	}
	return clk.Between(from, to)
}

// RegisteredOnTime says whether a registration at registered of a case
// reported at reported is on time (按时立案).
func (s *Store) RegisteredOnTime(reported, registered time.Time) bool {
	return registered.Sub(reported) <= s.cfg.RegisterWithin
}

// Location is the city's time zone, in which codes carry their date.
func (s *Store) Location() *time.Location { return s.cfg.Location }
