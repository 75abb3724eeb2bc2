package cases

import (
	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// The deadline flags as SQL over cases c, for every reader that shows or
// counts them (lists, exports, tiles, statistics): one definition.
const (
	// OverdueSQL (红牌): the running clock is past the deadline, or the
	// case was handled late and is not yet closed out. Never NULL (IS
	// FALSE: handled_on_time is NULL until handled), so that NOT OverdueSQL
	// keeps the cases not yet dispatched.
	OverdueSQL = `((c.clock_from IS NOT NULL AND c.due_at < now()) OR (c.handled_on_time IS FALSE AND c.status NOT IN ('closed', 'cancelled', 'merged')))`
	// WarningSQL (黄牌): 80% of the time is gone and the deadline is not.
	WarningSQL = `(c.clock_from IS NOT NULL AND c.warn_at <= now() AND c.due_at >= now())`
)

// Where is the filter's WHERE clause over cases c as principal p may see
// them (a unit reads its own), adding its values to args; empty when
// nothing is filtered. The filter should have passed Check.
func (f *Filter) Where(p grids.Principal, args pgx.NamedArgs) string {
	return f.where(p, args, true)
}
