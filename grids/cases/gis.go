package cases

import (
	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// The deadline flags as SQL over cases c, for every reader that shows or
// counts them (lists, exports, tiles, statistics): one definition.
const (
	// OverdueSQL (红牌): the running clock is past the deadline, or the
	// case is late (LateSQL) and not yet closed out. Never NULL, so that
	// NOT OverdueSQL keeps the cases not yet dispatched.
	OverdueSQL = `((c.clock_from IS NOT NULL AND c.due_at < now()) OR (` + LateSQL + ` AND c.status NOT IN ` + FinalSQL + `))`
	// LateSQL is a case whose lateness no longer depends on the time: it
	// was handled late, or it was suspended after its time ran out (the
	// suspension stops the clock and keeps the red card). The rule is
	// citygrid_case_late (migration 22), which the tile counts' trigger and
	// the overdue queues' partial indexes spell the same way; clockState is
	// the same rule over a case in memory.
	LateSQL = `citygrid_case_late(c.status, c.handled_on_time, c.spent_s, c.limit_hours, c.limit_days)`
	// FinalSQL is the statuses of the cases that are no longer open
	// (Status.Open), as a SQL list, spelled as the partial indexes of open
	// cases spell it so that the planner matches them.
	FinalSQL = `('closed', 'cancelled', 'merged')`
	// WarningSQL (黄牌): 80% of the time is gone and the deadline is not.
	WarningSQL = `(c.clock_from IS NOT NULL AND c.warn_at <= now() AND c.due_at >= now())`

	// CountsOverdueSQL is OverdueSQL over a row t of the tile counts
	// (case_tile_cells or case_tile_deltas, migration 14), which keep a
	// running clock's cases by the six-hour bucket of their deadline
	// (due): late and not closed out, or not late with the bucket over.
	// The cases of the bucket holding the present are not in it:
	// PresentOverdueSQL counts them from cases.
	CountsOverdueSQL = `((t.late AND t.status NOT IN ` + FinalSQL + `) OR (NOT t.late AND citygrid_due_bucket_over(t.due)))`
	// PresentOverdueSQL is the rest of OverdueSQL over cases c: not late,
	// the clock running past a deadline in the present bucket, which the
	// index of running deadlines finds among a few hours' cases.
	PresentOverdueSQL = `(c.clock_from IS NOT NULL AND c.due_at >= citygrid_due_bucket(now()) AND c.due_at < now() AND c.handled_on_time IS NOT FALSE)`
)

// UnitScope is the condition that row alias (of cases or of the tile
// counts, both with unit_id) is a case the principal may see by its unit,
// adding its value to args; empty for a principal who sees every case.
func UnitScope(p grids.Principal, alias string, args pgx.NamedArgs) string {
	if p.Role != grids.RoleUnit {
		return ""
	}
	args["principal_unit"] = p.Unit
	return alias + `.unit_id = (SELECT id FROM units WHERE code = @principal_unit)`
}

// Where is the filter's WHERE clause over cases c as principal p may see
// them (a unit reads its own), adding its values to args; empty when
// nothing is filtered. The filter should have passed Check.
func (f *Filter) Where(p grids.Principal, args pgx.NamedArgs) string {
	return f.where(p, args, true)
}
