package grids

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Region is a district, subdistrict or community.
type Region struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	Level     Level           `json:"level"`
	Parent    string          `json:"parent,omitempty"`
	AreaM2    float64         `json:"area_m2"`
	Bbox      []float64       `json:"bbox"`
	Geometry  json.RawMessage `json:"geometry,omitempty"`
	Attrs     map[string]any  `json:"attrs"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// RegionInput is a region to create, or the fields of one to change (nil
// leaves a field as it is). The level of a region never changes.
type RegionInput struct {
	Code     *string
	Name     *string
	Level    *string
	Parent   *string
	Geometry orb.Geometry // WGS84 Polygon or MultiPolygon
	Attrs    map[string]any
}

// RegionFilter narrows a region list.
type RegionFilter struct {
	Level    string
	Parent   string
	Query    string
	Geometry bool // include geometries (large)
	Bbox     *orb.Bound
}

// ContainmentShare and ContainmentMinM2 are how much of a region may stick
// out of its parent, in edits and imports alike: boundaries from different
// sources rarely agree to the centimetre, so up to 0.1% of the region's
// area, and at least 1 m², is forgiven.
const (
	ContainmentShare = 0.001
	ContainmentMinM2 = 1.0
)

func regionColumns(withGeom bool) string {
	g := "NULL::text"
	if withGeom {
		g = GeoJSONOf("r.geom")
	}
	return `r.code, r.name, r.level, p.code, r.area_m2,
		ARRAY[ST_XMin(r.geom), ST_YMin(r.geom), ST_XMax(r.geom), ST_YMax(r.geom)], ` + g + `,
		r.attrs, r.created_at, r.updated_at`
}

const regionFrom = `regions r LEFT JOIN regions p ON p.id = r.parent_id`

func scanRegion(row pgx.Row) (Region, error) {
	var r Region
	var parent, geom *string
	err := row.Scan(&r.Code, &r.Name, &r.Level, &parent, &r.AreaM2, &r.Bbox, &geom, &r.Attrs, &r.CreatedAt, &r.UpdatedAt)
	if parent != nil {
		r.Parent = *parent
	}
	if geom != nil {
		r.Geometry = json.RawMessage(*geom)
	}
	return r, err
}

// Regions lists regions, ordered by code.
func (s *Store) Regions(ctx context.Context, f RegionFilter, page Page) (List[Region], error) {
	args := pgx.NamedArgs{"level": f.Level, "parent": f.Parent, "q": "%" + likeEscape(f.Query) + "%",
		"limit": page.Limit, "offset": page.Offset, "bbox": f.Bbox != nil,
		"minx": 0.0, "miny": 0.0, "maxx": 0.0, "maxy": 0.0}
	if f.Bbox != nil {
		args["minx"], args["miny"], args["maxx"], args["maxy"] = f.Bbox.Min[0], f.Bbox.Min[1], f.Bbox.Max[0], f.Bbox.Max[1]
	}
	where := ` WHERE (@level = '' OR r.level = @level)
		AND (@parent = '' OR p.code = @parent)
		AND (r.name ILIKE @q OR r.code ILIKE @q)
		AND (NOT @bbox OR r.geom && ST_MakeEnvelope(@minx, @miny, @maxx, @maxy, 4326))`
	out := List[Region]{Items: []Region{}, Limit: page.Limit, Offset: page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+regionFrom+where, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+regionColumns(f.Geometry)+` FROM `+regionFrom+where+
		` ORDER BY r.code LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRegion(rows)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, r)
	}
	return out, rows.Err()
}

// Region returns one region with its geometry.
func (s *Store) Region(ctx context.Context, code string) (Region, error) {
	return s.region(ctx, s.pool, code)
}

func (s *Store) region(ctx context.Context, q Querier, code string) (Region, error) {
	r, err := scanRegion(q.QueryRow(ctx, `SELECT `+regionColumns(true)+` FROM `+regionFrom+` WHERE r.code = @code`,
		pgx.NamedArgs{"code": code}))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, &NotFoundError{What: "region", Key: code}
	}
	return r, err
}

// CreateRegion adds a region after checking its code, its parent and that
// it lies inside its parent.
func (s *Store) CreateRegion(ctx context.Context, in RegionInput) (Region, error) {
	var p Problems
	var level Level
	if in.Level == nil {
		p.Add("level", "required (district, subdistrict or community)")
	} else if l, ok := ParseLevel(*in.Level); !ok {
		p.Add("level", "%q is not a level (district, subdistrict or community)", *in.Level)
	} else {
		level = l
	}
	if in.Code == nil || *in.Code == "" {
		p.Add("code", "required")
	} else if level != "" {
		if msg := s.codes.CheckRegionCode(level, *in.Code); msg != "" {
			p.Add("code", "%s", msg)
		}
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		p.Add("name", "required")
	}
	if level != "" && level != District && (in.Parent == nil || *in.Parent == "") {
		p.Add("parent", "required for a %s (the code of its %s)", level, level.Parent())
	}
	if in.Geometry == nil {
		p.Add("geometry", "required (Polygon or MultiPolygon)")
	}
	if err := p.Err(); err != nil {
		return Region{}, err
	}
	var out Region
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		parentID, err := s.checkParent(ctx, tx, level, *in.Code, in.Parent)
		if err != nil {
			return err
		}
		geom, err := PrepareGeometry(ctx, tx, "geometry", in.Geometry, "MultiPolygon")
		if err != nil {
			return err
		}
		if parentID != nil {
			if err := checkInside(ctx, tx, geom, *parentID, *in.Parent); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO regions (code, name, level, parent_id, geom, attrs)
			VALUES (@code, @name, @level, @parent_id, ST_GeomFromWKB(@geom, 4326), COALESCE(@attrs::jsonb, '{}'::jsonb))`,
			pgx.NamedArgs{"code": *in.Code, "name": strings.TrimSpace(*in.Name), "level": string(level),
				"parent_id": parentID, "geom": geom, "attrs": in.Attrs})
		if name, state := PgConstraint(err); state == SQLUniqueViolation && name == "regions_code_key" {
			return &ConflictError{Field: "code", Message: fmt.Sprintf("region %q already exists", *in.Code)}
		}
		if err != nil {
			return err
		}
		out, err = s.region(ctx, tx, *in.Code)
		return err
	})
	return out, err
}

// UpdateRegion changes a region's name, parent, geometry or attributes. A new
// geometry must stay inside the parent and keep every child region inside.
func (s *Store) UpdateRegion(ctx context.Context, code string, in RegionInput) (Region, error) {
	if in.Level != nil {
		return Region{}, Invalid("level", "the level of a region cannot change; delete and recreate it")
	}
	if in.Code != nil && *in.Code != code {
		return Region{}, Invalid("code", "the code of a region cannot change")
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		return Region{}, Invalid("name", "must not be empty")
	}
	var out Region
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var id int64
		var level Level
		var parentID *int64
		var parentCode *string
		err := tx.QueryRow(ctx, `
			SELECT r.id, r.level, r.parent_id, p.code FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
			WHERE r.code = @code FOR UPDATE OF r`, pgx.NamedArgs{"code": code}).Scan(&id, &level, &parentID, &parentCode)
		if errors.Is(err, pgx.ErrNoRows) {
			return &NotFoundError{What: "region", Key: code}
		}
		if err != nil {
			return err
		}
		if in.Parent != nil {
			if parentID, err = s.checkParent(ctx, tx, level, code, in.Parent); err != nil {
				return err
			}
			parentCode = in.Parent
		}
		var geom []byte
		if in.Geometry != nil {
			if geom, err = PrepareGeometry(ctx, tx, "geometry", in.Geometry, "MultiPolygon"); err != nil {
				return err
			}
		} else if in.Parent != nil && parentID != nil {
			// Moving under another parent: check the stored shape against it.
			if err := tx.QueryRow(ctx, `SELECT ST_AsBinary(geom) FROM regions WHERE id = @id`, pgx.NamedArgs{"id": id}).Scan(&geom); err != nil {
				return err
			}
		}
		if geom != nil && parentID != nil {
			if err := checkInside(ctx, tx, geom, *parentID, *parentCode); err != nil {
				return err
			}
		}
		if in.Geometry != nil {
			var child string
			err := tx.QueryRow(ctx, `
				SELECT c.code FROM regions c, (SELECT ST_GeomFromWKB(@geom, 4326) AS g) n
				WHERE c.parent_id = @id
				  AND ST_Area(ST_Difference(c.geom, n.g)::geography) > GREATEST(@min_m2, @share * c.area_m2)
				ORDER BY c.code LIMIT 1`,
				pgx.NamedArgs{"geom": geom, "id": id, "min_m2": ContainmentMinM2, "share": ContainmentShare}).Scan(&child)
			if err == nil {
				return Invalid("geometry", "the new boundary leaves child region %q outside", child)
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			UPDATE regions SET
				name = COALESCE(@name, name),
				parent_id = @parent_id,
				geom = CASE WHEN @geom_set THEN ST_GeomFromWKB(@geom, 4326) ELSE geom END,
				attrs = COALESCE(@attrs::jsonb, attrs),
				updated_at = now()
			WHERE id = @id`,
			pgx.NamedArgs{"name": trimmed(in.Name), "parent_id": parentID, "geom_set": in.Geometry != nil,
				"geom": geom, "attrs": in.Attrs, "id": id})
		if err != nil {
			return err
		}
		out, err = s.region(ctx, tx, code)
		return err
	})
	return out, err
}

// checkParent resolves a parent code and checks that it is one level up and
// that the child's code nests in it.
func (s *Store) checkParent(ctx context.Context, tx pgx.Tx, level Level, code string, parent *string) (*int64, error) {
	if level == District {
		if parent != nil && *parent != "" {
			return nil, Invalid("parent", "a district has no parent region")
		}
		return nil, nil
	}
	if parent == nil || *parent == "" {
		return nil, Invalid("parent", "required for a %s", level)
	}
	var id int64
	var plevel Level
	err := tx.QueryRow(ctx, `SELECT id, level FROM regions WHERE code = @code`, pgx.NamedArgs{"code": *parent}).Scan(&id, &plevel)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, Invalid("parent", "region %q does not exist", *parent)
	}
	if err != nil {
		return nil, err
	}
	if plevel != level.Parent() {
		return nil, Invalid("parent", "region %q is a %s; a %s's parent must be a %s", *parent, plevel, level, level.Parent())
	}
	if msg := s.codes.CheckNesting(level, code, *parent); msg != "" {
		return nil, Invalid("code", "%s", msg)
	}
	return &id, nil
}

// checkInside refuses a geometry that sticks out of its parent by more than
// the containment tolerance.
func checkInside(ctx context.Context, tx pgx.Tx, geom []byte, parentID int64, parentCode string) error {
	var outside, area float64
	err := tx.QueryRow(ctx, `
		SELECT ST_Area(ST_Difference(n.g, p.geom)::geography), ST_Area(n.g::geography)
		FROM regions p, (SELECT ST_GeomFromWKB(@geom, 4326) AS g) n
		WHERE p.id = @parent_id`, pgx.NamedArgs{"geom": geom, "parent_id": parentID}).Scan(&outside, &area)
	if err != nil {
		return err
	}
	if outside > max(ContainmentMinM2, ContainmentShare*area) {
		return Invalid("geometry", "%.0f m² (%.2f%%) of the region lies outside its parent %q", outside, 100*outside/area, parentCode)
	}
	return nil
}

// DeleteRegion removes a region that has no children, grids, units or
// assignments.
func (s *Store) DeleteRegion(ctx context.Context, code string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM regions WHERE code = @code`, pgx.NamedArgs{"code": code})
	if name, state := PgConstraint(err); state == SQLForeignKeyViolation {
		return &ConflictError{Message: fmt.Sprintf("region %q is still in use (%s)", code, inUseBy(name))}
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{What: "region", Key: code}
	}
	return nil
}

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// CityExtent is the bounding box of the city: its districts, or when it
// has none yet, whatever regions and grids there are; ok is false for an
// empty database. A few rows' boxes, so cheap enough for a start page.
func (s *Store) CityExtent(ctx context.Context) (b orb.Bound, ok bool, err error) {
	var x [4]*float64
	// COALESCE runs the later subqueries only when the earlier are empty.
	err = s.pool.QueryRow(ctx, `
		SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT coalesce(
			(SELECT ST_Extent(geom) FROM regions WHERE level = 'district'),
			(SELECT ST_Extent(geom) FROM regions),
			(SELECT ST_Extent(geom) FROM grids WHERE valid_to IS NULL))::geometry AS e) x`).Scan(&x[0], &x[1], &x[2], &x[3])
	if err != nil || x[0] == nil {
		return b, false, err
	}
	return orb.Bound{Min: orb.Point{*x[0], *x[1]}, Max: orb.Point{*x[2], *x[3]}}, true, nil
}
