package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geo"

	"github.com/citygrid/citygrid/grids"
)

// Place is where an address lies, for a case reported without a location.
type Place struct {
	// Point is the place, WGS84 [lon, lat].
	Point orb.Point `json:"point"`
	// Match is what the address named: an object (a street at its
	// middle, a compound, market, school or station at its surface point),
	// or, for a crossing, a result of kind "crossing" at the streets'
	// intersection whose Name joins the two streets' names.
	Match Result `json:"match"`
	// Streets are a crossing's two streets.
	Streets []Result `json:"streets,omitempty"`
	// Candidates are the next best places, for a dispatcher to choose from.
	Candidates []Result `json:"candidates"`
	// Ambiguous says that other candidates are about as good as Match (or
	// that Match is only a fuzzy one), so a dispatcher should confirm; Why
	// says why.
	Ambiguous bool   `json:"ambiguous"`
	Why       string `json:"why,omitempty"`
	// Region is the region the address named at its start (海淀区…), when
	// it limited the search.
	Region string `json:"region,omitempty"`
}

// NoMatchError is an address that names no known place, with the best
// candidates there are (possibly none).
type NoMatchError struct {
	Address    string
	Candidates []Result
}

func (e *NoMatchError) Error() string {
	if len(e.Candidates) == 0 {
		return fmt.Sprintf("no place matches the address %q", e.Address)
	}
	names := make([]string, 0, 3)
	for _, c := range e.Candidates[:min(3, len(e.Candidates))] {
		names = append(names, c.Name)
	}
	return fmt.Sprintf("no place matches the address %q well enough; the nearest names are %s", e.Address, strings.Join(names, ", "))
}

// Distances that decide a crossing, in metres.
const (
	touchM     = 5   // lines this close meet
	nearM      = 30  // closest points this far apart still place a crossing without doubt
	tooFarM    = 300 // two streets this far apart do not cross
	distinctM  = 300 // two places this far apart are two places
	candidateN = 5
)

// Geocode places an address: a crossing of two streets (中关村北大街与成府路交叉口,
// A和B路口, A/B, A、B交汇处) at their intersection, a compound, market,
// school or station at its surface point, a street alone at its middle.
// region, when set, limits the search to a region's area; a district or
// subdistrict named at the start of the address does too. An address
// matching nothing is a *NoMatchError carrying the best candidates.
func (s *Store) Geocode(ctx context.Context, address, region string) (Place, error) {
	raw := strings.TrimSpace(address)
	if raw == "" {
		return Place{}, grids.Invalid("address", "required")
	}
	if utf8.RuneCountInString(raw) > 200 {
		return Place{}, grids.Invalid("address", "at most 200 characters")
	}
	if err := s.checkRegion(ctx, "region", region); err != nil {
		return Place{}, err
	}
	text := normalizeAddress(raw)
	text = strings.TrimSpace(cityPrefix.ReplaceAllString(text, ""))
	text, named, err := s.stripRegions(ctx, text, region)
	if err != nil {
		return Place{}, err
	}
	if named != "" {
		region = named
	}
	if text == "" {
		return Place{}, &NoMatchError{Address: raw}
	}
	done := func(p Place) (Place, error) { p.Region = named; return p, nil }

	// In order: a crossing when the address says it is one; a place whose
	// name is the address; a known name inside it (the longest: 清华东路27号院
	// before 清华东路, 中关村中学 in 中关村中学东门); the street before a house
	// number; a crossing written without a separator; a fuzzy match.
	splits, marked := crossings(stripHouseNumber(text))
	var streets []Result // the streets the splits name, for candidates
	if marked {
		p, ok, found, err := s.placeCrossing(ctx, splits, region)
		if err != nil || ok {
			p.Region = named
			return p, err
		}
		streets = found
	}
	whole, err := s.objects(ctx, &query{text: text, limit: candidateN, region: region, fuzzy: utf8.RuneCountInString(text) >= 3})
	if err != nil {
		return Place{}, err
	}
	if whole = rank(whole); len(whole) > 0 && whole[0].Match >= Prefix {
		return done(placeAt(whole))
	}
	inside, err := s.namesInside(ctx, text, region)
	if err != nil {
		return Place{}, err
	}
	if len(inside) > 0 {
		p := placeAt(slices.Concat(inside, whole, streets))
		if f := whole; len(f) > 0 && !p.Ambiguous && f[0].Match == Fuzzy && f[0].Name != p.Match.Name && strings.Contains(f[0].Name, p.Match.Name) {
			// 中关村北大姐: the station 中关村北, or a typo for 中关村北大街?
			p.Ambiguous, p.Why = true, fmt.Sprintf("%s, or %s misspelt?", p.Match.Name, f[0].Name)
		}
		if marked && !p.Ambiguous {
			p.Ambiguous, p.Why = true, fmt.Sprintf("the address names a crossing, but no two streets it names meet; placed at %s", p.Match.Name)
		}
		return done(p)
	}
	if bare := normalizeAddress(stripHouseNumber(text)); bare != text {
		rs, err := s.objects(ctx, &query{text: bare, limit: candidateN, region: region, fuzzy: utf8.RuneCountInString(bare) >= 3})
		if err != nil {
			return Place{}, err
		}
		if rs = rank(rs); len(rs) > 0 && rs[0].Match >= Prefix {
			return done(placeAt(rs))
		}
		whole = append(whole, rs...)
	}
	if !marked {
		p, ok, found, err := s.placeCrossing(ctx, splits, region)
		if err != nil || ok {
			p.Region = named
			return p, err
		}
		streets = found
	}
	if len(whole) > 0 {
		p := placeAt(rank(whole))
		if marked && !p.Ambiguous {
			p.Ambiguous, p.Why = true, fmt.Sprintf("the address names a crossing, but no two streets it names meet; placed at %s", p.Match.Name)
		}
		return done(p)
	}
	cands, err := s.Search(ctx, Query{Text: text, Region: region, Limit: candidateN})
	if err != nil {
		var me *grids.MalformedError
		if !errors.As(err, &me) {
			return Place{}, err
		}
	}
	return Place{}, &NoMatchError{Address: raw, Candidates: slices.Concat(streets, cands)}
}

// placeAt places an address at the best of ranked object results and says
// whether the next is about as good.
func placeAt(rs []Result) Place {
	var uniq []Result
	for _, r := range rs {
		if !slices.ContainsFunc(uniq, func(u Result) bool { return u.Kind == r.Kind && u.ID == r.ID && u.Code == r.Code }) {
			uniq = append(uniq, r)
		}
	}
	rs = uniq
	best := rs[0]
	p := Place{Match: best, Candidates: others(rs, best)}
	if best.Point != nil {
		p.Point = *best.Point
	}
	switch {
	case best.Match == Fuzzy:
		p.Ambiguous, p.Why = true, fmt.Sprintf("only a fuzzy match: %s", best.Name)
	case len(rs) > 1 && rs[1].Match == best.Match && rs[1].Name == best.Name:
		p.Ambiguous, p.Why = true, fmt.Sprintf("%d places named %s", countNamed(rs, best.Name), best.Name)
	case len(rs) > 1 && rs[1].Match == best.Match && best.Match < Exact && rs[1].weight == best.weight &&
		utf8.RuneCountInString(rs[1].Matched) == utf8.RuneCountInString(best.Matched):
		p.Ambiguous, p.Why = true, fmt.Sprintf("%s and %s match equally well", best.Name, rs[1].Name)
	}
	return p
}

func countNamed(rs []Result, name string) int {
	n := 0
	for _, r := range rs {
		if r.Name == name {
			n++
		}
	}
	return n
}

func others(rs []Result, best Result) []Result {
	out := []Result{}
	for _, r := range rs {
		if r.ID == best.ID && r.Kind == best.Kind && r.Code == best.Code {
			continue
		}
		if len(out) == candidateN {
			break
		}
		out = append(out, r)
	}
	return out
}

// stripRegions takes the districts and subdistricts named at the start of
// an address off it (海淀区中关村街道…), and returns the innermost one,
// unless the caller's region already limits the search.
func (s *Store) stripRegions(ctx context.Context, text, region string) (string, string, error) {
	named := ""
	for range 3 {
		var code, name string
		err := s.pool.QueryRow(ctx, `
			SELECT code, name FROM regions
			WHERE level IN ('district', 'subdistrict') AND starts_with(@text, name) AND length(@text) > length(name)
			  AND `+inRegion(`ST_PointOnSurface(geom)`)+`
			ORDER BY length(name) DESC, code LIMIT 1`, pgx.NamedArgs{"text": text, "region": region}).Scan(&code, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			break
		}
		if err != nil {
			return text, named, err
		}
		text, named = strings.TrimSpace(strings.TrimPrefix(text, name)), code
	}
	if region != "" {
		named = ""
	}
	return text, named, nil
}

// street is the best street or alley an address part names.
func (s *Store) street(ctx context.Context, text, region string) ([]Result, error) {
	rs, err := s.objects(ctx, &query{text: text, limit: 3, region: region, fuzzy: utf8.RuneCountInString(text) >= 3,
		layers: []string{"street", "alley"}})
	return rank(rs), err
}

type crossPoint struct {
	pt    orb.Point
	parts int     // intersection points gathered (a dual carriageway crossing has four)
	gapM  float64 // how far apart the streets are there (0 where they meet)
}

// placeCrossing tries the splits of an address into two streets and places
// it where the first pair that meets crosses; without one, it returns the
// streets the splits named.
func (s *Store) placeCrossing(ctx context.Context, splits []crossing, region string) (Place, bool, []Result, error) {
	var found []Result
	for _, sp := range splits {
		as, err := s.street(ctx, sp.a, region)
		if err != nil {
			return Place{}, false, nil, err
		}
		bs, err := s.street(ctx, sp.b, region)
		if err != nil {
			return Place{}, false, nil, err
		}
		for _, r := range slices.Concat(as[:min(1, len(as))], bs[:min(1, len(bs))]) {
			if !slices.ContainsFunc(found, func(f Result) bool { return f.ID == r.ID }) && len(found) < candidateN {
				found = append(found, r)
			}
		}
		if len(as) == 0 || len(bs) == 0 {
			continue
		}
		if !sp.marked && (as[0].Match < Exact || bs[0].Match < Exact) {
			continue // a split after a road's end must name two streets exactly
		}
		a, b := as[0], bs[0]
		if a.Name == b.Name {
			continue
		}
		pts, err := s.intersections(ctx, a.Name, b.Name, region)
		if err != nil {
			return Place{}, false, nil, err
		}
		if len(pts) == 0 || pts[0].gapM > tooFarM {
			continue
		}
		x := pts[0]
		m := Result{Kind: "crossing", Name: a.Name + "与" + b.Name, Matched: sp.a + "与" + sp.b, Match: min(a.Match, b.Match),
			Similarity: math.Min(a.Similarity, b.Similarity), Layer: a.Layer, Point: &x.pt, BBox: &[4]float64{x.pt[0], x.pt[1], x.pt[0], x.pt[1]},
			District: a.District, Subdistrict: a.Subdistrict, Parts: x.parts}
		if err := s.regionsAt(ctx, &m); err != nil {
			return Place{}, false, nil, err
		}
		p := Place{Point: x.pt, Match: m, Streets: []Result{a, b}, Candidates: []Result{}}
		for _, o := range pts[1:] {
			p.Candidates = append(p.Candidates, Result{Kind: "crossing", Name: m.Name, Matched: m.Matched, Match: m.Match,
				Layer: m.Layer, Point: &o.pt, BBox: &[4]float64{o.pt[0], o.pt[1], o.pt[0], o.pt[1]}, Parts: o.parts})
		}
		p.Candidates = append(p.Candidates, append(as[1:], bs[1:]...)...)
		switch {
		case len(pts) > 1:
			p.Ambiguous, p.Why = true, fmt.Sprintf("%s and %s cross at %d places", a.Name, b.Name, len(pts))
		case x.gapM > nearM:
			p.Ambiguous, p.Why = true, fmt.Sprintf("%s and %s do not meet: placed between their closest points, %.0f m apart", a.Name, b.Name, x.gapM)
		case a.Match == Fuzzy || b.Match == Fuzzy:
			p.Ambiguous, p.Why = true, fmt.Sprintf("only a fuzzy match: %s", m.Name)
		}
		return p, true, nil, nil
	}
	return Place{}, false, found, nil
}

// intersections are where the streets named a and b cross: the points of
// ST_Intersection of their lines, and the middle of the shortest line
// between two of their lines that come within touchM without touching,
// gathered into crossings (the four points of two dual carriageways are
// one), the crossing of most points first. Streets that never come that
// close give the middle of the shortest line between them, with its length.
func (s *Store) intersections(ctx context.Context, a, b, region string) ([]crossPoint, error) {
	rows, err := s.pool.Query(ctx, `
		WITH a AS (SELECT geom FROM objects WHERE layer IN ('street', 'alley') AND name = @a AND `+inRegion(`geom`)+`),
		     b AS (SELECT geom FROM objects WHERE layer IN ('street', 'alley') AND name = @b AND `+inRegion(`geom`)+`),
		     x AS (
			SELECT ST_Centroid(d.geom) AS p
			FROM a JOIN b ON ST_Intersects(a.geom, b.geom)
			CROSS JOIN LATERAL ST_Dump(ST_Intersection(a.geom, b.geom)) d
			UNION ALL
			SELECT ST_LineInterpolatePoint(ST_ShortestLine(a.geom, b.geom), 0.5)
			FROM a JOIN b ON NOT ST_Intersects(a.geom, b.geom) AND ST_DWithin(a.geom::geography, b.geom::geography, @touch)
		     ), k AS (SELECT p, ST_ClusterDBSCAN(p, 0.001, 1) OVER () AS k FROM x)
		SELECT ST_X(c), ST_Y(c), n, 0::float8 FROM (
			SELECT ST_Centroid(ST_Collect(p)) AS c, count(*) AS n FROM k GROUP BY k) g
		ORDER BY n DESC, ST_X(c)`, pgx.NamedArgs{"a": a, "b": b, "region": region, "touch": touchM})
	if err != nil {
		return nil, err
	}
	pts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (crossPoint, error) {
		var c crossPoint
		err := r.Scan(&c.pt[0], &c.pt[1], &c.parts, &c.gapM)
		return c, err
	})
	if err != nil || len(pts) > 0 {
		return mergeNear(pts), err
	}
	var c crossPoint
	err = s.pool.QueryRow(ctx, `
		WITH a AS (SELECT ST_Collect(geom) AS g FROM objects WHERE layer IN ('street', 'alley') AND name = @a AND `+inRegion(`geom`)+`),
		     b AS (SELECT ST_Collect(geom) AS g FROM objects WHERE layer IN ('street', 'alley') AND name = @b AND `+inRegion(`geom`)+`),
		     l AS (SELECT ST_ShortestLine(a.g, b.g) AS l FROM a, b WHERE a.g IS NOT NULL AND b.g IS NOT NULL)
		SELECT ST_X(ST_LineInterpolatePoint(l, 0.5)), ST_Y(ST_LineInterpolatePoint(l, 0.5)), ST_Length(l::geography) FROM l`,
		pgx.NamedArgs{"a": a, "b": b, "region": region}).Scan(&c.pt[0], &c.pt[1], &c.gapM)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return []crossPoint{c}, err
}

// mergeNear folds crossings closer than distinctM into the one of more
// points: DBSCAN chains points 100 m apart, and a crossing's ramps may lie
// a little further.
func mergeNear(pts []crossPoint) []crossPoint {
	var out []crossPoint
	for _, p := range pts {
		i := slices.IndexFunc(out, func(o crossPoint) bool { return geo.Distance(o.pt, p.pt) < distinctM })
		if i < 0 {
			out = append(out, p)
			continue
		}
		out[i].parts += p.parts
	}
	return out
}

// regionsAt fills a result's district and subdistrict from its point.
func (s *Store) regionsAt(ctx context.Context, r *Result) error {
	var a ancestors
	err := s.pool.QueryRow(ctx, `
		SELECT r.level, r.code, r.name, COALESCE(p.level, ''), COALESCE(p.code, ''), COALESCE(p.name, ''), '', '', ''
		FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
		WHERE r.level IN ('subdistrict', 'district') AND ST_Intersects(r.geom, ST_SetSRID(ST_MakePoint(@x, @y), 4326))
		ORDER BY r.level = 'subdistrict' DESC LIMIT 1`, pgx.NamedArgs{"x": r.Point[0], "y": r.Point[1]}).Scan(a.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	r.District, r.Subdistrict = nil, nil
	a.place(r)
	return err
}

// namesInside finds the objects whose whole name the address contains, the
// longest names first and areas and points before lines among equals.
func (s *Store) namesInside(ctx context.Context, text, region string) ([]Result, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT name FROM objects
		WHERE name <> '' AND length(name) >= 2
		  AND search_grams && @grams::text[]
		  AND strpos(lower(@text), lower(name)) > 0 AND `+inRegion(`geom`)+`
		GROUP BY name
		ORDER BY length(name) DESC, bool_and(ST_Dimension(geom) = 1), name
		LIMIT 3`, pgx.NamedArgs{"text": text, "region": region, "grams": queryGrams(text)})
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, n := range names {
		rs, err := s.objects(ctx, &query{text: n, limit: candidateN, region: region})
		if err != nil {
			return nil, err
		}
		for _, r := range rank(rs) {
			if r.Match == Exact && r.Name == n {
				out = append(out, r)
			}
		}
	}
	return out, nil
}
