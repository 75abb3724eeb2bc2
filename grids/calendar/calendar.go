// Package calendar holds the working calendar (weekends, public holidays and
// make-up working days) and the clocks that measure time limits on it.
package calendar

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	// The default zone must load on a machine without a zone database
	// (a slim container); the embedded copy costs about 450 KB.
	_ "time/tzdata"
)

// DefaultZone names the zone whose local days the calendar counts when the
// configuration names none.
const DefaultZone = "Asia/Shanghai"

// Kind is what an exception makes of a day.
type Kind string

const (
	// Holiday is a public holiday (法定节假日): not a working day, even on
	// a weekday.
	Holiday Kind = "holiday"
	// Workday is a make-up working day (调休上班): a Saturday or Sunday
	// that is worked.
	Workday Kind = "workday"
)

// Date is a calendar day, without a time or a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the date of t as t's own location reads it.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date: want YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// In is the start of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Weekday is the day of the week of d.
func (d Date) Weekday() time.Weekday { return weekday(d.number()) }

// AddDays is the date n days later (earlier for a negative n).
func (d Date) AddDays(n int) Date { return dateOfNumber(d.number() + int64(n)) }

func (d Date) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a date string YYYY-MM-DD")
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// number counts days from 1970-01-01 (day 0, a Thursday), so that day
// arithmetic is integer arithmetic.
func (d Date) number() int64 {
	return floorDiv(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix(), secondsPerDay)
}

func dateOfNumber(n int64) Date { return DateOf(time.Unix(n*secondsPerDay, 0).UTC()) }

// Day is one exception to the weekly rule.
type Day struct {
	Date Date   `json:"date"`
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
}

// Calendar is the working calendar: Monday to Friday are working days,
// Saturday and Sunday are not, unless an exception says otherwise. Its days
// are the local days of its zone. A Calendar never changes; a new set of
// exceptions is a new Calendar, so callers may share one freely.
type Calendar struct {
	zone *time.Location
	// The exceptions sorted by day, with each one's day number, and the
	// running sum of how each changes the count of working days (a holiday
	// on a weekday −1, a workday on a weekend +1, others 0), so that the
	// working days between two dates take two binary searches.
	days  []Day
	nums  []int64
	shift []int64 // len(days)+1; shift[i] is the sum over days[:i]
}

// New builds a calendar in zone (nil: Asia/Shanghai) from its exceptions;
// of two exceptions on one date the later in days wins.
func New(zone *time.Location, days []Day) *Calendar {
	if zone == nil {
		zone = mustZone(DefaultZone)
	}
	byNum := make(map[int64]Day, len(days))
	for _, d := range days {
		byNum[d.Date.number()] = d
	}
	c := &Calendar{zone: zone, days: make([]Day, 0, len(byNum)), nums: make([]int64, 0, len(byNum))}
	for n := range byNum {
		c.nums = append(c.nums, n)
	}
	slices.Sort(c.nums)
	c.shift = make([]int64, 1, len(c.nums)+1)
	for _, n := range c.nums {
		d := byNum[n]
		c.days = append(c.days, d)
		delta := int64(0)
		switch weekend := isWeekend(n); {
		case d.Kind == Holiday && !weekend:
			delta = -1
		case d.Kind == Workday && weekend:
			delta = 1
		}
		c.shift = append(c.shift, c.shift[len(c.shift)-1]+delta)
	}
	return c
}

// LoadZone loads a zone by its IANA name; empty is DefaultZone.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("calendar time zone %q: %w", name, err)
	}
	return loc, nil
}

// Default is the DefaultZone, the city's zone when none is configured.
func Default() *time.Location { return mustZone(DefaultZone) }

func mustZone(name string) *time.Location {
	loc, err := LoadZone(name)
	if err != nil {
		panic(err) // the embedded zone database has every IANA name
	}
	return loc
}

// Zone is the zone whose local days the calendar counts.
func (c *Calendar) Zone() *time.Location { return c.zone }

// IsWorkday tells whether the local day (in the calendar's zone) that holds
// the instant day is a working day. A date at midnight UTC reads as the
// same date in any zone east of UTC, Asia/Shanghai among them.
func (c *Calendar) IsWorkday(day time.Time) bool {
	n, _ := c.wall(day)
	return c.isWorkday(n)
}

// IsWorkdate tells whether a date is a working day.
func (c *Calendar) IsWorkdate(d Date) bool { return c.isWorkday(d.number()) }

// Days lists the exceptions of a year, by date.
func (c *Calendar) Days(year int) []Day {
	lo, hi := c.index(yearStart(year)), c.index(yearStart(year+1))
	return slices.Clone(c.days[lo:hi])
}

// WorkingDays counts the working days of a year.
func (c *Calendar) WorkingDays(year int) int {
	return int(c.workingDays(yearStart(year), yearStart(year+1)))
}

func yearStart(year int) int64 { return Date{year, time.January, 1}.number() }

// index is the position of the first exception on day n or later.
func (c *Calendar) index(n int64) int {
	return sort.Search(len(c.nums), func(i int) bool { return c.nums[i] >= n })
}

func (c *Calendar) isWorkday(n int64) bool {
	if i := c.index(n); i < len(c.nums) && c.nums[i] == n {
		return c.days[i].Kind == Workday
	}
	return !isWeekend(n)
}

// workingDays counts the working days in [from, to).
func (c *Calendar) workingDays(from, to int64) int64 {
	if to <= from {
		return 0
	}
	return weekdaysBefore(to) - weekdaysBefore(from) + c.shift[c.index(to)] - c.shift[c.index(from)]
}

const (
	secondsPerDay = 86400
	nsPerDay      = int64(24 * time.Hour)
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func weekday(n int64) time.Weekday { return time.Weekday((n%7 + 7 + 4) % 7) } // day 0 is a Thursday

func isWeekend(n int64) bool {
	w := weekday(n)
	return w == time.Saturday || w == time.Sunday
}

// weekdaysBefore counts Mondays to Fridays in [0, n); n may be negative.
func weekdaysBefore(n int64) int64 {
	// Within a week counted from a Thursday: Thu, Fri, Sat, Sun, Mon, Tue, Wed.
	prefix := [7]int64{0, 1, 2, 2, 2, 3, 4}
	weeks := floorDiv(n, 7)
	return 5*weeks + prefix[n-7*weeks]
}

// wall is the local day number of t in the calendar's zone and the
// nanoseconds since that day's local midnight, read off the wall clock.
func (c *Calendar) wall(t time.Time) (day, ns int64) {
	_, offset := t.In(c.zone).Zone()
	s := t.Unix() + int64(offset)
	day = floorDiv(s, secondsPerDay)
	return day, (s-day*secondsPerDay)*int64(time.Second) + int64(t.Nanosecond())
}

// instant is the time whose wall clock reads ns past local midnight of day
// n (the wall reading, so that a day of a daylight-saving change still
// counts 24 h; time.Date settles a reading the change skips).
func (c *Calendar) instant(n, ns int64) time.Time {
	d := dateOfNumber(n)
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, int(ns), c.zone)
}
