// Package api is citygrid's HTTP interface: Echo routes, request binding and
// validation, authentication, one error mapper, metrics and the OpenAPI
// document, and the OGC API and tile adapters over grids/features. Business
// rules live in grids and its packages; this package only translates.
package api

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/citygrid/citygrid/internal/db"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/drafts"
	"github.com/citygrid/citygrid/grids/features"
	"github.com/citygrid/citygrid/grids/history"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/grids/notices"
	"github.com/citygrid/citygrid/grids/search"
)

// Config is what the server needs besides its dependencies.
type Config struct {
	// AdminToken, when set, is accepted as an admin token.
	AdminToken string
	// BodyLimit caps JSON bodies of ordinary writes, in bytes.
	BodyLimit int64
	// ImportLimit caps import bodies, in bytes.
	ImportLimit int64
	// BatchLimit caps batch locate bodies, in bytes.
	BatchLimit int64
	// Version is reported by /healthz.
	Version string
	// Web serves the map app at /; nil serves nothing there.
	Web http.Handler
	// Basemap is the external map the app draws under citygrid's tiles
	// (zero: none, the map is citygrid's tiles only).
	Basemap Basemap
	// TileCacheBytes bounds the vector tile cache (0: 64 MiB).
	TileCacheBytes int64
	// MaxExports is how many exports may stream at once (0: 6). Each holds
	// a database connection for as long as its client reads, so a few slow
	// readers must not take the whole pool.
	MaxExports int
	// ExportWait is how long an export waits for a slot before a 503
	// (0: 10 s).
	ExportWait time.Duration
	// Notices keeps webhooks and their delivery log, Events feeds the case
	// event stream; internal/app builds both (nil: idle ones over the pool).
	Notices *notices.Store
	Events  *notices.Feed
}

// Server holds the HTTP handlers and their dependencies.
type Server struct {
	store       *grids.Store
	ingest      *ingest.Store
	resolver    *grids.Resolver
	migrator    *db.Migrator
	log         *slog.Logger
	cfg         Config
	echo        *echo.Echo
	handler     http.Handler // echo, compressing what clients accept compressed
	metrics     *metrics
	tokens      *tokenCache
	tokenStore  *grids.TokenStore
	places      *placesAPI
	cover       *coverageAPI
	gis         *gisAPI
	cases       *casesAPI
	calendar    *calendarAPI
	notices     *noticesAPI
	stats       *statsAPI
	search      *searchAPI
	history     *historyAPI
	drafts      *draftsAPI
	appConfig   *appConfigAPI
	openapiJSON []byte
	scratch     sync.Pool // of *locateScratch
}

// Deps are the job packages' stores the handlers serve, built by the
// wiring (internal/app).
type Deps struct {
	Cases *cases.Store
	// Calendar is the working calendar, kept fresh by its holder's owner.
	Calendar *calendar.Holder
	// Search finds places, units and cases by name or code (nil: built here).
	Search *search.Store
	// Drafts keeps planners' drafts of grids (nil: built here).
	Drafts *drafts.Store
}

// New builds the server and registers every route.
func New(store *grids.Store, resolver *grids.Resolver, migrator *db.Migrator, deps Deps, log *slog.Logger, cfg Config) (*Server, error) {
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 8 << 20
	}
	if cfg.ImportLimit == 0 {
		cfg.ImportLimit = 2 << 30
	}
	if cfg.MaxExports <= 0 {
		cfg.MaxExports = 6
	}
	if cfg.ExportWait <= 0 {
		cfg.ExportWait = 10 * time.Second
	}
	if cfg.BatchLimit == 0 {
		cfg.BatchLimit = 4 << 20 // 10,000 points with properties fit easily
	}
	s := &Server{
		store:      store,
		ingest:     ingest.NewStore(store),
		resolver:   resolver,
		migrator:   migrator,
		log:        log,
		cfg:        cfg,
		echo:       echo.New(),
		tokens:     newTokenCache(time.Minute),
		tokenStore: grids.NewTokenStore(store.Pool()),
	}
	cov := coverage.NewStore(store)
	s.places = &placesAPI{store: store, assignments: grids.NewAssignmentStore(store.Pool()), cov: cov, cfg: cfg}
	s.cover = &coverageAPI{cov: cov, ingest: s.ingest, cfg: cfg}
	s.cases = &casesAPI{cases: deps.Cases, cfg: cfg}
	s.calendar = &calendarAPI{holder: deps.Calendar, log: log, cfg: cfg}
	if deps.Drafts == nil {
		deps.Drafts = drafts.NewStore(store)
	}
	s.drafts = &draftsAPI{drafts: deps.Drafts, resolver: resolver, log: log, cfg: cfg}
	if cfg.Notices == nil {
		ns, err := notices.NewStore(store.Pool(), notices.Config{}, log)
		if err != nil {
			return nil, err
		}
		cfg.Notices = ns
	}
	if cfg.Events == nil {
		cfg.Events = notices.NewFeed(store.Pool(), notices.Config{}, log)
	}
	s.notices = &noticesAPI{store: cfg.Notices, feed: cfg.Events, cfg: cfg}
	hotspots, err := cases.NewHotspots(deps.Cases, 0)
	if err != nil {
		return nil, err
	}
	s.stats = &statsAPI{cases: deps.Cases, hot: hotspots}
	if deps.Search == nil {
		deps.Search = search.NewStore(store)
	}
	s.search = &searchAPI{search: deps.Search}
	s.appConfig = &appConfigAPI{store: store, cfg: cfg}
	s.history = &historyAPI{history: history.NewStore(store), pool: store.Pool()}
	doc, err := openapiJSON()
	if err != nil {
		return nil, err
	}
	s.openapiJSON = doc
	s.metrics = newMetrics(store)
	s.gis = &gisAPI{features: features.NewStore(store), log: log, cfg: cfg,
		exports: make(chan struct{}, cfg.MaxExports), tiles: newTileService(cfg.TileCacheBytes, s.metrics.reg)}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.JSONSerializer = jsonSerializer{}
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RequestID())
	e.Use(s.accessLog)
	e.Use(s.metrics.middleware)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("panic", append(logAttrs(c), "err", err, "stack", string(stack))...)
			return err
		},
	}))
	s.register()
	s.metrics.prepare(e.Routes())
	if s.handler, err = compressed(s.echo); err != nil {
		return nil, err
	}
	return s, nil
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Registry is the Prometheus registry behind /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

// Changed tells the server that a table changed (from the store's change
// listener): cached credentials are dropped when users or tokens change,
// cached tiles when a table their layer reads changes.
func (s *Server) Changed(table string) {
	s.resolver.Changed(table)
	s.gis.tiles.cache.changed(table)
	s.gis.extents.changed(table)
	s.appConfig.changed(table)
	s.calendar.holder.Changed(table)
	switch table {
	case "api_tokens", "users", "units", grids.AnyChange:
		s.tokens.clear()
	}
}

func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		ctx := c.Request().Context()
		if !s.log.Enabled(ctx, level) {
			return nil
		}
		// Typed attributes in an array on the stack: no boxing into any
		// and no slice to grow for each request.
		var buf [10]slog.Attr
		attrs := append(buf[:0],
			requestIDAttr(c),
			slog.String("method", c.Request().Method),
			slog.String("route", c.Path()),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.RealIP()))
		if p, ok := c.Get(principalKey).(grids.Principal); ok {
			attrs = append(attrs, slog.String("user", p.User), slog.String("role", string(p.Role)))
		}
		s.log.LogAttrs(ctx, level, "request", attrs...)
		return nil
	}
}

const principalKey = "citygrid.principal"

// authenticate requires a bearer token on every /api/v1 route.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			secret, ok = strings.CutPrefix(h, "bearer ")
		}
		secret = strings.TrimSpace(secret)
		if !ok || secret == "" {
			return grids.ErrUnauthenticated
		}
		p, err := s.principal(c.Request().Context(), secret)
		if err != nil {
			return err
		}
		c.Set(principalKey, p)
		return next(c)
	}
}

func (s *Server) principal(ctx context.Context, secret string) (grids.Principal, error) {
	if s.cfg.AdminToken != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.AdminToken)) == 1 {
		return grids.Principal{User: "admin (CITYGRID_ADMIN_TOKEN)", Role: grids.RoleAdmin}, nil
	}
	if p, ok := s.tokens.get(secret); ok {
		return p, nil
	}
	p, err := s.tokenStore.Authenticate(ctx, secret)
	if err != nil {
		return p, err
	}
	s.tokens.put(secret, p)
	return p, nil
}

// allow lets only the given roles through; admin may do everything.
func allow(roles ...grids.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, _ := c.Get(principalKey).(grids.Principal)
			if p.Role == grids.RoleAdmin {
				return next(c)
			}
			for _, r := range roles {
				if p.Role == r {
					return next(c)
				}
			}
			return grids.ErrForbidden
		}
	}
}
