package search

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/paulmach/orb"
	"golang.org/x/sync/errgroup"

	"github.com/citygrid/citygrid/grids"
)

// Match says how a result's name or code matched the query; a better match
// ranks first whatever its kind.
type Match int

const (
	Fuzzy     Match = 1 // similar trigrams (a typo, a missing character)
	Substring Match = 2
	Prefix    Match = 3
	Exact     Match = 4
)

var matchNames = map[Match]string{Fuzzy: "fuzzy", Substring: "substring", Prefix: "prefix", Exact: "exact"}

func (m Match) String() string { return matchNames[m] }

// MarshalJSON writes the match's name.
func (m Match) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads a match's name, for clients of the Go types.
func (m *Match) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for k, v := range matchNames {
		if v == s {
			*m = k
			return nil
		}
	}
	return fmt.Errorf("unknown match %q", s)
}

// Result is one thing found: what it is, how it matched, where it lies in
// the regions, and where a map flies to show it.
type Result struct {
	Kind string `json:"kind"` // region, grid, object, unit (and crossing for a geocoded crossing)
	Code string `json:"code,omitempty"`
	// ID is an object's id; a street stored as several ways is one result
	// (Parts of them), named by the smallest id.
	ID      int64  `json:"id,omitempty"`
	Name    string `json:"name"`
	Matched string `json:"matched"` // the name, name variant or code that matched
	Match   Match  `json:"match"`
	// Similarity is the trigram similarity of the query to Matched (0–1).
	Similarity float64 `json:"similarity"`
	Layer      string  `json:"layer,omitempty"` // objects
	// Level is a region's level or a unit's kind.
	Level       string          `json:"level,omitempty"`
	District    *grids.CodeName `json:"district,omitempty"`
	Subdistrict *grids.CodeName `json:"subdistrict,omitempty"`
	// Point is where to fly to, [lon, lat] in WGS84: a street's middle, an
	// area's surface point. Null for a unit with neither a place nor a region.
	Point *orb.Point `json:"point"`
	// BBox is [west, south, east, north], WGS84.
	BBox  *[4]float64 `json:"bbox"`
	Parts int         `json:"parts,omitempty"`

	ids    []int64 // an object result's stored objects
	weight int     // importance of the kind, within a match class
}

// Query is a search: the text, the kinds to search (all when empty), a
// region code whose area limits the results, and how many to return.
type Query struct {
	Text   string
	Kinds  []string
	Region string
	Limit  int
}

// Limits of a query.
const (
	DefaultLimit = 10
	MaxLimit     = 50
	maxQueryLen  = 100 // characters
)

// kind is one searchable kind: its name in ?kind= and the query that finds
// it. A new kind is one more entry in kinds.
type kind struct {
	name string
	find func(s *Store, ctx context.Context, q *query) ([]Result, error)
}

func kinds() []kind {
	return []kind{
		{"region", (*Store).regions},
		{"grid", (*Store).grids},
		{"object", (*Store).objects},
		{"unit", (*Store).units},
		{"case", (*Store).cases},
	}
}

// KindNames lists the kinds a query may ask for, in order.
func KindNames() []string {
	var out []string
	for _, k := range kinds() {
		out = append(out, k.name)
	}
	return out
}

// ParseQuery reads a search's HTTP parameters; every mistake is a
// grids.Malformed naming the parameter.
func ParseQuery(text, kindList, region, limit string) (Query, error) {
	q := Query{Text: strings.TrimSpace(text), Region: strings.TrimSpace(region), Limit: DefaultLimit}
	switch n := utf8.RuneCountInString(q.Text); {
	case n == 0:
		return q, grids.Malformed("q", "required: the name or code to search for")
	case n > maxQueryLen:
		return q, grids.Malformed("q", "at most %d characters", maxQueryLen)
	}
	if kindList != "" {
		known := KindNames()
		for _, k := range strings.Split(kindList, ",") {
			k = strings.TrimSpace(k)
			if !slices.Contains(known, k) {
				return q, grids.Malformed("kind", "%q is not a kind to search (want a comma list of %s)", k, strings.Join(known, ", "))
			}
			if !slices.Contains(q.Kinds, k) {
				q.Kinds = append(q.Kinds, k)
			}
		}
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxLimit {
			return q, grids.Malformed("limit", "must be a whole number from 1 to %d", MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// query is a checked Query with the patterns every kind's SQL uses.
type query struct {
	text   string
	limit  int
	region string
	fuzzy  bool
	code   bool     // the text may be a code (letters, digits, dashes)
	layers []string // objects: only these layers (nil: all)
}

var codeLike = regexp.MustCompile(`^[0-9A-Za-z_-]+$`)

func (q *query) args() map[string]any {
	lq := strings.ToLower(q.text)
	esc := likeEscape(lq)
	return map[string]any{
		"q": q.text, "lq": lq, "like": "%" + esc + "%", "prefix": esc + "%",
		"codeprefix": likeEscape(q.text) + "%", "codeupper": likeEscape(strings.ToUpper(q.text)) + "%",
		"grams": queryGrams(q.text), "short": utf8.RuneCountInString(q.text) == 1, "fuzzy": q.fuzzy, "region": q.region, "limit": q.limit, "layers": q.layers,
		"layer_order": layerOrder(),
	}
}

// queryGrams is citygrid_query_grams (migration 7) in Go, so that the
// planner sees a constant array instead of running a SQL function per
// query: each word's pairs of adjacent characters, or a one-character
// word itself, lowercased. Every name containing the query holds them.
func queryGrams(s string) []string {
	out := []string{}
	for _, w := range strings.Fields(strings.ToLower(s)) {
		r := []rune(w)
		if len(r) == 1 && !slices.Contains(out, w) {
			out = append(out, w)
		}
		for i := 0; i+1 < len(r); i++ {
			if g := string(r[i : i+2]); !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// Search finds what the query names, best first: exact before prefix
// before substring before fuzzy matches, then by kind and importance
// (districts before communities, streets before alleys), then by
// similarity and shorter names; fuzzy matches by similarity first.
func (s *Store) Search(ctx context.Context, in Query) ([]Result, error) {
	if in.Limit <= 0 {
		in.Limit = DefaultLimit
	}
	in.Limit = min(in.Limit, MaxLimit)
	q := &query{text: strings.TrimSpace(in.Text), limit: in.Limit, region: in.Region}
	if q.text == "" {
		return nil, grids.Malformed("q", "required: the name or code to search for")
	}
	q.fuzzy = utf8.RuneCountInString(q.text) >= 3
	q.code = codeLike.MatchString(q.text)
	if err := s.checkRegion(ctx, "region", q.region); err != nil {
		return nil, err
	}
	var run []kind
	for _, k := range kinds() {
		if len(in.Kinds) == 0 || slices.Contains(in.Kinds, k.name) {
			run = append(run, k)
		}
	}
	found := make([][]Result, len(run))
	g, gctx := errgroup.WithContext(ctx)
	for i, k := range run {
		g.Go(func() error {
			r, err := k.find(s, gctx, q)
			found[i] = r
			if err != nil {
				return fmt.Errorf("search %s: %w", k.name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := rank(slices.Concat(found...))
	if len(out) > q.limit {
		out = out[:q.limit]
	}
	return out, nil
}

func (s *Store) checkRegion(ctx context.Context, field, code string) error {
	if code == "" {
		return nil
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM regions WHERE code = $1)`, code).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return grids.Malformed(field, "no region has the code %q", code)
	}
	return nil
}

// rank sorts results best first (see Search).
func rank(rs []Result) []Result {
	slices.SortStableFunc(rs, func(a, b Result) int {
		if a.Match == Fuzzy && b.Match == Fuzzy {
			// A fuzzy match is only as good as it is similar.
			if c := cmp.Compare(b.Similarity, a.Similarity); c != 0 {
				return c
			}
		}
		return cmp.Or(
			cmp.Compare(b.Match, a.Match),
			cmp.Compare(b.weight, a.weight),
			cmp.Compare(b.Similarity, a.Similarity),
			cmp.Compare(utf8.RuneCountInString(a.Matched), utf8.RuneCountInString(b.Matched)),
			strings.Compare(a.Name, b.Name),
			strings.Compare(a.Code, b.Code),
			cmp.Compare(a.ID, b.ID))
	})
	return rs
}

// layerOrder ranks object layers within a match class: the things a
// caller names to say where they are come first.
func layerOrder() []string {
	return []string{"street", "station", "school", "market", "compound", "park", "alley", "toilet", "shop", "other", "component"}
}

func objectWeight(layer string) int {
	if i := slices.Index(layerOrder(), layer); i >= 0 {
		return 80 - i
	}
	return 65
}

func regionWeight(level string) int {
	switch level {
	case "district":
		return 90
	case "subdistrict":
		return 85
	}
	return 75
}

const (
	gridWeight = 60
	unitWeight = 55
	caseWeight = 65
)
