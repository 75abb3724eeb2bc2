package grids

import (
	"fmt"
	"testing"
)

func TestObjectBefore(t *testing.T) {
	poly := func(id int64) objectKey { return objectKey{id: id} }
	line := func(id int64, d float64) objectKey { return objectKey{line: true, distanceM: d, id: id} }
	for _, c := range []struct {
		a, b objectKey
		want bool
	}{
		{poly(9), line(1, 0), true}, // a polygon before a line, even one through the point
		{line(1, 0), poly(9), false},
		{line(5, 1.5), line(2, 3), true}, // nearer line first
		{line(5, 3), line(2, 3), false},  // then by id
		{line(2, 3), line(5, 3), true},
		{line(5, 3.0004), line(2, 3.0031), false}, // the same to the centimetre: by id
		{line(5, 3.004), line(2, 3.006), true},    // 3.00 m before 3.01 m
		{poly(2), poly(7), true},
		{poly(7), poly(7), false},
	} {
		if got := objectBefore(c.a, c.b); got != c.want {
			t.Errorf("objectBefore(%+v, %+v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestOwnersRule walks the rule's cases over hand-made carriers.
func TestOwnersRule(t *testing.T) {
	const sanitation, roadChief = 0, 1
	d := func(id int64, theme int16, unit int32, lead bool) duty {
		return duty{id: id, theme: theme, unit: unit, lead: lead}
	}
	// show renders owners as "assignment:role@carrier".
	show := func(os []Owner) string {
		s := ""
		for _, o := range os {
			r := "s"
			if o.Lead {
				r = "L"
			}
			s += fmt.Sprintf("%d:%s@%s%d ", o.ID, r, o.ViaKind, o.Via)
		}
		return s
	}
	for _, c := range []struct {
		name  string
		pc    pointCarriers
		theme int16
		want  string
	}{
		{
			name: "the grid's lead wins over the community's; supporters on the way are kept",
			pc: pointCarriers{
				objects:     []carrier{{duties: []duty{d(1, sanitation, 0, false)}, kind: carrierObject, via: 4}},
				grid:        carrier{duties: []duty{d(2, sanitation, 1, true), d(3, sanitation, 2, false)}, kind: carrierGrid, via: 7},
				community:   carrier{duties: []duty{d(4, sanitation, 3, true)}, kind: carrierRegion, via: 2},
				subdistrict: carrier{via: -1}, district: carrier{via: -1},
			},
			theme: sanitation,
			want:  "2:L@grid7 1:s@object4 3:s@grid7 ",
		},
		{
			name: "an object's own lead comes first",
			pc: pointCarriers{
				objects:     []carrier{{duties: []duty{d(5, roadChief, 0, true)}, kind: carrierObject, via: 1}},
				grid:        carrier{duties: []duty{d(6, roadChief, 1, true)}, kind: carrierGrid, via: 3},
				community:   carrier{via: -1},
				subdistrict: carrier{via: -1}, district: carrier{via: -1},
			},
			theme: roadChief,
			want:  "5:L@object1 ",
		},
		{
			name: "nobody below leads: the district answers (属地兜底)",
			pc: pointCarriers{
				grid:        carrier{duties: []duty{d(7, sanitation, 0, false)}, kind: carrierGrid, via: 3},
				community:   carrier{via: -1},
				subdistrict: carrier{duties: nil, kind: carrierRegion, via: 5},
				district:    carrier{duties: []duty{d(8, sanitation, 1, true)}, kind: carrierRegion, via: 9},
			},
			theme: sanitation,
			want:  "8:L@region9 7:s@grid3 ",
		},
		{
			name: "no lead anywhere: supporters only",
			pc: pointCarriers{
				grid:      carrier{duties: []duty{d(9, sanitation, 0, false)}, kind: carrierGrid, via: 3},
				community: carrier{via: -1}, subdistrict: carrier{via: -1}, district: carrier{via: -1},
			},
			theme: sanitation,
			want:  "9:s@grid3 ",
		},
		{
			name: "every duty, in theme order",
			pc: pointCarriers{
				grid:      carrier{duties: []duty{d(10, roadChief, 0, true), d(11, sanitation, 1, true)}, kind: carrierGrid, via: 3},
				community: carrier{via: -1}, subdistrict: carrier{via: -1}, district: carrier{via: -1},
			},
			theme: -1,
			want:  "11:L@grid3 10:L@grid3 ",
		},
	} {
		if got := show(owners(nil, &c.pc, c.theme, 2)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
