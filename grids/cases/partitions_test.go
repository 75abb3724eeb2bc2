package cases

import (
	"reflect"
	"testing"
	"time"
)

func TestCoverOf(t *testing.T) {
	m := func(y int, mo time.Month) time.Time { return time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC) }
	parts := []monthPart{
		{"cases_202610", m(2026, 10), m(2026, 11)},
		{"cases_202611", m(2026, 11), m(2026, 12)},
		{"cases_202612", m(2026, 12), m(2027, 1)},
		// January is missing: its cases are in the default partition.
		{"cases_202702", m(2027, 2), m(2027, 3)},
	}
	day := 24 * time.Hour
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []string
		ok       bool
	}{
		{"inside one month", m(2026, 11).Add(3 * day), m(2026, 11).Add(9 * day), []string{"cases_202611"}, true},
		{"across two", m(2026, 12).Add(-3 * day), m(2026, 12).Add(3 * day), []string{"cases_202611", "cases_202612"}, true},
		{"ends on a bound: the next month holds that instant", m(2026, 11).Add(-day), m(2026, 12), []string{"cases_202610", "cases_202611", "cases_202612"}, true},
		{"before the first", m(2026, 9).Add(27 * day), m(2026, 10).Add(3 * day), nil, false},
		{"into a missing month", m(2026, 12).Add(28 * day), m(2027, 1).Add(3 * day), nil, false},
		{"after the last", m(2027, 3).Add(day), m(2027, 3).Add(3 * day), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := coverOf(parts, tc.from, tc.to)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("coverOf(%s, %s) = %v, %v; want %v, %v", tc.from, tc.to, got, ok, tc.want, tc.ok)
			}
		})
	}
}
