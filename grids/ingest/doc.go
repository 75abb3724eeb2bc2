// Package ingest reads the outside world into citygrid: GeoJSON regions,
// grids, units and objects, OpenStreetMap extracts through the layer mapping
// table, assignments in bulk, and GPX or GeoJSON patrol tracks; every import
// is checked whole and written in one transaction.
package ingest

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
