package api

import (
	"strconv"
	"strings"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/internal/jsonw"
)

// answerFields is a set of the locate answer's top-level fields, as a
// client names them in fields=.
type answerFields uint16

// answerFieldNames are the top-level fields of grids.Answer in its order;
// bit i of answerFields is answerFieldNames[i].
var answerFieldNames = [...]string{"inside", "point", "input", "regions", "grid", "on_boundary", "adjacent", "objects", "owners", "nearest_grid", "engine"}

const (
	fieldInside answerFields = 1 << iota
	fieldPoint
	fieldInput
	fieldRegions
	fieldGrid
	fieldOnBoundary
	fieldAdjacent
	fieldObjects
	fieldOwners
	fieldNearestGrid
	fieldEngine

	allAnswerFields = fieldEngine<<1 - 1
)

// parseAnswerFields reads fields= (names separated by commas; empty: the
// whole answer).
func parseAnswerFields(v string) (answerFields, error) {
	if v == "" {
		return allAnswerFields, nil
	}
	var f answerFields
	for name := range strings.SplitSeq(v, ",") {
		bit := answerFields(0)
		for i, n := range answerFieldNames {
			if n == name {
				bit = 1 << i
			}
		}
		if bit == 0 {
			return 0, bad("fields", "%q is not a field of the answer (%s)", name, strings.Join(answerFieldNames[:], ", "))
		}
		f |= bit
	}
	return f, nil
}

// needsCarriers reports whether the fields need the objects at the point:
// its objects, or its owners, whom those objects may carry.
func (f answerFields) needsCarriers() bool { return f&(fieldObjects|fieldOwners) != 0 }

// appendAnswer appends the fields f of a as the server's JSON encoder
// writes the whole answer (encoding/json without HTML escaping, then a
// newline), without reflection: the locate answer is the hottest one.
// TestLocateAnswerAsEncodingJSON holds it to encoding/json's bytes.
func appendAnswer(b []byte, a *grids.Answer, f answerFields) []byte {
	b = append(b, '{')
	start := len(b)
	key := func(k string) {
		if len(b) > start {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	if f&fieldInside != 0 {
		key("inside")
		b = strconv.AppendBool(b, a.Inside)
	}
	if f&fieldPoint != 0 {
		key("point")
		b = append(b, `{"lon":`...)
		b = jsonw.AppendFloat(b, a.Point.Lon)
		b = append(b, `,"lat":`...)
		b = jsonw.AppendFloat(b, a.Point.Lat)
		b = append(b, '}')
	}
	if f&fieldInput != 0 && a.Input != nil {
		key("input")
		b = append(b, `{"lon":`...)
		b = jsonw.AppendFloat(b, a.Input.Lon)
		b = append(b, `,"lat":`...)
		b = jsonw.AppendFloat(b, a.Input.Lat)
		b = append(b, `,"crs":`...)
		b = jsonw.AppendStringKeepHTML(b, a.Input.CRS)
		b = append(b, '}')
	}
	if f&fieldRegions != 0 {
		key("regions")
		b = append(b, `{"district":`...)
		b = appendCodeName(b, a.Regions.District)
		b = append(b, `,"subdistrict":`...)
		b = appendCodeName(b, a.Regions.Subdistrict)
		b = append(b, `,"community":`...)
		b = appendCodeName(b, a.Regions.Community)
		b = append(b, '}')
	}
	if f&fieldGrid != 0 {
		key("grid")
		if a.Grid == nil {
			b = append(b, "null"...)
		} else {
			b = appendAnswerGrid(b, a.Grid)
		}
	}
	if f&fieldOnBoundary != 0 {
		key("on_boundary")
		b = strconv.AppendBool(b, a.OnBoundary)
	}
	if f&fieldAdjacent != 0 {
		key("adjacent")
		if a.Adjacent == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range a.Adjacent {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendAnswerGrid(b, &a.Adjacent[i])
			}
			b = append(b, ']')
		}
	}
	if f&fieldObjects != 0 {
		key("objects")
		if a.Objects == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range a.Objects {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendAnswerObject(b, &a.Objects[i])
			}
			b = append(b, ']')
		}
	}
	if f&fieldOwners != 0 {
		key("owners")
		if a.Owners == nil {
			b = append(b, "null"...)
		} else {
			b = append(b, '[')
			for i := range a.Owners {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendAnswerOwner(b, &a.Owners[i])
			}
			b = append(b, ']')
		}
	}
	if f&fieldNearestGrid != 0 && a.NearestGrid != nil {
		key("nearest_grid")
		b = append(b, `{"code":`...)
		b = jsonw.AppendStringKeepHTML(b, a.NearestGrid.Code)
		b = append(b, `,"name":`...)
		b = jsonw.AppendStringKeepHTML(b, a.NearestGrid.Name)
		b = append(b, `,"distance_m":`...)
		b = jsonw.AppendFloat(b, a.NearestGrid.DistanceM)
		b = append(b, '}')
	}
	if f&fieldEngine != 0 {
		key("engine")
		b = jsonw.AppendStringKeepHTML(b, a.Engine)
	}
	return append(b, '}', '\n')
}

func appendCodeName(b []byte, cn *grids.CodeName) []byte {
	if cn == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"code":`...)
	b = jsonw.AppendStringKeepHTML(b, cn.Code)
	b = append(b, `,"name":`...)
	b = jsonw.AppendStringKeepHTML(b, cn.Name)
	return append(b, '}')
}

func appendAnswerGrid(b []byte, g *grids.AnswerGrid) []byte {
	b = append(b, `{"code":`...)
	b = jsonw.AppendStringKeepHTML(b, g.Code)
	b = append(b, `,"name":`...)
	b = jsonw.AppendStringKeepHTML(b, g.Name)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(g.Version), 10)
	return append(b, '}')
}

func appendAnswerObject(b []byte, o *grids.AnswerObject) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, o.ID, 10)
	if o.Code != "" {
		b = append(b, `,"code":`...)
		b = jsonw.AppendStringKeepHTML(b, o.Code)
	}
	b = append(b, `,"name":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Name)
	b = append(b, `,"layer":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Layer)
	b = append(b, `,"distance_m":`...)
	b = jsonw.AppendFloat(b, o.DistanceM)
	return append(b, '}')
}

func appendAnswerOwner(b []byte, o *grids.AnswerOwner) []byte {
	b = append(b, `{"theme":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Theme)
	b = append(b, `,"theme_name":`...)
	b = jsonw.AppendStringKeepHTML(b, o.ThemeName)
	b = append(b, `,"role":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Role)
	b = append(b, `,"unit":{"code":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Unit.Code)
	b = append(b, `,"name":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Unit.Name)
	b = append(b, `,"kind":`...)
	b = jsonw.AppendStringKeepHTML(b, o.Unit.Kind)
	b = append(b, `},"via":{"kind":`...)
	v := &o.Via
	b = jsonw.AppendStringKeepHTML(b, v.Kind)
	if v.Code != "" {
		b = append(b, `,"code":`...)
		b = jsonw.AppendStringKeepHTML(b, v.Code)
	}
	if v.ID != 0 {
		b = append(b, `,"id":`...)
		b = strconv.AppendInt(b, v.ID, 10)
	}
	b = append(b, `,"name":`...)
	b = jsonw.AppendStringKeepHTML(b, v.Name)
	if v.Level != "" {
		b = append(b, `,"level":`...)
		b = jsonw.AppendStringKeepHTML(b, v.Level)
	}
	if v.Layer != "" {
		b = append(b, `,"layer":`...)
		b = jsonw.AppendStringKeepHTML(b, v.Layer)
	}
	b = append(b, '}')
	if o.AssignmentID != 0 {
		b = append(b, `,"assignment_id":`...)
		b = strconv.AppendInt(b, o.AssignmentID, 10)
	}
	return append(b, '}')
}
