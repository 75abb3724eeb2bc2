// Package derive draws what a city's data lacks: subdistricts from their
// centre points, communities and unit grids along the streets, the default
// duties of a new city, and the demo cities built from real data.
package derive

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
)

// Store is this package's access to PostGIS, over the shared pool. The demo
// cities are built from files, so it imports through ingest.
type Store struct {
	pool   *pgxpool.Pool
	core   *grids.Store
	ingest *ingest.Store
}

// NewStore returns the package's store over the core store's pool.
func NewStore(core *grids.Store) *Store {
	return &Store{pool: core.Pool(), core: core, ingest: ingest.NewStore(core)}
}
