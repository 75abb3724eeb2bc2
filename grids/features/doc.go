// Package features is citygrid's GIS output: the catalogue of stored and
// computed layers behind one row interface, query parsing and validation, the
// GeoJSON, GeoJSONSeq and CSV writers, Export, and the vector tile layers.
//
// Stored layers (Collections) are SQL read through a database cursor;
// computed ones (gaps, grid_check) are made on request by the source their
// catalogue entry holds (computed.go) and come out as the same FeatureRow.
// ParseQuery reads request parameters once for exports and OGC items and
// refuses with domain errors (grids.MalformedError, grids.ValidationError),
// which the HTTP layer maps; Export is shared by the HTTP export and
// `citygrid export`. The tile layers (TileLayers) are SQL rendered to
// Mapbox Vector Tiles by PostGIS; caching them is HTTP's business.
package features

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
)

// Store is this package's access to PostGIS, over the shared pool.
type Store struct {
	pool *pgxpool.Pool
	core *grids.Store
	cov  *coverage.Store // the computed layers' findings
}

// NewStore returns the package's store over the core store's pool.
func NewStore(core *grids.Store) *Store {
	return &Store{pool: core.Pool(), core: core, cov: coverage.NewStore(core)}
}
