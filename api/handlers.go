package api

import (
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/features"
	"github.com/citygrid/citygrid/grids/history"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/grids/search"
)

// The handlers come in groups by what they serve, each holding only the
// dependencies it uses; Server holds the groups, the middleware and the
// routes.

// placesAPI serves the core tables: regions, units, objects, grids and
// assignments.
type placesAPI struct {
	store       *grids.Store
	assignments *grids.AssignmentStore
	cov         *coverage.Store // the grid check
	cfg         Config
}

// coverageAPI serves coverage, gaps, proximity rules and patrols.
type coverageAPI struct {
	cov    *coverage.Store
	ingest *ingest.Store
	cfg    Config
}

// gisAPI serves GIS out: exports, the OGC API – Features and vector tiles,
// with their caches and export slots.
type gisAPI struct {
	features *features.Store
	log      *slog.Logger
	cfg      Config
	exports  chan struct{} // a slot per running export
	extents  extentCache
	tiles    *tileService
}

// calendarAPI serves the working calendar: holidays and make-up working
// days per year.
type calendarAPI struct {
	holder *calendar.Holder
	log    *slog.Logger
	cfg    Config
}

// searchAPI serves the search box and address placing.
type searchAPI struct {
	search *search.Store
}

// historyAPI serves the grids' history (versions, the layout at a moment,
// diffs) and their load figures.
type historyAPI struct {
	history *history.Store
	pool    *pgxpool.Pool // the load figures' queries
}
