// Package coverage answers where coverage gaps lie: coverage of a duty over a
// region, the tiling check of grids, proximity rules and patrol coverage.
// What counts as led is the ownership rule's SQL home (the live_leads,
// lead_areas and object_leads views and citygrid_middle, migration 6), never
// redefined here. Computed features (gaps, overlaps, unassigned objects,
// uncovered stretches, grid problems) stream as Findings in whatever
// geometry encoding the caller renders; the GeoJSON writers of the routes
// are thin wrappers over them.
package coverage

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
