// Package citygen generates a believable, deterministic demo city for a
// fresh machine and for scale tests: a jittered street lattice with main
// streets, back alleys and dead ends; districts, subdistricts, communities
// and unit grids that tile exactly (they share the lattice's vertices);
// markets, schools, stations, compounds, shops and components; units and
// their duties, with the gaps and overlaps real cities have.
package citygen

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
)

// Config says how big a city to make.
type Config struct {
	Grids  int       // about this many unit grids (default 2,000)
	Seed   uint64    // same seed, same city
	Center orb.Point // WGS84 (default 117.0, 36.65)
	CellM  float64   // grid side in metres (default 100: the 万米单元网格)
}

// City is a generated city: the lattice and its blocks.
type City struct {
	cfg        Config
	nx, ny     int           // cells across and down
	verts      [][]orb.Point // (ny+1) rows of (nx+1) jittered vertices, row 0 in the north
	commCols   []int         // community block breaks on the column axis
	commRows   []int         // … and on the row axis
	sdCols     []int         // subdistrict breaks, as indexes into commCols
	sdRows     []int
	distCols   []int // district breaks, as indexes into sdCols
	distRows   []int
	names      nameGen
	District   string // the first district code, for messages
	NumObjects int    // counted while objects are generated
}

// New lays out a city.
func New(cfg Config) *City {
	if cfg.Grids <= 0 {
		cfg.Grids = 2000
	}
	if cfg.Center == (orb.Point{}) {
		cfg.Center = orb.Point{117.0, 36.65}
	}
	if cfg.CellM <= 0 {
		cfg.CellM = 100
	}
	c := &City{cfg: cfg}
	c.nx = max(1, int(math.Round(math.Sqrt(float64(cfg.Grids)*1.25))))
	c.ny = max(1, int(math.Ceil(float64(cfg.Grids)/float64(c.nx))))
	r := c.rng(1)
	// Vertices: a lattice in metres, each moved by up to a fifth of a cell
	// so that streets bend and blocks differ; quads stay convex.
	mPerLon := 111320 * math.Cos(cfg.Center[1]*math.Pi/180)
	const mPerLat = 110574.0
	w, h := float64(c.nx)*cfg.CellM, float64(c.ny)*cfg.CellM
	c.verts = make([][]orb.Point, c.ny+1)
	for j := 0; j <= c.ny; j++ {
		c.verts[j] = make([]orb.Point, c.nx+1)
		for i := 0; i <= c.nx; i++ {
			jx := (r.Float64() - 0.5) * 0.4 * cfg.CellM
			jy := (r.Float64() - 0.5) * 0.4 * cfg.CellM
			x := float64(i)*cfg.CellM + jx - w/2
			y := h/2 - float64(j)*cfg.CellM + jy
			// Round to 1e-7°, the precision GeoJSON output keeps, so that what
			// is exported compares equal to what is stored.
			c.verts[j][i] = orb.Point{round7(cfg.Center[0] + x/mPerLon), round7(cfg.Center[1] + y/mPerLat)}
		}
	}
	c.commCols = breaks(c.nx, 5, 9, r)
	c.commRows = breaks(c.ny, 5, 9, r)
	// Subdistricts of two or three communities a side; at least two of them
	// across when the city is wide enough.
	c.sdCols = parts(len(c.commCols)-1, max(2, (len(c.commCols)-1+1)/3))
	c.sdRows = parts(len(c.commRows)-1, max(1, (len(c.commRows)-1+1)/3))
	// About one district per 4,000 grids, at least two.
	d := max(2, cfg.Grids/4000)
	dc := int(math.Ceil(math.Sqrt(float64(d))))
	c.distCols = parts(len(c.sdCols)-1, dc)
	c.distRows = parts(len(c.sdRows)-1, int(math.Ceil(float64(d)/float64(dc))))
	c.names = nameGen{r: c.rng(2)}
	c.District = c.districtCode(0, 0)
	return c
}

func round7(f float64) float64 { return math.Round(f*1e7) / 1e7 }

func (c *City) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(c.cfg.Seed, stream))
}

// breaks cuts n into blocks of lo..hi, returning the block edges
// [0, …, n]; a short last block is joined to the one before.
func breaks(n, lo, hi int, r *rand.Rand) []int {
	out := []int{0}
	for at := 0; at < n; {
		step := lo + r.IntN(hi-lo+1)
		if n-(at+step) < lo {
			step = n - at
		}
		at += step
		out = append(out, at)
	}
	return out
}

// parts cuts n into k nearly equal blocks (fewer when n < k).
func parts(n, k int) []int {
	k = max(1, min(k, n))
	out := []int{0}
	for b := 1; b <= k; b++ {
		out = append(out, b*n/k)
	}
	return out
}

// Grids returns the number of grids the city has.
func (c *City) Grids() int { return c.nx * c.ny }

// cell is the quad of lattice cell (i, j), counter-clockwise from the
// south-west corner.
func (c *City) cell(i, j int) orb.Polygon {
	v := c.verts
	return orb.Polygon{{v[j+1][i], v[j+1][i+1], v[j][i+1], v[j][i], v[j+1][i]}}
}

// block is the polygon around cells [i0,i1) × [j0,j1), through every
// lattice vertex on its edge: exactly the union of those cells.
func (c *City) block(i0, i1, j0, j1 int) orb.Polygon {
	v := c.verts
	var ring orb.Ring
	for i := i0; i <= i1; i++ { // south edge, west to east
		ring = append(ring, v[j1][i])
	}
	for j := j1 - 1; j >= j0; j-- { // east edge, northwards
		ring = append(ring, v[j][i1])
	}
	for i := i1 - 1; i >= i0; i-- { // north edge, westwards
		ring = append(ring, v[j0][i])
	}
	for j := j0 + 1; j <= j1; j++ { // west edge, southwards
		ring = append(ring, v[j][i0])
	}
	return orb.Polygon{ring}
}

// at maps (u, v) in [0,1]² onto cell (i, j) bilinearly: u west→east, v
// south→north. Points with u, v inside (0, 1) lie inside the convex quad.
func (c *City) at(i, j int, u, v float64) orb.Point {
	sw, se, ne, nw := c.verts[j+1][i], c.verts[j+1][i+1], c.verts[j][i+1], c.verts[j][i]
	x := (1-u)*(1-v)*sw[0] + u*(1-v)*se[0] + u*v*ne[0] + (1-u)*v*nw[0]
	y := (1-u)*(1-v)*sw[1] + u*(1-v)*se[1] + u*v*ne[1] + (1-u)*v*nw[1]
	return orb.Point{round7(x), round7(y)}
}

// quad is a small polygon of cell (i, j) spanning [u0,u1] × [v0,v1].
func (c *City) quad(i, j int, u0, u1, v0, v1 float64) orb.Polygon {
	return orb.Polygon{{c.at(i, j, u0, v0), c.at(i, j, u1, v0), c.at(i, j, u1, v1), c.at(i, j, u0, v1), c.at(i, j, u0, v0)}}
}

// Codes. Districts use the unassigned province prefix 99 ("演示市"), so a
// generated city never collides with a real one.
func (c *City) districtCode(dc, dr int) string {
	return fmt.Sprintf("99%02d%02d", 1, 1+dr*(len(c.distCols)-1)+dc)
}

func (c *City) subdistrictCode(district string, n int) string {
	return fmt.Sprintf("%s%03d000", district, n)
}

// community finds the community block holding cell (i, j).
func blockOf(edges []int, k int) int {
	for b := 0; b+1 < len(edges); b++ {
		if k < edges[b+1] {
			return b
		}
	}
	return len(edges) - 2
}

// ObjectsForTest streams the city's objects without a database, for tests
// and benchmarks of the generator itself.
func (c *City) ObjectsForTest() interface {
	Next() (geo.Feature, error)
} {
	return c.Objects(c.hierarchy())
}
