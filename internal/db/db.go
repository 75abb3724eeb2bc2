// Package db opens citygrid's connection pool with the settings every
// query relies on, and applies the embedded migrations with goose (and
// river's job tables with rivermigrate).
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/citygrid/citygrid/migrations"
)

// Connect opens a pool to url and checks that it answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "citygrid"
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// PostGIS functions declare high costs, so PostgreSQL would JIT-compile
	// even millisecond queries and add 100-300 ms to each (measured: a
	// 1,000-point ST_Intersects went from 0.9 ms to 138 ms with JIT on).
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	// pgx prepares every statement; after five runs PostgreSQL may switch to
	// a generic plan, which cannot fold away optional filters such as
	// "@region = '' OR <spatial test>" and so runs the spatial test on every
	// row (a whole-city coverage went from 3 s to 9 s). Planning each time
	// costs well under a millisecond.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	// By default pgx answers a context that ends mid-query by closing the
	// socket, and PostgreSQL computes on until it next writes to it (a
	// tile's whole aggregate, an export's next row). A cancel request stops
	// the work there, so a deadline on the context is the statement's
	// timeout too, with no setting sent per query. The socket still closes
	// a second later if the cancel does not land.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
	}
	// pgxpool's default (max(4, CPUs)) starves a server under load; a URL
	// that sets pool_max_conns keeps its own value.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database not reachable: %w", err)
	}
	return pool, nil
}

// Migrator applies the embedded migrations with goose, then river's own
// schema (the job queue behind webhook deliveries) with rivermigrate. A
// session-level advisory lock serialises servers that start at the same
// moment.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
	pool     *pgxpool.Pool
}

// NewMigrator prepares migrations against the pool's database.
func NewMigrator(pool *pgxpool.Pool) (*Migrator, error) {
	db := stdlib.OpenDBFromPool(pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Migrator{db: db, provider: p, pool: pool}, nil
}

// Close releases the migrator's connection.
func (m *Migrator) Close() error { return errors.Join(m.provider.Close(), m.db.Close()) }

// Up applies every pending migration and returns how many ran (river's
// not counted).
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return len(res), err
	}
	return len(res), m.river(ctx, rivermigrate.DirectionUp)
}

// DownTo rolls back to version (0 removes everything, river's tables too).
func (m *Migrator) DownTo(ctx context.Context, version int64) (int, error) {
	if version == 0 {
		if err := m.river(ctx, rivermigrate.DirectionDown); err != nil {
			return 0, err
		}
	}
	res, err := m.provider.DownTo(ctx, version)
	return len(res), err
}

// riverLock is the advisory lock key under which river's schema changes:
// rivermigrate takes no lock of its own.
const riverLock = 727_273

// river brings river's schema fully up or removes it. River versions its
// schema itself (table river_migration), so an upgrade of the pinned river
// module migrates on the next start without a goose file; doing nothing
// when it is current keeps Up idempotent.
func (m *Migrator) river(ctx context.Context, dir rivermigrate.Direction) error {
	conn, err := m.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, riverLock); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, riverLock)
	rm, err := rivermigrate.New(riverpgxv5.New(m.pool), nil)
	if err != nil {
		return err
	}
	opts := &rivermigrate.MigrateOpts{}
	if dir == rivermigrate.DirectionDown {
		opts.TargetVersion = -1 // every step: the schema goes whole
	}
	if _, err := rm.Migrate(ctx, dir, opts); err != nil {
		return fmt.Errorf("river schema: %w", err)
	}
	return nil
}

// Versions reports the database's version and the newest embedded one.
func (m *Migrator) Versions(ctx context.Context) (current, latest int64, err error) {
	return m.provider.GetVersions(ctx)
}

// Status lists each migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	return m.provider.Status(ctx)
}
