package grids

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
)

// Named is a statement with named arguments (@name) that is rewritten to
// positional ones once, on its first use, by pgx's own rewriter. A
// pgx.NamedArgs statement is rewritten on every call: for the forty
// arguments of a case report that was a tenth of the server's time per
// report. Use it for statements that run on every request and whose text
// never changes; plain NamedArgs everywhere else.
type Named struct {
	SQL string

	once  sync.Once
	sql   string
	names []string
	err   error
}

// Args returns the positional statement and args in its order. The first
// call's names are the statement's: every later call must give the same.
func (q *Named) Args(args pgx.NamedArgs) (string, []any, error) {
	q.once.Do(func() { q.compile(args) })
	if q.err != nil {
		return "", nil, q.err
	}
	if len(args) != len(q.names) {
		return "", nil, fmt.Errorf("named statement: %d arguments given, %d used", len(args), len(q.names))
	}
	out := make([]any, len(q.names))
	for i, n := range q.names {
		v, ok := args[n]
		if !ok {
			return "", nil, fmt.Errorf("named statement: argument %q missing", n)
		}
		out[i] = v
	}
	return q.sql, out, nil
}

// compile has pgx rewrite the statement with each name standing for
// itself, which yields the names in the order of their positions.
func (q *Named) compile(args pgx.NamedArgs) {
	self := make(pgx.StrictNamedArgs, len(args))
	for n := range args {
		self[n] = n
	}
	sql, pos, err := self.RewriteQuery(context.Background(), nil, q.SQL, nil)
	if err != nil {
		q.err = fmt.Errorf("named statement: %w", err)
		return
	}
	q.sql, q.names = sql, make([]string, len(pos))
	for i, v := range pos {
		q.names[i] = v.(string)
	}
}
