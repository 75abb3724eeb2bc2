package calendar

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/citygrid/citygrid/grids"
)

// ParseICal reads the exceptions of year from an iCalendar file of all-day
// events (VEVENT with DTSTART;VALUE=DATE). An event covers DTSTART up to
// DTEND (exclusive), or its DURATION in days or weeks, or one day. Its kind
// comes from Apple's X-APPLE-SPECIAL-DAY when present, otherwise from the
// markers Chinese holiday feeds put in SUMMARY or CATEGORIES: 班 (补班,
// 上班) for a make-up working day, 休 or 假 (假期) for a holiday; 调休
// alone is refused, as feeds use it for both. Feeds hold many years, so
// days outside year are left out and counted in ignored, not refused.
// Events are named "event <UID>" in errors ("event N", counting from 1,
// without a UID).
func ParseICal(r io.Reader, year int) (entries []Entry, ignored int, err error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, err
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF"))))
	if err != nil {
		return nil, 0, grids.Invalid("body", "not an iCalendar file: %v", err)
	}
	var p grids.Problems
	for i, ev := range cal.Events() {
		row := fmt.Sprintf("event %d", i+1)
		if uid := prop(ev, ics.ComponentPropertyUniqueId); uid != "" {
			row = "event " + uid
		}
		summary := prop(ev, ics.ComponentPropertySummary)
		start, ok := allDay(ev, ics.ComponentPropertyDtStart)
		switch {
		case prop(ev, ics.ComponentPropertyDtStart) == "":
			p.Add(row+"/dtstart", "missing")
			continue
		case !ok:
			p.Add(row+"/dtstart", "%q is not an all-day date (DTSTART;VALUE=DATE:YYYYMMDD)", prop(ev, ics.ComponentPropertyDtStart))
			continue
		case prop(ev, ics.ComponentPropertyRrule) != "":
			p.Add(row+"/rrule", "recurring events are not read: list each break as its own event")
			continue
		}
		n, field, msg := eventDays(ev, start)
		if msg != "" {
			p.Add(row+"/"+field, "%s", msg)
			continue
		}
		kind, msg := feedKind(ev, summary)
		if msg != "" {
			p.Add(row+"/summary", "%s", msg)
			continue
		}
		for k := range n {
			d := start.AddDays(k)
			if d.Year != year {
				ignored++
				continue
			}
			entries = append(entries, Entry{Row: row, Date: d.String(), Kind: string(kind), Name: strings.TrimSpace(summary)})
		}
	}
	if err := p.Err(); err != nil {
		return nil, 0, err
	}
	return entries, ignored, nil
}

func prop(ev *ics.VEvent, name ics.ComponentProperty) string {
	if pr := ev.GetProperty(name); pr != nil {
		return strings.TrimSpace(pr.Value)
	}
	return ""
}

// allDay reads a DATE value; a DATE-TIME is not an all-day event.
func allDay(ev *ics.VEvent, name ics.ComponentProperty) (Date, bool) {
	pr := ev.GetProperty(name)
	if pr == nil {
		return Date{}, false
	}
	if v := pr.ICalParameters["VALUE"]; len(v) > 0 && !strings.EqualFold(v[0], "DATE") {
		return Date{}, false
	}
	t, err := time.Parse("20060102", strings.TrimSpace(pr.Value))
	if err != nil {
		return Date{}, false
	}
	return DateOf(t), true
}

var dayDuration = regexp.MustCompile(`^P(?:(\d+)W|(\d+)D)$`)

// eventDays is how many days an event covers, or the field and what is
// wrong with it.
func eventDays(ev *ics.VEvent, start Date) (n int, field, msg string) {
	const most = 366
	switch {
	case prop(ev, ics.ComponentPropertyDtEnd) != "":
		end, ok := allDay(ev, ics.ComponentPropertyDtEnd)
		if !ok {
			return 0, "dtend", fmt.Sprintf("%q is not an all-day date (DTEND;VALUE=DATE:YYYYMMDD)", prop(ev, ics.ComponentPropertyDtEnd))
		}
		n = int(end.number() - start.number())
		if n <= 0 {
			return 0, "dtend", fmt.Sprintf("%s is not after DTSTART %s (DTEND of an all-day event is the day after its last)", end, start)
		}
	case prop(ev, ics.ComponentPropertyDuration) != "":
		v := prop(ev, ics.ComponentPropertyDuration)
		m := dayDuration.FindStringSubmatch(strings.ToUpper(v))
		if m == nil {
			return 0, "duration", fmt.Sprintf("%q: want whole days or weeks (P3D, P1W)", v)
		}
		if m[1] != "" {
			w, _ := strconv.Atoi(m[1])
			n = 7 * w
		} else {
			n, _ = strconv.Atoi(m[2])
		}
		if n <= 0 {
			return 0, "duration", fmt.Sprintf("%q covers no day", v)
		}
	default:
		n = 1
	}
	if n > most {
		return 0, "dtend", fmt.Sprintf("the event covers %d days; at most %d", n, most)
	}
	return n, "", ""
}

// feedKind tells a holiday from a make-up working day, or says why it
// cannot.
func feedKind(ev *ics.VEvent, summary string) (Kind, string) {
	switch strings.ToUpper(prop(ev, ics.ComponentProperty("X-APPLE-SPECIAL-DAY"))) {
	case "ALTERNATE-WORKDAY":
		return Workday, ""
	case "WORK-HOLIDAY":
		return Holiday, ""
	}
	text := summary
	for _, c := range ev.GetProperties(ics.ComponentPropertyCategories) {
		text += " " + c.Value
	}
	switch {
	case strings.Contains(text, "班"):
		return Workday, ""
	case strings.Contains(strings.ReplaceAll(text, "调休", ""), "休"), strings.Contains(text, "假"):
		return Holiday, ""
	case strings.Contains(text, "调休"):
		return "", fmt.Sprintf("%q: 调休 alone may be a day off or a make-up working day; mark it 休 or 班", summary)
	}
	return "", fmt.Sprintf("%q: cannot tell a holiday from a make-up working day; mark it 休 or 班 (补班)", summary)
}
