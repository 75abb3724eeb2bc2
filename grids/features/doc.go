// Package features is citygrid's GIS output: the catalogue of stored and
// computed layers behind one row interface, query parsing and validation, the
// GeoJSON, GeoJSONSeq and CSV writers, Export, and the vector tile layers.
package features

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
)

// Store is this package's access to PostGIS, over the shared pool.
type Store struct {
	pool *pgxpool.Pool
	core *grids.Store
}

// NewStore returns the package's store over the core store's pool.
func NewStore(core *grids.Store) *Store {
	return &Store{pool: core.Pool(), core: core}
}
