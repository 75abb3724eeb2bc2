package citygen

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
)

// source yields features one at a time from a generator function, so that
// 200,000 objects never sit in memory together.
type source struct {
	next  func() (geo.Feature, bool)
	index int
}

func (s *source) Next() (geo.Feature, error) {
	f, ok := s.next()
	if !ok {
		return geo.Feature{}, io.EOF
	}
	f.Index = s.index
	s.index++
	return f, nil
}

func sliceSource(fs []geo.Feature) *source {
	i := 0
	return &source{next: func() (geo.Feature, bool) {
		if i >= len(fs) {
			return geo.Feature{}, false
		}
		i++
		return fs[i-1], true
	}}
}

func feature(id string, g orb.Geometry, props map[string]any) geo.Feature {
	return geo.Feature{ID: id, Geometry: g, Properties: props}
}

// regionBlock is a district, subdistrict or community and its cell range.
type regionBlock struct {
	code, name, parent string
	i0, i1, j0, j1     int
}

// hierarchy numbers the blocks: subdistricts within their district and
// communities within their subdistrict, in reading order (north to south,
// west to east), as the national codes are.
type hierarchy struct {
	districts, subdistricts, communities []regionBlock
	commCode                             map[[2]int]string // community block → code
}

func (c *City) hierarchy() hierarchy {
	var h hierarchy
	h.commCode = map[[2]int]string{}
	dn := c.names.districtNames()
	for dr := 0; dr+1 < len(c.distRows); dr++ {
		for dc := 0; dc+1 < len(c.distCols); dc++ {
			dcode := c.districtCode(dc, dr)
			sd0, sd1 := c.distCols[dc], c.distCols[dc+1]
			sr0, sr1 := c.distRows[dr], c.distRows[dr+1]
			h.districts = append(h.districts, regionBlock{code: dcode, name: dn[len(h.districts)%len(dn)] + "区",
				i0: c.commCols[c.sdCols[sd0]], i1: c.commCols[c.sdCols[sd1]], j0: c.commRows[c.sdRows[sr0]], j1: c.commRows[c.sdRows[sr1]]})
			n := 0
			for sr := sr0; sr < sr1; sr++ {
				for sc := sd0; sc < sd1; sc++ {
					n++
					scode := c.subdistrictCode(dcode, n)
					sname := c.names.place() + "街道"
					h.subdistricts = append(h.subdistricts, regionBlock{code: scode, name: sname, parent: dcode,
						i0: c.commCols[c.sdCols[sc]], i1: c.commCols[c.sdCols[sc+1]], j0: c.commRows[c.sdRows[sr]], j1: c.commRows[c.sdRows[sr+1]]})
					m := 0
					for cr := c.sdRows[sr]; cr < c.sdRows[sr+1]; cr++ {
						for cc := c.sdCols[sc]; cc < c.sdCols[sc+1]; cc++ {
							m++
							ccode := fmt.Sprintf("%s%03d", scode[:9], m)
							h.commCode[[2]int{cc, cr}] = ccode
							h.communities = append(h.communities, regionBlock{code: ccode, name: c.names.place() + "社区", parent: scode,
								i0: c.commCols[cc], i1: c.commCols[cc+1], j0: c.commRows[cr], j1: c.commRows[cr+1]})
						}
					}
				}
			}
		}
	}
	return h
}

// Regions returns the features of one level, each with code, name and (but
// for districts) parent.
func (c *City) Regions(h hierarchy, level string) *source {
	var blocks []regionBlock
	switch level {
	case "district":
		blocks = h.districts
	case "subdistrict":
		blocks = h.subdistricts
	default:
		blocks = h.communities
	}
	fs := make([]geo.Feature, len(blocks))
	for k, b := range blocks {
		props := map[string]any{"code": b.code, "name": b.name, "generated": true}
		if b.parent != "" {
			props["parent"] = b.parent
		}
		fs[k] = feature(b.code, c.block(b.i0, b.i1, b.j0, b.j1), props)
	}
	return sliceSource(fs)
}

// GridFeatures returns every unit grid, numbered within its community west
// to east, north to south.
func (c *City) GridFeatures(h hierarchy) *source {
	var fs []geo.Feature
	for _, b := range h.communities {
		n := 0
		for j := b.j0; j < b.j1; j++ {
			for i := b.i0; i < b.i1; i++ {
				n++
				code := fmt.Sprintf("%s%03d", b.code, n)
				fs = append(fs, feature(code, c.cell(i, j), map[string]any{
					"code": code, "name": fmt.Sprintf("%s第%d网格", b.name, n), "parent": b.code}))
			}
		}
	}
	return sliceSource(fs)
}

// componentClasses are the components placed in every grid, with their
// CJ/T 214 category codes.
var componentClasses = []struct{ category, name string }{
	{"C0101", "上水井盖"}, {"C0102", "污水井盖"}, {"C0103", "雨水井盖"}, {"C0118", "路灯"},
	{"C0302", "垃圾箱"}, {"C0402", "行道树"}, {"C0111", "通信交接箱"}, {"C0206", "交通标志牌"},
}

// cellUse is what, besides shops and components, occupies a cell.
type cellUse int

const (
	useNone cellUse = iota
	useCompound
	useSchool
	useMarket
	usePark
)

func (c *City) cellRand(i, j int) *rand.Rand {
	return rand.New(rand.NewPCG(c.cfg.Seed, uint64(1_000_000+j*c.nx+i)))
}

// use decides a cell's main use; the same cell always gets the same use.
func (c *City) use(i, j int) (cellUse, bool) {
	r := c.cellRand(i, j)
	x := r.Float64()
	overlap := r.Float64() < 0.03
	switch {
	case x < 0.22:
		return useCompound, overlap
	case x < 0.232:
		return useSchool, false
	case x < 0.244:
		return useMarket, false
	case x < 0.254:
		return usePark, false
	}
	return useNone, false
}

// Objects returns streets, alleys and the objects of every cell, lazily.
func (c *City) Objects(h hierarchy) *source {
	lines := c.streetsAndAlleys()
	li := 0
	i, j := 0, 0
	var pending []geo.Feature
	serial := map[string]int{}
	return &source{next: func() (geo.Feature, bool) {
		if li < len(lines) {
			li++
			c.NumObjects++
			return lines[li-1], true
		}
		for len(pending) == 0 {
			if j >= c.ny {
				return geo.Feature{}, false
			}
			pending = c.cellObjects(h, i, j, serial)
			if i++; i >= c.nx {
				i, j = 0, j+1
			}
		}
		f := pending[0]
		pending = pending[1:]
		c.NumObjects++
		return f, true
	}}
}

func (c *City) cellObjects(h hierarchy, i, j int, serial map[string]int) []geo.Feature {
	r := c.cellRand(i, j)
	r.Float64() // the draws use() made
	r.Float64()
	var out []geo.Feature
	id := func(kind string, n int) string { return fmt.Sprintf("%s/%d/%d/%d", kind, i, j, n) }
	district := h.districtOf(c, i, j)
	for n := 0; n < 5; n++ {
		cl := componentClasses[r.IntN(len(componentClasses))]
		key := district + cl.category
		serial[key]++
		code := fmt.Sprintf("%s%s%06d", district, cl.category[1:], serial[key])
		out = append(out, feature(id("component", n), c.at(i, j, 0.05+0.9*r.Float64(), 0.05+0.9*r.Float64()),
			map[string]any{"layer": "component", "code": code, "category": cl.category, "name": cl.name}))
	}
	for n := 0; n < 4; n++ {
		u := 0.06
		if r.IntN(2) == 0 {
			u = 0.94
		}
		out = append(out, feature(id("shop", n), c.at(i, j, u, 0.1+0.8*r.Float64()),
			map[string]any{"layer": "shop", "name": c.names.shop(r)}))
	}
	use, overlap := c.use(i, j)
	switch use {
	case useCompound:
		out = append(out, feature(id("compound", 0), c.quad(i, j, 0.15, 0.85, 0.15, 0.85),
			map[string]any{"layer": "compound", "name": c.names.placeR(r) + "小区"}))
		if overlap {
			// A neighbouring compound drawn over this one: two managers claim
			// the same strip, as real registries often show.
			out = append(out, feature(id("compound", 1), c.quad(i, j, 0.6, 0.95, 0.6, 0.95),
				map[string]any{"layer": "compound", "name": c.names.placeR(r) + "家园"}))
		}
	case useSchool:
		out = append(out, feature(id("school", 0), c.quad(i, j, 0.2, 0.8, 0.2, 0.8),
			map[string]any{"layer": "school", "name": c.names.placeR(r) + []string{"小学", "中学", "幼儿园"}[r.IntN(3)]}))
	case useMarket:
		out = append(out, feature(id("market", 0), c.quad(i, j, 0.25, 0.75, 0.25, 0.7),
			map[string]any{"layer": "market", "name": c.names.placeR(r) + "农贸市场"}))
	case usePark:
		out = append(out, feature(id("park", 0), c.quad(i, j, 0.1, 0.9, 0.1, 0.9),
			map[string]any{"layer": "park", "name": c.names.placeR(r) + "公园"}))
	}
	if r.Float64() < 0.05 {
		out = append(out, feature(id("station", 0), c.at(i, j, 0.5, 0.04),
			map[string]any{"layer": "station", "name": c.names.placeR(r) + "公交站"}))
	}
	if r.Float64() < 0.03 {
		out = append(out, feature(id("toilet", 0), c.at(i, j, 0.9, 0.9),
			map[string]any{"layer": "toilet", "name": "公共厕所"}))
	}
	if r.Float64() < 0.01 {
		out = append(out, feature(id("entertainment", 0), c.at(i, j, 0.1, 0.9),
			map[string]any{"layer": "entertainment", "name": c.names.placeR(r) + []string{"KTV", "网吧", "酒吧", "游戏厅"}[r.IntN(4)]}))
	}
	return out
}

func (h hierarchy) districtOf(c *City, i, j int) string {
	cc := blockOf(c.commCols, i)
	cr := blockOf(c.commRows, j)
	return h.commCode[[2]int{cc, cr}][:6]
}

// streetsAndAlleys draws main streets along every community boundary line
// (split where they cross subdistrict lines), back alleys along some inner
// lattice lines, and dead-end stubs into some cells.
func (c *City) streetsAndAlleys() []geo.Feature {
	r := c.rng(3)
	var out []geo.Feature
	isBreak := func(edges []int, k int) bool {
		for _, e := range edges {
			if e == k {
				return true
			}
		}
		return false
	}
	sdColLines := map[int]bool{}
	for _, s := range c.sdCols {
		sdColLines[c.commCols[s]] = true
	}
	sdRowLines := map[int]bool{}
	for _, s := range c.sdRows {
		sdRowLines[c.commRows[s]] = true
	}
	// Main streets: north-south roads (路) and east-west streets (街);
	// those on subdistrict lines are avenues (大道).
	for _, ci := range c.commCols {
		name := c.names.place()
		suffix := "路"
		if sdColLines[ci] {
			suffix = "大道"
		}
		for s := 0; s+1 < len(c.sdRows); s++ {
			j0, j1 := c.commRows[c.sdRows[s]], c.commRows[c.sdRows[s+1]]
			var l orb.LineString
			for j := j0; j <= j1; j++ {
				l = append(l, c.verts[j][ci])
			}
			out = append(out, feature(fmt.Sprintf("street/v/%d/%d", ci, s), l, map[string]any{"layer": "street", "name": name + suffix}))
		}
	}
	for _, rj := range c.commRows {
		name := c.names.place()
		suffix := "街"
		if sdRowLines[rj] {
			suffix = "大道"
		}
		for s := 0; s+1 < len(c.sdCols); s++ {
			i0, i1 := c.commCols[c.sdCols[s]], c.commCols[c.sdCols[s+1]]
			var l orb.LineString
			for i := i0; i <= i1; i++ {
				l = append(l, c.verts[rj][i])
			}
			out = append(out, feature(fmt.Sprintf("street/h/%d/%d", rj, s), l, map[string]any{"layer": "street", "name": name + suffix}))
		}
	}
	// Back alleys: runs of one to three lattice edges on inner lines, first
	// the north-south lines, then the east-west ones.
	alleySuffix := []string{"巷", "胡同", "里", "弄", "条"}
	runs := func(lines, length int, breaks []int, dir string, vertex func(line, k int) orb.Point) {
		for line := 1; line < lines; line++ {
			if isBreak(breaks, line) {
				continue
			}
			for k := 0; k < length; {
				if r.Float64() >= 0.45 {
					k++
					continue
				}
				end := min(k+1+r.IntN(3), length)
				var l orb.LineString
				for v := k; v <= end; v++ {
					l = append(l, vertex(line, v))
				}
				// Ids keep the generator's historical (column, row) order.
				id := fmt.Sprintf("alley/%s/%d/%d", dir, line, k)
				if dir == "h" {
					id = fmt.Sprintf("alley/%s/%d/%d", dir, k, line)
				}
				out = append(out, feature(id, l, map[string]any{"layer": "alley", "name": c.names.placeR(r) + alleySuffix[r.IntN(len(alleySuffix))]}))
				k = end + 1
			}
		}
	}
	runs(c.nx, c.ny, c.commCols, "v", func(i, j int) orb.Point { return c.verts[j][i] })
	runs(c.ny, c.nx, c.commRows, "h", func(j, i int) orb.Point { return c.verts[j][i] })
	// Dead ends: a stub from a cell's north-west corner towards its middle.
	for j := 0; j < c.ny; j++ {
		for i := 0; i < c.nx; i++ {
			if r.Float64() < 0.08 {
				l := orb.LineString{c.verts[j][i], c.at(i, j, 0.45, 0.55)}
				out = append(out, feature(fmt.Sprintf("alley/stub/%d/%d", i, j), l, map[string]any{"layer": "alley", "name": c.names.placeR(r) + "死胡同", "dead_end": true}))
			}
		}
	}
	return out
}
