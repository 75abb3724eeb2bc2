package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/citygrid/citygrid/internal/app"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/logw"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/notices"
	"github.com/citygrid/citygrid/internal/pgrun"
	"github.com/citygrid/citygrid/web"
)

func runServe(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: citygrid serve [flags]\n\nRuns the HTTP API and the map. Applies pending migrations first.\n\n"+
			"Webhook deliveries (env): CITYGRID_WEBHOOK_TIMEOUT (10s), CITYGRID_WEBHOOK_RETRY (10s,30s,2m,10m,30m,1h,2h,4h,8h,8h),\n"+
			"CITYGRID_WEBHOOK_MAX_ATTEMPTS (retries + 1), CITYGRID_WEBHOOK_WORKERS (10), CITYGRID_JOBS_RESCUE_AFTER (2m: a delivery\n"+
			"running that long on a server that died is tried again), CITYGRID_WEBHOOK_ALLOW (none: address ranges such as\n"+
			"127.0.0.0/8 that webhooks may reach although loopback, link-local, multicast or unspecified).\n\nFlags:")
		fs.PrintDefaults()
	}
	commonFlags(fs, &cfg)
	fs.StringVar(&cfg.Addr, "addr", envOr("CITYGRID_ADDR", ":8080"), "listen address (env CITYGRID_ADDR)")
	fs.StringVar(&cfg.AdminToken, "admin-token", "", "accept this value as an admin token (prefer env CITYGRID_ADMIN_TOKEN, which ps cannot show)")
	fs.BoolVar(&cfg.Migrate, "migrate", true, "apply pending migrations at start")
	demo := fs.String("demo", "auto", "load a generated demo city into an empty database: auto (only for the local cluster), generated or none")
	demoGrids := fs.Int("demo-grids", 2000, "size of the generated demo city, in grids")
	maxExports := fs.Int("max-exports", envInt("CITYGRID_MAX_EXPORTS", 6), "exports streaming at once; each holds a database connection (env CITYGRID_MAX_EXPORTS)")
	calendarZone := fs.String("calendar-zone", envOr("CITYGRID_CALENDAR_ZONE", calendar.DefaultZone), "time zone whose local days the working calendar counts (env CITYGRID_CALENDAR_ZONE)")
	var basemap api.Basemap
	fs.StringVar(&basemap.URL, "basemap-url", os.Getenv("CITYGRID_BASEMAP_URL"), "external basemap under citygrid's own tiles: a MapLibre style URL or a raster\n"+
		"tile template with {z}/{x}/{y} (e.g. 天地图 with its key; public, browsers load it); empty draws\n"+
		"the map from citygrid's tiles only, which needs no internet (env CITYGRID_BASEMAP_URL)")
	fs.StringVar(&basemap.Attribution, "basemap-attribution", os.Getenv("CITYGRID_BASEMAP_ATTRIBUTION"), "credit line the map shows for the basemap (env CITYGRID_BASEMAP_ATTRIBUTION)")
	tileCacheMB := fs.Int("tile-cache-mb", envInt("CITYGRID_TILE_CACHE_MB", 64), "memory for cached vector tiles, in MiB (env CITYGRID_TILE_CACHE_MB)")
	procs := fs.Int("procs", envInt("CITYGRID_PROCS", 0), "goroutines running Go code at once (GOMAXPROCS); 0: four per CPU, or GOMAXPROCS when the\n"+
		"environment sets it (env CITYGRID_PROCS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	runtime.GOMAXPROCS(serveProcs(*procs, os.Getenv("GOMAXPROCS") != "", runtime.GOMAXPROCS(0)))
	if cfg.AdminToken == "" {
		cfg.AdminToken = os.Getenv("CITYGRID_ADMIN_TOKEN")
	}
	// Lines are written in batches from one goroutine, so that a request's
	// access log costs a copy, not a system call; warnings and errors are
	// written at once.
	logOut := logw.New(os.Stderr, 0)
	defer logOut.Close()
	log, err := newLogger(cfg.LogLevel, logOut)
	if err != nil {
		return err
	}
	log = slog.New(logw.Urgent(log.Handler(), logOut))
	zone, err := calendar.LoadZone(*calendarZone)
	if err != nil {
		return err
	}
	started := time.Now()
	pool, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := db.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer migrator.Close()
	if cfg.Migrate {
		n, err := migrator.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		log.Info("migrations applied", "count", n)
	}
	rules, err := cfg.codeRules()
	if err != nil {
		return err
	}
	noticeCfg, err := noticeConfig()
	if err != nil {
		return err
	}
	a, err := app.New(ctx, pool, migrator, app.Config{
		Codes:   rules,
		Log:     log,
		Notices: noticeCfg,
		API: api.Config{AdminToken: cfg.AdminToken, Version: version, Web: web.Handler(), Basemap: basemap,
			TileCacheBytes: int64(*tileCacheMB) << 20, MaxExports: *maxExports},
		Prepare: func(ctx context.Context, store *grids.Store) error {
			if *demo == "generated" || (*demo == "auto" && cfg.DatabaseURL == "") {
				return loadDemoIfEmpty(ctx, store, *demoGrids, log)
			}
			return nil
		},
		CalendarZone: zone,
	})
	if err != nil {
		return err
	}
	if !web.Built() {
		log.Warn("the map app is not built into this binary; run `make web` and rebuild (make run does both)")
	}

	listenCtx, stopListening := context.WithCancel(context.Background())
	defer stopListening()
	go a.Run(listenCtx)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           a.Server,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// Event streams never go idle: they end when shutdown starts.
	hs.RegisterOnShutdown(a.CloseStreams)
	log.Info("citygrid serving", "addr", ln.Addr().String(), "version", version, "startup", time.Since(started).Round(time.Millisecond).String())
	logOut.Flush() // the banner comes after the lines before it
	fmt.Fprintf(os.Stderr, "\n  citygrid 城市网格 is up: http://%s\n\n", displayAddr(ln.Addr()))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, let running requests finish.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Deliveries in flight finish (or are cancelled at the deadline and
	// retried by the next server); queued ones wait in the database.
	if err := a.Stop(shutdownCtx); err != nil {
		log.Warn("job queue stopped with work cancelled", "err", err)
	}
	log.Info("stopped")
	return nil
}

// noticeConfig reads the webhook delivery settings from the environment;
// the defaults suit production, tests shorten them.
func noticeConfig() (notices.Config, error) {
	var c notices.Config
	var err error
	dur := func(name string, into *time.Duration) {
		if v := os.Getenv(name); v != "" && err == nil {
			if *into, err = time.ParseDuration(v); err != nil || *into <= 0 {
				err = fmt.Errorf("%s: want a duration such as 30s, got %q", name, v)
			}
		}
	}
	dur("CITYGRID_WEBHOOK_TIMEOUT", &c.Timeout)
	dur("CITYGRID_JOBS_RESCUE_AFTER", &c.RescueStuckAfter)
	if v := os.Getenv("CITYGRID_WEBHOOK_RETRY"); v != "" && err == nil {
		for _, part := range strings.Split(v, ",") {
			d, perr := time.ParseDuration(strings.TrimSpace(part))
			if perr != nil || d <= 0 {
				return c, fmt.Errorf("CITYGRID_WEBHOOK_RETRY: want durations separated by commas such as 10s,30s,2m, got %q", v)
			}
			c.Retry = append(c.Retry, d)
		}
	}
	if v := os.Getenv("CITYGRID_WEBHOOK_ALLOW"); v != "" && err == nil {
		for _, part := range strings.Split(v, ",") {
			p, perr := netip.ParsePrefix(strings.TrimSpace(part))
			if perr != nil {
				return c, fmt.Errorf("CITYGRID_WEBHOOK_ALLOW: want address ranges separated by commas such as 127.0.0.0/8,::1/128, got %q", v)
			}
			c.Allow = append(c.Allow, p)
		}
	}
	c.MaxAttempts = envInt("CITYGRID_WEBHOOK_MAX_ATTEMPTS", 0)
	c.Workers = envInt("CITYGRID_WEBHOOK_WORKERS", 0)
	return c, err
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if ok && (tcp.IP.IsUnspecified() || tcp.IP == nil) {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}

// localCluster is the embedded default database.
func localCluster(cfg config) *pgrun.Cluster {
	return pgrun.New(pgrun.Config{Dir: cfg.DataDir, Port: cfg.DBPort, Install: true, Log: os.Stderr})
}

// openDatabase connects to DATABASE_URL, or starts the local cluster and
// connects to it.
func openDatabase(ctx context.Context, cfg config, log *slog.Logger) (*pgxpool.Pool, error) {
	url := cfg.DatabaseURL
	if url == "" {
		c := localCluster(cfg)
		t := time.Now()
		if err := c.Start(ctx); err != nil {
			return nil, fmt.Errorf("local database: %w", err)
		}
		if url, err := c.URL(); err != nil {
			return nil, err
		} else {
			log.Info("local PostGIS cluster ready", "data", cfg.DataDir, "port", cfg.DBPort, "took", time.Since(t).Round(time.Millisecond).String())
			return db.Connect(ctx, url)
		}
	}
	return db.Connect(ctx, url)
}

// loadDemoIfEmpty fills a database that has no regions with the generated
// demo city, so that a first `make run` shows a working city.
func loadDemoIfEmpty(ctx context.Context, store *grids.Store, n int, log *slog.Logger) error {
	list, err := store.Regions(ctx, grids.RegionFilter{}, grids.Page{Limit: 1})
	if err != nil || list.Total > 0 {
		return err
	}
	log.Info("empty database: loading the generated demo city", "grids", n)
	t := time.Now()
	sum, err := citygen.Load(ctx, store, citygen.Config{Grids: n, Seed: 1}, func(s string) { log.Info("demo city", "step", s) })
	if err != nil {
		return fmt.Errorf("demo city: %w", err)
	}
	log.Info("demo city loaded", "grids", sum.Grids, "objects", sum.Objects, "units", sum.Units, "assignments", sum.Assignments,
		"took", time.Since(t).Round(time.Millisecond).String())
	return nil
}

// serveProcs is the server's GOMAXPROCS: asked, or the environment's, or
// four per CPU the runtime found (cpus). citygrid shares its cores with
// PostgreSQL's backends (make run puts both on one machine) and whatever
// else runs there; with one P per core, a thread the kernel preempts keeps
// its P and the requests queued on it wait out the other process's time
// slice. With more Ps than cores the kernel shares the cores among them:
// locate at 64 connections on 2 cores, load generator included, kept its
// 56–58k req/s and its p99 fell from 17–31 ms to 6 ms (docs/benchmarks.md).
func serveProcs(asked int, fromEnv bool, cpus int) int {
	switch {
	case asked > 0:
		return asked
	case fromEnv:
		return cpus
	default:
		return 4 * cpus
	}
}
