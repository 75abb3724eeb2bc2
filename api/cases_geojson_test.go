package api

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids/cases"
)

// The hand-written encoding of the map's points writes what encoding/json
// writes for the same collection, byte for byte.
func TestPointCollectionAsEncodingJSON(t *testing.T) {
	due := time.Date(2026, 12, 3, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))
	grid, unit, odd := "110108001001001", "JJ", `a "quoted" <b>&`
	page := cases.PointPage{
		Items: []cases.Point{
			{Category: "E0504", CategoryName: "违章停车", Code: "110108-20261201-00042", Deadline: &due, Grid: &grid, Overdue: true,
				ReportedAt: time.Date(2026, 12, 1, 1, 2, 3, 456789000, time.UTC), Source: "inspector", Status: "dispatched", Unit: &unit,
				Lon: 116.3075123, Lat: 39.9845},
			{Category: "E0101", CategoryName: odd, Code: "110108-20261201-00043", ReportedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
				Source: "hotline", Status: "registered", Warning: true, Lon: 116, Lat: 1e-7},
		},
		Counts:     map[cases.Status]int{"registered": 3, "dispatched": 12, "handling": 0},
		NextCursor: "MTc2NDU1.NDI",
	}
	type feature struct {
		Type       string       `json:"type"`
		ID         string       `json:"id"`
		Geometry   geometry     `json:"geometry"`
		Properties *cases.Point `json:"properties"`
	}
	for _, p := range []cases.PointPage{page, {Items: []cases.Point{}, Counts: map[cases.Status]int{}}} {
		fc := struct {
			Type       string               `json:"type"`
			Features   []feature            `json:"features"`
			Counts     map[cases.Status]int `json:"counts"`
			NextCursor string               `json:"next_cursor,omitempty"`
		}{Type: "FeatureCollection", Features: make([]feature, len(p.Items)), Counts: p.Counts, NextCursor: p.NextCursor}
		for i := range p.Items {
			k := &p.Items[i]
			fc.Features[i] = feature{Type: "Feature", ID: k.Code, Geometry: geometry{Type: "Point", Coordinates: [2]float64{k.Lon, k.Lat}}, Properties: k}
		}
		want, err := json.Marshal(fc)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPointCollection(nil, &p); string(got) != string(want)+"\n" {
			t.Errorf("got\n%s\nwant\n%s", got, want)
		}
	}
}
