package grids

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// UnitKinds are the kinds of responsible unit (责任单位).
func UnitKinds() []string {
	return []string{"department", "subdistrict_office", "community", "contractor", "shop", "enterprise", "other"}
}

// Contact is how a unit is reached.
type Contact struct {
	Person  string `json:"person,omitempty"`
	Phone   string `json:"phone,omitempty"`
	Email   string `json:"email,omitempty"`
	Address string `json:"address,omitempty"`
}

// Unit is a responsible unit: a department, subdistrict office, community,
// contractor, shop or enterprise.
type Unit struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Parent    string          `json:"parent,omitempty"`
	Region    string          `json:"region,omitempty"`
	Contact   *Contact        `json:"contact,omitempty"` // nil for readers who may not see it (see For)
	Geometry  json.RawMessage `json:"geometry,omitempty"`
	Attrs     map[string]any  `json:"attrs"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// ContactReaders are the roles, besides admin, that read every unit's
// contact: contacts are personal data (phone numbers, names), so analysts
// do not read them, and a unit token reads only its own unit's.
func ContactReaders() []Role { return []Role{RolePlanner, RoleDispatcher} }

// MayReadContact tells whether p may read the contact of the unit with
// this code.
func MayReadContact(p Principal, unit string) bool {
	if p.Role == RoleAdmin || slices.Contains(ContactReaders(), p.Role) {
		return true
	}
	return p.Role == RoleUnit && p.Unit != "" && p.Unit == unit
}

// For returns u as p may see it: without the contact unless p may read it.
func (u Unit) For(p Principal) Unit {
	if !MayReadContact(p, u.Code) {
		u.Contact = nil
	}
	return u
}

// UnitInput is a unit to create, or the fields of one to change: a nil
// field is left as it is. An empty Parent or Region clears it.
type UnitInput struct {
	Code          *string
	Name          *string
	Kind          *string
	Parent        *string
	Region        *string
	Contact       *Contact
	Geometry      orb.Geometry // WGS84, already converted
	ClearGeometry bool
	Attrs         map[string]any
}

// UnitFilter narrows a unit list.
type UnitFilter struct {
	Kind   string
	Parent string
	Region string
	Query  string // substring of name or code
}

const unitColumns = `u.code, u.name, u.kind, p.code, r.code, u.contact, ` + "ST_AsGeoJSON(ST_ForcePolygonCCW(u.geom), 7)" + `, u.attrs, u.created_at, u.updated_at`

const unitFrom = `units u LEFT JOIN units p ON p.id = u.parent_id LEFT JOIN regions r ON r.id = u.region_id`

func scanUnit(row pgx.Row) (Unit, error) {
	var u Unit
	var parent, region, geom *string
	err := row.Scan(&u.Code, &u.Name, &u.Kind, &parent, &region, &u.Contact, &geom, &u.Attrs, &u.CreatedAt, &u.UpdatedAt)
	if parent != nil {
		u.Parent = *parent
	}
	if region != nil {
		u.Region = *region
	}
	if geom != nil {
		u.Geometry = json.RawMessage(*geom)
	}
	return u, err
}

// Units lists units, ordered by code.
func (s *Store) Units(ctx context.Context, f UnitFilter, page Page) (List[Unit], error) {
	args := pgx.NamedArgs{"kind": f.Kind, "parent": f.Parent, "region": f.Region,
		"q": "%" + likeEscape(f.Query) + "%", "limit": page.Limit, "offset": page.Offset}
	where := ` WHERE (@kind = '' OR u.kind = @kind)
		AND (@parent = '' OR p.code = @parent)
		AND (@region = '' OR r.code = @region)
		AND (u.name ILIKE @q OR u.code ILIKE @q)`
	out := List[Unit]{Items: []Unit{}, Limit: page.Limit, Offset: page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+unitFrom+where, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+unitColumns+` FROM `+unitFrom+where+` ORDER BY u.code LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, u)
	}
	return out, rows.Err()
}

// Unit returns one unit by code.
func (s *Store) Unit(ctx context.Context, code string) (Unit, error) {
	return s.unit(ctx, s.pool, code)
}

func (s *Store) unit(ctx context.Context, q Querier, code string) (Unit, error) {
	u, err := scanUnit(q.QueryRow(ctx, `SELECT `+unitColumns+` FROM `+unitFrom+` WHERE u.code = @code`, pgx.NamedArgs{"code": code}))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, &NotFoundError{What: "unit", Key: code}
	}
	return u, err
}

func (s *Store) checkUnitInput(in UnitInput, creating bool) error {
	var p Problems
	if creating {
		switch {
		case in.Code == nil || *in.Code == "":
			p.Add("code", "required")
		default:
			if msg := s.codes.CheckUnitCode(*in.Code); msg != "" {
				p.Add("code", "%s", msg)
			}
		}
		if in.Name == nil {
			p.Add("name", "required")
		}
		if in.Kind == nil {
			p.Add("kind", "required (one of %s)", strings.Join(UnitKinds(), ", "))
		}
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		p.Add("name", "must not be empty")
	}
	if in.Kind != nil && !slices.Contains(UnitKinds(), *in.Kind) {
		p.Add("kind", "%q is not a unit kind (one of %s)", *in.Kind, strings.Join(UnitKinds(), ", "))
	}
	if in.Contact != nil && in.Contact.Email != "" {
		if _, err := mail.ParseAddress(in.Contact.Email); err != nil {
			p.Add("contact.email", "%q is not an e-mail address", in.Contact.Email)
		}
	}
	return p.Err()
}

// CreateUnit adds a unit.
func (s *Store) CreateUnit(ctx context.Context, in UnitInput) (Unit, error) {
	if err := s.checkUnitInput(in, true); err != nil {
		return Unit{}, err
	}
	var out Unit
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		args, err := s.unitArgs(ctx, tx, in)
		if err != nil {
			return err
		}
		args["code"] = *in.Code
		_, err = tx.Exec(ctx, `
			INSERT INTO units (code, name, kind, parent_id, region_id, contact, geom, attrs)
			VALUES (@code, @name, @kind, @parent_id, @region_id, COALESCE(@contact::jsonb, '{}'::jsonb),
			        ST_GeomFromWKB(@geom, 4326), COALESCE(@attrs::jsonb, '{}'::jsonb))`, args)
		if err != nil {
			return unitWriteError(err, *in.Code)
		}
		out, err = s.unit(ctx, tx, *in.Code)
		return err
	})
	return out, err
}

// UpdateUnit changes the given fields of a unit.
func (s *Store) UpdateUnit(ctx context.Context, code string, in UnitInput) (Unit, error) {
	if err := s.checkUnitInput(in, false); err != nil {
		return Unit{}, err
	}
	var out Unit
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM units WHERE code = @code FOR UPDATE`, pgx.NamedArgs{"code": code}).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return &NotFoundError{What: "unit", Key: code}
		}
		if err != nil {
			return err
		}
		args, err := s.unitArgs(ctx, tx, in)
		if err != nil {
			return err
		}
		if pid, ok := args["parent_id"].(*int64); ok && pid != nil {
			// A unit may not sit below itself.
			var cycle bool
			err := tx.QueryRow(ctx, `
				WITH RECURSIVE up AS (
					SELECT id, parent_id FROM units WHERE id = @parent_id
					UNION ALL
					SELECT u.id, u.parent_id FROM units u JOIN up ON u.id = up.parent_id)
				SELECT EXISTS (SELECT 1 FROM up WHERE id = @id)`,
				pgx.NamedArgs{"parent_id": *pid, "id": id}).Scan(&cycle)
			if err != nil {
				return err
			}
			if cycle {
				return Invalid("parent", "unit %q is %s itself or one of its sub-units", *in.Parent, code)
			}
		}
		args["id"] = id
		args["parent_set"] = in.Parent != nil
		args["region_set"] = in.Region != nil
		args["geom_set"] = in.Geometry != nil || in.ClearGeometry
		_, err = tx.Exec(ctx, `
			UPDATE units SET
				name = COALESCE(@name, name),
				kind = COALESCE(@kind, kind),
				parent_id = CASE WHEN @parent_set THEN @parent_id ELSE parent_id END,
				region_id = CASE WHEN @region_set THEN @region_id ELSE region_id END,
				contact = COALESCE(@contact::jsonb, contact),
				geom = CASE WHEN @geom_set THEN ST_GeomFromWKB(@geom, 4326) ELSE geom END,
				attrs = COALESCE(@attrs::jsonb, attrs),
				updated_at = now()
			WHERE id = @id`, args)
		if err != nil {
			return unitWriteError(err, code)
		}
		out, err = s.unit(ctx, tx, code)
		return err
	})
	return out, err
}

// unitArgs resolves codes to ids and prepares the geometry.
func (s *Store) unitArgs(ctx context.Context, tx pgx.Tx, in UnitInput) (pgx.NamedArgs, error) {
	args := pgx.NamedArgs{"name": in.Name, "kind": in.Kind, "parent_id": (*int64)(nil), "region_id": (*int64)(nil),
		"contact": in.Contact, "geom": []byte(nil), "attrs": in.Attrs}
	if in.Name != nil {
		args["name"] = strings.TrimSpace(*in.Name)
	}
	var p Problems
	if in.Parent != nil && *in.Parent != "" {
		id, err := lookupID(ctx, tx, `SELECT id FROM units WHERE code = @code`, *in.Parent)
		if err != nil {
			return nil, err
		}
		if id == nil {
			p.Add("parent", "unit %q does not exist", *in.Parent)
		}
		args["parent_id"] = id
	}
	if in.Region != nil && *in.Region != "" {
		id, err := lookupID(ctx, tx, `SELECT id FROM regions WHERE code = @code`, *in.Region)
		if err != nil {
			return nil, err
		}
		if id == nil {
			p.Add("region", "region %q does not exist", *in.Region)
		}
		args["region_id"] = id
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if in.Geometry != nil {
		b, err := PrepareGeometry(ctx, tx, "geometry", in.Geometry)
		if err != nil {
			return nil, err
		}
		args["geom"] = b
	}
	return args, nil
}

func unitWriteError(err error, code string) error {
	name, state := PgConstraint(err)
	switch {
	case state == SQLUniqueViolation && name == "units_code_key":
		return &ConflictError{Field: "code", Message: fmt.Sprintf("unit %q already exists", code)}
	case state == SQLCheckViolation && name == "units_not_own_parent":
		return Invalid("parent", "a unit cannot be its own parent")
	}
	return err
}

// DeleteUnit removes a unit that nothing refers to.
func (s *Store) DeleteUnit(ctx context.Context, code string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM units WHERE code = @code`, pgx.NamedArgs{"code": code})
	if name, state := PgConstraint(err); state == SQLForeignKeyViolation {
		return &ConflictError{Message: fmt.Sprintf("unit %q is still in use (%s): end its assignments, move its sub-units and users first", code, inUseBy(name))}
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return &NotFoundError{What: "unit", Key: code}
	}
	return nil
}

// inUseBy names, for a user, what a foreign key that blocked a delete is.
func inUseBy(constraint string) string {
	for prefix, what := range map[string]string{
		"assignments_": "assignments", "units_parent": "sub-units", "users_": "users",
		"regions_parent": "child regions", "grids_community": "grids", "units_region": "units",
		"cases_": "cases",
	} {
		if strings.HasPrefix(constraint, prefix) {
			return what
		}
	}
	return constraint
}

func lookupID(ctx context.Context, q Querier, sql, code string) (*int64, error) {
	var id int64
	err := q.QueryRow(ctx, sql, pgx.NamedArgs{"code": code}).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
