package grids

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// PropType is a property's type as GIS clients see it.
type PropType string

// The property types of collections.
const (
	PropString   PropType = "string"
	PropInteger  PropType = "integer"
	PropNumber   PropType = "number"
	PropDateTime PropType = "datetime"
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
	Readers []Role `json:"-"`

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
}

// MayRead says whether a role may read the collection.
func (c *Collection) MayRead(r Role) bool {
	return r == RoleAdmin || c.Readers == nil || slices.Contains(c.Readers, r)
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

// objectProps are the properties of every object collection.
var objectProps = []Property{
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

const objectSource = `
	SELECT o.id::text AS fid, o.id AS sk, o.geom, o.updated_at AS t0, NULL::timestamptz AS t1,
	       o.id, o.code, o.name, o.layer, o.category_code AS category, round(o.length_m::numeric, 2) AS length_m,
	       round(o.area_m2::numeric, 2) AS area_m2, o.source, o.source_id, o.attrs::text AS attrs, o.updated_at
	FROM objects o`

const objectInRegion = `EXISTS (SELECT 1 FROM regions r WHERE r.code = @region AND r.geom && f.geom AND ST_Intersects(r.geom, f.geom))`

// Collections lists what GIS clients can read: regions, grids, units, the
// assignments with their targets' geometry, every object and each object
// layer (ids are the layer codes). Cases join when the case loop lands.
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
			Readers: ContactReaders(),
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
			Properties: objectProps, source: objectSource, regionSQL: objectInRegion,
		},
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
			Properties: objectProps, source: objectSource, regionSQL: objectInRegion, layer: l.code,
		})
	}
	return cs, nil
}

// Collection returns one collection by id.
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
	return nil, &NotFoundError{What: "collection", Key: id}
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// FeatureQuery selects and pages a collection's features.
type FeatureQuery struct {
	BBox *orb.Bound // WGS84
	// Region keeps features in a region and everything under it.
	Region string
	// Equal holds equality filters by property or filter name (theme,
	// layer, unit …): each must be one of the collection's Filters or
	// Properties.
	Equal map[string]string
	// At reads versioned collections as of a moment.
	At *time.Time
	// Since and Until bound a time range (either may be open); features
	// whose time overlaps it are read.
	Since, Until *time.Time
	// OnlyUnit keeps assignments of one unit (unit tokens read their own).
	OnlyUnit string
	// After and Limit page by the sort key; Limit 0 reads everything, in no
	// particular order.
	After int64
	Limit int
	// SK picks one feature by its key (a numeric id).
	SK int64
}

// GeometryEncoding is how a feature's geometry comes out of the database.
type GeometryEncoding int

// Geometry encodings: RFC 7946 GeoJSON text, WKT, or WKB for a conversion
// in Go (GCJ-02, BD-09).
const (
	AsGeoJSON GeometryEncoding = iota
	AsWKT
	AsWKB
)

// FeatureRow is one feature as read: Props is a JSON object of the
// properties in collection order (nil when Values was asked for), Values the
// same properties as text (for CSV), Geom in the asked encoding (nil when
// the feature has none), Lon and Lat a point's coordinates.
type FeatureRow struct {
	ID       string
	SK       int64
	Props    []byte
	Values   []*string
	Geom     []byte
	Lon, Lat *float64
}

// Features reads a collection's features and calls emit for each as it
// arrives from the database cursor, so that memory stays flat however many
// there are. values asks for properties as text instead of JSON.
func (s *Store) Features(ctx context.Context, c *Collection, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error) error {
	sql, args, err := c.query(q, enc, values, false)
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, sql, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	var f FeatureRow
	for rows.Next() {
		f = FeatureRow{}
		var err error
		if values {
			err = rows.Scan(&f.ID, &f.SK, &f.Values, &f.Geom, &f.Lon, &f.Lat)
		} else {
			err = rows.Scan(&f.ID, &f.SK, &f.Props, &f.Geom, &f.Lon, &f.Lat)
		}
		if err != nil {
			return err
		}
		if err := emit(&f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// CountFeatures counts what a query matches, ignoring its paging.
func (s *Store) CountFeatures(ctx context.Context, c *Collection, q FeatureQuery) (int64, error) {
	q.After, q.Limit = 0, 0
	sql, args, err := c.query(q, AsGeoJSON, false, true)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.pool.QueryRow(ctx, sql, args).Scan(&n)
	return n, err
}

// Feature reads one feature by id: a numeric id in any version, a grid's
// code (the live version) or code@version, a region's or unit's code.
func (s *Store) Feature(ctx context.Context, c *Collection, id string, q FeatureQuery, enc GeometryEncoding) (*FeatureRow, error) {
	notFound := &NotFoundError{What: "feature", Key: c.ID + "/" + id}
	q.Equal = map[string]string{}
	switch {
	case c.NumericID:
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return nil, notFound
		}
		q.SK = n
		if c.Temporal == Versioned {
			q.Since = &time.Time{} // ended ones too
		}
	case c.Temporal == Versioned:
		code, version, versioned := strings.Cut(id, "@")
		q.Equal["code"] = code
		if versioned {
			if _, err := strconv.Atoi(version); err != nil {
				return nil, notFound
			}
			q.Equal["version"] = version
			q.Since = &time.Time{}
		}
	default:
		q.Equal["code"] = id
	}
	var found *FeatureRow
	err := s.Features(ctx, c, q, enc, false, func(f *FeatureRow) error {
		cp := *f
		found = &cp
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, notFound
	}
	return found, nil
}

// query builds the SQL of a feature query. Every value is a named
// argument; only the collection's own SQL and property names (fixed in
// code) are spliced in.
func (c *Collection) query(q FeatureQuery, enc GeometryEncoding, values, count bool) (string, pgx.NamedArgs, error) {
	args := pgx.NamedArgs{}
	var where []string
	var with string
	if q.BBox != nil {
		args["xmin"], args["ymin"], args["xmax"], args["ymax"] = q.BBox.Min[0], q.BBox.Min[1], q.BBox.Max[0], q.BBox.Max[1]
		where = append(where, `f.geom && ST_MakeEnvelope(@xmin, @ymin, @xmax, @ymax, 4326) AND ST_Intersects(f.geom, ST_MakeEnvelope(@xmin, @ymin, @xmax, @ymax, 4326))`)
	}
	if q.Region != "" {
		args["region"] = q.Region
		with = `WITH RECURSIVE down AS (
			SELECT id, code FROM regions WHERE code = @region
			UNION ALL SELECT r.id, r.code FROM regions r JOIN down d ON r.parent_id = d.id) `
		where = append(where, c.regionSQL)
	}
	timed := q.At != nil || q.Since != nil || q.Until != nil
	if timed && c.Temporal == Timeless {
		return "", nil, Invalid("datetime", "%s has no time", c.ID)
	}
	switch {
	case q.At != nil:
		if c.Temporal != Versioned {
			return "", nil, Invalid("at", "%s keeps no history; datetime selects by the time of the last change", c.ID)
		}
		args["at"] = *q.At
		where = append(where, `f.t0 <= @at AND (f.t1 IS NULL OR f.t1 > @at)`)
	case q.Since != nil || q.Until != nil:
		// A version overlaps the range if it began before its end and ended
		// (if at all) after its start; a timestamp lies within it.
		if q.Since != nil {
			args["since"] = *q.Since
			if c.Temporal == Versioned {
				where = append(where, `(f.t1 IS NULL OR f.t1 > @since)`)
			} else {
				where = append(where, `f.t0 >= @since`)
			}
		}
		if q.Until != nil {
			args["until"] = *q.Until
			where = append(where, `f.t0 <= @until`)
		}
	case c.Temporal == Versioned:
		where = append(where, `f.t1 IS NULL`)
	}
	if c.layer != "" {
		args["collection_layer"] = c.layer
		where = append(where, `f.layer = @collection_layer`)
	}
	keys := make([]string, 0, len(q.Equal))
	for k := range q.Equal {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		name := fmt.Sprintf("eq%d", i)
		args[name] = q.Equal[k]
		p, isProp := c.Property(k)
		if !isProp {
			return "", nil, Invalid(k, "%s cannot be filtered by %s; filters: %s", c.ID, k, strings.Join(c.FilterNames(), ", "))
		}
		// Compared as the property's type, so that the indexes on ids and
		// codes serve and 12.5 matches 12.50; the API has checked the value
		// parses as that type.
		col := `f.` + pgx.Identifier{k}.Sanitize()
		switch p.Type {
		case PropInteger:
			where = append(where, col+` = @`+name+`::bigint`)
		case PropNumber:
			where = append(where, col+`::float8 = @`+name+`::float8`)
		case PropDateTime:
			where = append(where, col+` = @`+name+`::timestamptz`)
		default:
			where = append(where, col+` = @`+name)
		}
	}
	if q.OnlyUnit != "" {
		args["only_unit"] = q.OnlyUnit
		where = append(where, `f.unit = @only_unit`)
	}
	if q.After > 0 {
		args["after"] = q.After
		where = append(where, `f.sk > @after`)
	}
	if q.SK > 0 {
		args["sk"] = q.SK
		where = append(where, `f.sk = @sk`)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	if count {
		src := c.source
		if c.countSource != "" && q.BBox == nil && q.Region == "" && !slices.ContainsFunc(keys, func(k string) bool { return !slices.Contains(c.countable, k) }) {
			src = c.countSource
		}
		return with + `SELECT count(*) FROM (` + src + `) f` + cond, args, nil
	}
	var props strings.Builder
	if values {
		props.WriteString("ARRAY[")
		for i, p := range c.Properties {
			if i > 0 {
				props.WriteString(", ")
			}
			col := "f." + pgx.Identifier{p.Name}.Sanitize()
			if p.Type == PropDateTime {
				// ISO 8601 in UTC, as in the JSON.
				col = `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
			}
			props.WriteString(col + "::text")
		}
		props.WriteString("]")
	} else {
		props.WriteString("json_build_object(")
		for i, p := range c.Properties {
			if i > 0 {
				props.WriteString(", ")
			}
			props.WriteString(quoteLiteral(p.Name) + ", f." + pgx.Identifier{p.Name}.Sanitize())
		}
		props.WriteString(")::text")
	}
	var geom string
	switch enc {
	case AsGeoJSON:
		geom = GeoJSONOf("f.geom")
	case AsWKT:
		geom = `ST_AsText(ST_ForcePolygonCCW(f.geom), 7)`
	default:
		geom = `ST_AsBinary(ST_ForcePolygonCCW(f.geom))`
	}
	sql := with + `SELECT f.fid, f.sk, ` + props.String() + `, ` + geom + `,
		CASE WHEN GeometryType(f.geom) = 'POINT' THEN ST_X(f.geom) END, CASE WHEN GeometryType(f.geom) = 'POINT' THEN ST_Y(f.geom) END
		FROM (` + c.source + `) f` + cond
	if q.Limit > 0 {
		args["limit"] = q.Limit
		sql += ` ORDER BY f.sk LIMIT @limit`
	}
	return sql, args, nil
}

// FilterNames lists what a collection may be filtered by with equality:
// its filters and its properties.
func (c *Collection) FilterNames() []string {
	names := slices.Clone(c.Filters)
	for _, p := range c.Properties {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	return names
}

// Extent is where and when a collection's features lie.
type Extent struct {
	BBox  [4]float64 // WGS84 lon/lat
	Start *time.Time
	End   *time.Time // nil: open (still live)
}

// Extents measures every collection's extent in one pass over each table.
// Object layers are keyed by their code; collections with no features are
// missing.
func (s *Store) Extents(ctx context.Context) (map[string]Extent, error) {
	rows, err := s.pool.Query(ctx, `
		WITH e AS (
			SELECT 'regions' AS id, ST_Extent(geom) AS b, min(updated_at) AS t0, max(updated_at) AS t1, false AS live FROM regions
			UNION ALL SELECT 'grids', ST_Extent(geom) FILTER (WHERE valid_to IS NULL), min(valid_from), max(valid_to), bool_or(valid_to IS NULL) FROM grids
			UNION ALL SELECT 'units', ST_Extent(geom), min(updated_at), max(updated_at), false FROM units
			UNION ALL SELECT layer, ST_Extent(geom), min(updated_at), max(updated_at), false FROM objects GROUP BY layer),
		a AS (SELECT 'assignments' AS id, min(valid_from) AS t0, max(valid_to) AS t1, bool_or(valid_to IS NULL) AS live FROM assignments)
		SELECT id, ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), t0, CASE WHEN live THEN NULL ELSE t1 END FROM e WHERE b IS NOT NULL
		UNION ALL
		SELECT 'objects', ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b), t0, t1 FROM (
			SELECT ST_Extent(b) AS b, min(t0) AS t0, max(t1) AS t1 FROM e WHERE id NOT IN ('regions', 'grids', 'units')) o WHERE b IS NOT NULL
		UNION ALL
		SELECT 'assignments', x.xmin, x.ymin, x.xmax, x.ymax, a.t0, CASE WHEN a.live THEN NULL ELSE a.t1 END
		FROM a, (SELECT ST_XMin(b) xmin, ST_YMin(b) ymin, ST_XMax(b) xmax, ST_YMax(b) ymax FROM (SELECT ST_Extent(b) AS b FROM e) y) x
		WHERE a.t0 IS NOT NULL AND x.xmin IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	out := map[string]Extent{}
	var id string
	var x Extent
	_, err = pgx.ForEachRow(rows, []any{&id, &x.BBox[0], &x.BBox[1], &x.BBox[2], &x.BBox[3], &x.Start, &x.End}, func() error {
		out[id] = x
		x = Extent{} // the next row scans into fresh time pointers
		return nil
	})
	return out, err
}
