// Package app wires citygrid together: the stores over one pool, the locate
// resolver, the HTTP server, the change listener that keeps them fresh, and
// the job queue that delivers webhooks.
// `citygrid serve` and the API tests build the service through New, so the
// tests run what production runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/drafts"
	"github.com/citygrid/citygrid/grids/notices"
	"github.com/citygrid/citygrid/grids/search"
	"github.com/citygrid/citygrid/internal/db"
)

// Config is what New needs besides the pool.
type Config struct {
	Codes grids.CodeRules
	API   api.Config
	Cases cases.Config
	Log   *slog.Logger
	// Prepare runs after the core store exists and before the locate index
	// is built (serve loads the demo city into an empty database here).
	Prepare func(context.Context, *grids.Store) error
	// CalendarZone is the zone whose local days the working calendar
	// counts (nil: Asia/Shanghai).
	CalendarZone *time.Location
	// Notices says how webhook deliveries are made and retried.
	Notices notices.Config
}

// App is a wired service.
type App struct {
	Pool     *pgxpool.Pool
	Store    *grids.Store
	Resolver *grids.Resolver
	Migrator *db.Migrator
	Server   *api.Server
	Calendar *calendar.Holder
	Cases    *cases.Store
	// Notices enqueues and delivers webhooks (its runner starts in Run);
	// Events is the feed of case changes behind /api/v1/events.
	Notices *notices.Store
	Events  *notices.Feed
	log     *slog.Logger
}

// New builds the stores, the locate index, the working calendar and the
// server over pool. The
// migrator is the caller's (serve migrates before New; tests use a
// migrated template).
func New(ctx context.Context, pool *pgxpool.Pool, migrator *db.Migrator, cfg Config) (*App, error) {
	store := grids.NewStore(pool, cfg.Codes)
	if cfg.Prepare != nil {
		if err := cfg.Prepare(ctx, store); err != nil {
			return nil, err
		}
	}
	resolver, err := grids.NewResolver(ctx, pool, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("locate index: %w", err)
	}
	cal, err := calendar.NewHolder(ctx, calendar.NewStore(pool).WithZone(cfg.CalendarZone), cfg.Log)
	if err != nil {
		return nil, err
	}
	ns, err := notices.NewStore(pool, cfg.Notices, cfg.Log)
	if err != nil {
		return nil, err
	}
	feed := notices.NewFeed(pool, cfg.Notices, cfg.Log)
	cfg.API.Notices, cfg.API.Events = ns, feed
	cc := cfg.Cases
	if cc.Location == nil {
		cc.Location = cal.Current().Zone() // case codes carry the calendar's local date
	}
	cc.Clock = func(hours, days int) (cases.Clock, time.Duration) {
		return cal.Current().Clock(calendar.Limit{Hours: hours, WorkingDays: days})
	}
	cc.Notify = func(ctx context.Context, tx pgx.Tx, n cases.Notice) error {
		return ns.Enqueue(ctx, tx, notices.Notice{Kind: n.Kind, Case: n.Case, Unit: n.Unit, At: n.At, Data: n.Data})
	}
	ss := search.NewStore(store).WithZone(cc.Location)
	cc.Geocode = func(ctx context.Context, address, region string) (cases.Place, error) {
		pl, err := ss.Geocode(ctx, address, region)
		if err != nil {
			return cases.Place{}, err
		}
		match := pl.Match.Name
		if pl.Why != "" {
			match += " (" + pl.Why + ")"
		}
		return cases.Place{Lon: pl.Point[0], Lat: pl.Point[1], Match: match, Ambiguous: pl.Ambiguous}, nil
	}
	cs := cases.NewStore(store, resolver, cc)
	if err := cs.EnsurePartitions(ctx); err != nil {
		return nil, fmt.Errorf("case partitions: %w", err)
	}
	// Once per database in effect: later suspensions keep their deadline.
	// A failure leaves the old cases as they were and must not keep the
	// server from answering.
	mending := time.Now()
	if n, err := cs.KeepMissedDeadlines(ctx); err != nil {
		cfg.Log.Warn("the missed deadlines of suspended cases", "err", err)
	} else if n > 0 {
		cfg.Log.Info("kept the missed deadlines of suspended cases stored before migration 22", "cases", n,
			"took", time.Since(mending).Round(time.Millisecond).String())
	}
	// The deadline notices (黄牌, 红牌), the next months' partitions and the
	// tile counts' fold run on river's elected leader: once per period
	// across all servers.
	for _, p := range []notices.Periodic{
		{Name: "case_deadlines", Every: time.Minute, Run: func(ctx context.Context) error { _, err := cs.ScanDeadlines(ctx); return err }},
		{Name: "case_partitions", Every: 24 * time.Hour, Run: cs.EnsurePartitions},
		// Often, so that clustered tiles read few pending changes.
		{Name: "case_tiles", Every: 5 * time.Second, Run: func(ctx context.Context) error { _, err := cs.FoldTiles(ctx, 0); return err }},
	} {
		if err := ns.Register(p); err != nil {
			return nil, err
		}
	}
	srv, err := api.New(store, resolver, migrator, api.Deps{Cases: cs, Calendar: cal, Search: ss, Drafts: drafts.NewStore(store)}, cfg.Log, cfg.API)
	if err != nil {
		return nil, err
	}
	return &App{Pool: pool, Store: store, Resolver: resolver, Migrator: migrator, Server: srv, Calendar: cal, Cases: cs,
		Notices: ns, Events: feed, log: cfg.Log}, nil
}

// Run keeps the service fresh until ctx ends: it listens for change
// notifications and rebuilds the locate index after them, feeds the event
// stream, and works webhook deliveries and periodic jobs (register those
// before Run). Stop ends the work gracefully; the end of ctx cancels it.
func (a *App) Run(ctx context.Context) {
	go func() {
		grids.ListenAll(ctx, a.Pool, a.log,
			grids.Channel{Name: grids.ChangeChannel, Fn: a.Server.Changed, ResyncFirst: true}, a.Events.Channel())
		a.Events.Close()
	}()
	if err := a.Notices.Start(ctx); err != nil {
		a.log.Error("the job queue did not start: webhooks wait until a server runs it", "err", err)
	}
	a.Resolver.Run(ctx)
}

// CloseStreams ends the event streams, which would otherwise keep an HTTP
// server's graceful shutdown waiting.
func (a *App) CloseStreams() { a.Events.Close() }

// Stop lets running webhook deliveries finish (until ctx ends) and stops
// taking new ones.
func (a *App) Stop(ctx context.Context) error { return a.Notices.Stop(ctx) }
