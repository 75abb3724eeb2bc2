package calendar

import (
	"fmt"
	"sort"
	"time"

	"github.com/citygrid/citygrid/grids"
)

// Clock measures a time limit: Add is when d of the clock's time has passed
// since t, Between how much of it passed from a to b.
//
// Between is antisymmetric: for b before a it is −Between(b, a), so the
// time left before a deadline is negative once the deadline has passed.
// Add with a negative d goes back: the latest time from which −d of the
// clock's time runs up to t (a limit overrun before a suspension gives a
// deadline in the past on resuming).
type Clock interface {
	Add(t time.Time, d time.Duration) time.Time
	Between(a, b time.Time) time.Duration
}

// Natural is the clock of hours: every hour counts.
type Natural struct{}

func (Natural) Add(t time.Time, d time.Duration) time.Time { return t.Add(d) }

func (Natural) Between(a, b time.Time) time.Duration { return b.Sub(a) }

// WorkingClock counts only the time of working days, each working day its
// whole local day (24 h): a limit of three working days dispatched on a
// Friday at 15:00 before a plain weekend ends on Wednesday at 15:00, and one
// that starts on a holiday starts counting at 00:00 of the next working
// day. It reads local wall-clock time, so in a zone with daylight saving a
// working day still counts 24 h; in Asia/Shanghai (no daylight saving since
// 1991) wall-clock time is elapsed time.
type WorkingClock struct{ c *Calendar }

// Working is the calendar's working clock.
func (c *Calendar) Working() WorkingClock { return WorkingClock{c} }

func (w WorkingClock) Add(t time.Time, d time.Duration) time.Time {
	switch {
	case d == 0:
		return t
	case d < 0:
		return w.back(t, -d)
	}
	c := w.c
	day, ns := c.wall(t)
	rem := int64(d)
	if c.isWorkday(day) {
		left := nsPerDay - ns
		if rem <= left {
			return c.instant(day, ns+rem).In(t.Location())
		}
		rem -= left
	}
	// rem runs out within the k-th working day after t's day: find it.
	k := (rem + nsPerDay - 1) / nsPerDay
	from := day + 1
	span := k + k/2 + 16 // 5 of 7 days are weekdays; a long break needs more
	for c.workingDays(from, from+span) < k {
		span *= 2 // past the last exception every week has five working days, so this ends
	}
	last := from + int64(sort.Search(int(span), func(i int) bool { return c.workingDays(from, from+int64(i)+1) >= k }))
	return c.instant(last, rem-(k-1)*nsPerDay).In(t.Location())
}

// back is the latest time from which d of working time runs up to t.
func (w WorkingClock) back(t time.Time, d time.Duration) time.Time {
	c := w.c
	day, ns := c.wall(t)
	rem := int64(d)
	if c.isWorkday(day) {
		if rem <= ns {
			return c.instant(day, ns-rem).In(t.Location())
		}
		rem -= ns
	}
	// rem runs out within the k-th working day before t's day.
	k := (rem + nsPerDay - 1) / nsPerDay
	span := k + k/2 + 16
	for c.workingDays(day-span, day) < k {
		span *= 2 // before the first exception every week has five working days
	}
	first := day - 1 - int64(sort.Search(int(span), func(i int) bool { return c.workingDays(day-1-int64(i), day) >= k }))
	return c.instant(first, nsPerDay-(rem-(k-1)*nsPerDay)).In(t.Location())
}

func (w WorkingClock) Between(a, b time.Time) time.Duration {
	if b.Before(a) {
		return -w.Between(b, a)
	}
	c := w.c
	da, na := c.wall(a)
	db, nb := c.wall(b)
	var sum int64
	if da == db {
		if c.isWorkday(da) {
			sum = nb - na
		}
	} else {
		if c.isWorkday(da) {
			sum += nsPerDay - na
		}
		if c.isWorkday(db) {
			sum += nb
		}
		sum += c.workingDays(da+1, db) * nsPerDay
	}
	// A wall clock set back (daylight saving ending) can read b before a.
	return time.Duration(max(sum, 0))
}

// Limit is a time limit (处置时限): Hours of natural time or WorkingDays of
// working time; exactly one is set.
type Limit struct {
	Hours       int `json:"hours,omitempty"`
	WorkingDays int `json:"working_days,omitempty"`
}

// Check refuses a limit with neither or both set, or a negative or
// absurdly long one, naming field (and field.hours, field.working_days).
func (l Limit) Check(field string) error {
	var p grids.Problems
	switch {
	case l.Hours == 0 && l.WorkingDays == 0:
		p.Add(field, "give hours or working_days")
	case l.Hours != 0 && l.WorkingDays != 0:
		p.Add(field, "give hours or working_days, not both")
	}
	if l.Hours < 0 || l.Hours > 24*366 {
		p.Add(field+".hours", "want 1 to %d hours", 24*366)
	}
	if l.WorkingDays < 0 || l.WorkingDays > 366 {
		p.Add(field+".working_days", "want 1 to 366 working days")
	}
	return p.Err()
}

func (l Limit) String() string {
	if l.WorkingDays != 0 {
		return fmt.Sprintf("%d working days", l.WorkingDays)
	}
	return fmt.Sprintf("%d h", l.Hours)
}

// Clock is the clock that measures l and the limit on it: hours on the
// natural clock, working days on the working clock at 24 h each. l is one
// that passed Check (a zero Limit is zero hours of natural time).
func (c *Calendar) Clock(l Limit) (Clock, time.Duration) {
	if l.WorkingDays != 0 {
		return c.Working(), time.Duration(l.WorkingDays) * 24 * time.Hour
	}
	return Natural{}, time.Duration(l.Hours) * time.Hour
}
