// Package search finds regions, grids, objects and units by name or code,
// ranked and Chinese-aware, and places a hotline caller's address (a
// street, a crossing of two streets, a compound) at a point.
package search

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
)

// Store is this package's access to PostGIS, over the shared pool.
type Store struct {
	pool *pgxpool.Pool
	core *grids.Store
	zone *time.Location // the city's: case codes carry its local date
}

// NewStore returns the package's store over the core store's pool.
func NewStore(core *grids.Store) *Store {
	return &Store{pool: core.Pool(), core: core, zone: calendar.Default()}
}

// WithZone sets the city's time zone (calendar.DefaultZone by default).
func (s *Store) WithZone(loc *time.Location) *Store {
	if loc != nil {
		s.zone = loc
	}
	return s
}
