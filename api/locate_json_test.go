package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/citygrid/citygrid/grids"
)

// Strings a city may hold (quotes, HTML characters, line separators,
// invalid UTF-8), nil slices and pointers, and the fields that are left
// out when empty: appendAnswer writes what the server's encoding/json
// writes, for the whole answer and for each single field.
func TestAnswerAsEncodingJSON(t *testing.T) {
	odd := "a \"quoted\" <b>&\u2028\xff\\"
	cn := &grids.CodeName{Code: "110108", Name: odd}
	answers := []grids.Answer{
		{},
		{Inside: true, Point: grids.LonLat{Lon: 116.3075123, Lat: 1e-7}, Input: &grids.InputPoint{Lon: 116.31, Lat: 39.98, CRS: "gcj02"},
			Regions: grids.AnswerRegions{District: cn, Community: &grids.CodeName{Code: "110108001001", Name: "社区"}},
			Grid:    &grids.AnswerGrid{Code: "110108001001001", Name: odd, Version: 3}, OnBoundary: true,
			Adjacent: []grids.AnswerGrid{{Code: "110108001001002", Name: "网格2", Version: 1}, {Code: "x", Name: odd}},
			Objects:  []grids.AnswerObject{{ID: 7, Code: "3205080101000001", Name: odd, Layer: "manhole", DistanceM: 0}, {ID: 8, Name: "小巷", Layer: "alley", DistanceM: 12.34}},
			Owners: []grids.AnswerOwner{
				{Theme: "sanitation", ThemeName: "环境卫生", Role: "lead", Unit: grids.AnswerUnit{Code: "HW", Name: odd, Kind: "department"},
					Via: grids.AnswerVia{Kind: "object", ID: 7, Code: "3205080101000001", Name: odd, Layer: "manhole"}, AssignmentID: 42},
				{Theme: "greening", ThemeName: "绿化", Role: "support", Unit: grids.AnswerUnit{Code: "JD", Name: "街道", Kind: "subdistrict_office"},
					Via: grids.AnswerVia{Kind: "fallback", Code: "110108001000", Name: "街道", Level: "subdistrict"}},
			},
			NearestGrid: &grids.AnswerNearest{Code: "110108001001003", Name: odd, DistanceM: 1234.5}, Engine: "db"},
		{Point: grids.LonLat{Lon: -180, Lat: 90}, Adjacent: []grids.AnswerGrid{}, Objects: []grids.AnswerObject{}, Owners: []grids.AnswerOwner{}, Engine: "index"},
	}
	for _, a := range answers {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
		if got := appendAnswer(nil, &a, allAnswerFields); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("got\n%s\nwant\n%s", got, want.Bytes())
		}
		var whole map[string]json.RawMessage
		if err := json.Unmarshal(want.Bytes(), &whole); err != nil {
			t.Fatal(err)
		}
		for i, name := range answerFieldNames {
			f, err := parseAnswerFields(name)
			if err != nil || f != 1<<i {
				t.Fatalf("fields=%s: %b, %v", name, f, err)
			}
			w := "{}\n"
			if v, ok := whole[name]; ok {
				w = `{"` + name + `":` + string(v) + "}\n"
			}
			if got := appendAnswer(nil, &a, f); string(got) != w {
				t.Errorf("fields=%s: got %s want %s", name, got, w)
			}
		}
	}
}

func BenchmarkAppendAnswer(b *testing.B) {
	a := grids.Answer{Inside: true, Point: grids.LonLat{Lon: 116.3075123, Lat: 39.98}, Grid: &grids.AnswerGrid{Code: "110108001001001", Name: "网格", Version: 3},
		Adjacent: []grids.AnswerGrid{}, Objects: []grids.AnswerObject{{ID: 8, Name: "小巷", Layer: "alley", DistanceM: 12.34}}, Engine: "index"}
	for range 16 {
		a.Owners = append(a.Owners, grids.AnswerOwner{Theme: "sanitation", ThemeName: "环境卫生", Role: "lead", Unit: grids.AnswerUnit{Code: "HW", Name: "环卫所", Kind: "department"},
			Via: grids.AnswerVia{Kind: "grid", Code: "110108001001001", Name: "网格"}, AssignmentID: 42})
	}
	buf := make([]byte, 0, 8<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendAnswer(buf[:0], &a, allAnswerFields)
	}
}
