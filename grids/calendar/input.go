package calendar

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/citygrid/citygrid/grids"
)

// Years the calendar takes: wide enough for any plan, narrow enough that a
// typo (20266) is caught.
const (
	MinYear = 2000
	MaxYear = 2199
)

// MaxName is the longest name of a day, in characters.
const MaxName = 100

// Entry is one day of a year's exceptions as a client sent it, before it is
// checked.
type Entry struct {
	// Row is how errors name the row: "days/3" (JSON), "line 5" (CSV),
	// "event <UID>" (iCalendar).
	Row  string
	Date string
	Kind string
	Name string
}

// CheckYear checks a whole year of exceptions and returns them as days, or
// every problem at once, each naming its row. A holiday on a weekend is
// taken (official breaks count their weekend days, and a feed lists them);
// a workday on a weekday is refused, as that day is already a working day.
func CheckYear(year int, entries []Entry) ([]Day, error) {
	if err := CheckYearNumber(year); err != nil {
		return nil, err
	}
	var p grids.Problems
	days := make([]Day, 0, len(entries))
	seen := make(map[Date]string, len(entries))
	for _, e := range entries {
		d, err := ParseDate(strings.TrimSpace(e.Date))
		if err != nil {
			p.Add(e.Row+"/date", "%v", err)
			continue
		}
		kind, ok := ParseKind(e.Kind)
		if !ok {
			p.Add(e.Row+"/kind", "%q: want holiday (休) or workday (班)", e.Kind)
		}
		name := strings.TrimSpace(e.Name)
		if n := utf8.RuneCountInString(name); n > MaxName {
			p.Add(e.Row+"/name", "%d characters; at most %d", n, MaxName)
		}
		switch {
		case d.Year != year:
			p.Add(e.Row+"/date", "%s is not in %d", d, year)
			continue
		case seen[d] != "":
			p.Add(e.Row+"/date", "%s is given twice (also %s)", d, seen[d])
			continue
		}
		seen[d] = e.Row
		if kind == Workday && !isWeekend(d.number()) {
			p.Add(e.Row+"/kind", "%s is a %s, already a working day: a workday (调休上班) is a Saturday or Sunday that is worked", d, d.Weekday())
		}
		if ok {
			days = append(days, Day{Date: d, Kind: kind, Name: name})
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return days, nil
}

// CheckYearNumber refuses a year the calendar does not take.
func CheckYearNumber(year int) error {
	if year < MinYear || year > MaxYear {
		return grids.Invalid("year", "%d: want %d to %d", year, MinYear, MaxYear)
	}
	return nil
}

// ParseKind reads a kind as the API, a spreadsheet or a feed spells it:
// holiday or 休, workday or 班 (补班, 上班).
func ParseKind(s string) (Kind, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "holiday", "休", "假", "放假":
		return Holiday, true
	case "workday", "班", "补班", "上班":
		return Workday, true
	}
	return "", false
}

// ParseCSV reads exceptions from CSV with the header date,kind,name (name
// may be left out; 日期,类型,名称 also do), UTF-8 with or without a byte
// order mark. Rows are named "line N", counting the header as line 1.
func ParseCSV(r io.Reader) ([]Entry, error) {
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimPrefix(body, []byte("\uFEFF"))
	if !utf8.Valid(body) {
		line := 1 + bytes.Count(body[:firstInvalid(body)], []byte("\n"))
		return nil, grids.Invalid(fmt.Sprintf("line %d", line),
			"not UTF-8 (a spreadsheet saving in GBK?): save the file as CSV UTF-8")
	}
	cr := csv.NewReader(bytes.NewReader(body))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, grids.Invalid("line 1", "the file is empty; want the header date,kind,name")
	}
	if err != nil {
		return nil, csvError(err)
	}
	col := map[string]int{}
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "date", "日期":
			col["date"] = i
		case "kind", "类型":
			col["kind"] = i
		case "name", "名称":
			col["name"] = i
		default:
			return nil, grids.Invalid("line 1", "unknown column %q: want the header date,kind,name", h)
		}
	}
	if _, ok := col["date"]; !ok {
		return nil, grids.Invalid("line 1", "no date column: want the header date,kind,name")
	}
	if _, ok := col["kind"]; !ok {
		return nil, grids.Invalid("line 1", "no kind column: want the header date,kind,name")
	}
	cell := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []Entry
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, csvError(err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) > len(header) {
			return nil, grids.Invalid(fmt.Sprintf("line %d", line), "%d fields; the header has %d", len(rec), len(header))
		}
		out = append(out, Entry{Row: fmt.Sprintf("line %d", line), Date: cell(rec, "date"), Kind: cell(rec, "kind"), Name: cell(rec, "name")})
	}
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return grids.Invalid(fmt.Sprintf("line %d", pe.StartLine), "%v (line %d)", pe.Err, pe.Line)
	}
	return err
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
