package grids

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

	// room holds what the pointers above point to when AnswerInto
	// renders the answer, so that a reused Answer allocates nothing.
	room answerRoom
}

type answerRoom struct {
	regions [3]CodeName
	grid    AnswerGrid
	nearest AnswerNearest
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
	a := new(Answer) // on the heap: its pointers point into its own room
	s.AnswerInto(l, a)
	return *a
}

// AnswerInto renders a located point into a, reusing a's slices: a server
// that keeps one Answer per request in flight renders without allocating.
func (s *Snapshot) AnswerInto(l *Located, a *Answer) {
	*a = Answer{Inside: l.Inside, Point: LonLat{l.Point[0], l.Point[1]}, OnBoundary: l.OnBoundary,
		Adjacent: a.Adjacent[:0], Objects: a.Objects[:0], Owners: a.Owners[:0], Engine: "index"}
	if a.Adjacent == nil {
		a.Adjacent = make([]AnswerGrid, 0, len(l.Adjacent))
	}
	if a.Objects == nil {
		a.Objects = make([]AnswerObject, 0, len(l.Objects))
	}
	if a.Owners == nil {
		a.Owners = make([]AnswerOwner, 0, len(l.Owners))
	}
	region := func(i int32, slot *CodeName) *CodeName {
		if i < 0 {
			return nil
		}
		*slot = CodeName{Code: s.Regions[i].Code, Name: s.Regions[i].Name}
		return slot
	}
	a.Regions = AnswerRegions{District: region(l.District, &a.room.regions[0]), Subdistrict: region(l.Sub, &a.room.regions[1]),
		Community: region(l.Community, &a.room.regions[2])}
	grid := func(i int32) AnswerGrid {
		g := s.Grids[i]
		return AnswerGrid{Code: g.Code, Name: g.Name, Version: g.Version}
	}
	if l.Grid >= 0 {
		a.room.grid = grid(l.Grid)
		a.Grid = &a.room.grid
	}
	for _, i := range l.Adjacent {
		a.Adjacent = append(a.Adjacent, grid(i))
	}
	// An insertion sort: a point touches a handful of grids, and
	// sort.Slice would allocate.
	for i := 1; i < len(a.Adjacent); i++ {
		for j := i; j > 0 && codeBefore(a.Adjacent[j].Code, a.Adjacent[j-1].Code); j-- {
			a.Adjacent[j], a.Adjacent[j-1] = a.Adjacent[j-1], a.Adjacent[j]
		}
	}
	for _, o := range l.Objects {
		ref := s.Objects[o.Object]
		a.Objects = append(a.Objects, AnswerObject{ID: ref.ID, Code: ref.Code, Name: ref.Name, Layer: ref.Layer, DistanceM: round2(o.DistanceM)})
	}
	for _, o := range l.Owners {
		a.Owners = append(a.Owners, s.AnswerOwner(o))
	}
	if l.Grid < 0 && l.NearestGrid >= 0 {
		g := s.Grids[l.NearestGrid]
		a.room.nearest = AnswerNearest{Code: g.Code, Name: g.Name, DistanceM: round2(l.NearestM)}
		a.NearestGrid = &a.room.nearest
	}
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
