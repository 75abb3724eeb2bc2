package ingest

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/paulmach/osm"
	"github.com/paulmach/osm/osmpbf"
	"github.com/paulmach/osm/osmxml"
	"gopkg.in/yaml.v3"

	"github.com/citygrid/citygrid/geo"
)

//go:embed osm_layers.yaml
var defaultOSMMapping []byte

// OSMMapping says which OpenStreetMap features become which objects.
type OSMMapping struct {
	Builtup []tagMatch
	Rules   []OSMRule
}

// OSMRule maps OSM features to a layer; see osm_layers.yaml.
type OSMRule struct {
	Layer         string
	Shapes        []string
	Tags          tagMatch
	NameSuffix    []string
	InsideBuiltup bool
}

// tagMatch is tag → accepted values; a nil list accepts any value.
type tagMatch map[string][]string

func (m tagMatch) matches(tags osm.Tags) bool {
	for k, vals := range m {
		v := tags.Find(k)
		if v == "" {
			return false
		}
		if vals == nil {
			continue
		}
		if !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

type yamlMapping struct {
	Builtup []map[string]any `yaml:"builtup"`
	Rules   []struct {
		Layer         string         `yaml:"layer"`
		Shapes        []string       `yaml:"shapes"`
		Tags          map[string]any `yaml:"tags"`
		NameSuffix    []string       `yaml:"name_suffix"`
		InsideBuiltup bool           `yaml:"inside_builtup"`
	} `yaml:"rules"`
}

func toTagMatch(m map[string]any) (tagMatch, error) {
	out := tagMatch{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			if v != "*" {
				out[k] = []string{v}
			} else {
				out[k] = nil
			}
		case []any:
			for _, x := range v {
				out[k] = append(out[k], fmt.Sprint(x))
			}
		default:
			return nil, fmt.Errorf("tag %s: want a list of values or \"*\"", k)
		}
	}
	return out, nil
}

// ParseOSMMapping reads a mapping file; nil reads the built-in one.
func ParseOSMMapping(b []byte) (OSMMapping, error) {
	if b == nil {
		b = defaultOSMMapping
	}
	var y yamlMapping
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil {
		return OSMMapping{}, fmt.Errorf("OSM mapping: %w", err)
	}
	var m OSMMapping
	for _, b := range y.Builtup {
		t, err := toTagMatch(b)
		if err != nil {
			return m, fmt.Errorf("OSM mapping builtup: %w", err)
		}
		m.Builtup = append(m.Builtup, t)
	}
	for i, r := range y.Rules {
		t, err := toTagMatch(r.Tags)
		if err != nil {
			return m, fmt.Errorf("OSM mapping rule %d: %w", i+1, err)
		}
		if r.Layer == "" || len(r.Shapes) == 0 || len(t) == 0 {
			return m, fmt.Errorf("OSM mapping rule %d: layer, shapes and tags are required", i+1)
		}
		for _, s := range r.Shapes {
			if s != "point" && s != "line" && s != "area" {
				return m, fmt.Errorf("OSM mapping rule %d: shape %q (want point, line or area)", i+1, s)
			}
		}
		m.Rules = append(m.Rules, OSMRule{Layer: r.Layer, Shapes: r.Shapes, Tags: t, NameSuffix: r.NameSuffix, InsideBuiltup: r.InsideBuiltup})
	}
	return m, nil
}

func osmName(tags osm.Tags) string {
	if n := tags.Find("name:zh"); n != "" {
		return n
	}
	return tags.Find("name")
}

func (m OSMMapping) rule(tags osm.Tags, shape string) (OSMRule, bool) {
	if len(tags) == 0 {
		return OSMRule{}, false
	}
	name := osmName(tags)
	for _, r := range m.Rules {
		if !slices.Contains(r.Shapes, shape) || !r.Tags.matches(tags) {
			continue
		}
		if len(r.NameSuffix) > 0 {
			ok := false
			for _, suf := range r.NameSuffix {
				ok = ok || (name != "" && strings.HasSuffix(name, suf))
			}
			if !ok {
				continue
			}
		}
		return r, true
	}
	return OSMRule{}, false
}

func (m OSMMapping) builtup(tags osm.Tags) bool {
	for _, b := range m.Builtup {
		if b.matches(tags) {
			return true
		}
	}
	return false
}

// OSMReader turns an .osm (XML) or .osm.pbf file into object features for
// Store.Import. Node coordinates are kept in memory while reading (about
// 40 bytes a node: a city extract of a few million nodes fits easily).
// Multipolygon and boundary relations become areas (see osm_relations.go):
// relations come last in a file, so every way's node ids are kept too.
// A way or relation the extract clipped gets the property partial: true.
type OSMReader struct {
	scanner  osm.Scanner
	mapping  OSMMapping
	nodes    map[osm.NodeID]orb.Point
	wayNodes map[osm.WayID][]osm.NodeID // for assembling relations
	bounds   *osm.Bounds                // the extract's bounds, when the file says
	warnings []string
	queue    []geo.Feature
	deferred []geo.Feature // inside_builtup features, checked at the end
	builtup  []orb.Polygon
	index    int
	finished bool
	// Counts, for the summary.
	Nodes, Ways, Relations, Matched int
}

// NewOSMReader reads XML or PBF, telling them apart by their first bytes.
func NewOSMReader(ctx context.Context, r io.Reader, mapping OSMMapping) (*OSMReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(16)
	if err != nil && len(head) == 0 {
		return nil, errors.New("the OSM file is empty")
	}
	var sc osm.Scanner
	if strings.HasPrefix(strings.TrimLeft(string(head), " \t\r\n\xef\xbb\xbf"), "<") {
		sc = osmxml.New(ctx, br)
	} else {
		sc = osmpbf.New(ctx, br, 2)
	}
	o := &OSMReader{scanner: sc, mapping: mapping, nodes: map[osm.NodeID]orb.Point{}, wayNodes: map[osm.WayID][]osm.NodeID{}}
	if pbf, ok := sc.(*osmpbf.Scanner); ok {
		// A PBF's bounds are in its header; a broken header shows up again
		// as a scan error, reported there.
		if h, err := pbf.Header(); err == nil && h != nil {
			o.bounds = h.Bounds
		}
	}
	return o, nil
}

// Close releases the scanner.
func (o *OSMReader) Close() error { return o.scanner.Close() }

// Next implements FeatureSource.
func (o *OSMReader) Next() (geo.Feature, error) {
	for len(o.queue) == 0 {
		if o.finished {
			return geo.Feature{}, io.EOF
		}
		if !o.scanner.Scan() {
			if err := o.scanner.Err(); err != nil {
				return geo.Feature{}, fmt.Errorf("reading OSM data (truncated or not OSM?): %w", err)
			}
			if o.Nodes == 0 && o.Ways == 0 {
				return geo.Feature{}, errors.New("no OSM nodes or ways in the file: is it an .osm or .osm.pbf file?")
			}
			o.finished = true
			o.releaseDeferred()
			continue
		}
		switch e := o.scanner.Object().(type) {
		case *osm.Bounds:
			o.bounds = e
		case *osm.Node:
			o.Nodes++
			p := orb.Point{e.Lon, e.Lat}
			o.nodes[e.ID] = p
			if r, ok := o.mapping.rule(e.Tags, "point"); ok {
				o.emit(r, "node", int64(e.ID), e.Tags, p, false)
			}
		case *osm.Way:
			o.Ways++
			o.way(e)
		case *osm.Relation:
			o.Relations++
			o.relation(e)
		}
	}
	f := o.queue[0]
	o.queue = o.queue[1:]
	return f, nil
}

// Warnings says what was read but not imported (relations that do not
// assemble into areas); Import adds them to its summary.
func (o *OSMReader) Warnings() []string { return o.warnings }

func (o *OSMReader) way(w *osm.Way) {
	o.wayNodes[w.ID] = w.Nodes.NodeIDs()
	line := make(orb.LineString, 0, len(w.Nodes))
	for _, n := range w.Nodes {
		if p, ok := o.nodes[n.ID]; ok {
			line = append(line, p)
		}
	}
	if len(line) < 2 {
		return // every node lies outside the extract
	}
	partial := len(line) < len(w.Nodes) || o.onBounds(line[0]) || o.onBounds(line[len(line)-1])
	closed := len(w.Nodes) >= 4 && w.Nodes[0].ID == w.Nodes[len(w.Nodes)-1].ID && line[0] == line[len(line)-1] && len(line) >= 4
	isArea := closed && (w.Tags.Find("highway") == "" || w.Tags.Find("area") == "yes")
	if isArea && o.mapping.builtup(w.Tags) {
		o.builtup = append(o.builtup, orb.Polygon{orb.Ring(line)})
	}
	shape := "line"
	var g orb.Geometry = line
	if isArea {
		shape = "area"
		g = orb.Polygon{orb.Ring(line)}
	}
	if r, ok := o.mapping.rule(w.Tags, shape); ok {
		o.emit(r, "way", int64(w.ID), w.Tags, g, partial)
	}
}

// onBounds tells whether a point lies on the edge of the extract: a way
// ending there was most likely cut by it.
func (o *OSMReader) onBounds(p orb.Point) bool {
	if o.bounds == nil {
		return false
	}
	const eps = 1e-7 // the precision of OSM coordinates
	b := o.bounds
	near := func(a, b float64) bool { return math.Abs(a-b) <= eps }
	return near(p.Lon(), b.MinLon) || near(p.Lon(), b.MaxLon) || near(p.Lat(), b.MinLat) || near(p.Lat(), b.MaxLat)
}

func (o *OSMReader) emit(r OSMRule, typ string, id int64, tags osm.Tags, g orb.Geometry, partial bool) {
	o.Matched++
	f := geo.Feature{
		Index:    o.index,
		ID:       fmt.Sprintf("%s/%d", typ, id),
		Geometry: g,
		Properties: map[string]any{
			"layer": r.Layer,
			"name":  osmName(tags),
			"osm":   tags.Map(),
		},
	}
	if partial {
		f.Properties["partial"] = true
	}
	o.index++
	if r.InsideBuiltup {
		o.deferred = append(o.deferred, f)
		return
	}
	o.queue = append(o.queue, f)
}

// releaseDeferred keeps the inside_builtup features whose middle vertex lies
// in a built-up area. Built-up areas are few (hundreds per district), so a
// bounding-box test before the exact one is enough.
func (o *OSMReader) releaseDeferred() {
	bounds := make([]orb.Bound, len(o.builtup))
	for i, p := range o.builtup {
		bounds[i] = p.Bound()
	}
	for _, f := range o.deferred {
		var probe orb.Point
		switch g := f.Geometry.(type) {
		case orb.LineString:
			probe = g[len(g)/2]
		case orb.Polygon:
			probe = g[0][0]
		case orb.MultiPolygon:
			probe = g[0][0][0]
		case orb.Point:
			probe = g
		}
		for i, b := range bounds {
			if b.Contains(probe) && planar.PolygonContains(o.builtup[i], probe) {
				o.queue = append(o.queue, f)
				break
			}
		}
	}
	o.deferred = nil
}
