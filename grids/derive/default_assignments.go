package derive

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

//go:embed default_assignments.yaml
var defaultAssignmentsYAML []byte

// DefaultAssignments is the table of starting duties.
type DefaultAssignments struct {
	Units []struct {
		Code string `yaml:"code"`
		Name string `yaml:"name"`
		Kind string `yaml:"kind"`
		// Fallback marks the department that takes what no unit leads
		// (属地兜底), after the subdistrict offices.
		Fallback bool `yaml:"fallback"`
	} `yaml:"units"`
	Assignments []struct {
		Theme  string `yaml:"theme"`
		Role   string `yaml:"role"`
		Unit   string `yaml:"unit"`
		Target string `yaml:"target"`
		Layer  string `yaml:"layer"`
		Level  string `yaml:"level"`
	} `yaml:"assignments"`
}

// ParseDefaultAssignments reads a defaults table; nil reads the built-in one.
func ParseDefaultAssignments(b []byte) (DefaultAssignments, error) {
	if b == nil {
		b = defaultAssignmentsYAML
	}
	var d DefaultAssignments
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("default assignments: %w", err)
	}
	for i, a := range d.Assignments {
		n := 0
		for _, t := range []string{a.Target, a.Layer, a.Level} {
			if t != "" {
				n++
			}
		}
		if n != 1 || (a.Target != "" && a.Target != "grids") {
			return d, fmt.Errorf("default assignments line %d: give exactly one of target: grids, layer or level", i+1)
		}
		if a.Role != "lead" && a.Role != "support" {
			return d, fmt.Errorf("default assignments line %d: role %q", i+1, a.Role)
		}
	}
	return d, nil
}

// AssignmentsResult counts what a derivation created.
type AssignmentsResult struct {
	UnitsCreated       int            `json:"units_created"`
	AssignmentsCreated int            `json:"assignments_created"`
	ByTheme            map[string]int `json:"by_theme"`
}

// DeriveDefaultAssignments writes the starting duties in one transaction:
// the departments, an office per subdistrict and a committee per community,
// then each line of the table for every matching target that has no live
// lead for that duty yet (supporters are added once). Running it again adds
// only what is missing.
func (s *Store) DeriveDefaultAssignments(ctx context.Context, d DefaultAssignments) (AssignmentsResult, error) {
	res := AssignmentsResult{ByTheme: map[string]int{}}
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		for _, u := range d.Units {
			attrs := map[string]any{}
			if u.Fallback {
				attrs["fallback"] = true
			}
			tag, err := tx.Exec(ctx, `INSERT INTO units (code, name, kind, attrs) VALUES (@code, @name, @kind, @attrs) ON CONFLICT (code) DO NOTHING`,
				pgx.NamedArgs{"code": u.Code, "name": u.Name, "kind": u.Kind, "attrs": attrs})
			if err != nil {
				return fmt.Errorf("unit %s: %w", u.Code, err)
			}
			res.UnitsCreated += int(tag.RowsAffected())
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO units (code, name, kind, region_id)
			SELECT 'JD' || r.code, r.name || '办事处', 'subdistrict_office', r.id FROM regions r WHERE r.level = 'subdistrict'
			UNION ALL
			SELECT 'SQ' || r.code, r.name || '居民委员会', 'community', r.id FROM regions r WHERE r.level = 'community'
			ON CONFLICT (code) DO NOTHING`)
		if err != nil {
			return err
		}
		res.UnitsCreated += int(tag.RowsAffected())
		// Offices and committees sit below their parents' units.
		if _, err := tx.Exec(ctx, `
			UPDATE units u SET parent_id = p.id
			FROM regions r JOIN regions pr ON pr.id = r.parent_id JOIN units p ON p.code = 'JD' || pr.code
			WHERE u.code = 'SQ' || r.code AND r.level = 'community' AND u.parent_id IS NULL`); err != nil {
			return err
		}
		for _, a := range d.Assignments {
			n, err := applyDefault(ctx, tx, a.Theme, a.Role, a.Unit, a.Target, a.Layer, a.Level)
			if err != nil {
				return fmt.Errorf("%s %s by %s: %w", a.Theme, a.Role, a.Unit, err)
			}
			res.AssignmentsCreated += n
			res.ByTheme[a.Theme] += n
		}
		return nil
	})
	return res, err
}

// applyDefault inserts one line of the defaults table.
func applyDefault(ctx context.Context, tx pgx.Tx, theme, role, unit, target, layer, level string) (int, error) {
	// Each target set yields (target_kind, grid_code, region_id, object_id,
	// the region the target lies in for office/committee lookups).
	var targets string
	switch {
	case target == "grids":
		targets = `SELECT 'grid' AS kind, g.code AS grid_code, NULL::bigint AS region_id, NULL::bigint AS object_id,
		                  c.code AS community, sd.code AS subdistrict
		           FROM grids g JOIN regions c ON c.id = g.community_id JOIN regions sd ON sd.id = c.parent_id
		           WHERE g.valid_to IS NULL`
	case layer != "":
		// An object's subdistrict and community: where its middle lies.
		targets = `SELECT 'object', NULL::text, NULL::bigint, o.id, c.code, sd.code
		           FROM objects o
		           LEFT JOIN LATERAL (SELECT r.code, r.parent_id FROM regions r WHERE r.level = 'community'
		                              AND ST_Covers(r.geom, ST_PointOnSurface(o.geom)) LIMIT 1) c ON true
		           LEFT JOIN LATERAL (SELECT r.code FROM regions r WHERE r.level = 'subdistrict'
		                              AND ST_Covers(r.geom, ST_PointOnSurface(o.geom)) LIMIT 1) sd ON true
		           WHERE o.layer = @layer`
	default:
		targets = `SELECT 'region', NULL::text, r.id, NULL::bigint, CASE WHEN r.level = 'community' THEN r.code END,
		                  CASE WHEN r.level = 'subdistrict' THEN r.code
		                       WHEN r.level = 'community' THEN (SELECT p.code FROM regions p WHERE p.id = r.parent_id) END
		           FROM regions r WHERE r.level = @level`
	}
	unitSQL := `(SELECT id FROM units WHERE code = @unit)`
	switch unit {
	case "subdistrict_office":
		unitSQL = `(SELECT id FROM units WHERE code = 'JD' || t.subdistrict)`
	case "community_committee":
		unitSQL = `(SELECT id FROM units WHERE code = 'SQ' || t.community)`
	}
	sql := `
		INSERT INTO assignments (theme_code, unit_id, role, target_kind, grid_code, region_id, object_id, note)
		SELECT @theme, u.id, @role, t.kind, t.grid_code, t.region_id, t.object_id, 'default'
		FROM (` + targets + `) AS t(kind, grid_code, region_id, object_id, community, subdistrict)
		CROSS JOIN LATERAL (SELECT ` + unitSQL + ` AS id) u
		WHERE u.id IS NOT NULL
		  AND NOT EXISTS (
			SELECT 1 FROM assignments a
			WHERE a.valid_to IS NULL AND a.theme_code = @theme
			  AND a.target_key = t.kind || ':' || COALESCE(t.grid_code, t.region_id::text, t.object_id::text)
			  AND (a.role = 'lead' AND @role = 'lead' OR a.unit_id = u.id))`
	tag, err := tx.Exec(ctx, sql, pgx.NamedArgs{"theme": theme, "role": role, "unit": unit, "layer": layer, "level": level})
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

// WithoutTarget returns the defaults table minus the lines for one theme on
// one kind of target ("grids", a layer or a level): for a city that sets
// those duties itself.
func (d DefaultAssignments) WithoutTarget(theme, target string) DefaultAssignments {
	out := d
	out.Assignments = nil
	for _, a := range d.Assignments {
		if a.Theme == theme && (a.Target == target || a.Layer == target || a.Level == target) {
			continue
		}
		out.Assignments = append(out.Assignments, a)
	}
	return out
}
