package cases

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// EventChannel is the NOTIFY channel on which every committed case change
// is announced as JSON {code, status, unit, action, at}: the server's event
// stream (GET /api/v1/events) follows it.
const EventChannel = "citygrid_cases"

// eventColumns and eventArgs are the one shape of a case_events row, for
// writeEvent and for intake's single statement.
const eventColumns = `(case_id, at, actor, actor_role, actor_unit, action, from_status, to_status, note, data)`

func eventArgs(args pgx.NamedArgs, c *Case, p grids.Principal, action string, from *Status, note string,
	data map[string]any, at time.Time) error {
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var unit *string
	if p.Unit != "" {
		unit = &p.Unit
	}
	args["ev_at"], args["ev_actor"], args["ev_role"], args["ev_unit"], args["ev_action"] = at, p.User, p.Role, unit, action
	args["ev_from"], args["ev_to"], args["ev_note"], args["ev_data"] = from, c.Status, note, raw
	return nil
}

const eventValues = `@ev_at, @ev_actor, @ev_role, @ev_unit, @ev_action, @ev_from, @ev_to, @ev_note, @ev_data`

// writeEvent records a transition in the transaction that makes it.
func writeEvent(ctx context.Context, tx pgx.Tx, c *Case, p grids.Principal, action string, from *Status, note string,
	data map[string]any, at time.Time) error {
	args := pgx.NamedArgs{"id": c.id}
	if err := eventArgs(args, c, p, action, from, note, data, at); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO case_events `+eventColumns+` VALUES (@id, `+eventValues+`)`, args)
	return err
}

// announce queues the change for the event stream; NOTIFY is delivered at
// commit, so listeners never hear of a change that was rolled back.
func announce(ctx context.Context, tx pgx.Tx, c *Case, action string) error {
	msg, err := announcement(c, action)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, EventChannel, msg)
	return err
}

// announcement is the event stream's message of a change.
func announcement(c *Case, action string) (string, error) {
	unit := ""
	if c.Unit != nil {
		unit = c.Unit.Code
	}
	msg, err := json.Marshal(map[string]any{"code": c.Code, "status": c.Status, "unit": unit, "action": action,
		"category": c.Category, "at": c.UpdatedAt.UTC().Format(time.RFC3339Nano)})
	return string(msg), err
}

// duplicates finds open cases of the same category within the category's
// radius and time window of a report. The window and the degree box are
// computed here, not in SQL, so that the planner prunes the monthly
// partitions and the GiST index skips far cases; the box is wider than the
// radius everywhere in range, and the test is ST_DWithin on the spheroid.
func (s *Store) duplicates(ctx context.Context, q grids.Querier, c *Case, p orb.Point, at time.Time) ([]Duplicate, error) {
	sql, args, err := s.duplicatesQuery(ctx, q, c, p, at)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, sql, args)
	if err != nil {
		return nil, err
	}
	return collectDuplicates(rows)
}

// queueDuplicates is duplicates as a statement of batch b, its answer
// stored in *out when the batch is read.
func (s *Store) queueDuplicates(ctx context.Context, q grids.Querier, b *pgx.Batch, out *[]Duplicate, c *Case, p orb.Point, at time.Time) error {
	sql, args, err := s.duplicatesQuery(ctx, q, c, p, at)
	if err != nil {
		return err
	}
	b.Queue(sql, args).Query(func(rows pgx.Rows) (err error) {
		*out, err = collectDuplicates(rows)
		return err
	})
	return nil
}

// duplicatesQuery reads the open cases in the box from each monthly
// partition of the window by name, behind a fence (OFFSET 0) so that a
// generic plan reads the open cases' box index alone: with the category
// and window beside the box, a generic plan cannot tell that the box is
// a few metres wide and ANDs in every case of the category that month.
func (s *Store) duplicatesQuery(ctx context.Context, q grids.Querier, c *Case, p orb.Point, at time.Time) (string, pgx.NamedArgs, error) {
	w := time.Duration(c.dupWindowH) * time.Hour
	from, to := at.Add(-w), at.Add(w)
	dLat := c.dupRadiusM / 110000
	dLon := dLat / max(math.Cos(p[1]*math.Pi/180), 0.01)
	parts, ok, err := s.months.cover(ctx, q, from, to)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		parts = []string{"cases"}
	}
	var sb strings.Builder
	for i, name := range parts {
		if i > 0 {
			sb.WriteString(" UNION ALL ")
		}
		sb.WriteString(`(SELECT c.code, c.status, c.geom, c.reported_at, c.description, c.category_code FROM ` +
			pgx.Identifier{name}.Sanitize() + ` c WHERE c.status NOT IN ` + FinalSQL +
			` AND c.geom && ST_MakeEnvelope(@lon::float8 - @dlon::float8, @lat::float8 - @dlat::float8, @lon + @dlon, @lat + @dlat, 4326) OFFSET 0)`)
	}
	return `
		SELECT x.code, x.status, ST_Distance(x.geom::geography, ST_SetSRID(ST_Point(@lon, @lat), 4326)::geography),
		       x.reported_at, left(x.description, 80)
		FROM (` + sb.String() + `) x
		WHERE x.category_code = @cat AND x.code <> @self AND x.reported_at >= @from AND x.reported_at <= @to
		  AND ST_DWithin(x.geom::geography, ST_SetSRID(ST_Point(@lon, @lat), 4326)::geography, @r)
		ORDER BY 3, x.reported_at DESC LIMIT 10`,
		pgx.NamedArgs{"cat": c.Category, "lon": p[0], "lat": p[1], "from": from, "to": to, "self": c.Code,
			"r": c.dupRadiusM, "dlat": dLat, "dlon": dLon}, nil
}

func collectDuplicates(rows pgx.Rows) ([]Duplicate, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Duplicate, error) {
		var d Duplicate
		err := r.Scan(&d.Code, &d.Status, &d.DistanceM, &d.ReportedAt, &d.Summary)
		d.DistanceM = math.Round(d.DistanceM*10) / 10
		return d, err
	})
}

// codeDay bounds the report time of a code's case by the local date in
// the code, so that a lookup reads one or two monthly partitions.
func (s *Store) codeDay(code string) (from, to time.Time, ok bool) {
	if len(code) < 15 || code[6] != '-' {
		return from, to, false
	}
	d, err := time.ParseInLocation("20060102", code[7:15], s.cfg.Location)
	if err != nil {
		return from, to, false
	}
	return d, d.AddDate(0, 0, 1), true
}

// Get returns a case the principal may see.
func (s *Store) Get(ctx context.Context, p grids.Principal, code string) (Case, error) {
	c, err := s.get(ctx, s.pool, p, code, false)
	if err != nil {
		return c, err
	}
	s.seeAs(p, &c, time.Now())
	return c, nil
}

// get reads a case, locked for update when lock is set; a unit-role
// principal sees only the cases dispatched to its unit.
func (s *Store) get(ctx context.Context, q grids.Querier, p grids.Principal, code string, lock bool) (Case, error) {
	var c Case
	from, to, ok := s.codeDay(code)
	if !ok {
		return c, &grids.NotFoundError{What: "case", Key: code}
	}
	sql := `SELECT ` + caseColumns + ` FROM cases c` + caseJoins +
		` WHERE c.code = @code AND c.reported_at >= @from AND c.reported_at < @to`
	if lock {
		sql += ` FOR UPDATE OF c`
	}
	err := scanCase(q.QueryRow(ctx, sql, pgx.NamedArgs{"code": code, "from": from, "to": to}), &c)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !visible(p, &c)) {
		return c, &grids.NotFoundError{What: "case", Key: code}
	}
	return c, err
}

// visible says whether a principal may see a case at all: a unit sees only
// what is dispatched to it.
func visible(p grids.Principal, c *Case) bool {
	if p.Role != grids.RoleUnit {
		return true
	}
	return c.Unit != nil && c.Unit.Code == p.Unit
}

// Events is a case's history, oldest first.
func (s *Store) Events(ctx context.Context, p grids.Principal, code string) ([]Event, error) {
	c, err := s.get(ctx, s.pool, p, code, false)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT at, actor, actor_role, actor_unit, action, from_status, to_status, note, data
		FROM case_events WHERE case_id = $1 AND at >= $2 ORDER BY at, id`, c.id, c.ReportedAt)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var data []byte
		if err := r.Scan(&e.At, &e.Actor, &e.ActorRole, &e.ActorUnit, &e.Action, &e.From, &e.To, &e.Note, &data); err != nil {
			return e, err
		}
		if len(data) > 2 {
			if err := json.Unmarshal(data, &e.Data); err != nil {
				return e, err
			}
		}
		return e, nil
	})
}
