package cases

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/citygrid/citygrid/grids"
)

// Point is a case as the map draws it: what a feature's properties show,
// without the routing, reporters and names a full case carries.
type Point struct { // the properties in name order, as a map would write them
	Category     string     `json:"category"`
	CategoryName string     `json:"category_name"`
	Code         string     `json:"code"`
	Deadline     *time.Time `json:"deadline"`
	Grid         *string    `json:"grid"`
	Overdue      bool       `json:"overdue"`
	ReportedAt   time.Time  `json:"reported_at"`
	Source       string     `json:"source"`
	Status       Status     `json:"status"`
	Unit         *string    `json:"unit"`
	Warning      bool       `json:"warning"`
	Lon, Lat     float64    `json:"-"`
}

// PointPage is a page of points with the counts of ListPage.
type PointPage struct {
	Items      []Point
	Counts     map[Status]int
	Total      int
	NextCursor string
}

// pointColumns are what a point and its clock read, over the case c, in
// the order Points scans them. The unit's and the category's names come
// from the locate snapshot in Go: joined, a generic plan hashed the
// categories again for each of a thousand rows (14 ms of 22), and the
// unit looked up a row at a time was a tenth of the database's work.
const pointColumns = `c.id, c.code, c.status, c.category_code, c.source, c.reported_at, c.due_at, c.grid_code, c.unit_id,
	ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.limit_hours, c.limit_days, c.spent_s, c.clock_from, c.handled_on_time, c.warn_at`

// pointRow is one row's columns as scanned: the nullable ones as pgtype
// values and the texts that repeat as the driver's bytes, into the same
// memory row after row. Scanned into pointers, each nullable column
// allocated through reflection on every row, a sixth of the server's
// time for the map's thousand rows.
type pointRow struct {
	id                       int64
	status, category, source pgtype.DriverBytes // valid until the next row
	due, clockFrom, warn     pgtype.Timestamptz
	grid                     pgtype.DriverBytes
	unit                     pgtype.Int8
	limitHours, limitDays    pgtype.Int4
	spentS                   int64
	handledOnTime            pgtype.Bool
	key                      time.Time
}

// Points answers a page of the cases the principal may see as map points:
// the list's filters, sorts, cursors and counts, at a fraction of the
// cost of full cases (a map asks for a thousand at a time).
func (s *Store) Points(ctx context.Context, p grids.Principal, q ListQuery) (PointPage, error) {
	out := PointPage{Items: make([]Point, 0, q.Limit+1), Counts: map[Status]int{}}
	snap := s.resolver.Snapshot() // the categories' and units' names
	now := time.Now()
	var keys []time.Time
	var ids []int64
	// The nullable values a point shows live in two slabs, not a heap
	// object each, sized for a full page (a point keeps pointing into
	// the old array should one grow).
	times := make([]time.Time, 0, q.Limit+1)
	texts := make([]string, 0, 2*(q.Limit+1))
	var missing map[int64][]int // units made since the snapshot: item indexes
	// A page's statuses, categories, sources and grids repeat: each is
	// made a string once, not once a row.
	interned := map[string]string{}
	intern := func(b []byte) string {
		if v, ok := interned[string(b)]; ok {
			return v
		}
		v := string(b)
		interned[v] = v
		return v
	}
	var r pointRow
	var pt Point // scanned into, then copied into the page
	// One list of destinations for every row: passed afresh, the
	// variadic slice and the point it names were two allocations a row.
	dest := []any{&r.id, &pt.Code, &r.status, &r.category, &r.source, &pt.ReportedAt, &r.due,
		&r.grid, &r.unit, &pt.Lon, &pt.Lat,
		&r.limitHours, &r.limitDays, &r.spentS, &r.clockFrom, &r.handledOnTime, &r.warn, &r.key}
	var c Case // the clock's fields, for the deadline flags
	var limitHours, limitDays int
	var clockFrom, warn time.Time
	var handledOnTime bool
	// A generic plan cannot tell that the map's box is small: it ANDs the
	// box index with a bitmap of the whole month's report times (187,000
	// rows, 22 ms) unless bitmaps are off; the box index alone reads the
	// month's few thousand candidates.
	err := s.readGeneric(ctx, q.BBox != nil, func(b *pgx.Batch) error {
		return s.widePage(ctx, b, p, &q, pointColumns, func(rows pgx.Rows) error {
			pt = Point{}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			pt.Category, pt.Source = intern(r.category), intern(r.source)
			if cat, ok := snap.Category(pt.Category); ok {
				pt.CategoryName = cat.Name
			}
			if r.grid != nil {
				texts = append(texts, intern(r.grid))
				pt.Grid = &texts[len(texts)-1]
			}
			if r.unit.Valid {
				if code, ok := snap.UnitCode(r.unit.Int64); ok {
					texts = append(texts, code)
					pt.Unit = &texts[len(texts)-1]
				} else {
					if missing == nil {
						missing = map[int64][]int{}
					}
					missing[r.unit.Int64] = append(missing[r.unit.Int64], len(out.Items))
				}
			}
			c = Case{id: r.id, Status: Status(intern(r.status)), spentS: r.spentS}
			if r.due.Valid {
				times = append(times, r.due.Time)
				c.Deadline = &times[len(times)-1]
			}
			if r.limitHours.Valid {
				limitHours = int(r.limitHours.Int32)
				c.limitHours = &limitHours
			}
			if r.limitDays.Valid {
				limitDays = int(r.limitDays.Int32)
				c.limitDays = &limitDays
			}
			if r.clockFrom.Valid {
				clockFrom = r.clockFrom.Time
				c.clockFrom = &clockFrom
			}
			if r.handledOnTime.Valid {
				handledOnTime = r.handledOnTime.Bool
				c.HandledOnTime = &handledOnTime
			}
			if r.warn.Valid {
				warn = r.warn.Time
				c.warnAt = &warn
			}
			s.clockState(&c, now)
			pt.Status, pt.Deadline, pt.Overdue, pt.Warning = c.Status, c.Deadline, c.Overdue, c.Warning
			out.Items = append(out.Items, pt)
			keys, ids = append(keys, r.key), append(ids, r.id)
			return nil
		}, &out.Total, out.Counts)
	})
	if err != nil {
		return out, err
	}
	if err := s.unitCodes(ctx, missing, out.Items); err != nil {
		return out, err
	}
	if len(out.Items) > q.Limit {
		out.Items = out.Items[:q.Limit]
		out.NextCursor = cursorOf(keys[q.Limit-1], ids[q.Limit-1])
	}
	return out, nil
}

// unitCodes fills in the units the snapshot does not know yet (made since
// it was built), by their ids, for the items that name them.
func (s *Store) unitCodes(ctx context.Context, missing map[int64][]int, items []Point) error {
	if len(missing) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(missing))
	for id := range missing {
		ids = append(ids, id)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, code FROM units WHERE id = ANY(@ids)`, pgx.NamedArgs{"ids": ids})
	if err != nil {
		return err
	}
	var id int64
	var code string
	_, err = pgx.ForEachRow(rows, []any{&id, &code}, func() error {
		code := code
		for _, i := range missing[id] {
			items[i].Unit = &code
		}
		return nil
	})
	return err
}
