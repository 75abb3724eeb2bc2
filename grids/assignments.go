package grids

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AssignmentStore keeps the duties: who answers for which grid, region or
// object (or stretch of a line), as lead or supporter, with history.
type AssignmentStore struct {
	pool *pgxpool.Pool
}

// NewAssignmentStore returns the assignment store over pool.
func NewAssignmentStore(pool *pgxpool.Pool) *AssignmentStore { return &AssignmentStore{pool: pool} }

// Assignment is one unit answering for one duty on one target, for a time.
type Assignment struct {
	ID         int64      `json:"id"`
	Theme      string     `json:"theme"`
	Unit       string     `json:"unit"`
	UnitName   string     `json:"unit_name"`
	Role       string     `json:"role"`
	TargetKind string     `json:"target_kind"`
	Target     string     `json:"target"` // grid or region code, object id
	TargetName string     `json:"target_name"`
	Layer      string     `json:"layer,omitempty"`
	FromM      *float64   `json:"from_m,omitempty"`
	ToM        *float64   `json:"to_m,omitempty"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidTo    *time.Time `json:"valid_to,omitempty"`
	Note       string     `json:"note"`
}

// AssignmentFilter narrows an assignment list. At answers as of a moment;
// without it only live assignments are listed.
type AssignmentFilter struct {
	Unit       string
	Theme      string
	TargetKind string
	Target     string
	Role       string
	At         *time.Time
}

// ScopeFor narrows f to what p may read: a unit token reads only its own
// unit's assignments, and asking for another unit's is forbidden. Other
// roles read every assignment.
func (f *AssignmentFilter) ScopeFor(p Principal) error {
	if p.Role != RoleUnit {
		return nil
	}
	if p.Unit == "" {
		return fmt.Errorf("%w: this unit token is bound to no unit", ErrForbidden)
	}
	if f.Unit != "" && f.Unit != p.Unit {
		return fmt.Errorf("%w: a unit token reads only its own unit's assignments (%s), not %s's", ErrForbidden, p.Unit, f.Unit)
	}
	f.Unit = p.Unit
	return nil
}

// MayReadAssignment tells whether p may read a: a unit token reads only its
// own unit's assignments.
func MayReadAssignment(p Principal, a Assignment) bool {
	return p.Role != RoleUnit || (p.Unit != "" && a.Unit == p.Unit)
}

// NewAssignment is an assignment to create.
type NewAssignment struct {
	Theme      string
	Unit       string
	Role       string
	TargetKind string
	Target     string
	FromM      *float64
	ToM        *float64
	Note       string
}

const assignmentSelect = `
	SELECT a.id, a.theme_code, u.code, u.name, a.role, a.target_kind,
	       COALESCE(a.grid_code, r.code, a.object_id::text),
	       COALESCE(g.name, r.name, o.name, ''), COALESCE(o.layer, ''),
	       a.from_m, a.to_m, a.valid_from, a.valid_to, a.note
	FROM assignments a
	JOIN units u ON u.id = a.unit_id
	LEFT JOIN regions r ON r.id = a.region_id
	LEFT JOIN objects o ON o.id = a.object_id
	LEFT JOIN grids g ON g.code = a.grid_code AND g.valid_to IS NULL`

func scanAssignment(row pgx.Row) (Assignment, error) {
	var a Assignment
	err := row.Scan(&a.ID, &a.Theme, &a.Unit, &a.UnitName, &a.Role, &a.TargetKind, &a.Target, &a.TargetName, &a.Layer,
		&a.FromM, &a.ToM, &a.ValidFrom, &a.ValidTo, &a.Note)
	return a, err
}

// Assignments lists assignments, live or as of f.At.
func (s *AssignmentStore) Assignments(ctx context.Context, f AssignmentFilter, page Page) (List[Assignment], error) {
	args := pgx.NamedArgs{"unit": f.Unit, "theme": f.Theme, "kind": f.TargetKind, "target": f.Target, "role": f.Role,
		"at": f.At, "limit": page.Limit, "offset": page.Offset}
	where := ` WHERE (@unit = '' OR u.code = @unit)
		AND (@theme = '' OR a.theme_code = @theme)
		AND (@kind = '' OR a.target_kind = @kind)
		AND (@target = '' OR COALESCE(a.grid_code, r.code, a.object_id::text) = @target)
		AND (@role = '' OR a.role = @role)
		AND CASE WHEN @at::timestamptz IS NULL THEN a.valid_to IS NULL
		         ELSE a.valid_from <= @at::timestamptz AND (a.valid_to IS NULL OR a.valid_to > @at::timestamptz) END`
	out := List[Assignment]{Items: []Assignment{}, Limit: page.Limit, Offset: page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (`+assignmentSelect+where+`) x`, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, assignmentSelect+where+` ORDER BY a.id LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAssignment(rows)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, a)
	}
	return out, rows.Err()
}

// Assignment returns one assignment, live or ended.
func (s *AssignmentStore) Assignment(ctx context.Context, id int64) (Assignment, error) {
	return s.assignment(ctx, s.pool, id)
}

// AssignmentFor returns one assignment if p may read it; one p may not read
// is not found, exactly as a missing one, so that its existence does not
// leak.
func (s *AssignmentStore) AssignmentFor(ctx context.Context, p Principal, id int64) (Assignment, error) {
	a, err := s.assignment(ctx, s.pool, id)
	if err == nil && !MayReadAssignment(p, a) {
		return Assignment{}, assignmentNotFound(id)
	}
	return a, err
}

func assignmentNotFound(id int64) error {
	return &NotFoundError{What: "assignment", Key: strconv.FormatInt(id, 10)}
}

func (s *AssignmentStore) assignment(ctx context.Context, q Querier, id int64) (Assignment, error) {
	a, err := scanAssignment(q.QueryRow(ctx, assignmentSelect+` WHERE a.id = @id`, pgx.NamedArgs{"id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, assignmentNotFound(id)
	}
	return a, err
}

// resolved is an assignment's references as row ids.
type resolved struct {
	unit     int64
	grid     *string
	region   *int64
	object   *int64
	lengthM  *float64
	lineLike bool
}

// resolveAssignment checks every reference of n and returns the ids; all
// problems are reported at once.
func (s *AssignmentStore) resolveAssignment(ctx context.Context, q Querier, n NewAssignment) (resolved, error) {
	var r resolved
	var p Problems
	var themeOK bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM themes WHERE code = @t)`, pgx.NamedArgs{"t": n.Theme}).Scan(&themeOK); err != nil {
		return r, err
	}
	if n.Theme == "" {
		p.Add("theme", "required")
	} else if !themeOK {
		p.Add("theme", "theme %q does not exist (see /api/v1/themes)", n.Theme)
	}
	if n.Role != "lead" && n.Role != "support" {
		p.Add("role", "want lead or support")
	}
	id, err := lookupID(ctx, q, `SELECT id FROM units WHERE code = @code`, n.Unit)
	if err != nil {
		return r, err
	}
	if id == nil {
		p.Add("unit", "unit %q does not exist", n.Unit)
	} else {
		r.unit = *id
	}
	switch n.TargetKind {
	case "grid":
		var ok bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM grids WHERE code = @c AND valid_to IS NULL)`, pgx.NamedArgs{"c": n.Target}).Scan(&ok); err != nil {
			return r, err
		}
		if !ok {
			p.Add("target", "grid %q does not exist", n.Target)
		}
		r.grid = &n.Target
	case "region":
		id, err := lookupID(ctx, q, `SELECT id FROM regions WHERE code = @code`, n.Target)
		if err != nil {
			return r, err
		}
		if id == nil {
			p.Add("target", "region %q does not exist", n.Target)
		}
		r.region = id
	case "object":
		oid, perr := strconv.ParseInt(n.Target, 10, 64)
		if perr != nil {
			p.Add("target", "%q is not an object id", n.Target)
			break
		}
		var length *float64
		var dim int
		err := q.QueryRow(ctx, `SELECT length_m, ST_Dimension(geom) FROM objects WHERE id = @id`, pgx.NamedArgs{"id": oid}).Scan(&length, &dim)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			p.Add("target", "object %d does not exist", oid)
		case err != nil:
			return r, err
		default:
			r.object, r.lengthM, r.lineLike = &oid, length, dim == 1
		}
	default:
		p.Add("target_kind", "want grid, region or object")
	}
	if n.FromM != nil || n.ToM != nil {
		switch {
		case n.FromM == nil || n.ToM == nil:
			p.Add("from_m", "a stretch needs both from_m and to_m")
		case n.TargetKind != "object" || (r.object != nil && !r.lineLike):
			p.Add("from_m", "stretches are for streets and alleys (line objects)")
		case *n.FromM < 0:
			p.Add("from_m", "must be 0 or more")
		case *n.ToM <= *n.FromM:
			p.Add("to_m", "must be after from_m (%g)", *n.FromM)
		case r.lengthM != nil && *n.ToM > *r.lengthM+0.01:
			p.Add("to_m", "%g m is beyond the line's length (%.2f m)", *n.ToM, *r.lengthM)
		}
	}
	return r, p.Err()
}

// CreateAssignment adds an assignment; a second lead for the same target,
// duty, time (and stretch) is refused, naming the one in the way.
func (s *AssignmentStore) CreateAssignment(ctx context.Context, n NewAssignment) (Assignment, error) {
	var out Assignment
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.CreateAssignmentIn(ctx, tx, n)
		return err
	})
	return out, err
}

// CreateAssignmentIn is CreateAssignment in the caller's transaction (a
// publish that gives every part of a split grid its duty).
func (s *AssignmentStore) CreateAssignmentIn(ctx context.Context, tx pgx.Tx, n NewAssignment) (Assignment, error) {
	r, err := s.resolveAssignment(ctx, tx, n)
	if err != nil {
		return Assignment{}, err
	}
	id, err := insertAssignment(ctx, tx, n, r)
	if err != nil {
		return Assignment{}, err
	}
	return s.assignment(ctx, tx, id)
}

func insertAssignment(ctx context.Context, tx pgx.Tx, n NewAssignment, r resolved) (int64, error) {
	var id int64
	// A savepoint, so that the lead conflict can be explained with a query
	// in the same transaction.
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		return sp.QueryRow(ctx, `
			INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code, region_id, object_id, from_m, to_m, note)
			VALUES (@theme, @unit, @role, @kind, @grid, @region, @object, @from, @to, @note) RETURNING id`,
			pgx.NamedArgs{"theme": n.Theme, "unit": r.unit, "role": n.Role, "kind": n.TargetKind, "grid": r.grid,
				"region": r.region, "object": r.object, "from": n.FromM, "to": n.ToM, "note": n.Note}).Scan(&id)
	})
	if name, state := PgConstraint(err); state == SQLExclusionViolation && name == "assignments_one_lead" {
		var other int64
		var unit string
		qerr := tx.QueryRow(ctx, `
			SELECT a.id, u.code FROM assignments a JOIN units u ON u.id = a.unit_id
			WHERE a.role = 'lead' AND a.valid_to IS NULL AND a.theme_code = @theme
			  AND a.target_key = @kind || ':' || COALESCE(@grid::text, @region::text, @object::text)
			  AND numrange(COALESCE(a.from_m, 0)::numeric, COALESCE(a.to_m::numeric, 'Infinity'))
			      && numrange(COALESCE(@from::float8, 0)::numeric, COALESCE(@to::float8::numeric, 'Infinity'))
			LIMIT 1`,
			pgx.NamedArgs{"theme": n.Theme, "kind": n.TargetKind, "grid": r.grid, "region": r.region, "object": r.object,
				"from": n.FromM, "to": n.ToM}).Scan(&other, &unit)
		if qerr != nil {
			return 0, &ConflictError{Field: "role", Message: "this target already has a lead for that duty"}
		}
		return 0, &ConflictError{Field: "role", Message: fmt.Sprintf(
			"%s %s already has a lead for %s: assignment %d (unit %s); end it first or add this unit as support",
			n.TargetKind, n.Target, n.Theme, other, unit)}
	}
	return id, err
}

// AssignmentChange is what PATCH may change; nil leaves a field.
type AssignmentChange struct {
	Unit  *string
	Role  *string
	FromM *float64
	ToM   *float64
	Note  *string
}

// ChangeAssignment ends the assignment and starts its successor with the
// changes, in one transaction, so that history shows both.
func (s *AssignmentStore) ChangeAssignment(ctx context.Context, id int64, c AssignmentChange) (Assignment, error) {
	var out Assignment
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.succeed(ctx, tx, id, func(n *NewAssignment) {
			if c.Unit != nil {
				n.Unit = *c.Unit
			}
			if c.Role != nil {
				n.Role = *c.Role
			}
			if c.FromM != nil {
				n.FromM = c.FromM
			}
			if c.ToM != nil {
				n.ToM = c.ToM
			}
			if c.Note != nil {
				n.Note = *c.Note
			}
		})
		return err
	})
	return out, err
}

// CarryAssignment moves a live grid assignment to another live grid in
// the caller's transaction (a publish that replaces its grid): the same
// duty, unit and role, ended on the old grid and started on the new one,
// so that history shows both.
func (s *AssignmentStore) CarryAssignment(ctx context.Context, tx pgx.Tx, id int64, grid string) (Assignment, error) {
	return s.succeed(ctx, tx, id, func(n *NewAssignment) {
		if n.TargetKind == "grid" {
			n.Target = grid
		}
	})
}

// succeed ends a live assignment now and starts its successor, the old
// one as change makes it, checked as a new assignment is.
func (s *AssignmentStore) succeed(ctx context.Context, tx pgx.Tx, id int64, change func(*NewAssignment)) (Assignment, error) {
	old, err := s.assignment(ctx, tx, id)
	if err != nil {
		return Assignment{}, err
	}
	if old.ValidTo != nil {
		return Assignment{}, &ConflictError{Message: fmt.Sprintf("assignment %d ended at %s; history is not changed", id, old.ValidTo.Format(time.RFC3339))}
	}
	n := NewAssignment{Theme: old.Theme, Unit: old.Unit, Role: old.Role, TargetKind: old.TargetKind, Target: old.Target,
		FromM: old.FromM, ToM: old.ToM, Note: old.Note}
	change(&n)
	r, err := s.resolveAssignment(ctx, tx, n)
	if err != nil {
		return Assignment{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE assignments SET valid_to = now() WHERE id = @id`, pgx.NamedArgs{"id": id}); err != nil {
		return Assignment{}, err
	}
	nid, err := insertAssignment(ctx, tx, n, r)
	if err != nil {
		return Assignment{}, err
	}
	return s.assignment(ctx, tx, nid)
}

// EndAssignment ends a live assignment now; the row stays as history.
func (s *AssignmentStore) EndAssignment(ctx context.Context, id int64) (Assignment, error) {
	var out Assignment
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.EndAssignmentIn(ctx, tx, id)
		return err
	})
	return out, err
}

// EndAssignmentIn is EndAssignment in the caller's transaction (a publish
// that closes the assignment's grid).
func (s *AssignmentStore) EndAssignmentIn(ctx context.Context, tx pgx.Tx, id int64) (Assignment, error) {
	tag, err := tx.Exec(ctx, `UPDATE assignments SET valid_to = now() WHERE id = @id AND valid_to IS NULL`, pgx.NamedArgs{"id": id})
	if err != nil {
		return Assignment{}, err
	}
	out, err := s.assignment(ctx, tx, id)
	if err == nil && tag.RowsAffected() == 0 {
		return out, &ConflictError{Message: fmt.Sprintf("assignment %d has already ended", id)}
	}
	return out, err
}

// BulkAssign gives a unit a duty on every grid of a region, or every
// object of a layer inside it, in one transaction; targets that already
// have a lead (for a lead) or this unit (for a support) are skipped.
type BulkAssign struct {
	Theme  string
	Unit   string
	Role   string
	Region string
	Layer  string // empty: the region's grids
	Note   string
}

// BulkResult counts a bulk assignment.
type BulkResult struct {
	Created int `json:"created"`
	Skipped int `json:"skipped"`
}

// Bulk applies a BulkAssign.
func (s *AssignmentStore) Bulk(ctx context.Context, b BulkAssign) (BulkResult, error) {
	var res BulkResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var p Problems
		unit, err := lookupID(ctx, tx, `SELECT id FROM units WHERE code = @code`, b.Unit)
		if err != nil {
			return err
		}
		if unit == nil {
			p.Add("unit", "unit %q does not exist", b.Unit)
		}
		region, err := lookupID(ctx, tx, `SELECT id FROM regions WHERE code = @code`, b.Region)
		if err != nil {
			return err
		}
		if region == nil {
			p.Add("region", "region %q does not exist", b.Region)
		}
		var themeOK, layerOK bool
		tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM themes WHERE code = @t), EXISTS (SELECT 1 FROM layers WHERE code = @l)`,
			pgx.NamedArgs{"t": b.Theme, "l": b.Layer}).Scan(&themeOK, &layerOK)
		if !themeOK {
			p.Add("theme", "theme %q does not exist", b.Theme)
		}
		if b.Layer != "" && !layerOK {
			p.Add("layer", "layer %q does not exist", b.Layer)
		}
		if b.Role != "lead" && b.Role != "support" {
			p.Add("role", "want lead or support")
		}
		if err := p.Err(); err != nil {
			return err
		}
		targets := `SELECT 'grid' AS kind, g.code AS grid_code, NULL::bigint AS object_id
			FROM grids g, regions r
			WHERE r.id = @region AND g.valid_to IS NULL AND g.geom && r.geom AND ST_Covers(r.geom, ST_PointOnSurface(g.geom))`
		if b.Layer != "" {
			targets = `SELECT 'object' AS kind, NULL::text AS grid_code, o.id AS object_id FROM objects o, regions r
				WHERE r.id = @region AND o.layer = @layer AND o.geom && r.geom AND ST_Intersects(r.geom, o.geom)`
		}
		var total int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+targets+`) t`, pgx.NamedArgs{"region": *region, "layer": b.Layer}).Scan(&total); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code, object_id, note)
			SELECT @theme, @unit, @role, t.kind, t.grid_code, t.object_id, @note
			FROM (`+targets+`) t
			WHERE NOT EXISTS (
				SELECT 1 FROM assignments a
				WHERE a.valid_to IS NULL AND a.theme_code = @theme
				  AND a.target_key = t.kind || ':' || COALESCE(t.grid_code, t.object_id::text)
				  AND ((@role = 'lead' AND a.role = 'lead') OR a.unit_id = @unit))`,
			pgx.NamedArgs{"theme": b.Theme, "unit": *unit, "role": b.Role, "region": *region, "layer": b.Layer, "note": b.Note})
		if err != nil {
			return err
		}
		res.Created = int(tag.RowsAffected())
		res.Skipped = total - res.Created
		return nil
	})
	return res, err
}
