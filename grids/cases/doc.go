// Package cases holds reported problems carried through the closed loop
// (report, register, dispatch, handle, verify, close): intake routed from
// the locate snapshot, the workflow state machine with its history, the
// clock of time limits, duplicates, photos and the queries of queues.
package cases

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
)

// Clock measures a time limit: natural time for limits in hours, the
// working calendar for limits in working days (grids/calendar).
type Clock interface {
	Add(t time.Time, d time.Duration) time.Time
	Between(a, b time.Time) time.Duration
}

// Notice is a notification the workflow commits with a transition, for the
// units' webhooks (grids/notices delivers them).
type Notice struct {
	Kind string // dispatched, returned, verification_failed, deadline_warning, overdue
	Case string
	Unit string
	At   time.Time
	Data map[string]any
}

// Notice kinds.
const (
	NoticeDispatched         = "dispatched"
	NoticeReturned           = "returned"
	NoticeVerificationFailed = "verification_failed"
	NoticeDeadlineWarning    = "deadline_warning"
	NoticeOverdue            = "overdue"
)

// Config is what the store needs besides the pool.
type Config struct {
	// Location is the city's time zone: case codes carry its local date.
	Location *time.Location
	// RegisterWithin is the limit of on-time registration (按时立案).
	RegisterWithin time.Duration
	// Clock gives the clock and the duration of a limit in hours or in
	// working days; nil uses a calendar of weekends only.
	Clock func(hours, days int) (Clock, time.Duration)
	// Notify commits a notice in the transition's transaction; nil drops
	// notices.
	Notify func(ctx context.Context, tx pgx.Tx, n Notice) error
	// Geocode places an address given without a point; nil refuses such
	// reports.
	Geocode func(ctx context.Context, address, region string) (Place, error)
	// PhotoLimit caps one photo, in bytes (0: 10 MiB).
	PhotoLimit int64
	Log        *slog.Logger
}

// Place is where an address was placed.
type Place struct {
	Lon, Lat  float64
	Match     string // what matched, for the dispatcher
	Ambiguous bool
}

// Store keeps cases, their events and photos.
type Store struct {
	pool     *pgxpool.Pool
	core     *grids.Store
	resolver *grids.Resolver
	cfg      Config
	months   months // the monthly partitions, for intake's duplicate search
	intake   *grids.Named
}

// NewStore returns the case store over the core store's pool; routing
// reads the resolver's snapshot.
func NewStore(core *grids.Store, resolver *grids.Resolver, cfg Config) *Store {
	if cfg.Location == nil {
		cfg.Location = calendar.Default()
	}
	if cfg.RegisterWithin <= 0 {
		cfg.RegisterWithin = time.Hour
	}
	if cfg.PhotoLimit <= 0 {
		cfg.PhotoLimit = 10 << 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		weekends := calendar.New(cfg.Location, nil)
		cfg.Clock = func(hours, days int) (Clock, time.Duration) {
			return weekends.Clock(calendar.Limit{Hours: hours, WorkingDays: days})
		}
	}
	return &Store{pool: core.Pool(), core: core, resolver: resolver, cfg: cfg, intake: &grids.Named{SQL: intakeSQL}}
}

// clock is the clock and duration of a case's limit.
func (s *Store) clock(hours, days *int) (Clock, time.Duration, bool) {
	h, d := deref(hours), deref(days)
	if h == 0 && d == 0 {
		return nil, 0, false
	}
	c, dur := s.cfg.Clock(h, d)
	return c, dur, true
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
