package features

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
)

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
	// OnlyUnit keeps assignments of one unit (unit tokens read their own),
	// or the cases dispatched to it.
	OnlyUnit string
	// Cases holds the case list's filters (the cases collection only); its
	// bbox and region replace BBox and Region there.
	Cases *cases.Filter
	// After and Limit page by the sort key; Limit 0 reads everything, in no
	// particular order.
	After int64
	Limit int
	// SK picks one feature by its key (a numeric id).
	SK int64
	// MinAreaM2 leaves computed gaps and overlaps smaller than it out
	// (the gaps layer).
	MinAreaM2 float64
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
// there are. values asks for properties as text instead of JSON. A
// computed collection yields its rows the same way. q is a checked query
// (ParseQuery); emit may not keep the row it is given (its slices belong
// to the cursor).
func (s *Store) Features(ctx context.Context, c *Collection, q FeatureQuery, enc GeometryEncoding, values bool, emit func(*FeatureRow) error) error {
	if c.compute != nil {
		return c.compute.rows(ctx, q, enc, values, emit)
	}
	_, err := s.features(ctx, c, q, enc, values, false, emit)
	return err
}

// Page reads one page of features (q.Limit > 0) as Features does and,
// with count, the number the query matches over all its pages
// (numberMatched). A query by bbox is counted in the page's own statement:
// its plan reads every match to sort them anyway, and a count apart would
// scan and test them all again. Other queries are counted apart: their
// page stops at the limit along the key's index, which a count alongside
// would make read everything.
func (s *Store) Page(ctx context.Context, c *Collection, q FeatureQuery, enc GeometryEncoding, count bool, emit func(*FeatureRow) error) (int64, error) {
	if c.compute != nil || q.Limit <= 0 || !count || q.BBox == nil {
		var n int64
		if count {
			var err error
			if n, err = s.CountFeatures(ctx, c, q); err != nil {
				return 0, err
			}
		}
		return n, s.Features(ctx, c, q, enc, false, emit)
	}
	n, err := s.features(ctx, c, q, enc, false, true, emit)
	if err == nil && n < 0 {
		// No row to carry the count: a page past the last.
		n, err = s.CountFeatures(ctx, c, q)
	}
	return n, err
}

// features runs the query of Features; with matched, the page's statement
// also counts the query's matches, returned (−1 when no row came back).
func (s *Store) features(ctx context.Context, c *Collection, q FeatureQuery, enc GeometryEncoding, values, matched bool, emit func(*FeatureRow) error) (int64, error) {
	mode := plainRows
	if matched {
		mode = countedRows
	}
	sql, args, err := c.query(q, enc, values, mode)
	if err != nil {
		return 0, err
	}
	rows, err := s.pool.Query(ctx, sql, args)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := int64(-1)
	var f FeatureRow
	var geom pgtype.DriverBytes
	var props []byte
	var vals []pgtype.DriverBytes // a property a column
	dest := []any{&f.ID, &f.SK}
	if values {
		dest = append(dest, &f.Values)
	} else {
		vals = make([]pgtype.DriverBytes, len(c.Properties))
		for i := range vals {
			dest = append(dest, &vals[i])
		}
	}
	dest = append(dest, &geom, &f.Lon, &f.Lat)
	if matched {
		dest = append(dest, &n)
	}
	for rows.Next() {
		f = FeatureRow{}
		if err := rows.Scan(dest...); err != nil {
			return 0, err
		}
		f.Geom = geom
		if !values {
			props = appendProps(props[:0], c.Properties, vals)
			f.Props = props
		}
		if err := emit(&f); err != nil {
			return 0, err
		}
	}
	return n, rows.Err()
}

// CountFeatures counts what a query matches, ignoring its paging.
func (s *Store) CountFeatures(ctx context.Context, c *Collection, q FeatureQuery) (int64, error) {
	q.After, q.Limit = 0, 0
	if c.compute != nil {
		var n int64
		err := s.Features(ctx, c, q, AsGeoJSON, false, func(*FeatureRow) error { n++; return nil })
		return n, err
	}
	sql, args, err := c.query(q, AsGeoJSON, false, countOnly)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.pool.QueryRow(ctx, sql, args).Scan(&n)
	return n, err
}

// Feature reads one feature by id, as principal p may see it: a numeric id
// in any version, a grid's code (the live version) or code@version, a
// region's or unit's code.
func (s *Store) Feature(ctx context.Context, c *Collection, id string, p grids.Principal, enc GeometryEncoding) (*FeatureRow, error) {
	notFound := &grids.NotFoundError{What: "feature", Key: c.ID + "/" + id}
	var q FeatureQuery
	if err := c.scope(&q, p); err != nil {
		return nil, err
	}
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
		cp.Props, cp.Geom = slices.Clone(f.Props), slices.Clone(f.Geom)
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

// queryMode is what a feature query's statement answers.
type queryMode int

const (
	plainRows   queryMode = iota // the features
	countOnly                    // how many the query matches, paging aside
	countedRows                  // a page of features, each row with countOnly's number
)

// query builds the SQL of a feature query. Every value is a named
// argument; only the collection's own SQL and property names (fixed in
// code) are spliced in.
func (c *Collection) query(q FeatureQuery, enc GeometryEncoding, values bool, mode queryMode) (string, pgx.NamedArgs, error) {
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
	switch {
	case q.At != nil:
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
			// ParseQuery refuses these; only a query built in code gets here.
			return "", nil, fmt.Errorf("features: %s has no property %s", c.ID, k)
		}
		// Compared as the property's type, so that the indexes on ids and
		// codes serve and 12.5 matches 12.50; ParseQuery has checked the
		// value parses as that type.
		col := `f.` + pgx.Identifier{k}.Sanitize()
		switch p.Type {
		case PropInteger:
			where = append(where, col+` = @`+name+`::bigint`)
		case PropNumber:
			where = append(where, col+`::float8 = @`+name+`::float8`)
		case PropDateTime:
			where = append(where, col+` = @`+name+`::timestamptz`)
		case PropBoolean:
			where = append(where, col+` = @`+name+`::boolean`)
		default:
			where = append(where, col+` = @`+name)
		}
	}
	source := c.source
	if c.cases {
		source = caseSource(source, q, args)
	} else if q.OnlyUnit != "" {
		args["only_unit"] = q.OnlyUnit
		where = append(where, `f.unit = @only_unit`)
	}
	if q.After > 0 && mode == plainRows {
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
	if mode == countOnly {
		src := source
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
		for i, p := range c.Properties {
			if i > 0 {
				props.WriteString(", ")
			}
			props.WriteString(propColumn(p))
		}
	}
	var geom string
	switch enc {
	case AsGeoJSON:
		geom = grids.GeoJSONOf("f.geom")
	case AsWKT:
		geom = `ST_AsText(ST_ForcePolygonCCW(f.geom), 7)`
	default:
		geom = `ST_AsBinary(ST_ForcePolygonCCW(f.geom))`
	}
	sel := with + `SELECT f.fid, f.sk, ` + props.String() + `, ` + geom + `,
		CASE WHEN GeometryType(f.geom) = 'POINT' THEN ST_X(f.geom) END, CASE WHEN GeometryType(f.geom) = 'POINT' THEN ST_Y(f.geom) END`
	if q.Limit <= 0 {
		return sel + ` FROM (` + source + `) f` + cond, args, nil
	}
	// The page is cut in a subquery and the properties and geometry built
	// over its rows only: left to the planner, the cheap-looking text
	// casts would be computed for every match before the sort.
	args["limit"] = q.Limit
	if mode == countedRows {
		args["after"] = q.After
		return sel + `, f.matched FROM (SELECT m.* FROM (SELECT f.*, count(*) OVER () AS matched FROM (` + source + `) f` + cond + `) m
			WHERE m.sk > @after ORDER BY m.sk LIMIT @limit) f ORDER BY f.sk`, args, nil
	}
	return sel + ` FROM (SELECT f.* FROM (` + source + `) f` + cond + ` ORDER BY f.sk LIMIT @limit) f ORDER BY f.sk`, args, nil
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

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
