package ingest

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// AssignmentInput is one assignment to write in bulk. The target is named
// the way users name it: a grid or region by its code, an object by its code
// or by its source and source id (an OSM way, a generated feature).
type AssignmentInput struct {
	Theme    string
	Unit     string // unit code
	Role     string // lead or support
	Target   string // grid, region or object
	Code     string // grid, region or object code
	Source   string // object: source, with SourceID, when it has no code
	SourceID string
	FromM    *float64
	ToM      *float64
	Note     string
}

// ImportAssignments writes assignments in one transaction, resolving codes
// to rows; a target, unit or theme that does not exist, or a second lead,
// fails the whole batch with every problem listed by index.
func (s *Store) ImportAssignments(ctx context.Context, in []AssignmentInput) (int, error) {
	created := 0
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			CREATE TEMP TABLE assign_stage (idx int, theme text, unit text, role text, target text, code text,
				source text, source_id text, from_m float8, to_m float8, note text) ON COMMIT DROP`); err != nil {
			return err
		}
		rows := make([][]any, len(in))
		for i, a := range in {
			rows[i] = []any{i, a.Theme, a.Unit, a.Role, a.Target, nullable(a.Code), nullable(a.Source), nullable(a.SourceID), a.FromM, a.ToM, a.Note}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"assign_stage"},
			[]string{"idx", "theme", "unit", "role", "target", "code", "source", "source_id", "from_m", "to_m", "note"},
			pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		var probs problemList
		if err := collectProblems(ctx, tx, &probs, `
			SELECT s.idx, s.code, CASE
				WHEN NOT EXISTS (SELECT 1 FROM themes t WHERE t.code = s.theme) THEN format('theme %s does not exist', s.theme)
				WHEN NOT EXISTS (SELECT 1 FROM units u WHERE u.code = s.unit) THEN format('unit %s does not exist', s.unit)
				WHEN s.role NOT IN ('lead', 'support') THEN format('role %s is not lead or support', s.role)
				WHEN s.target = 'grid' AND NOT EXISTS (SELECT 1 FROM grids g WHERE g.code = s.code AND g.valid_to IS NULL)
					THEN format('grid %s does not exist', s.code)
				WHEN s.target = 'region' AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = s.code)
					THEN format('region %s does not exist', s.code)
				WHEN s.target = 'object' AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.code = s.code OR (o.source = s.source AND o.source_id = s.source_id))
					THEN format('object %s does not exist', COALESCE(s.code, s.source || ':' || s.source_id))
				WHEN s.target NOT IN ('grid', 'region', 'object') THEN format('target %s is not grid, region or object', s.target)
			END AS reason
			FROM assign_stage s
			WHERE NOT EXISTS (SELECT 1 FROM themes t WHERE t.code = s.theme)
			   OR NOT EXISTS (SELECT 1 FROM units u WHERE u.code = s.unit)
			   OR s.role NOT IN ('lead', 'support')
			   OR s.target NOT IN ('grid', 'region', 'object')
			   OR (s.target = 'grid' AND NOT EXISTS (SELECT 1 FROM grids g WHERE g.code = s.code AND g.valid_to IS NULL))
			   OR (s.target = 'region' AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.code = s.code))
			   OR (s.target = 'object' AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.code = s.code OR (o.source = s.source AND o.source_id = s.source_id)))
			ORDER BY s.idx`, nil); err != nil {
			return err
		}
		if err := probs.err(); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code, region_id, object_id, from_m, to_m, note)
			SELECT s.theme, u.id, s.role, s.target,
			       CASE WHEN s.target = 'grid' THEN s.code END,
			       (SELECT r.id FROM regions r WHERE s.target = 'region' AND r.code = s.code),
			       (SELECT o.id FROM objects o WHERE s.target = 'object'
			          AND (o.code = s.code OR (o.source = s.source AND o.source_id = s.source_id)) LIMIT 1),
			       s.from_m, s.to_m, s.note
			FROM assign_stage s JOIN units u ON u.code = s.unit ORDER BY s.idx`)
		if name, state := grids.PgConstraint(err); state == grids.SQLExclusionViolation && name == "assignments_one_lead" {
			return &grids.ConflictError{Field: "role", Message: "two leads for the same target, duty and time (one lead per target and duty)"}
		}
		if err != nil {
			return err
		}
		created = int(tag.RowsAffected())
		return nil
	})
	return created, err
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
