package grids

import (
	"sort"
)

// Answer is a locate result in the API's words: codes and names.
type Answer struct {
	Inside      bool           `json:"inside"`
	Point       LonLat         `json:"point"`
	Input       *InputPoint    `json:"input,omitempty"`
	Regions     AnswerRegions  `json:"regions"`
	Grid        *AnswerGrid    `json:"grid"`
	OnBoundary  bool           `json:"on_boundary"`
	Adjacent    []AnswerGrid   `json:"adjacent"`
	Objects     []AnswerObject `json:"objects"`
	Owners      []AnswerOwner  `json:"owners"`
	NearestGrid *AnswerNearest `json:"nearest_grid,omitempty"`
	Engine      string         `json:"engine"`
}

// LonLat is a WGS84 position.
type LonLat struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// InputPoint is the point as the client sent it.
type InputPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
	CRS string  `json:"crs"`
}

// AnswerRegions are the point's district, subdistrict and community.
type AnswerRegions struct {
	District    *CodeName `json:"district"`
	Subdistrict *CodeName `json:"subdistrict"`
	Community   *CodeName `json:"community"`
}

// CodeName names a region or unit.
type CodeName struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// AnswerGrid is a grid at the point.
type AnswerGrid struct {
	Code    string `json:"code"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// AnswerObject is an object at the point.
type AnswerObject struct {
	ID        int64   `json:"id"`
	Code      string  `json:"code,omitempty"`
	Name      string  `json:"name"`
	Layer     string  `json:"layer"`
	DistanceM float64 `json:"distance_m"`
}

// AnswerOwner is a unit answering for a duty, and why.
type AnswerOwner struct {
	Theme        string     `json:"theme"`
	ThemeName    string     `json:"theme_name"`
	Role         string     `json:"role"`
	Unit         AnswerUnit `json:"unit"`
	Via          AnswerVia  `json:"via"`
	AssignmentID int64      `json:"assignment_id,omitempty"` // none for a fallback
}

// AnswerUnit is the unit of an owner.
type AnswerUnit struct {
	Code string `json:"code"`
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// AnswerVia names what carried the assignment that decided: an object at
// the point, the grid, or a region (the territorial fallback).
type AnswerVia struct {
	Kind  string `json:"kind"`
	Code  string `json:"code,omitempty"`
	ID    int64  `json:"id,omitempty"`
	Name  string `json:"name"`
	Level string `json:"level,omitempty"`
	Layer string `json:"layer,omitempty"`
}

// AnswerNearest is the nearest grid to a point outside every grid.
type AnswerNearest struct {
	Code      string  `json:"code"`
	Name      string  `json:"name"`
	DistanceM float64 `json:"distance_m"`
}

// Answer renders a located point.
func (s *Snapshot) Answer(l *Located) Answer {
	a := Answer{Inside: l.Inside, Point: LonLat{l.Point[0], l.Point[1]}, OnBoundary: l.OnBoundary,
		Adjacent: []AnswerGrid{}, Objects: []AnswerObject{}, Owners: []AnswerOwner{}, Engine: "index"}
	region := func(i int32) *CodeName {
		if i < 0 {
			return nil
		}
		return &CodeName{Code: s.Regions[i].Code, Name: s.Regions[i].Name}
	}
	a.Regions = AnswerRegions{District: region(l.District), Subdistrict: region(l.Sub), Community: region(l.Community)}
	grid := func(i int32) AnswerGrid {
		g := s.Grids[i]
		return AnswerGrid{Code: g.Code, Name: g.Name, Version: g.Version}
	}
	if l.Grid >= 0 {
		g := grid(l.Grid)
		a.Grid = &g
	}
	for _, i := range l.Adjacent {
		a.Adjacent = append(a.Adjacent, grid(i))
	}
	sort.Slice(a.Adjacent, func(i, j int) bool { return codeBefore(a.Adjacent[i].Code, a.Adjacent[j].Code) })
	for _, o := range l.Objects {
		ref := s.Objects[o.Object]
		a.Objects = append(a.Objects, AnswerObject{ID: ref.ID, Code: ref.Code, Name: ref.Name, Layer: ref.Layer, DistanceM: round2(o.DistanceM)})
	}
	for _, o := range l.Owners {
		a.Owners = append(a.Owners, s.AnswerOwner(o))
	}
	if l.Grid < 0 && l.NearestGrid >= 0 {
		g := s.Grids[l.NearestGrid]
		a.NearestGrid = &AnswerNearest{Code: g.Code, Name: g.Name, DistanceM: round2(l.NearestM)}
	}
	return a
}

// AnswerOwner renders one owner.
func (s *Snapshot) AnswerOwner(o Owner) AnswerOwner {
	u := s.Units[o.Unit]
	t := s.Themes[o.Theme]
	via := AnswerVia{Kind: o.ViaKind}
	switch o.ViaKind {
	case ViaObject:
		ref := s.Objects[o.Via]
		via.ID, via.Code, via.Name, via.Layer = ref.ID, ref.Code, ref.Name, ref.Layer
	case ViaGrid:
		via.Code, via.Name = s.Grids[o.Via].Code, s.Grids[o.Via].Name
	case ViaRegion, ViaFallback:
		r := s.Regions[o.Via]
		via.Code, via.Name, via.Level = r.Code, r.Name, string(r.Level)
	}
	return AnswerOwner{Theme: t.Code, ThemeName: t.NameZh, Role: role(o.Lead), Unit: AnswerUnit(u), Via: via, AssignmentID: o.ID}
}

func role(lead bool) string {
	if lead {
		return "lead"
	}
	return "support"
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}
