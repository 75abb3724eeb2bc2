package cases

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// Filter selects cases for queues, maps, exports and statistics.
type Filter struct {
	Status   []Status
	Unit     string // unit code
	Grid     string
	Region   string // a district, subdistrict or community code
	Category string // a minor class, or a major class and all its minors
	Source   string
	Overdue  *bool
	Warning  *bool
	BBox     *orb.Bound
	From, To *time.Time // report time, [From, To)

	regionLevel grids.Level // set by Resolve
}

// Resolve looks up what the filter names: the level of its region (an
// unknown region is refused, naming it).
func (f *Filter) Resolve(ctx context.Context, q grids.Querier) error {
	if f.Region == "" {
		return nil
	}
	err := q.QueryRow(ctx, `SELECT level FROM regions WHERE code = $1`, f.Region).Scan(&f.regionLevel)
	if errors.Is(err, pgx.ErrNoRows) {
		return grids.Invalid("region", "no region %q", f.Region)
	}
	return err
}

// Sorts of a case list.
const (
	SortNewest   = "-reported_at"
	SortOldest   = "reported_at"
	SortDeadline = "deadline"
)

// ListQuery is a page of a filtered, sorted list.
type ListQuery struct {
	Filter
	Sort   string
	Cursor string
	Limit  int
}

// ListPage is one page of cases with the counts per status of the whole
// filtered set (the status filter aside), for the queue's tabs: every open
// status, and the final ones (closed, cancelled, merged) only when the list
// has a time window, since a city's closed cases grow without end.
type ListPage struct {
	Items      []Case         `json:"items"`
	Counts     map[Status]int `json:"counts"`
	Total      int            `json:"total"`
	NextCursor string         `json:"next_cursor,omitempty"`
	Limit      int            `json:"limit"`
}

// Check validates the filter's values.
func (f *Filter) Check() error {
	var p grids.Problems
	for _, st := range f.Status {
		if !slices.Contains(Statuses(), st) {
			p.Add("status", "%q is not a status (one of %s)", st, statusList(Statuses()))
		}
	}
	if f.Source != "" && !slices.Contains(Sources(), f.Source) {
		p.Add("source", "%q is not a source (one of %s)", f.Source, strings.Join(Sources(), ", "))
	}
	if f.From != nil && f.To != nil && !f.From.Before(*f.To) {
		p.Add("to", "must be after from")
	}
	return p.Err()
}

// where builds the filter's SQL over cases c; withStatus false leaves the
// status filter out (for the counts).
func (f *Filter) where(p grids.Principal, args pgx.NamedArgs, withStatus bool) string {
	var w []string
	add := func(cond, name string, v any) {
		w = append(w, cond)
		if name != "" {
			args[name] = v
		}
	}
	if scope := UnitScope(p, "c", args); scope != "" {
		add(scope, "", nil)
	}
	if withStatus && len(f.Status) > 0 {
		add(`c.status = ANY(@status)`, "status", f.Status)
		// Said again as a literal when every status asked for is open, so
		// that a generic plan may read the partial indexes of open cases.
		if !slices.ContainsFunc(f.Status, func(s Status) bool { return !s.Open() }) {
			add(`c.status NOT IN `+FinalSQL, "", nil)
		}
	}
	if f.Unit != "" {
		add(`c.unit_id = (SELECT id FROM units WHERE code = @unit)`, "unit", f.Unit)
	}
	if f.Grid != "" {
		add(`c.grid_code = @grid`, "grid", f.Grid)
	}
	if f.Region != "" {
		// The region's level names the one column to read (and its index).
		switch f.regionLevel {
		case grids.District:
			add(`c.district_code = @region`, "region", f.Region)
		case grids.Subdistrict:
			add(`c.subdistrict_code = @region`, "region", f.Region)
		case grids.Community:
			add(`c.community_code = @region`, "region", f.Region)
		default: // not resolved: any level
			add(`(c.district_code = @region OR c.subdistrict_code = @region OR c.community_code = @region)`, "region", f.Region)
		}
	}
	if f.Category != "" {
		if len(f.Category) == 3 {
			add(`c.category_code LIKE @category || '%'`, "category", f.Category)
		} else {
			add(`c.category_code = @category`, "category", f.Category)
		}
	}
	if f.Source != "" {
		add(`c.source = @source`, "source", f.Source)
	}
	const overdue, warning = OverdueSQL, WarningSQL
	if f.Overdue != nil {
		if *f.Overdue {
			add(overdue, "", nil)
		} else {
			add(`NOT `+overdue, "", nil)
		}
	}
	if f.Warning != nil {
		if *f.Warning {
			add(warning, "", nil)
		} else {
			add(`NOT `+warning, "", nil)
		}
	}
	if f.BBox != nil {
		add(`c.geom && ST_MakeEnvelope(@minx, @miny, @maxx, @maxy, 4326)`, "", nil)
		args["minx"], args["miny"], args["maxx"], args["maxy"] = f.BBox.Min[0], f.BBox.Min[1], f.BBox.Max[0], f.BBox.Max[1]
	}
	if f.From != nil {
		add(`c.reported_at >= @from`, "from", *f.From)
	}
	if f.To != nil {
		add(`c.reported_at < @to`, "to", *f.To)
	}
	if len(w) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w, " AND ")
}

// sortKey is the keyset of a sort: the SQL expression, its direction and
// the case's value of it.
func sortKey(sort string) (expr, dir string, ok bool) {
	switch sort {
	case "", SortNewest:
		return "c.reported_at", "DESC", true
	case SortOldest:
		return "c.reported_at", "ASC", true
	case SortDeadline:
		return "coalesce(c.due_at, '9999-12-31T00:00:00Z'::timestamptz)", "ASC", true
	}
	return "", "", false
}

// List answers a page of cases the principal may see. Its queries run on
// generic plans: planning a query over a year of monthly partitions, each
// with its indexes, takes longer than running it, and a queue's queries
// repeat with other values all day.
func (s *Store) List(ctx context.Context, p grids.Principal, q ListQuery) (ListPage, error) {
	out := ListPage{Items: []Case{}, Counts: map[Status]int{}, Limit: q.Limit}
	now := time.Now()
	var keys []time.Time
	err := s.readGeneric(ctx, false, func(b *pgx.Batch) error {
		return s.page(ctx, b, p, &q, caseColumns, caseJoins, func(rows pgx.Rows) error {
			var c Case
			var key time.Time
			if err := scanCase(withExtra(rows, &key), &c); err != nil {
				return err
			}
			s.seeAs(p, &c, now)
			out.Items = append(out.Items, c)
			keys = append(keys, key)
			return nil
		}, &out.Total, out.Counts)
	})
	if err != nil {
		return out, err
	}
	if len(out.Items) > q.Limit {
		out.Items = out.Items[:q.Limit]
		out.NextCursor = cursorOf(keys[q.Limit-1], out.Items[q.Limit-1].id)
	}
	return out, nil
}

// readGeneric sends what queue adds to a batch in one round trip, its
// statements in one implicit transaction on generic plans (the pool's
// default is custom plans, which PostGIS bounding boxes need) and without
// parallel workers: a list is one of many small statements at once, and a
// generic plan's guesses chose a parallel sort of every overdue case of a
// district (12 ms, and the workers' CPU) over the index that stops at the
// page (0.3 ms). noBitmaps turns bitmap scans off as well (see Points).
// The settings are set_config(…, true) in the batch's first statement, so
// they cost no round trip of their own and end with the batch.
func (s *Store) readGeneric(ctx context.Context, noBitmaps bool, queue func(*pgx.Batch) error) error {
	b := &pgx.Batch{}
	settings := `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('max_parallel_workers_per_gather', '0', true)`
	if noBitmaps {
		settings += `, set_config('enable_bitmapscan', 'off', true)`
	}
	b.Queue(settings)
	if err := queue(b); err != nil {
		return err
	}
	return s.pool.SendBatch(ctx, b).Close()
}

// page checks and resolves the query (its counts read the region's level
// Resolve sets), then queues its page (one row more than the limit, to
// know whether another page follows) as cols over the case c and joins,
// each row followed by its sort key, for scan, and the counts of the
// whole filtered set (see counts) into total and counts. The page's rows
// are chosen over cases alone, narrow (id, report time, sort key), and
// only they are joined to what the reader shows: a box or a queue may
// match thousands.
func (s *Store) page(ctx context.Context, b *pgx.Batch, p grids.Principal, q *ListQuery, cols, joins string, scan func(pgx.Rows) error, total *int, counts map[Status]int) error {
	sel, dir, args, err := q.resolvedPage(ctx, s.pool, p, "c.id, c.reported_at")
	if err != nil {
		return err
	}
	// The page's rows are fetched one by one (LIMIT 1 in a LATERAL): as a
	// plain join on (id, reported_at) a generic plan expects one row for
	// the whole page and joins the names to it by scanning grids and
	// regions for each row (230 ms for a month of a category).
	b.Queue(`SELECT `+cols+`, p.sort_key FROM (`+sel+`) p
		CROSS JOIN LATERAL (SELECT * FROM cases c WHERE c.id = p.id AND c.reported_at = p.reported_at LIMIT 1) c`+joins+
		fmt.Sprintf(` ORDER BY p.sort_key %s, p.id %s`, dir, dir), args).Query(scanEach(scan))
	q.counts(b, p, total, counts)
	return nil
}

// widePage is page for readers of a few columns of cases alone: cols
// (over the case c, id first) are read where the page is chosen, and scan
// reads them in the page's order, each row followed by its sort key.
// Fetching a thousand rows one by one after the page is chosen costs more
// (11 µs a row, each probe pruning the partitions again) than reading the
// few columns of every candidate as the page is chosen (about 2 µs a
// candidate: 9 ms against 18 ms for the map of a dense 2 km box). The
// page's statement gives its rows in order (see pageSQL), so they are not
// sorted again.
func (s *Store) widePage(ctx context.Context, b *pgx.Batch, p grids.Principal, q *ListQuery, cols string, scan func(pgx.Rows) error, total *int, counts map[Status]int) error {
	sel, _, args, err := q.resolvedPage(ctx, s.pool, p, cols)
	if err != nil {
		return err
	}
	b.Queue(sel, args).Query(scanEach(scan))
	q.counts(b, p, total, counts)
	return nil
}

// resolvedPage checks and resolves the query (Resolve) and answers its
// page's statement over cols (pageSQL) with its arguments.
func (q *ListQuery) resolvedPage(ctx context.Context, db grids.Querier, p grids.Principal, cols string) (string, string, pgx.NamedArgs, error) {
	if err := q.Check(); err != nil {
		return "", "", nil, err
	}
	if err := q.Resolve(ctx, db); err != nil {
		return "", "", nil, err
	}
	args := pgx.NamedArgs{"limit": q.Limit + 1}
	sel, dir, err := q.pageSQL(p, args, cols)
	return sel, dir, args, err
}

// scanEach calls scan for each row of a query's answer.
func scanEach(scan func(pgx.Rows) error) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// pageSQL selects the page's cols (over the case c, id among them) and
// sort_key, in order.
//
// Sorted by report time, the page walks the months (the partitions) from
// the newest (oldest) case and stops as soon as it has its rows: a dense
// box holds tens of thousands of cases over a year, and sorting them all
// for a page of a hundred cost 30 ms where the newest month alone costs
// 1–3 ms. Each month is one partition, pruned when its turn comes, read
// once (the box indexes filter the month from the times they include);
// windows finer than a partition read the partition's box again for each.
// The walk relies on the nested loop returning the months in the series'
// order and each month's rows in the sort's order, which is how
// PostgreSQL runs a LATERAL join without a sort above it. Months are UTC,
// as the partitions are (migration 8).
func (q *ListQuery) pageSQL(p grids.Principal, args pgx.NamedArgs, cols string) (sql, dir string, err error) {
	expr, dir, ok := sortKey(q.Sort)
	if !ok {
		return "", "", grids.Malformed("sort", "%q is not a sort (-reported_at, reported_at or deadline)", q.Sort)
	}
	where := q.where(p, args, true)
	and := func(cond string) {
		if where == "" {
			where = " WHERE " + cond
		} else {
			where += " AND " + cond
		}
	}
	lo, hi := q.From, q.To // the walk's months besides the cases' own
	if q.Cursor != "" {
		t, id, err := parseCursor(q.Cursor)
		if err != nil {
			return "", "", err
		}
		cmp := "<"
		if dir == "ASC" {
			cmp = ">"
		}
		and(fmt.Sprintf("(%s, c.id) %s (@cur_t, @cur_id)", expr, cmp))
		args["cur_t"], args["cur_id"] = t, id
		if expr == "c.reported_at" { // the walk starts at the cursor's month
			if dir == "DESC" && (hi == nil || t.Before(*hi)) {
				hi = &t
			} else if dir == "ASC" && (lo == nil || t.After(*lo)) {
				lo = &t
			}
		}
	}
	order := fmt.Sprintf(` ORDER BY sort_key %s, c.id %s LIMIT @limit`, dir, dir)
	if expr != "c.reported_at" {
		return `SELECT ` + cols + `, ` + expr + ` AS sort_key FROM cases c` + where + order, dir, nil
	}
	args["walk_lo"], args["walk_hi"] = lo, hi
	first, last, step := "b.hi", "b.lo", "-1 month"
	if dir == "ASC" {
		first, last, step = "b.lo", "b.hi", "1 month"
	}
	and(`c.reported_at >= m.t AT TIME ZONE 'UTC' AND c.reported_at < (m.t + interval '1 month') AT TIME ZONE 'UTC'`)
	// The walk's ends are the first and last cases (a probe of each
	// partition's index of reported_at) within the given bounds.
	return `SELECT w.* FROM (SELECT greatest(min(reported_at), @walk_lo::timestamptz) AS lo,
			least(max(reported_at), @walk_hi::timestamptz) AS hi FROM cases) b
		CROSS JOIN LATERAL generate_series(date_trunc('month', ` + first + ` AT TIME ZONE 'UTC'),
			date_trunc('month', ` + last + ` AT TIME ZONE 'UTC'), interval '` + step + `') m(t)
		CROSS JOIN LATERAL (SELECT ` + cols + `, c.reported_at AS sort_key FROM cases c` + where + order + `) w
		LIMIT @limit`, dir, nil
}

// counts queues the counts per status of the whole filtered set (the
// status filter aside; only open statuses without a time window) into
// counts, and into total how many of them the status filter keeps.
func (q *ListQuery) counts(b *pgx.Batch, p grids.Principal, total *int, counts map[Status]int) {
	cargs := pgx.NamedArgs{}
	cwhere := q.where(p, cargs, false)
	if q.From == nil {
		if cwhere == "" {
			cwhere = " WHERE "
		} else {
			cwhere += " AND "
		}
		cwhere += `c.status NOT IN ` + FinalSQL
	}
	b.Queue(`SELECT c.status, count(*) FROM cases c`+cwhere+` GROUP BY c.status`, cargs).Query(func(rows pgx.Rows) error {
		var st Status
		var n int
		_, err := pgx.ForEachRow(rows, []any{&st, &n}, func() error {
			counts[st] = n
			if len(q.Status) == 0 || slices.Contains(q.Status, st) {
				*total += n
			}
			return nil
		})
		return err
	})
}

// extraRow appends one more scan target to a row's columns.
type extraRow struct {
	pgx.Rows
	extra any
}

func withExtra(r pgx.Rows, v any) pgx.Row { return extraRow{r, v} }

func (r extraRow) Scan(dest ...any) error { return r.Rows.Scan(append(dest, r.extra)...) }

func cursorOf(t time.Time, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixMicro(), 10) + "." + strconv.FormatInt(id, 10)))
}

func parseCursor(s string) (time.Time, int64, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		if a, b, ok := strings.Cut(string(raw), "."); ok {
			us, err1 := strconv.ParseInt(a, 10, 64)
			id, err2 := strconv.ParseInt(b, 10, 64)
			if err1 == nil && err2 == nil {
				return time.UnixMicro(us), id, nil
			}
		}
	}
	return time.Time{}, 0, grids.Malformed("cursor", "not a cursor this server gave; start again without it")
}
