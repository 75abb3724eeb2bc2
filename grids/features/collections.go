package features

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// PropType is a property's type as GIS clients see it.
type PropType string

// The property types of collections.
const (
	PropString   PropType = "string"
	PropInteger  PropType = "integer"
	PropNumber   PropType = "number"
	PropDateTime PropType = "datetime"
	PropBoolean  PropType = "boolean"
)

// Property is one flat property of a collection's features.
type Property struct {
	Name  string   `json:"name"`
	Type  PropType `json:"type"`
	Title string   `json:"title"`
}

// Temporal says how a collection's features sit in time, which decides what
// datetime, since/until and at mean for them.
type Temporal int

const (
	// Timeless features have no time: time filters are refused.
	Timeless Temporal = iota
	// Instant features carry one moment (their last change).
	Instant
	// Versioned features are valid from t0 to t1 (open while live). Without
	// a time filter only live versions are read.
	Versioned
)

// Collection is a layer GIS clients read: exports, OGC API – Features. Its
// source SQL yields one row per feature with the columns fid (text id), sk
// (bigint, unique, the paging key), geom, t0 and t1 (timestamptz, may be
// NULL) and one column per property, plus any hidden columns its filters
// use.
type Collection struct {
	ID           string     `json:"id"`
	Title        string     `json:"title"`
	Description  string     `json:"description"`
	GeometryType string     `json:"geometry_type"`
	Properties   []Property `json:"properties"`
	Temporal     Temporal   `json:"-"`
	// NumericID says the feature ids are integers (written as JSON numbers).
	NumericID bool `json:"-"`
	// Filters names the query filters besides bbox and time that apply.
	Filters []string `json:"filters"`
	// Readers lists the roles that may read it besides admin; nil means all.
	Readers []grids.Role `json:"-"`

	source string
	// countSource, when set, counts faster than source: it leaves out
	// lookups that cannot change the number of rows. countable lists the
	// properties it has; a query filtering on others, by bbox or by region
	// counts from source.
	countSource string
	countable   []string
	// regionSQL restricts rows to a region; it may use the CTE "down" (the
	// region and everything under it) and @region.
	regionSQL string
	// layer keeps an object layer's collection to its layer, as a bound
	// argument (the codes come from the layers table, not from code).
	layer string
	// compute makes a layer that is computed on request instead of read
	// from source: its own parameters and its rows.
	compute *computed
	// cases marks the cases collection: its rows are restricted by the
	// case filter (FeatureQuery.Cases), whose SQL grids/cases owns.
	cases bool
}

// MayRead says whether a role may read the collection.
func (c *Collection) MayRead(r grids.Role) bool {
	return r == grids.RoleAdmin || c.Readers == nil || slices.Contains(c.Readers, r)
}

// Property returns the named property.
func (c *Collection) Property(name string) (Property, bool) {
	for _, p := range c.Properties {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

func fprop(name string, t PropType, title string) Property { return Property{name, t, title} }

// objectProps are the properties of every object collection, a fresh slice
// for each, so that no collection shares another's.
func objectProps() []Property {
	return []Property{
		fprop("id", PropInteger, "object id"),
		fprop("code", PropString, "code"),
		fprop("name", PropString, "name 名称"),
		fprop("layer", PropString, "layer 图层"),
		fprop("category", PropString, "component category 部件类别"),
		fprop("length_m", PropNumber, "length in metres (lines)"),
		fprop("area_m2", PropNumber, "area in square metres (polygons)"),
		fprop("source", PropString, "source (osm, import, manual)"),
		fprop("source_id", PropString, "id in the source"),
		fprop("attrs", PropString, "source attributes as JSON text"),
		fprop("updated_at", PropDateTime, "last change"),
	}
}

const objectSource = `
	SELECT o.id::text AS fid, o.id AS sk, o.geom, o.updated_at AS t0, NULL::timestamptz AS t1,
	       o.id, o.code, o.name, o.layer, o.category_code AS category, round(o.length_m::numeric, 2) AS length_m,
	       round(o.area_m2::numeric, 2) AS area_m2, o.source, o.source_id, o.attrs::text AS attrs, o.updated_at
	FROM objects o`

const objectInRegion = `EXISTS (SELECT 1 FROM regions r WHERE r.code = @region AND r.geom && f.geom AND ST_Intersects(r.geom, f.geom))`

// Computed says the collection is computed on request (gaps, grid_check):
// exports only, not an OGC collection.
func (c *Collection) Computed() bool { return c.compute != nil }

// Collections lists the stored layers GIS clients can read: regions, grids,
// units, the assignments with their targets' geometry, every object and
// each object layer (ids are the layer codes), and the cases.
func (s *Store) Collections(ctx context.Context) ([]*Collection, error) {
	cs := []*Collection{
		{
			ID: "regions", Title: "行政区域 Regions", Description: "districts, subdistricts and communities",
			GeometryType: "MultiPolygon", Temporal: Instant, Filters: []string{"region", "level", "parent"},
			Properties: []Property{
				fprop("code", PropString, "code 区划代码"), fprop("name", PropString, "name 名称"),
				fprop("level", PropString, "district, subdistrict or community"), fprop("parent", PropString, "parent region code"),
				fprop("area_m2", PropNumber, "area in square metres"), fprop("updated_at", PropDateTime, "last change"),
			},
			source: `
				SELECT r.code AS fid, r.id AS sk, r.geom, r.updated_at AS t0, NULL::timestamptz AS t1,
				       r.code, r.name, r.level, p.code AS parent, round(r.area_m2::numeric, 2) AS area_m2, r.updated_at
				FROM regions r LEFT JOIN regions p ON p.id = r.parent_id`,
			regionSQL: `f.sk IN (SELECT id FROM down)`,
		},
		{
			ID: "grids", Title: "单元网格 Unit grids", Description: "unit grids; live versions unless a time is asked for",
			GeometryType: "Polygon", Temporal: Versioned, Filters: []string{"region", "community", "code"},
			Properties: []Property{
				fprop("code", PropString, "grid code 网格编码"), fprop("name", PropString, "name 名称"),
				fprop("community", PropString, "community code 社区"), fprop("area_m2", PropNumber, "area in square metres"),
				fprop("version", PropInteger, "version"), fprop("valid_from", PropDateTime, "valid from"),
				fprop("valid_to", PropDateTime, "valid until (empty while live)"),
			},
			// A live grid's id is its code; an ended version's is code@version,
			// so ids stay unique when history is asked for.
			source: `
				SELECT CASE WHEN g.valid_to IS NULL THEN g.code ELSE g.code || '@' || g.version END AS fid,
				       g.id AS sk, g.geom, g.valid_from AS t0, g.valid_to AS t1, g.community_id,
				       g.code, g.name, c.code AS community, round(g.area_m2::numeric, 2) AS area_m2, g.version, g.valid_from, g.valid_to
				FROM grids g JOIN regions c ON c.id = g.community_id`,
			regionSQL: `f.community_id IN (SELECT id FROM down)`,
		},
		{
			ID: "units", Title: "责任单位 Responsible units", Description: "units with their contacts and, where known, their location",
			GeometryType: "Geometry", Temporal: Instant, Filters: []string{"region", "kind", "code"},
			// Contacts are personal data: analysts and units do not read them.
			Readers: grids.ContactReaders(),
			Properties: []Property{
				fprop("code", PropString, "unit code"), fprop("name", PropString, "name 名称"), fprop("kind", PropString, "kind"),
				fprop("parent", PropString, "parent unit code"), fprop("region", PropString, "region code"),
				fprop("contact", PropString, "contact as JSON text"), fprop("updated_at", PropDateTime, "last change"),
			},
			source: `
				SELECT u.code AS fid, u.id AS sk, u.geom, u.updated_at AS t0, NULL::timestamptz AS t1, u.region_id,
				       u.code, u.name, u.kind, p.code AS parent, r.code AS region, u.contact::text AS contact, u.updated_at
				FROM units u LEFT JOIN units p ON p.id = u.parent_id LEFT JOIN regions r ON r.id = u.region_id`,
			regionSQL: `f.region_id IN (SELECT id FROM down)`,
		},
		{
			ID: "assignments", Title: "责任分配 Assignments",
			Description:  "who leads or supports which grid, region or object for which duty, with the target's geometry (a stretch's own part of its line)",
			GeometryType: "Geometry", Temporal: Versioned, NumericID: true, Filters: []string{"region", "theme", "unit", "role", "target_kind", "target"},
			Properties: []Property{
				fprop("id", PropInteger, "assignment id"), fprop("theme", PropString, "duty 职责"), fprop("unit", PropString, "unit code"),
				fprop("unit_name", PropString, "unit name"), fprop("role", PropString, "lead or support"),
				fprop("target_kind", PropString, "grid, region or object"), fprop("target", PropString, "grid or region code, object id"),
				fprop("target_name", PropString, "target name"), fprop("layer", PropString, "object layer"),
				fprop("from_m", PropNumber, "stretch start (m)"), fprop("to_m", PropNumber, "stretch end (m)"),
				fprop("valid_from", PropDateTime, "valid from"), fprop("valid_to", PropDateTime, "valid until (empty while live)"),
				fprop("note", PropString, "note"),
			},
			// A grid target shows the grid version live when the assignment
			// began, or the live one.
			source: `
				SELECT a.id::text AS fid, a.id AS sk, t.geom, a.valid_from AS t0, a.valid_to AS t1, t.community_id,
				       a.id, a.theme_code AS theme, u.code AS unit, u.name AS unit_name, a.role, a.target_kind, t.code AS target,
				       t.name AS target_name, t.layer, a.from_m, a.to_m, a.valid_from, a.valid_to, a.note
				FROM assignments a JOIN units u ON u.id = a.unit_id
				CROSS JOIN LATERAL (
					(SELECT g.code, g.name, NULL::text AS layer, g.geom, g.community_id
					 FROM grids g WHERE a.target_kind = 'grid' AND g.code = a.grid_code
					 ORDER BY (g.valid_from <= a.valid_from AND (g.valid_to IS NULL OR g.valid_to > a.valid_from)) DESC, g.version DESC LIMIT 1)
					UNION ALL
					SELECT r.code, r.name, NULL, r.geom::geometry, NULL FROM regions r WHERE a.target_kind = 'region' AND r.id = a.region_id
					UNION ALL
					SELECT o.id::text, o.name, o.layer,
					       CASE WHEN a.from_m IS NULL OR ST_GeometryType(o.geom) <> 'ST_LineString' OR o.length_m IS NULL OR o.length_m = 0 THEN o.geom
					            ELSE ST_LineSubstring(o.geom, least(a.from_m / o.length_m, 1), least(COALESCE(a.to_m, o.length_m) / o.length_m, 1)) END,
					       NULL
					FROM objects o WHERE a.target_kind = 'object' AND o.id = a.object_id
				) t`,
			// The target's geometry costs a lookup a row; counting needs none.
			countSource: `
				SELECT a.id AS sk, a.valid_from AS t0, a.valid_to AS t1, a.id, a.theme_code AS theme, u.code AS unit, a.role,
				       a.target_kind, a.from_m, a.to_m, a.valid_from, a.valid_to, a.note
				FROM assignments a JOIN units u ON u.id = a.unit_id`,
			countable: []string{"id", "theme", "unit", "role", "target_kind", "from_m", "to_m", "valid_from", "valid_to", "note"},
			regionSQL: `(f.community_id IN (SELECT id FROM down) OR (f.target_kind = 'region' AND f.target IN (SELECT code FROM down))
				OR (f.target_kind = 'object' AND ` + objectInRegion + `))`,
		},
		{
			ID: "objects", Title: "管理对象 Objects", Description: "every object: streets, alleys, markets, schools, stations, compounds …",
			GeometryType: "Geometry", Temporal: Instant, NumericID: true, Filters: []string{"region", "layer", "category", "code", "name", "source"},
			Properties: objectProps(), source: objectSource, regionSQL: objectInRegion,
		},
		casesCollection(),
	}
	rows, err := s.pool.Query(ctx, `SELECT code, name_zh, name_en, geom_kind FROM layers ORDER BY sort, code`)
	if err != nil {
		return nil, err
	}
	type layer struct{ code, zh, en, kind string }
	layers, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (layer, error) {
		var l layer
		return l, r.Scan(&l.code, &l.zh, &l.en, &l.kind)
	})
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		gt := map[string]string{"point": "Point", "line": "LineString", "polygon": "Polygon"}[l.kind]
		if gt == "" {
			gt = "Geometry"
		}
		cs = append(cs, &Collection{
			ID: l.code, Title: strings.TrimSpace(l.zh + " " + capitalise(l.en)), Description: "objects of the layer " + l.code,
			GeometryType: gt, Temporal: Instant, NumericID: true, Filters: []string{"region", "category", "code", "name", "source"},
			Properties: objectProps(), source: objectSource, regionSQL: objectInRegion, layer: l.code,
		})
	}
	return cs, nil
}

// Collection returns one collection by id: a stored layer, then a computed
// one.
func (s *Store) Collection(ctx context.Context, id string) (*Collection, error) {
	cs, err := s.Collections(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.ID == id {
			return c, nil
		}
	}
	if c := s.computedCollection(id); c != nil {
		return c, nil
	}
	return nil, &grids.NotFoundError{What: "collection", Key: id}
}

// Readable returns the collection id if principal p may read it.
func (s *Store) Readable(ctx context.Context, p grids.Principal, id string) (*Collection, error) {
	c, err := s.Collection(ctx, id)
	if err != nil {
		return nil, err
	}
	if !c.MayRead(p.Role) {
		return nil, fmt.Errorf("%w: %s may not read %s", grids.ErrForbidden, p.Role, id)
	}
	return c, nil
}

// ReadableCollections lists the stored layers p may read.
func (s *Store) ReadableCollections(ctx context.Context, p grids.Principal) ([]*Collection, error) {
	all, err := s.Collections(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c *Collection) bool { return !c.MayRead(p.Role) }), nil
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}
