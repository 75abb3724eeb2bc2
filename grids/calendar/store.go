package calendar

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
)

// Table is the table of exceptions, as change notifications name it.
const Table = "calendar_days"

// Store reads and writes the calendar's exceptions.
type Store struct {
	pool *pgxpool.Pool
	zone *time.Location
}

// NewStore is a store over pool whose calendars count the local days of
// Asia/Shanghai; WithZone changes the zone.
func NewStore(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, zone: mustZone(DefaultZone)}
}

// WithZone is a copy of the store whose calendars count the local days of
// zone (nil keeps the store's).
func (s *Store) WithZone(zone *time.Location) *Store {
	c := *s
	if zone != nil {
		c.zone = zone
	}
	return &c
}

// Zone is the zone of the store's calendars.
func (s *Store) Zone() *time.Location { return s.zone }

// Load reads every exception (a few dozen rows a year) into a calendar.
func (s *Store) Load(ctx context.Context) (*Calendar, error) {
	rows, err := s.pool.Query(ctx, `SELECT to_char(day, 'YYYY-MM-DD'), kind, name FROM calendar_days ORDER BY day`)
	if err != nil {
		return nil, fmt.Errorf("loading the calendar: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Day, error) {
		var d Day
		var date string
		if err := r.Scan(&date, &d.Kind, &d.Name); err != nil {
			return d, err
		}
		d.Date, err = ParseDate(date)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading the calendar: %w", err)
	}
	return New(s.zone, days), nil
}

// ReplaceYear makes days the whole of year's exceptions, in one
// transaction. The days must have passed CheckYear.
func (s *Store) ReplaceYear(ctx context.Context, year int, days []Day) error {
	if err := CheckYearNumber(year); err != nil {
		return err
	}
	dates, kinds, names := make([]string, len(days)), make([]string, len(days)), make([]string, len(days))
	for i, d := range days {
		if d.Date.Year != year {
			return grids.Invalid(fmt.Sprintf("days/%d/date", i), "%s is not in %d", d.Date, year)
		}
		dates[i], kinds[i], names[i] = d.Date.String(), string(d.Kind), d.Name
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	// Two replacements of one year at once would each delete only the rows
	// they see and then collide on insert: take turns (readers still read).
	if _, err := tx.Exec(ctx, `LOCK TABLE calendar_days IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return err
	}
	args := pgx.NamedArgs{"from": Date{year, time.January, 1}.String(), "to": Date{year + 1, time.January, 1}.String(),
		"dates": dates, "kinds": kinds, "names": names}
	if _, err := tx.Exec(ctx, `DELETE FROM calendar_days WHERE day >= @from::date AND day < @to::date`, args); err != nil {
		return err
	}
	if len(days) > 0 {
		_, err := tx.Exec(ctx, `INSERT INTO calendar_days (day, kind, name)
			SELECT d::date, k, n FROM unnest(@dates::text[], @kinds::text[], @names::text[]) AS u (d, k, n)`, args)
		if err != nil {
			if _, state := grids.PgConstraint(err); state == grids.SQLCheckViolation || state == grids.SQLUniqueViolation {
				return grids.Invalid("days", "refused by the database: %v", err)
			}
			return err
		}
	}
	return tx.Commit(ctx)
}
