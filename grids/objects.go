package grids

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Object is a street, alley, market, school, station, compound, shop,
// component or other thing that units answer for.
type Object struct {
	ID        int64           `json:"id"`
	Code      string          `json:"code,omitempty"`
	Name      string          `json:"name"`
	Layer     string          `json:"layer"`
	Category  string          `json:"category,omitempty"`
	LengthM   *float64        `json:"length_m,omitempty"`
	AreaM2    *float64        `json:"area_m2,omitempty"`
	Source    string          `json:"source"`
	SourceID  string          `json:"source_id,omitempty"`
	Geometry  json.RawMessage `json:"geometry,omitempty"`
	Attrs     map[string]any  `json:"attrs"`
	Grids     []ObjectInGrid  `json:"grids,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ObjectInGrid is the part of an object inside one grid.
type ObjectInGrid struct {
	Grid    string   `json:"grid"`
	Name    string   `json:"name"`
	LengthM *float64 `json:"length_m,omitempty"`
	AreaM2  *float64 `json:"area_m2,omitempty"`
}

// ObjectFilter narrows an object list.
type ObjectFilter struct {
	Layer    string
	Region   string
	Bbox     *orb.Bound
	Query    string
	Geometry bool
}

// ObjectInput is an object to create, or the fields of one to change.
type ObjectInput struct {
	Code     *string
	Name     *string
	Layer    *string
	Category *string
	Geometry orb.Geometry
	Attrs    map[string]any
}

func objectColumns(withGeom bool) string {
	g := "NULL::text"
	if withGeom {
		g = GeoJSONOf("o.geom")
	}
	return `o.id, COALESCE(o.code, ''), o.name, o.layer, COALESCE(o.category_code, ''), o.length_m, o.area_m2,
		o.source, COALESCE(o.source_id, ''), ` + g + `, o.attrs, o.created_at, o.updated_at`
}

func scanObject(row pgx.Row) (Object, error) {
	var o Object
	var geom *string
	err := row.Scan(&o.ID, &o.Code, &o.Name, &o.Layer, &o.Category, &o.LengthM, &o.AreaM2, &o.Source, &o.SourceID, &geom,
		&o.Attrs, &o.CreatedAt, &o.UpdatedAt)
	if geom != nil {
		o.Geometry = json.RawMessage(*geom)
	}
	return o, err
}

// Objects lists objects, ordered by id.
func (s *Store) Objects(ctx context.Context, f ObjectFilter, page Page) (List[Object], error) {
	args := pgx.NamedArgs{"layer": f.Layer, "region": f.Region, "q": "%" + likeEscape(f.Query) + "%", "limit": page.Limit,
		"offset": page.Offset, "bbox": f.Bbox != nil, "minx": 0.0, "miny": 0.0, "maxx": 0.0, "maxy": 0.0}
	if f.Bbox != nil {
		args["minx"], args["miny"], args["maxx"], args["maxy"] = f.Bbox.Min[0], f.Bbox.Min[1], f.Bbox.Max[0], f.Bbox.Max[1]
	}
	where := ` WHERE (@layer = '' OR o.layer = @layer)
		AND (o.name ILIKE @q OR COALESCE(o.code, '') ILIKE @q)
		AND (NOT @bbox OR o.geom && ST_MakeEnvelope(@minx, @miny, @maxx, @maxy, 4326))
		AND (@region = '' OR EXISTS (SELECT 1 FROM regions r WHERE r.code = @region AND r.geom && o.geom AND ST_Intersects(r.geom, o.geom)))`
	out := List[Object]{Items: []Object{}, Limit: page.Limit, Offset: page.Offset}
	if f.Region != "" {
		if _, err := s.Region(ctx, f.Region); err != nil {
			return out, Invalid("region", "region %q does not exist", f.Region)
		}
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM objects o`+where, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+objectColumns(f.Geometry)+` FROM objects o`+where+` ORDER BY o.id LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		o, err := scanObject(rows)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, o)
	}
	return out, rows.Err()
}

// Object returns one object with its geometry and the grids it lies in,
// with the length or area inside each.
func (s *Store) Object(ctx context.Context, id int64) (Object, error) {
	return s.object(ctx, s.pool, id)
}

func (s *Store) object(ctx context.Context, q Querier, id int64) (Object, error) {
	o, err := scanObject(q.QueryRow(ctx, `SELECT `+objectColumns(true)+` FROM objects o WHERE o.id = @id`, pgx.NamedArgs{"id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return o, &NotFoundError{What: "object", Key: strconv.FormatInt(id, 10)}
	}
	if err != nil {
		return o, err
	}
	// A line lying on an edge two grids share counts half in each, so that
	// the shares add up to the line's length.
	rows, err := q.Query(ctx, `
		WITH o AS (SELECT geom, ST_Dimension(geom) AS dim FROM objects WHERE id = @id),
		parts AS (
			SELECT g.code, g.name, o.dim, d.geom AS part
			FROM o JOIN grids g ON g.valid_to IS NULL AND g.geom && o.geom AND ST_Intersects(g.geom, o.geom)
			CROSS JOIN LATERAL ST_Dump(CASE WHEN o.dim = 0 THEN o.geom ELSE ST_Intersection(g.geom, o.geom) END) d
			WHERE ST_Dimension(d.geom) = o.dim)
		SELECT code, name,
		       sum(CASE WHEN dim = 1 THEN ST_Length(part::geography) / (
		           -- within 0.1 mm: intersection pieces lie a hair off the edge
		           SELECT GREATEST(1, count(*)) FROM grids h WHERE h.valid_to IS NULL
		             AND ST_DWithin(h.geom, ST_LineInterpolatePoint(part, 0.5), 1e-9)) END),
		       sum(CASE WHEN dim = 2 THEN ST_Area(part::geography) END)
		FROM parts GROUP BY code, name ORDER BY code`, pgx.NamedArgs{"id": id})
	if err != nil {
		return o, err
	}
	defer rows.Close()
	o.Grids = []ObjectInGrid{}
	for rows.Next() {
		var g ObjectInGrid
		if err := rows.Scan(&g.Grid, &g.Name, &g.LengthM, &g.AreaM2); err != nil {
			return o, err
		}
		o.Grids = append(o.Grids, g)
	}
	return o, rows.Err()
}

func (s *Store) checkObjectRefs(ctx context.Context, q Querier, in ObjectInput) error {
	var p Problems
	if in.Layer != nil {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM layers WHERE code = @l)`, pgx.NamedArgs{"l": *in.Layer}).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			p.Add("layer", "layer %q does not exist (see /api/v1/layers)", *in.Layer)
		}
	}
	if in.Category != nil && *in.Category != "" {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM categories WHERE code = @c)`, pgx.NamedArgs{"c": *in.Category}).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			p.Add("category", "category %q does not exist (see /api/v1/categories)", *in.Category)
		}
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		p.Add("name", "must not be empty")
	}
	return p.Err()
}

func objectWriteError(err error) error {
	name, state := PgConstraint(err)
	if state == SQLUniqueViolation && name == "objects_code_key" {
		return &ConflictError{Field: "code", Message: "another object has this code"}
	}
	return err
}

// CreateObject adds an object.
func (s *Store) CreateObject(ctx context.Context, in ObjectInput) (Object, error) {
	var p Problems
	if in.Layer == nil {
		p.Add("layer", "required")
	}
	if in.Name == nil {
		p.Add("name", "required")
	}
	if in.Geometry == nil {
		p.Add("geometry", "required")
	}
	if err := p.Err(); err != nil {
		return Object{}, err
	}
	var out Object
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if err := s.checkObjectRefs(ctx, tx, in); err != nil {
			return err
		}
		g, err := PrepareGeometry(ctx, tx, "geometry", in.Geometry, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
		if err != nil {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `
			INSERT INTO objects (layer, code, name, category_code, geom, source, attrs)
			VALUES (@layer, NULLIF(@code, ''), @name, NULLIF(@category, ''), ST_GeomFromWKB(@geom, 4326), 'api', COALESCE(@attrs::jsonb, '{}'::jsonb))
			RETURNING id`,
			pgx.NamedArgs{"layer": *in.Layer, "code": deref(in.Code), "name": strings.TrimSpace(*in.Name), "category": deref(in.Category),
				"geom": g, "attrs": in.Attrs}).Scan(&id)
		if err != nil {
			return objectWriteError(err)
		}
		out, err = s.object(ctx, tx, id)
		return err
	})
	return out, err
}

// UpdateObject changes the given fields of an object.
func (s *Store) UpdateObject(ctx context.Context, id int64, in ObjectInput) (Object, error) {
	var out Object
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		if err := s.checkObjectRefs(ctx, tx, in); err != nil {
			return err
		}
		var g []byte
		if in.Geometry != nil {
			var err error
			if g, err = PrepareGeometry(ctx, tx, "geometry", in.Geometry, "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `
			UPDATE objects SET
				layer = COALESCE(@layer, layer),
				code = CASE WHEN @code_set THEN NULLIF(@code, '') ELSE code END,
				name = COALESCE(@name, name),
				category_code = CASE WHEN @cat_set THEN NULLIF(@category, '') ELSE category_code END,
				geom = CASE WHEN @geom_set THEN ST_GeomFromWKB(@geom, 4326) ELSE geom END,
				attrs = COALESCE(@attrs::jsonb, attrs),
				updated_at = now()
			WHERE id = @id`,
			pgx.NamedArgs{"layer": in.Layer, "code_set": in.Code != nil, "code": deref(in.Code), "name": trimmed(in.Name),
				"cat_set": in.Category != nil, "category": deref(in.Category), "geom_set": g != nil, "geom": g, "attrs": in.Attrs, "id": id})
		if err != nil {
			return objectWriteError(err)
		}
		if tag.RowsAffected() == 0 {
			return &NotFoundError{What: "object", Key: strconv.FormatInt(id, 10)}
		}
		out, err = s.object(ctx, tx, id)
		return err
	})
	return out, err
}

// DeleteObject removes an object that no assignment refers to.
func (s *Store) DeleteObject(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM objects WHERE id = @id`, pgx.NamedArgs{"id": id})
	if _, state := PgConstraint(err); state == SQLForeignKeyViolation {
		return &ConflictError{Message: fmt.Sprintf("object %d still has assignments (history included); it cannot be deleted", id)}
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{What: "object", Key: strconv.FormatInt(id, 10)}
	}
	return nil
}

// GridInventory is what a grid holds.
type GridInventory struct {
	Grid    AnswerGrid          `json:"grid"`
	AreaM2  float64             `json:"area_m2"`
	Objects []GridObject        `json:"objects"`
	Totals  map[string]LayerSum `json:"totals"`
}

// GridObject is an object's part inside a grid.
type GridObject struct {
	ID      int64    `json:"id"`
	Code    string   `json:"code,omitempty"`
	Name    string   `json:"name"`
	Layer   string   `json:"layer"`
	LengthM *float64 `json:"length_m,omitempty"`
	AreaM2  *float64 `json:"area_m2,omitempty"`
}

// LayerSum totals a layer's objects in a grid.
type LayerSum struct {
	Count   int     `json:"count"`
	LengthM float64 `json:"length_m,omitempty"`
	AreaM2  float64 `json:"area_m2,omitempty"`
}

// GridObjects lists what a live grid holds: each object with its length or
// area inside the grid, and totals per layer. It is computed from the
// geometries on every call, so it is current whatever changed.
func (s *Store) GridObjects(ctx context.Context, code string) (GridInventory, error) {
	inv := GridInventory{Objects: []GridObject{}, Totals: map[string]LayerSum{}}
	err := s.pool.QueryRow(ctx, `SELECT code, name, version, area_m2 FROM grids WHERE code = @code AND valid_to IS NULL`,
		pgx.NamedArgs{"code": code}).Scan(&inv.Grid.Code, &inv.Grid.Name, &inv.Grid.Version, &inv.AreaM2)
	if errors.Is(err, pgx.ErrNoRows) {
		return inv, &NotFoundError{What: "grid", Key: code}
	}
	if err != nil {
		return inv, err
	}
	rows, err := s.pool.Query(ctx, `
		WITH parts AS (
			SELECT o.id, COALESCE(o.code, '') AS code, o.name, o.layer, ST_Dimension(o.geom) AS dim, d.geom AS part
			FROM grids g JOIN objects o ON g.geom && o.geom AND ST_Intersects(g.geom, o.geom)
			CROSS JOIN LATERAL ST_Dump(CASE WHEN ST_Dimension(o.geom) = 0 THEN o.geom ELSE ST_Intersection(g.geom, o.geom) END) d
			WHERE g.code = @code AND g.valid_to IS NULL AND ST_Dimension(d.geom) = ST_Dimension(o.geom))
		SELECT id, code, name, layer,
		       sum(CASE WHEN dim = 1 THEN ST_Length(part::geography) / (
		           -- within 0.1 mm: intersection pieces lie a hair off the edge
		           SELECT GREATEST(1, count(*)) FROM grids h WHERE h.valid_to IS NULL
		             AND ST_DWithin(h.geom, ST_LineInterpolatePoint(part, 0.5), 1e-9)) END),
		       sum(CASE WHEN dim = 2 THEN ST_Area(part::geography) END)
		FROM parts GROUP BY id, code, name, layer ORDER BY layer, id`, pgx.NamedArgs{"code": code})
	if err != nil {
		return inv, err
	}
	defer rows.Close()
	for rows.Next() {
		var o GridObject
		if err := rows.Scan(&o.ID, &o.Code, &o.Name, &o.Layer, &o.LengthM, &o.AreaM2); err != nil {
			return inv, err
		}
		sum := inv.Totals[o.Layer]
		sum.Count++
		if o.LengthM != nil {
			sum.LengthM += *o.LengthM
		}
		if o.AreaM2 != nil {
			sum.AreaM2 += *o.AreaM2
		}
		inv.Totals[o.Layer] = sum
		inv.Objects = append(inv.Objects, o)
	}
	return inv, rows.Err()
}
