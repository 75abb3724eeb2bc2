package cases

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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

// pointColumns are what a point and its clock read, in the order Points
// scans them. The unit's code is looked up per row, the category's name
// in Go from the few categories: joined, a generic plan hashed the
// categories again for each of a thousand rows (14 ms of 22), and a
// subquery per row scanned them (24 ms).
const pointColumns = `c.id, c.code, c.status, c.category_code, c.source, c.reported_at, c.due_at,
	c.grid_code, (SELECT du.code FROM units du WHERE du.id = c.unit_id), ST_X(c.geom), ST_Y(c.geom),
	c.limit_hours, c.limit_days, c.spent_s, c.clock_from, c.handled_on_time, c.dispatched_at`

// Points answers a page of the cases the principal may see as map points:
// the list's filters, sorts, cursors and counts, at a fraction of the
// cost of full cases (a map asks for a thousand at a time).
func (s *Store) Points(ctx context.Context, p grids.Principal, q ListQuery) (PointPage, error) {
	out := PointPage{Items: []Point{}, Counts: map[Status]int{}}
	err := s.readGeneric(ctx, func(tx pgx.Tx) error {
		names, err := categoryNames(ctx, tx)
		if err != nil {
			return err
		}
		now := time.Now()
		var keys []time.Time
		var ids []int64
		err = s.page(ctx, tx, p, &q, pointColumns, "", func(rows pgx.Rows) error {
			var c Case // the clock's fields, for the deadline flags
			var pt Point
			var key time.Time
			if err := rows.Scan(&c.id, &pt.Code, &c.Status, &pt.Category, &pt.Source, &pt.ReportedAt, &c.Deadline,
				&pt.Grid, &pt.Unit, &pt.Lon, &pt.Lat,
				&c.limitHours, &c.limitDays, &c.spentS, &c.clockFrom, &c.HandledOnTime, &c.DispatchedAt, &key); err != nil {
				return err
			}
			pt.CategoryName = names[pt.Category]
			s.clockState(&c, now)
			pt.Status, pt.Deadline, pt.Overdue, pt.Warning = c.Status, c.Deadline, c.Overdue, c.Warning
			out.Items = append(out.Items, pt)
			keys, ids = append(keys, key), append(ids, c.id)
			return nil
		})
		if err != nil {
			return err
		}
		if len(out.Items) > q.Limit {
			out.Items = out.Items[:q.Limit]
			out.NextCursor = cursorOf(keys[q.Limit-1], ids[q.Limit-1])
		}
		out.Total, err = q.counts(ctx, tx, p, out.Counts)
		return err
	})
	return out, err
}

// categoryNames maps every category's code to its name.
func categoryNames(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT code, name_zh FROM categories`)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	var code, name string
	_, err = pgx.ForEachRow(rows, []any{&code, &name}, func() error {
		names[code] = name
		return nil
	})
	return names, err
}
