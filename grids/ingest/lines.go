package ingest

import (
	"fmt"
	"strings"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
)

// checkLines runs geo.CheckLine on every line of a feature: repairs are
// applied and listed (or, with Strict, refused); lines of no length or
// running back over themselves are left out with a warning (with Strict,
// refused). Other geometries pass as they are. It returns false when the
// feature is not to be staged.
func (ss *stageSource) checkLines(f geo.Feature, code string) (orb.Geometry, bool) {
	switch g := f.Geometry.(type) {
	case orb.LineString:
		l, ok := ss.checkLine(f, code, g)
		return l, ok
	case orb.MultiLineString:
		out := make(orb.MultiLineString, len(g))
		for i, part := range g {
			l, ok := ss.checkLine(f, code, part)
			if !ok {
				return nil, false
			}
			out[i] = l
		}
		return out, true
	}
	return f.Geometry, true
}

func (ss *stageSource) checkLine(f geo.Feature, code string, l orb.LineString) (orb.LineString, bool) {
	id := f.ID
	if id == "" {
		id = code
	}
	c := geo.CheckLine(l)
	switch {
	case c.ZeroLength:
		ss.count("zero_length")
		return nil, ss.unrepairable(f, code, "%s: a line of zero length (all its points are the same)", id)
	case c.SelfOverlapping:
		ss.count("self_overlapping")
		return nil, ss.unrepairable(f, code, "%s: the line runs back over itself (a segment overlaps another); fix it by hand", id)
	case !c.Repaired():
		return l, true
	}
	var did []string
	if c.Repeated > 0 {
		ss.count("repeated_points")
		did = append(did, fmt.Sprintf("%d repeated point(s) removed", c.Repeated))
	}
	if c.Retraced > 0 {
		ss.count("retraced")
		did = append(did, fmt.Sprintf("%d point(s) retracing the line removed", c.Retraced))
	}
	what := strings.Join(did, ", ")
	if ss.opt.Strict {
		ss.probs.add(f.Index, code, "%s: the line needs a repair (%s); refused in strict mode", id, what)
		return nil, false
	}
	if len(ss.res.Fixes) < maxProblems {
		ss.res.Fixes = append(ss.res.Fixes, ImportProblem{Index: f.Index, Code: id, Reason: "repaired line: " + what})
	}
	return c.Line, true
}

// unrepairable leaves out a line no repair can be guessed for: by
// default the rest of the import goes ahead and the summary names it
// (extracts such as OSM's always hold a few); with Strict it is a problem
// and nothing is imported. It returns false: the feature is not staged.
func (ss *stageSource) unrepairable(f geo.Feature, code, format string, args ...any) bool {
	if ss.opt.Strict {
		ss.probs.add(f.Index, code, format, args...)
		return false
	}
	if len(ss.res.Warnings) < maxProblems {
		ss.res.Warnings = append(ss.res.Warnings, "not imported: "+fmt.Sprintf(format, args...))
	}
	return false
}

func (ss *stageSource) count(key string) {
	if ss.res.Repairs == nil {
		ss.res.Repairs = map[string]int{}
	}
	ss.res.Repairs[key]++
}
