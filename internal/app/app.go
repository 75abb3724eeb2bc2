// Package app wires citygrid together: the stores over one pool, the locate
// resolver, the HTTP server and the change listener that keeps them fresh.
// `citygrid serve` and the API tests build the service through New, so the
// tests run what production runs.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/cases"
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
	log      *slog.Logger
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
	cc := cfg.Cases
	cc.Clock = func(hours, days int) (cases.Clock, time.Duration) {
		return cal.Current().Clock(calendar.Limit{Hours: hours, WorkingDays: days})
	}
	cs := cases.NewStore(store, resolver, cc)
	srv, err := api.New(store, resolver, migrator, api.Deps{Cases: cs, Calendar: cal}, cfg.Log, cfg.API)
	if err != nil {
		return nil, err
	}
	return &App{Pool: pool, Store: store, Resolver: resolver, Migrator: migrator, Server: srv, Calendar: cal, Cases: cs, log: cfg.Log}, nil
}

// Run keeps the service fresh until ctx ends: it listens for change
// notifications and rebuilds the locate index after them.
func (a *App) Run(ctx context.Context) {
	go grids.Listen(ctx, a.Pool, a.log, a.Server.Changed)
	a.Resolver.Run(ctx)
}
