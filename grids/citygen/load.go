package citygen

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/paulmach/orb/geojson"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/ingest"
)

// Summary counts what Load wrote.
type Summary struct {
	Districts, Subdistricts, Communities int
	Grids, Objects, Units, Assignments   int
}

// Load generates the city into the store, one transaction per step (each
// step all or nothing), reporting each step through say.
func Load(ctx context.Context, s *grids.Store, cfg Config, say func(string)) (Summary, error) {
	c := New(cfg)
	h := c.hierarchy()
	in, der := ingest.NewStore(s), derive.NewStore(s)
	var sum Summary
	step := func(what string, fn func() (string, error)) error {
		t := time.Now()
		msg, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		say(fmt.Sprintf("%-28s %-46s %6.1fs", what, msg, time.Since(t).Seconds()))
		return nil
	}
	imp := func(src ingest.FeatureSource, opt ingest.ImportOptions, n *int) func() (string, error) {
		return func() (string, error) {
			res, err := in.Import(ctx, src, opt)
			*n = res.Created + res.Updated + res.Unchanged
			return fmt.Sprintf("%d created, %d unchanged", res.Created, res.Unchanged), err
		}
	}
	steps := []struct {
		what string
		fn   func() (string, error)
	}{
		{"districts", imp(c.Regions(h, "district"), ingest.ImportOptions{Kind: "regions", Level: grids.District}, &sum.Districts)},
		{"subdistricts", imp(c.Regions(h, "subdistrict"), ingest.ImportOptions{Kind: "regions", Level: grids.Subdistrict, ParentProp: "parent"}, &sum.Subdistricts)},
		{"communities", imp(c.Regions(h, "community"), ingest.ImportOptions{Kind: "regions", Level: grids.Community, ParentProp: "parent"}, &sum.Communities)},
		{"grids", imp(c.GridFeatures(h), ingest.ImportOptions{Kind: "grids", ParentProp: "parent"}, &sum.Grids)},
		{"objects", imp(c.Objects(h), ingest.ImportOptions{Kind: "objects", Source: "citygen"}, &sum.Objects)},
		{"departments, offices, committees", func() (string, error) {
			d, err := derive.ParseDefaultAssignments(nil)
			if err != nil {
				return "", err
			}
			// Grid sanitation is the city's own below: contractors, offices, gaps.
			res, err := der.DeriveDefaultAssignments(ctx, d.WithoutTarget("sanitation", "grids"))
			sum.Units += res.UnitsCreated
			sum.Assignments += res.AssignmentsCreated
			return fmt.Sprintf("%d units, %d default assignments", res.UnitsCreated, res.AssignmentsCreated), err
		}},
		{"contractors, managers, shops", func() (string, error) {
			res, err := in.Import(ctx, c.units(h), ingest.ImportOptions{Kind: "units", ParentProp: "parent"})
			sum.Units += res.Created
			return fmt.Sprintf("%d units", res.Created), err
		}},
		{"assignments", func() (string, error) {
			n, err := in.ImportAssignments(ctx, c.assignments(h))
			sum.Assignments += n
			return fmt.Sprintf("%d assignments", n), err
		}},
	}
	for _, st := range steps {
		if err := step(st.what, st.fn); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func (c *City) dutyRand(i, j int) *rand.Rand {
	return rand.New(rand.NewPCG(c.cfg.Seed, uint64(50_000_000+j*c.nx+i)))
}

// units are the generated city's own units: two sanitation contractors per
// subdistrict (环卫"小承包"), a property company per community, a manager
// per market, and the one shop in ten that signed its frontage pledge.
func (c *City) units(h hierarchy) *source {
	var fs []geo.Feature
	unit := func(code, name, kind, region string, props map[string]any) {
		p := map[string]any{"code": code, "name": name, "kind": kind, "region": region}
		for k, v := range props {
			p[k] = v
		}
		fs = append(fs, feature(code, nil, p))
	}
	for _, sd := range h.subdistricts {
		for k := 1; k <= 2; k++ {
			unit(fmt.Sprintf("HT%s-%d", sd.code, k), fmt.Sprintf("%s%s环卫服务有限公司", c.names.place(), []string{"", "洁美"}[k-1]), "contractor", sd.code,
				map[string]any{"phone": fmt.Sprintf("0531-8%07d", (len(fs)*7919)%10000000)})
		}
	}
	for _, cm := range h.communities {
		unit("WY"+cm.code, c.names.place()+"物业管理有限公司", "enterprise", cm.code, nil)
	}
	for j := 0; j < c.ny; j++ {
		for i := 0; i < c.nx; i++ {
			if use, _ := c.use(i, j); use == useMarket {
				unit(fmt.Sprintf("SC-%d-%d", i, j), "市场管理办公室"+fmt.Sprintf("%d-%d", i, j), "enterprise", h.commCode[[2]int{blockOf(c.commCols, i), blockOf(c.commRows, j)}], nil)
			}
			r := c.dutyRand(i, j)
			r.Float64() // the grid's sanitation draw
			for n := 0; n < 4; n++ {
				if r.Float64() < 0.1 {
					unit(fmt.Sprintf("SH-%d-%d-%d", i, j, n), fmt.Sprintf("商户 %d-%d-%d", i, j, n), "shop", "", nil)
				}
			}
		}
	}
	for k := range fs {
		if fs[k].Properties["region"] == "" {
			delete(fs[k].Properties, "region")
		}
	}
	return sliceSource(fs)
}

// assignments are the duties the generated city sets itself: grid
// sanitation by contractors (six grids in ten) or the subdistrict office,
// with one grid in fifty nobody's yet; compounds by their property company
// (overlapping compounds by two); markets by their managers; pledged
// shops' frontage by the shop.
func (c *City) assignments(h hierarchy) []ingest.AssignmentInput {
	var out []ingest.AssignmentInput
	for _, cm := range h.communities {
		sd := cm.parent
		n := 0
		for j := cm.j0; j < cm.j1; j++ {
			for i := cm.i0; i < cm.i1; i++ {
				n++
				grid := fmt.Sprintf("%s%03d", cm.code, n)
				r := c.dutyRand(i, j)
				x := r.Float64()
				var unit string
				switch {
				case x < 0.3:
					unit = fmt.Sprintf("HT%s-1", sd)
				case x < 0.6:
					unit = fmt.Sprintf("HT%s-2", sd)
				case x < 0.98:
					unit = "JD" + sd
				}
				if unit != "" {
					out = append(out, ingest.AssignmentInput{Theme: "sanitation", Unit: unit, Role: "lead", Target: "grid", Code: grid, Note: "generated"})
				}
				for k := 0; k < 4; k++ {
					if r.Float64() < 0.1 {
						out = append(out, ingest.AssignmentInput{Theme: "frontage", Unit: fmt.Sprintf("SH-%d-%d-%d", i, j, k), Role: "lead",
							Target: "object", Source: "citygen", SourceID: fmt.Sprintf("shop/%d/%d/%d", i, j, k), Note: "generated"})
					}
				}
				use, overlap := c.use(i, j)
				switch use {
				case useCompound:
					out = append(out, ingest.AssignmentInput{Theme: "sanitation", Unit: "WY" + cm.code, Role: "lead",
						Target: "object", Source: "citygen", SourceID: fmt.Sprintf("compound/%d/%d/0", i, j), Note: "generated"})
					if overlap {
						other := h.communities[(indexOf(h.communities, cm.code)+1)%len(h.communities)].code
						out = append(out, ingest.AssignmentInput{Theme: "sanitation", Unit: "WY" + other, Role: "lead",
							Target: "object", Source: "citygen", SourceID: fmt.Sprintf("compound/%d/%d/1", i, j), Note: "generated"})
					}
				case useMarket:
					out = append(out, ingest.AssignmentInput{Theme: "sanitation", Unit: fmt.Sprintf("SC-%d-%d", i, j), Role: "lead",
						Target: "object", Source: "citygen", SourceID: fmt.Sprintf("market/%d/%d/0", i, j), Note: "generated"})
				}
			}
		}
	}
	return out
}

func indexOf(bs []regionBlock, code string) int {
	for k, b := range bs {
		if b.code == code {
			return k
		}
	}
	return 0
}

// WriteObjects writes the city's objects as one GeoJSON FeatureCollection,
// for import benchmarks and for looking at the city in QGIS.
func WriteObjects(w io.Writer, cfg Config) (int, error) {
	c := New(cfg)
	src := c.Objects(c.hierarchy())
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
	n := 0
	for {
		f, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		gf := geojson.NewFeature(f.Geometry)
		gf.ID = f.ID
		gf.Properties = f.Properties
		b, err := json.Marshal(gf)
		if err != nil {
			return n, err
		}
		if n > 0 {
			bw.WriteString(",\n")
		}
		bw.Write(b)
		n++
	}
	bw.WriteString("\n]}\n")
	return n, bw.Flush()
}
