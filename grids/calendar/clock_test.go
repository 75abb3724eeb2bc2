package calendar_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids/calendar"
)

var shanghai = must(time.LoadLocation("Asia/Shanghai"))

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// cal2026 is the State Council's 2026 schedule, as migration 9 seeds it.
func cal2026() *calendar.Calendar {
	var days []calendar.Day
	breaks := []struct {
		name        string
		first, last string
	}{
		{"元旦", "2026-01-01", "2026-01-03"}, {"春节", "2026-02-15", "2026-02-23"}, {"清明节", "2026-04-04", "2026-04-06"},
		{"劳动节", "2026-05-01", "2026-05-05"}, {"端午节", "2026-06-19", "2026-06-21"}, {"中秋节", "2026-09-25", "2026-09-27"},
		{"国庆节", "2026-10-01", "2026-10-07"},
	}
	for _, b := range breaks {
		last := must(calendar.ParseDate(b.last))
		for d := must(calendar.ParseDate(b.first)); d != last.AddDays(1); d = d.AddDays(1) {
			days = append(days, calendar.Day{Date: d, Kind: calendar.Holiday, Name: b.name})
		}
	}
	for _, w := range []string{"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"} {
		days = append(days, calendar.Day{Date: must(calendar.ParseDate(w)), Kind: calendar.Workday, Name: "调休上班"})
	}
	return calendar.New(shanghai, days)
}

func at(s string) time.Time { return must(time.ParseInLocation("2006-01-02 15:04", s, shanghai)) }

const day = 24 * time.Hour

func TestWorkingAdd(t *testing.T) {
	plain := calendar.New(shanghai, nil)
	c := cal2026()
	for _, tc := range []struct {
		name  string
		cal   *calendar.Calendar
		start string
		d     time.Duration
		want  string
	}{
		{"3 working days from Friday 15:00 over a plain weekend", plain, "2026-03-06 15:00", 3 * day, "2026-03-11 15:00"},
		{"within the day", plain, "2026-03-09 08:00", 4 * time.Hour, "2026-03-09 12:00"},
		{"to the end of the day is midnight", plain, "2026-03-09 08:00", 16 * time.Hour, "2026-03-10 00:00"},
		{"one working day from Monday 00:00", plain, "2026-03-09 00:00", day, "2026-03-10 00:00"},
		{"Friday 23:00 plus 2 h runs into Monday", plain, "2026-03-06 23:00", 2 * time.Hour, "2026-03-09 01:00"},
		{"starting on a Saturday counts from Monday 00:00", plain, "2026-03-07 10:00", day, "2026-03-10 00:00"},
		{"starting on a holiday counts from the next working day", c, "2026-10-03 10:00", 2 * time.Hour, "2026-10-08 02:00"},
		{"a holiday on a weekday is skipped", c, "2026-04-03 12:00", day, "2026-04-07 12:00"},
		// Spring Festival: Sat 14 Feb worked, 15–23 Feb off, Tue 24 back.
		{"into the make-up Saturday", c, "2026-02-13 12:00", day, "2026-02-14 12:00"},
		{"across the Spring Festival week", c, "2026-02-13 12:00", 2 * day, "2026-02-24 12:00"},
		{"from the make-up Saturday", c, "2026-02-14 09:00", 3 * day, "2026-02-26 09:00"},
		{"to the second make-up Saturday", c, "2026-02-26 09:00", 2 * day, "2026-02-28 09:00"},
		{"National Day: from the make-up Sunday 20 Sep", c, "2026-09-20 00:00", 5 * day, "2026-09-25 00:00"},
		{"National Day: over the Mid-Autumn weekend and the week off", c, "2026-09-30 12:00", 2 * day, "2026-10-09 12:00"},
		{"New Year: the make-up Sunday 4 Jan", c, "2025-12-31 18:00", day, "2026-01-04 18:00"},
		{"a whole year", c, "2026-01-01 00:00", time.Duration(c.WorkingDays(2026)) * day, "2027-01-01 00:00"},
		{"zero is the start, even on a holiday", c, "2026-10-03 10:00", 0, "2026-10-03 10:00"},
		{"back within the day", plain, "2026-03-09 10:00", -time.Hour, "2026-03-09 09:00"},
		{"back to midnight", plain, "2026-03-09 10:00", -10 * time.Hour, "2026-03-09 00:00"},
		{"back over a weekend", plain, "2026-03-09 10:00", -11 * time.Hour, "2026-03-06 23:00"},
		{"back from a Sunday", plain, "2026-03-08 10:00", -day, "2026-03-06 00:00"},
		{"back over the Spring Festival and the make-up Saturday", c, "2026-02-24 06:00", -2 * day, "2026-02-13 06:00"},
		{"back into the make-up Saturday", c, "2026-02-24 06:00", -day, "2026-02-14 06:00"},
		// The year's first working day is the make-up Sunday 4 January.
		{"back over a whole year", c, "2027-01-01 00:00", -time.Duration(c.WorkingDays(2026)) * day, "2026-01-04 00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.cal.Working().Add(at(tc.start), tc.d)
			if !got.Equal(at(tc.want)) {
				t.Errorf("Add(%s, %v) = %s, want %s", tc.start, tc.d, got.Format("2006-01-02 15:04 Mon"), tc.want)
			}
			if back := tc.cal.Working().Between(at(tc.start), got); back != tc.d {
				t.Errorf("Between(start, Add(start, d)) = %v, want %v", back, tc.d)
			}
		})
	}
}

// Add and Between agree everywhere: from 20,000 random starts over three
// years, forwards and backwards, to the second.
func TestWorkingAddBetweenAgree(t *testing.T) {
	c := cal2026()
	w := c.Working()
	rng := rand.New(rand.NewPCG(13, 2026))
	base := at("2025-01-01 00:00")
	for range 20000 {
		start := base.Add(time.Duration(rng.Int64N(int64(3*365*day/time.Second))) * time.Second)
		d := time.Duration(rng.Int64N(int64(30*day/time.Second))) * time.Second
		if rng.IntN(2) == 0 {
			d = -d
		}
		end := w.Add(start, d)
		if got := w.Between(start, end); got != d {
			t.Fatalf("Between(%s, Add(%s, %v) = %s) = %v", start, start, d, end, got)
		}
		if d > 0 && end.Before(start) || d < 0 && end.After(start) {
			t.Fatalf("Add(%s, %v) = %s runs the wrong way", start, d, end)
		}
		if later := w.Add(start, d+time.Second); later.Before(end) {
			t.Fatalf("Add is not monotonic at %s, %v", start, d)
		}
	}
}

func TestWorkingBetween(t *testing.T) {
	c := cal2026()
	for _, tc := range []struct {
		name string
		a, b string
		want time.Duration
	}{
		{"same working day", "2026-03-09 08:00", "2026-03-09 17:30", 9*time.Hour + 30*time.Minute},
		{"same weekend day", "2026-03-07 08:00", "2026-03-07 17:30", 0},
		{"Friday noon to Monday noon", "2026-03-06 12:00", "2026-03-09 12:00", day},
		{"the Spring Festival week is not counted", "2026-02-13 00:00", "2026-02-25 00:00", 3 * day},
		{"the make-up Saturday counts", "2026-02-14 06:00", "2026-02-14 18:00", 12 * time.Hour},
		{"the holiday weekday does not", "2026-04-06 06:00", "2026-04-06 18:00", 0},
		{"holiday to holiday", "2026-10-03 12:00", "2026-10-04 12:00", 0},
		{"from a holiday into the week after", "2026-10-03 12:00", "2026-10-09 12:00", day + 12*time.Hour},
		{"February 2026", "2026-02-01 00:00", "2026-03-01 00:00", 16 * day},
		{"equal times", "2026-03-09 08:00", "2026-03-09 08:00", 0},
		{"backwards is negative", "2026-03-11 15:00", "2026-03-06 15:00", -3 * day},
		{"backwards within a weekend is zero", "2026-03-08 15:00", "2026-03-07 15:00", 0},
		{"across the year end", "2025-12-31 12:00", "2026-01-05 12:00", 12*time.Hour + day + 12*time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Working().Between(at(tc.a), at(tc.b)); got != tc.want {
				t.Errorf("Between(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

// The working clock reads the calendar's local days whatever zone a time
// comes in: 16:00 UTC on a Friday is 00:00 Saturday in Shanghai.
func TestWorkingZones(t *testing.T) {
	c := calendar.New(shanghai, nil)
	fri := time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC) // Friday 23:00 in Shanghai
	got := c.Working().Add(fri, 2*time.Hour)
	if want := at("2026-03-09 01:00"); !got.Equal(want) {
		t.Errorf("Add = %s, want %s", got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("Add answers in %s, want the caller's UTC", got.Location())
	}
	if !c.IsWorkday(time.Date(2026, 3, 6, 15, 59, 0, 0, time.UTC)) || c.IsWorkday(time.Date(2026, 3, 6, 16, 0, 0, 0, time.UTC)) {
		t.Error("IsWorkday does not turn at Shanghai's midnight")
	}
	// A calendar in another zone turns at that zone's midnight.
	utc := calendar.New(time.UTC, nil)
	if !utc.IsWorkday(time.Date(2026, 3, 6, 23, 0, 0, 0, time.UTC)) {
		t.Error("a UTC calendar: Friday 23:00 UTC is a working day")
	}
}

// Every local midnight of the year is 24 h after the one before in
// Asia/Shanghai, so that a working day is exactly a day of elapsed time.
func TestShanghaiMidnights(t *testing.T) {
	c := cal2026()
	prev := at("2026-01-01 00:00")
	total := time.Duration(0)
	for d := 1; d <= 365; d++ {
		next := prev.AddDate(0, 0, 1)
		if next.Sub(prev) != day {
			t.Fatalf("%s to %s is %v", prev, next, next.Sub(prev))
		}
		total += c.Working().Between(prev, next)
		prev = next
	}
	if want := time.Duration(c.WorkingDays(2026)) * day; total != want {
		t.Errorf("the days add up to %v, want %v", total, want)
	}
}

func TestIsWorkdayAndDays(t *testing.T) {
	c := cal2026()
	for date, want := range map[string]bool{
		"2026-02-13": true,  // Friday
		"2026-02-14": true,  // make-up Saturday
		"2026-02-15": false, // Sunday in the break
		"2026-02-16": false, // Monday in the break
		"2026-02-24": true,  // back to work
		"2026-02-28": true,  // second make-up Saturday
		"2026-03-01": false, // plain Sunday
		"2026-10-08": true,  // after National Day
	} {
		if got := c.IsWorkdate(must(calendar.ParseDate(date))); got != want {
			t.Errorf("IsWorkdate(%s) = %v", date, got)
		}
		if got := c.IsWorkday(at(date + " 12:00")); got != want {
			t.Errorf("IsWorkday(%s 12:00) = %v", date, got)
		}
	}
	days := c.Days(2026)
	if len(days) != 33+6 {
		t.Errorf("2026 has %d exceptions, want 39", len(days))
	}
	for i := 1; i < len(days); i++ {
		if days[i].Date.In(time.UTC).Before(days[i-1].Date.In(time.UTC)) {
			t.Errorf("Days is not sorted at %d", i)
		}
	}
	if len(c.Days(2025)) != 0 || len(c.Days(2027)) != 0 {
		t.Error("other years have exceptions")
	}
	// 261 weekdays in 2026, 19 of them in breaks, 6 make-up weekend days.
	if got := c.WorkingDays(2026); got != 261-19+6 {
		t.Errorf("WorkingDays(2026) = %d, want 248", got)
	}
	if got := calendar.New(shanghai, nil).WorkingDays(2026); got != 261 {
		t.Errorf("plain 2026 = %d, want 261", got)
	}
}

func TestLimitClock(t *testing.T) {
	c := cal2026()
	clock, d := c.Clock(calendar.Limit{WorkingDays: 3})
	if _, ok := clock.(calendar.WorkingClock); !ok || d != 3*day {
		t.Errorf("working days: %T %v", clock, d)
	}
	if got := clock.Add(at("2026-02-13 15:00"), d); !got.Equal(at("2026-02-25 15:00")) {
		t.Errorf("3 working days from Friday before the Spring Festival: %s", got)
	}
	clock, d = c.Clock(calendar.Limit{Hours: 48})
	if _, ok := clock.(calendar.Natural); !ok || d != 48*time.Hour {
		t.Errorf("hours: %T %v", clock, d)
	}
	if got := clock.Add(at("2026-02-13 15:00"), d); !got.Equal(at("2026-02-15 15:00")) {
		t.Errorf("48 h: %s", got)
	}
	if got := clock.Between(at("2026-02-15 15:00"), at("2026-02-13 15:00")); got != -48*time.Hour {
		t.Errorf("natural backwards: %v", got)
	}
	for _, l := range []calendar.Limit{{}, {Hours: 2, WorkingDays: 1}, {Hours: -1}, {WorkingDays: 400}} {
		if l.Check("limit") == nil {
			t.Errorf("%+v passes Check", l)
		}
	}
	if err := (calendar.Limit{WorkingDays: 5}).Check("limit"); err != nil {
		t.Error(err)
	}
}

func ExampleWorkingClock() {
	zone, _ := time.LoadLocation("Asia/Shanghai")
	spring := must(calendar.ParseDate("2026-02-15"))
	var days []calendar.Day
	for i := range 9 { // 15–23 February off
		days = append(days, calendar.Day{Date: spring.AddDays(i), Kind: calendar.Holiday, Name: "春节"})
	}
	days = append(days, calendar.Day{Date: must(calendar.ParseDate("2026-02-14")), Kind: calendar.Workday, Name: "春节调休上班"})
	cal := calendar.New(zone, days)

	clock, limit := cal.Clock(calendar.Limit{WorkingDays: 3})
	dispatched := time.Date(2026, 2, 13, 15, 0, 0, 0, zone) // a Friday
	deadline := clock.Add(dispatched, limit)
	fmt.Println(deadline.Format("2006-01-02 15:04 Mon"))
	now := time.Date(2026, 2, 24, 15, 0, 0, 0, zone)
	fmt.Println(clock.Between(now, deadline)) // left
	// Output:
	// 2026-02-25 15:00 Wed
	// 24h0m0s
}

// The cost of a deadline and of a time left over a year of 2026's
// holidays.
func BenchmarkWorkingAdd(b *testing.B) {
	c := cal2026()
	w := c.Working()
	start := at("2026-01-01 09:30")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		w.Add(start.Add(time.Duration(i%8760)*time.Hour), 5*day)
	}
}

func BenchmarkWorkingBetween(b *testing.B) {
	c := cal2026()
	w := c.Working()
	start, end := at("2026-01-01 09:30"), at("2026-12-31 17:00")
	b.ReportAllocs()
	for b.Loop() {
		w.Between(start, end)
	}
}

func BenchmarkWorkingAddYear(b *testing.B) {
	c := cal2026()
	w := c.Working()
	start, d := at("2026-01-01 09:30"), time.Duration(c.WorkingDays(2026))*day
	b.ReportAllocs()
	for b.Loop() {
		w.Add(start, d)
	}
}
