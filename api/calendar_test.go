package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids/calendar"
)

type calendarAnswer struct {
	Year        int    `json:"year"`
	Timezone    string `json:"timezone"`
	WorkingDays int    `json:"working_days"`
	Ignored     int    `json:"ignored"`
	Days        []struct {
		Date, Kind, Name string
	} `json:"days"`
}

func (e *env) calendarYear(token string, year string) calendarAnswer {
	e.t.Helper()
	r := e.do("GET", "/api/v1/calendar/"+year, token, nil)
	if r.status != 200 {
		e.t.Fatalf("GET calendar %s: %d %s", year, r.status, r.body)
	}
	var a calendarAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) putCalendar(token, year, ctype, body string) response {
	e.t.Helper()
	req, err := http.NewRequest("PUT", e.url+"/api/v1/calendar/"+year, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return e.send(req)
}

func kinds(a calendarAnswer) map[string]string {
	m := map[string]string{}
	for _, d := range a.Days {
		m[d.Date] = d.Kind
	}
	return m
}

func TestCalendar(t *testing.T) {
	e := newEnv(t)
	dispatcher := e.token("dispatcher", "")

	// The seeded 2026 schedule, readable by any role.
	y := e.calendarYear(dispatcher, "2026")
	if y.Year != 2026 || y.Timezone != "Asia/Shanghai" || len(y.Days) != 39 || y.WorkingDays != 248 {
		t.Errorf("2026: year %d, %s, %d days, %d working days", y.Year, y.Timezone, len(y.Days), y.WorkingDays)
	}
	if y.Days[0].Date != "2026-01-01" || y.Days[0].Kind != "holiday" || y.Days[0].Name != "元旦" {
		t.Errorf("first day: %+v", y.Days[0])
	}
	if k := kinds(y); k["2026-02-14"] != "workday" || k["2026-02-23"] != "holiday" || k["2026-02-24"] != "" {
		t.Errorf("Spring Festival: %v", k)
	}
	if empty := e.calendarYear(dispatcher, "2030"); empty.Days == nil || len(empty.Days) != 0 || empty.WorkingDays != 261 {
		t.Errorf("2030: %+v", empty)
	}

	// Only an admin writes.
	if r := e.putCalendar(dispatcher, "2027", "application/json", `{"days":[]}`); r.status != 403 {
		t.Errorf("dispatcher PUT: %d", r.status)
	}

	// JSON.
	r := e.putCalendar(adminToken, "2027", "application/json",
		`{"days":[{"date":"2027-02-06","kind":"workday","name":"春节调休上班"},{"date":"2027-02-08","kind":"休","name":"春节"}]}`)
	if r.status != 200 {
		t.Fatalf("PUT JSON: %d %s", r.status, r.body)
	}
	if a := e.calendarYear(dispatcher, "2027"); len(a.Days) != 2 || kinds(a)["2027-02-08"] != "holiday" || a.WorkingDays != 261-1+1 {
		t.Errorf("2027 after JSON: %+v", a)
	}
	// The server that wrote reads its own write on the clock at once.
	if e.calendar.Current().IsWorkday(time.Date(2027, 2, 8, 12, 0, 0, 0, time.UTC)) {
		t.Error("the holder still counts 2027-02-08 as a working day")
	}

	// CSV with a byte order mark replaces the year whole.
	r = e.putCalendar(adminToken, "2027", "text/csv; charset=utf-8", "\uFEFFdate,kind,name\r\n2027-01-01,休,元旦\r\n2027-02-20,班,春节调休上班\r\n")
	if r.status != 200 {
		t.Fatalf("PUT CSV: %d %s", r.status, r.body)
	}
	a := e.calendarYear(dispatcher, "2027")
	if k := kinds(a); len(k) != 2 || k["2027-01-01"] != "holiday" || k["2027-02-20"] != "workday" || k["2027-02-08"] != "" {
		t.Errorf("2027 after CSV: %v", k)
	}
	if len(e.calendarYear(dispatcher, "2026").Days) != 39 {
		t.Error("replacing 2027 changed 2026")
	}

	// iCalendar: a multi-day break, a make-up day, and a day of another year
	// left out.
	ical := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//CN\r\n" +
		"BEGIN:VEVENT\r\nUID:ny\r\nDTSTART;VALUE=DATE:20261231\r\nDTEND;VALUE=DATE:20270102\r\nSUMMARY:元旦 休\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:sf\r\nDTSTART;VALUE=DATE:20270206\r\nDTEND;VALUE=DATE:20270214\r\nSUMMARY:春节 假期\r\nEND:VEVENT\r\n" +
		"BEGIN:VEVENT\r\nUID:mk\r\nDTSTART;VALUE=DATE:20270220\r\nSUMMARY:春节 补班\r\nEND:VEVENT\r\n" +
		"END:VCALENDAR\r\n"
	r = e.putCalendar(adminToken, "2027", "text/calendar", ical)
	if r.status != 200 {
		t.Fatalf("PUT iCal: %d %s", r.status, r.body)
	}
	var put calendarAnswer
	if err := json.Unmarshal(r.body, &put); err != nil || put.Ignored != 1 || len(put.Days) != 1+8+1 {
		t.Errorf("PUT iCal answer: %s", r.body)
	}
	// 2027-02-06 is a Saturday: Mon 8 to Fri 12 off, the 20th (Sat) worked.
	if a := e.calendarYear(dispatcher, "2027"); a.WorkingDays != 261-1-5+1 {
		t.Errorf("2027 after iCal: %d working days", a.WorkingDays)
	}

	// Refusals name the row and write nothing.
	before := e.count("calendar_days")
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		field             string
	}{
		{"JSON bad date", "application/json", `{"days":[{"date":"2027-01-01","kind":"holiday"},{"date":"2027-02-30","kind":"holiday"}]}`, 422, "days/1/date"},
		{"JSON other year", "application/json", `{"days":[{"date":"2028-01-01","kind":"holiday"}]}`, 422, "days/0/date"},
		{"JSON workday on a weekday", "application/json", `{"days":[{"date":"2027-03-03","kind":"workday"}]}`, 422, "days/0/kind"},
		{"JSON duplicate", "application/json", `{"days":[{"date":"2027-01-01","kind":"holiday"},{"date":"2027-01-01","kind":"休"}]}`, 422, "days/1/date"},
		{"JSON no days", "application/json", `{}`, 400, "days"},
		{"JSON unknown field", "application/json", `{"days":[],"year":2027}`, 400, "year"},
		{"CSV bad kind", "text/csv", "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-02,周末,x\n", 422, "line 3/kind"},
		{"CSV GBK", "text/csv", "date,kind,name\n2027-01-01,holiday,\xd4\xaa\xb5\xa9\n", 422, "line 2"},
		{"iCal no marker", "text/calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:q1\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:元旦\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 422, "event q1/summary"},
		{"iCal make-up on a weekday", "text/calendar", "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:q2\r\nDTSTART;VALUE=DATE:20270104\r\nSUMMARY:补班\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 422, "event q2/kind"},
		{"not iCalendar", "text/calendar", "hello", 422, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.putCalendar(adminToken, "2027", tc.ctype, tc.body)
			if r.status != tc.status {
				t.Fatalf("%d, want %d: %s", r.status, tc.status, r.body)
			}
			if _, field := r.errField(t); field != tc.field {
				t.Errorf("names %q, want %q: %s", field, tc.field, r.body)
			}
		})
	}
	if r := e.putCalendar(adminToken, "2027", "application/xml", "<days/>"); r.status != 415 {
		t.Errorf("XML: %d", r.status)
	}
	if after := e.count("calendar_days"); after != before {
		t.Errorf("refused writes changed the table: %d rows, then %d", before, after)
	}
	if a := e.calendarYear(dispatcher, "2027"); a.WorkingDays != 261-1-5+1 {
		t.Errorf("2027 changed by a refused write: %d working days", a.WorkingDays)
	}
	e.expectErrors([]errCase{
		{path: "/api/v1/calendar/abc", token: dispatcher, status: 400, field: "year"},
		{path: "/api/v1/calendar/1999", token: dispatcher, status: 422, field: "year"},
		{path: "/api/v1/calendar/2026", token: "", status: 401},
	})
}

// A second server on the same database hears the change and counts the
// new holiday on its own clock.
func TestCalendarNotifiesOtherServers(t *testing.T) {
	a := newEnv(t)
	b := a.twin(t)
	time.Sleep(200 * time.Millisecond) // let b's listener start
	mon := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	if !b.calendar.Current().IsWorkday(mon) {
		t.Fatal("2027-03-01 (a Monday) is not a working day to start with")
	}
	if r := a.putCalendar(adminToken, "2027", "application/json", `{"days":[{"date":"2027-03-01","kind":"holiday","name":"test"}]}`); r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.calendar.Current().IsWorkday(mon) {
		if time.Now().After(deadline) {
			t.Fatal("the other server never reloaded its calendar")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Its working clock skips the day: Friday noon + 1 working day is
	// Tuesday noon.
	fri := time.Date(2027, 2, 26, 12, 0, 0, 0, mustZone(t))
	if got := b.calendar.Current().Working().Add(fri, 24*time.Hour); !got.Equal(time.Date(2027, 3, 2, 12, 0, 0, 0, mustZone(t))) {
		t.Errorf("Friday noon + 1 working day = %s", got)
	}
}

func mustZone(t *testing.T) *time.Location {
	z, err := calendar.LoadZone("")
	if err != nil {
		t.Fatal(err)
	}
	return z
}
