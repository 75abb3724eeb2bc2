package calendar_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
)

// problems returns the fields a validation error names.
func problems(t *testing.T, err error) map[string]string {
	t.Helper()
	var ve *grids.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	out := map[string]string{}
	for _, p := range ve.Problems {
		out[p.Field] = p.Message
	}
	return out
}

func TestCheckYear(t *testing.T) {
	ok := []calendar.Entry{
		{Row: "days/0", Date: "2026-02-14", Kind: "班", Name: "春节调休上班"},
		{Row: "days/1", Date: "2026-02-15", Kind: "休", Name: "春节"}, // a Sunday: taken
		{Row: "days/2", Date: "2026-02-16", Kind: "holiday", Name: "春节"},
		{Row: "days/3", Date: " 2026-02-28 ", Kind: "Workday"},
	}
	days, err := calendar.CheckYear(2026, ok)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 4 || days[0].Kind != calendar.Workday || days[1].Kind != calendar.Holiday || days[3].Kind != calendar.Workday {
		t.Errorf("days: %+v", days)
	}

	bad := []calendar.Entry{
		{Row: "days/0", Date: "2026-02-30", Kind: "holiday"},
		{Row: "days/1", Date: "2027-01-01", Kind: "holiday"},
		{Row: "days/2", Date: "2026-05-02", Kind: "vacation"},
		{Row: "days/3", Date: "2026-05-01", Kind: "holiday"},
		{Row: "days/4", Date: "2026-05-01", Kind: "holiday"},
		{Row: "days/5", Date: "2026-05-06", Kind: "workday"}, // a Wednesday
		{Row: "days/6", Date: "2026-05-07", Kind: "holiday", Name: strings.Repeat("节", 101)},
	}
	_, err = calendar.CheckYear(2026, bad)
	got := problems(t, err)
	for field, says := range map[string]string{
		"days/0/date": "not a date",
		"days/1/date": "not in 2026",
		"days/2/kind": "want holiday",
		"days/4/date": "twice (also days/3)",
		"days/5/kind": "Wednesday, already a working day",
		"days/6/name": "at most 100",
	} {
		if !strings.Contains(got[field], says) {
			t.Errorf("%s: %q, want it to say %q", field, got[field], says)
		}
	}
	if len(got) != 6 {
		t.Errorf("problems: %v", got)
	}
	if _, err := calendar.CheckYear(1999, nil); err == nil {
		t.Error("year 1999 taken")
	}
}

func TestParseCSV(t *testing.T) {
	body := "\uFEFFdate,kind,name\r\n2026-02-14,班,春节调休上班\r\n2026-02-15,休,\"春节, 初一前\"\r\n\r\n2026-02-16,holiday,春节\r\n"
	entries, err := calendar.ParseCSV(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []calendar.Entry{
		{Row: "line 2", Date: "2026-02-14", Kind: "班", Name: "春节调休上班"},
		{Row: "line 3", Date: "2026-02-15", Kind: "休", Name: "春节, 初一前"},
		{Row: "line 5", Date: "2026-02-16", Kind: "holiday", Name: "春节"},
	}
	if len(entries) != len(want) {
		t.Fatalf("entries: %+v", entries)
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, entries[i], want[i])
		}
	}
	// Chinese headers, no name column, columns in another order.
	entries, err = calendar.ParseCSV(strings.NewReader("类型,日期\n班,2026-02-28\n"))
	if err != nil || len(entries) != 1 || entries[0].Date != "2026-02-28" || entries[0].Kind != "班" {
		t.Errorf("Chinese headers: %+v %v", entries, err)
	}
	for _, tc := range []struct{ name, body, field, says string }{
		{"empty", "", "line 1", "empty"},
		{"no kind column", "date,name\n2026-01-01,元旦\n", "line 1", "no kind column"},
		{"unknown column", "date,kind,note\n", "line 1", `unknown column "note"`},
		{"GBK", "date,kind,name\n2026-01-01,holiday,\xd4\xaa\xb5\xa9\n", "line 2", "not UTF-8"},
		{"a bare quote", "date,kind,name\n2026-01-01,holiday,\"元旦\n2026-01-02,holiday,x\n", "line 2", ""},
		{"too many fields", "date,kind,name\n2026-01-01,holiday,元旦,x\n", "line 2", "4 fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := calendar.ParseCSV(strings.NewReader(tc.body))
			got := problems(t, err)
			if msg, ok := got[tc.field]; !ok || !strings.Contains(msg, tc.says) {
				t.Errorf("%v, want %s saying %q", got, tc.field, tc.says)
			}
		})
	}
}

// feed is a Chinese holiday feed in the two styles seen in the wild: 休/班
// after the name, and 假期/补班.
const feed = "BEGIN:VCALENDAR\r\n" +
	"VERSION:2.0\r\n" +
	"PRODID:-//test//holidays//CN\r\n" +
	"X-WR-TIMEZONE:Asia/Shanghai\r\n" +
	"BEGIN:VEVENT\r\nUID:2025-newyear\r\nDTSTART;VALUE=DATE:20251231\r\nDTEND;VALUE=DATE:20260104\r\nSUMMARY:元旦 休\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:2026-0104\r\nDTSTART;VALUE=DATE:20260104\r\nSUMMARY:元旦 补班\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:2026-spring\r\nDTSTART;VALUE=DATE:20260215\r\nDURATION:P9D\r\nSUMMARY:春节 假期 第1天/共9天\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:2026-0214\r\nDTSTART;VALUE=DATE:20260214\r\nDTEND;VALUE=DATE:20260215\r\nSUMMARY:春节调休\r\nCATEGORIES:上班\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:2026-0228\r\nDTSTART;VALUE=DATE:20260228\r\nSUMMARY:Makeup workday\r\nX-APPLE-SPECIAL-DAY:ALTERNATE-WORKDAY\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:2027-newyear\r\nDTSTART;VALUE=DATE:20270101\r\nSUMMARY:元旦 休\r\nEND:VEVENT\r\n" +
	"BEGIN:VEVENT\r\nUID:escaped\r\nDTSTART;VALUE=DATE:20261001\r\nDTEND;VALUE=DATE:20261008\r\nSUMMARY:国庆节\\, 中秋节 休\r\nEND:VEVENT\r\n" +
	"END:VCALENDAR\r\n"

func TestParseICal(t *testing.T) {
	entries, ignored, err := calendar.ParseICal(strings.NewReader(feed), 2026)
	if err != nil {
		t.Fatal(err)
	}
	if ignored != 2 { // 2025-12-31 and 2027-01-01
		t.Errorf("ignored %d days, want 2", ignored)
	}
	days, err := calendar.CheckYear(2026, entries)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]calendar.Kind{}
	names := map[string]string{}
	for _, d := range days {
		kinds[d.Date.String()] = d.Kind
		names[d.Date.String()] = d.Name
	}
	if len(days) != 3+1+9+1+1+7 {
		t.Errorf("%d days: %v", len(days), kinds)
	}
	for date, kind := range map[string]calendar.Kind{
		"2026-01-01": calendar.Holiday, "2026-01-03": calendar.Holiday, "2026-01-04": calendar.Workday,
		"2026-02-14": calendar.Workday, "2026-02-15": calendar.Holiday, "2026-02-23": calendar.Holiday,
		"2026-02-28": calendar.Workday, "2026-10-07": calendar.Holiday,
	} {
		if kinds[date] != kind {
			t.Errorf("%s: %q, want %q", date, kinds[date], kind)
		}
	}
	if kinds["2026-02-24"] != "" || kinds["2026-10-08"] != "" {
		t.Error("DTEND and DURATION are exclusive ends")
	}
	if names["2026-10-01"] != "国庆节, 中秋节 休" {
		t.Errorf("escaped summary: %q", names["2026-10-01"])
	}

	for _, tc := range []struct{ name, event, field, says string }{
		{"timed", "UID:t1\r\nDTSTART:20260101T090000Z\r\nSUMMARY:元旦 休", "event t1/dtstart", "not an all-day date"},
		{"no marker", "UID:t2\r\nDTSTART;VALUE=DATE:20260101\r\nSUMMARY:元旦", "event t2/summary", "cannot tell"},
		{"调休 alone", "UID:t3\r\nDTSTART;VALUE=DATE:20260214\r\nSUMMARY:春节调休", "event t3/summary", "调休 alone"},
		{"end before start", "UID:t4\r\nDTSTART;VALUE=DATE:20260105\r\nDTEND;VALUE=DATE:20260105\r\nSUMMARY:休", "event t4/dtend", "not after"},
		{"recurring", "UID:t5\r\nDTSTART;VALUE=DATE:20260101\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:元旦 休", "event t5/rrule", "recurring"},
		{"no UID", "DTSTART;VALUE=DATE:20260101\r\nSUMMARY:元旦", "event 1/summary", "cannot tell"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\n" + tc.event + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			_, _, err := calendar.ParseICal(strings.NewReader(body), 2026)
			got := problems(t, err)
			if msg, ok := got[tc.field]; !ok || !strings.Contains(msg, tc.says) {
				t.Errorf("%v, want %s saying %q", got, tc.field, tc.says)
			}
		})
	}
	// A make-up day the feed puts on a weekday is refused by CheckYear,
	// naming the event.
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:wd\r\nDTSTART;VALUE=DATE:20260105\r\nSUMMARY:补班\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	entries, _, err = calendar.ParseICal(strings.NewReader(body), 2026)
	if err != nil {
		t.Fatal(err)
	}
	_, err = calendar.CheckYear(2026, entries)
	if got := problems(t, err); !strings.Contains(got["event wd/kind"], "Monday") {
		t.Errorf("workday on a Monday: %v", got)
	}
	if _, _, err := calendar.ParseICal(strings.NewReader("not a calendar"), 2026); err == nil {
		t.Error("garbage parsed")
	}
}
