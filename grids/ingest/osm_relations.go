package ingest

import (
	"errors"
	"fmt"

	"github.com/paulmach/orb"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmgeojson"
)

// relation turns a multipolygon or boundary relation the layer table maps
// into an area. The rings are assembled by paulmach/osm's osmgeojson (the
// same code that converts OSM to GeoJSON elsewhere), given just this
// relation and its member ways; what it cannot close is reported, not
// imported.
func (o *OSMReader) relation(r *osm.Relation) {
	if t := r.Tags.Find("type"); t != "multipolygon" && t != "boundary" {
		return
	}
	rule, ok := o.mapping.rule(r.Tags, "area")
	if !ok {
		return
	}
	ways, missing := o.memberWays(r)
	g, err := assembleRelation(r, ways)
	if err != nil {
		o.warnings = append(o.warnings, fmt.Sprintf("relation/%d (%s) not imported: %v", r.ID, osmName(r.Tags), err))
		return
	}
	if o.mapping.builtup(r.Tags) {
		for _, p := range g {
			o.builtup = append(o.builtup, p)
		}
	}
	var geom orb.Geometry = g
	if len(g) == 1 {
		geom = g[0]
	}
	o.emit(rule, "relation", int64(r.ID), r.Tags, geom, missing)
}

// memberWays gives the relation's outer and inner ways with the coordinates
// of their nodes, and whether any member or node is outside the extract.
func (o *OSMReader) memberWays(r *osm.Relation) (osm.Ways, bool) {
	var ways osm.Ways
	missing := false
	for _, m := range r.Members {
		if m.Type != osm.TypeWay || (m.Role != "outer" && m.Role != "inner") {
			continue
		}
		ids, ok := o.wayNodes[osm.WayID(m.Ref)]
		if !ok {
			missing = true
			continue
		}
		w := &osm.Way{ID: osm.WayID(m.Ref), Nodes: make(osm.WayNodes, 0, len(ids))}
		for _, id := range ids {
			p, ok := o.nodes[id]
			if !ok {
				missing = true
				continue
			}
			w.Nodes = append(w.Nodes, osm.WayNode{ID: id, Lon: p.Lon(), Lat: p.Lat()})
		}
		ways = append(ways, w)
	}
	return ways, missing
}

// assembleRelation builds the relation's polygons and refuses what is not
// one: an outer ring that does not close, an inner ring outside every
// outer, a ring of fewer than four points.
func assembleRelation(r *osm.Relation, ways osm.Ways) (orb.MultiPolygon, error) {
	fc, err := osmgeojson.Convert(&osm.OSM{Ways: ways, Relations: osm.Relations{r}},
		osmgeojson.NoMeta(true), osmgeojson.NoRelationMembership(true), osmgeojson.IncludeInvalidPolygons(true))
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("relation/%d", r.ID)
	var g orb.Geometry
	for _, f := range fc.Features {
		if f.ID == id {
			g = f.Geometry
		}
	}
	var mp orb.MultiPolygon
	switch g := g.(type) {
	case nil:
		return nil, errors.New("no outer ring in the extract")
	case orb.Polygon:
		mp = orb.MultiPolygon{g}
	case orb.MultiPolygon:
		mp = g
	default:
		return nil, fmt.Errorf("assembled into a %s", g.GeoJSONType())
	}
	for _, p := range mp {
		if len(p) == 0 || len(p[0]) == 0 {
			return nil, errors.New("an inner ring lies outside every outer ring")
		}
		for i, ring := range p {
			what := "outer"
			if i > 0 {
				what = "inner"
			}
			if len(ring) < 4 || !ring.Closed() {
				return nil, fmt.Errorf("an %s ring does not close (members missing or not joined end to end)", what)
			}
		}
	}
	return mp, nil
}
