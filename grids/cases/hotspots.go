package cases

import (
	"context"
	"fmt"
	"slices"
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"

	"github.com/citygrid/citygrid/grids"
)

// Hotspot is the cases of one H3 cell.
type Hotspot struct {
	Cell       string         `json:"cell"` // the H3 index, hexadecimal
	Res        int            `json:"res"`
	Count      int            `json:"count"`
	Overdue    int            `json:"overdue"`
	Categories map[string]int `json:"categories"` // cases per category code
	Shape      orb.Polygon    `json:"-"`
}

// Hotspots aggregates cases into the H3 cells stored with them. A cell's
// shape never changes, so shapes are kept in a bounded cache: h3-go
// crosses cgo, and a city-wide map asks for the same cells again and
// again.
type Hotspots struct {
	cases  *Store
	shapes *lru.Cache[h3.Cell, orb.Polygon]
}

// NewHotspots returns the aggregation over the store, keeping at most
// cached cell shapes (0: 100,000, about 25 MB).
func NewHotspots(s *Store, cached int) (*Hotspots, error) {
	if cached <= 0 {
		cached = 100_000
	}
	c, err := lru.New[h3.Cell, orb.Polygon](cached)
	if err != nil {
		return nil, err
	}
	return &Hotspots{cases: s, shapes: c}, nil
}

// HotspotResolutions are the resolutions stored with each case.
func HotspotResolutions() []int { return h3Resolutions() }

// Query answers the cells at resolution res of the cases the filter
// selects that the principal may see, the busiest first. Cells are read
// from the stored columns h3_r6 … h3_r10, never computed from points.
func (h *Hotspots) Query(ctx context.Context, p grids.Principal, f Filter, res int) ([]Hotspot, error) {
	if !slices.Contains(h3Resolutions(), res) {
		return nil, grids.Invalid("res", "must be one of 6, 7, 8, 9, 10")
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	args := pgx.NamedArgs{}
	col := pgx.Identifier{"c", fmt.Sprintf("h3_r%d", res)}.Sanitize()
	rows, err := h.cases.pool.Query(ctx, `SELECT `+col+`, c.category_code, count(*), count(*) FILTER (WHERE `+OverdueSQL+`)
		FROM cases c`+f.where(p, args, true)+` GROUP BY 1, 2`, args)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byCell := map[int64]*Hotspot{}
	for rows.Next() {
		var cell int64
		var cat string
		var n, overdue int
		if err := rows.Scan(&cell, &cat, &n, &overdue); err != nil {
			return nil, err
		}
		hs := byCell[cell]
		if hs == nil {
			hs = &Hotspot{Res: res, Categories: map[string]int{}}
			byCell[cell] = hs
		}
		hs.Count += n
		hs.Overdue += overdue
		hs.Categories[cat] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Hotspot, 0, len(byCell))
	for cell, hs := range byCell {
		c := h3.Cell(cell)
		hs.Cell = c.String()
		shape, err := h.shape(c)
		if err != nil {
			return nil, err
		}
		hs.Shape = shape
		out = append(out, *hs)
	}
	slices.SortFunc(out, func(a, b Hotspot) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Cell, b.Cell)
	})
	return out, nil
}

// shape is a cell's hexagon (or pentagon) as a closed GeoJSON ring.
func (h *Hotspots) shape(c h3.Cell) (orb.Polygon, error) {
	if p, ok := h.shapes.Get(c); ok {
		return p, nil
	}
	b, err := h3.CellToBoundary(c)
	if err != nil {
		return nil, fmt.Errorf("cell %s: %w", c, err)
	}
	ring := make(orb.Ring, 0, len(b)+1)
	for _, v := range b {
		ring = append(ring, orb.Point{v.Lng, v.Lat})
	}
	ring = append(ring, ring[0])
	// H3 walks a boundary counter-clockwise, as GeoJSON wants it.
	if ring.Orientation() != orb.CCW {
		ring.Reverse()
	}
	p := orb.Polygon{ring}
	h.shapes.Add(c, p)
	return p, nil
}
