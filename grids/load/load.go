// Package load measures the work each unit grid holds (负载均衡, one of
// the grid principles): its area, the streets and alleys to walk, its
// objects by layer and its recent cases, with the grids far above or below
// their region's median flagged.
package load

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/citygrid/citygrid/grids"
)

// Flags of a grid whose load is far from the median.
const (
	Over  = "over"  // more than twice the median load
	Under = "under" // less than half the median load
)

// snapDeg is how near a street must run to a grid's border, in degrees
// (about 1 cm), to count as on it. Grids drawn along the streets share
// their borders with the street lines only to a float's width: a border
// cut again (a split, a merge) gets vertices a hair off the street, which
// then lay inside neither neighbour or on the border of one of them only.
// Measured exactly, a Beijing community's tiling lost 8% of its street
// length, a derive of it by load 16%; snapped, 0% and under 1%.
const snapDeg = `1e-7`

// DefaultDays is the window of cases counted: the last 90 days.
const DefaultDays = 90

// Options set the case window.
type Options struct {
	// Until ends the case window (zero: now); Days is its length (0:
	// DefaultDays).
	Until time.Time
	Days  int
}

// Figures are what a grid holds to be walked and worked: the load's
// measures before they are scored. Figures of several grids add up
// (Add), as a unit's led grids do.
type Figures struct {
	AreaM2 float64 `json:"area_m2"` // geodesic
	// StreetM and AlleyM are the lengths of the street and alley layers'
	// lines inside the grid (geodesic): what an inspector walks. Grids are
	// drawn along streets, so a stretch on the grid's border counts half
	// (its other half is the neighbour's), and the lengths of a tiling add
	// up to the streets' length inside it: a stretch within a centimetre of
	// the border counts as on it (snapDeg).
	StreetM float64 `json:"street_m"`
	AlleyM  float64 `json:"alley_m"`
	// Objects counts the objects by layer whose representative point
	// (ST_PointOnSurface) lies in the grid, one on a border in the grid
	// with the smaller code, so each object counts in one grid of a
	// tiling; street and alley lines are counted here and measured above.
	Objects map[string]int `json:"objects"`
	// Cases counts the cases reported in the window at a point in the grid
	// (on a border: the smaller code), except cancelled ones and merged
	// duplicates, which are not work.
	Cases int `json:"cases"`
}

// Add adds g's figures to f's.
func (f *Figures) Add(g Figures) {
	f.AreaM2 += g.AreaM2
	f.StreetM += g.StreetM
	f.AlleyM += g.AlleyM
	f.Cases += g.Cases
	if f.Objects == nil {
		f.Objects = map[string]int{}
	}
	for layer, n := range g.Objects {
		f.Objects[layer] += n
	}
}

// Minus is f less g, measure by measure (a layer whose count does not
// change is left out of Objects).
func (f Figures) Minus(g Figures) Figures {
	d := Figures{AreaM2: f.AreaM2 - g.AreaM2, StreetM: f.StreetM - g.StreetM, AlleyM: f.AlleyM - g.AlleyM, Cases: f.Cases - g.Cases, Objects: map[string]int{}}
	for layer, n := range f.Objects {
		d.Objects[layer] += n
	}
	for layer, n := range g.Objects {
		d.Objects[layer] -= n
	}
	for layer, n := range d.Objects {
		if n == 0 {
			delete(d.Objects, layer)
		}
	}
	return d
}

// Zero reports whether every figure is 0, as in a change that changes
// nothing.
func (f Figures) Zero() bool {
	return f.AreaM2 == 0 && f.StreetM == 0 && f.AlleyM == 0 && f.Cases == 0 && len(f.Objects) == 0
}

// Grid is one grid's figures and load.
type Grid struct {
	Code string `json:"code"`
	Figures
	// Load is the mean of the grid's ratios to the set's means (see
	// Report); Flag is Over, Under or empty.
	Load float64 `json:"load"`
	Flag string  `json:"flag,omitempty"`
}

// walkM is the length the load counts: streets and alleys together.
func (f Figures) walkM() float64 { return f.StreetM + f.AlleyM }

// things is the objects the load counts: every layer but the lines it
// measures by length.
func (f Figures) things() int {
	n := 0
	for layer, c := range f.Objects {
		if layer != "street" && layer != "alley" {
			n += c
		}
	}
	return n
}

// values are the four measures of the load, in the order of Measures'
// fields.
func (f Figures) values() [4]float64 {
	return [4]float64{f.AreaM2, f.walkM(), float64(f.things()), float64(f.Cases)}
}

// Measures are a set's figure of each measure (its mean or median), and
// for the median also of the load.
type Measures struct {
	AreaM2  float64 `json:"area_m2"`
	WalkM   float64 `json:"walk_m"`  // street and alley length
	Objects float64 `json:"objects"` // objects other than streets and alleys
	Cases   float64 `json:"cases"`
	Load    float64 `json:"load,omitempty"`
}

// Report is the load of a set of grids (a region's live grids, or given
// shapes).
//
// A grid's load is the mean, over the four measures — area, street and
// alley length, objects other than streets and alleys, cases of the
// window — of the grid's measure divided by the set's mean of it, so that
// each measure weighs the same whatever its unit; a measure that is 0 in
// every grid (no cases at all) is left out. The mean, not the median,
// normalises because in a city most grids may hold no street or case at
// all, and a median of 0 would hide the grids that do. A grid is flagged
// Over when its load is more than twice the set's median load, Under when
// it is less than half of it.
type Report struct {
	Region     string    `json:"region,omitempty"`
	CasesSince time.Time `json:"cases_since"`
	CasesUntil time.Time `json:"cases_until"`
	Mean       Measures  `json:"mean"`   // the normalisers
	Median     Measures  `json:"median"` // and the median load, the flags' reference
	Over       int       `json:"over"`
	Under      int       `json:"under"`
	Grids      []Grid    `json:"grids"`
}

// Region measures the live grids of a region (any level).
func Region(ctx context.Context, q grids.Querier, region string, opt Options) (Report, error) {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM regions WHERE code = @code)`, pgx.NamedArgs{"code": region}).Scan(&ok); err != nil {
		return Report{}, err
	}
	if !ok {
		return Report{}, &grids.NotFoundError{What: "region", Key: region}
	}
	r, err := Measure(ctx, q, `
		SELECT g.code, g.geom FROM grids g JOIN regions c ON c.id = g.community_id
		LEFT JOIN regions sd ON sd.id = c.parent_id LEFT JOIN regions d ON d.id = sd.parent_id
		WHERE g.valid_to IS NULL AND (c.code = @region OR sd.code = @region OR d.code = @region)`,
		pgx.NamedArgs{"region": region}, opt)
	r.Region = region
	return r, err
}

// Shape is a grid geometry to measure, such as a draft's.
type Shape struct {
	Code     string
	Geometry orb.Polygon // WGS84
}

// Shapes measures given polygons as one set.
func Shapes(ctx context.Context, q grids.Querier, shapes []Shape, opt Options) (Report, error) {
	codes := make([]string, len(shapes))
	wkbs := make([][]byte, len(shapes))
	for i, s := range shapes {
		b, err := wkb.Marshal(s.Geometry)
		if err != nil {
			return Report{}, grids.Invalid("geometry", "grid %s: %v", s.Code, err)
		}
		codes[i], wkbs[i] = s.Code, b
	}
	return Measure(ctx, q, `SELECT code, ST_GeomFromWKB(w, 4326) AS geom FROM unnest(@codes::text[], @wkbs::bytea[]) AS s (code, w)`,
		pgx.NamedArgs{"codes": codes, "wkbs": wkbs}, opt)
}

// Measure measures the grids that shapesSQL selects, as columns code and
// geom (SRID 4326), with args: the form for a caller whose shapes are in
// tables of its own (a draft, in its transaction). Its args must not use
// the names since and until.
func Measure(ctx context.Context, q grids.Querier, shapesSQL string, args pgx.NamedArgs, opt Options) (Report, error) {
	until := opt.Until
	if until.IsZero() {
		until = time.Now()
	}
	days := opt.Days
	if days <= 0 {
		days = DefaultDays
	}
	r := Report{CasesSince: until.AddDate(0, 0, -days), CasesUntil: until, Grids: []Grid{}}
	a := pgx.NamedArgs{"since": r.CasesSince, "until": r.CasesUntil}
	for k, v := range args {
		a[k] = v
	}
	// Streets and alleys are cut by each shape (a lateral subquery over
	// the lines' GiST index, migration 19), each first snapped to the
	// shape's outline (see snapDeg). Objects (by their representative point) and
	// cases are each joined to the shapes they fall in and kept once, in
	// the shape with the smaller code, as the point's grid is chosen
	// (grids/ownership.go): one pass over the matches, not a search of
	// every other shape for each of them.
	rows, err := q.Query(ctx, `
		WITH s AS MATERIALIZED (`+shapesSQL+`),
		ob AS (
			SELECT code, array_agg(layer ORDER BY layer) AS layers, array_agg(n ORDER BY layer) AS counts
			FROM (SELECT code, layer, count(*)::int AS n FROM (
				SELECT DISTINCT ON (x.id) s.code, x.layer
				FROM s JOIN objects x ON x.geom && s.geom AND ST_Intersects(ST_PointOnSurface(x.geom), s.geom)
				ORDER BY x.id, s.code) y
			      GROUP BY code, layer) z
			GROUP BY code),
		kc AS (
			SELECT code, count(*)::int AS n FROM (
				SELECT DISTINCT ON (c.id, c.reported_at) s.code
				FROM s JOIN cases c ON c.geom && s.geom AND ST_Intersects(c.geom, s.geom)
				WHERE c.reported_at >= @since AND c.reported_at < @until AND c.status NOT IN ('cancelled', 'merged')
				ORDER BY c.id, c.reported_at, s.code) y
			GROUP BY code)
		SELECT s.code, ST_Area(s.geom::geography), w.street, w.alley,
		       COALESCE(ob.layers, '{}'), COALESCE(ob.counts, '{}'), COALESCE(kc.n, 0)
		FROM s
		CROSS JOIN LATERAL (
			SELECT COALESCE(sum(y.m) FILTER (WHERE y.layer = 'street'), 0) AS street, COALESCE(sum(y.m) FILTER (WHERE y.layer = 'alley'), 0) AS alley
			FROM objects x
			CROSS JOIN LATERAL (SELECT ST_Snap(x.geom, s.geom, `+snapDeg+`) AS line OFFSET 0) z
			CROSS JOIN LATERAL (SELECT x.layer,
				ST_Length(ST_Intersection(z.line, s.geom)::geography) - ST_Length(ST_Intersection(z.line, ST_Boundary(s.geom))::geography) / 2 AS m) y
			WHERE x.layer IN ('street', 'alley') AND ST_DWithin(x.geom, s.geom, `+snapDeg+`)) w
		LEFT JOIN ob ON ob.code = s.code
		LEFT JOIN kc ON kc.code = s.code
		ORDER BY s.code`, a)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var g Grid
		var layers []string
		var counts []int32
		if err := rows.Scan(&g.Code, &g.AreaM2, &g.StreetM, &g.AlleyM, &layers, &counts, &g.Cases); err != nil {
			return r, err
		}
		g.Objects = make(map[string]int, len(layers))
		for i, l := range layers {
			g.Objects[l] = int(counts[i])
		}
		r.Grids = append(r.Grids, g)
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	r.score()
	return r, nil
}

func (m Measures) values() [4]float64 { return [4]float64{m.AreaM2, m.WalkM, m.Objects, m.Cases} }

func measuresOf(v [4]float64) Measures {
	return Measures{AreaM2: v[0], WalkM: v[1], Objects: v[2], Cases: v[3]}
}

// LoadOf scores figures against the normalisers m (a report's Mean): the
// load (see Report) that a grid with these figures has in that report's
// set. Load is linear in the figures, so the load of grids taken together
// is the sum of theirs: what grids/derive balances when it draws grids of
// a target load.
func (m Measures) LoadOf(f Figures) float64 {
	norm, v := m.values(), f.values()
	sum, n := 0.0, 0
	for j := range norm {
		if norm[j] > 0 {
			sum += v[j] / norm[j]
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// score fills the means and medians, each grid's load and the flags (see
// Report).
func (r *Report) score() {
	var means, medians [4]float64
	for j := range means {
		means[j], medians[j] = stats(r.Grids, func(g Grid) float64 { return g.values()[j] })
	}
	r.Median = measuresOf(medians)
	r.ScoreAgainst(measuresOf(means))
}

// ScoreAgainst scores the report's grids against the normalisers norm
// instead of their own means: another set's Mean, such as that of the live
// grids a planner's draft redraws, so that the draft's loads read in the
// live grids' terms (1 is their average grid). Mean becomes norm; the
// flags still compare each grid with the report's own median load.
func (r *Report) ScoreAgainst(norm Measures) {
	r.Mean = norm
	r.Over, r.Under = 0, 0
	for i := range r.Grids {
		r.Grids[i].Load, r.Grids[i].Flag = norm.LoadOf(r.Grids[i].Figures), ""
	}
	_, r.Median.Load = stats(r.Grids, func(g Grid) float64 { return g.Load })
	for i := range r.Grids {
		g := &r.Grids[i]
		switch {
		case r.Median.Load <= 0:
		case g.Load > 2*r.Median.Load:
			g.Flag = Over
			r.Over++
		case g.Load < r.Median.Load/2:
			g.Flag = Under
			r.Under++
		}
	}
}

// stats is the mean and the median of a measure over the grids (0 and 0
// for none; the median of an even count is the mean of the middle two).
func stats(gs []Grid, m func(Grid) float64) (mean, median float64) {
	if len(gs) == 0 {
		return 0, 0
	}
	v := make([]float64, len(gs))
	for i, g := range gs {
		v[i] = m(g)
		mean += v[i]
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return mean / float64(n), v[n/2]
	}
	return mean / float64(n), (v[n/2-1] + v[n/2]) / 2
}
