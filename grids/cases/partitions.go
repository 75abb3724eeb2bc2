package cases

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// months knows the monthly partitions of cases, so that a statement on
// intake's path (the duplicate search) can name the one or two it reads.
// Named, a partition's statement keeps one generic plan per connection
// (0.03 ms to plan, and it reads only the box index); on the partitioned
// table the planner either plans every report anew over two partitions of
// 23 indexes each (1.5 ms under load) or, generic, locks every partition
// at each execution. The list is read from the catalogue, not from the
// naming rule of citygrid_case_partitions (migration 8), and read again
// whenever a window reaches a month it does not cover: partitions are
// made ahead of time and never dropped by citygrid.
type months struct {
	mu    sync.Mutex
	parts []monthPart // sorted by from
}

type monthPart struct {
	name     string
	from, to time.Time
}

// monthsSQL lists the partitions with a range bound (not the default one)
// and the bound's two ends.
const monthsSQL = `
	SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
	FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
	     LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']+)'\) TO \('([^']+)'\)$$) b
	WHERE i.inhparent = 'cases'::regclass AND b IS NOT NULL`

func (m *months) load(ctx context.Context, q grids.Querier) error {
	rows, err := q.Query(ctx, monthsSQL)
	if err != nil {
		return err
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (monthPart, error) {
		var p monthPart
		return p, r.Scan(&p.name, &p.from, &p.to)
	})
	if err != nil {
		return err
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].from.Before(parts[j].from) })
	m.parts = parts
	return nil
}

// cover answers the partitions that hold every case reported in
// [from, to], or false when the known partitions leave part of the window
// to the default partition (the caller then asks the partitioned table).
func (m *months) cover(ctx context.Context, q grids.Querier, from, to time.Time) ([]string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if names, ok := coverOf(m.parts, from, to); ok {
		return names, true, nil
	}
	if err := m.load(ctx, q); err != nil {
		return nil, false, err
	}
	names, ok := coverOf(m.parts, from, to)
	return names, ok, nil
}

// coverOf is the run of adjacent partitions that holds [from, to].
func coverOf(parts []monthPart, from, to time.Time) ([]string, bool) {
	i := sort.Search(len(parts), func(i int) bool { return parts[i].to.After(from) })
	if i == len(parts) || parts[i].from.After(from) {
		return nil, false
	}
	var names []string
	for end := parts[i].from; i < len(parts) && !end.After(to); i++ {
		if !parts[i].from.Equal(end) {
			return nil, false // a month between them is missing
		}
		names, end = append(names, parts[i].name), parts[i].to
		if end.After(to) {
			return names, true
		}
	}
	return nil, false
}
