// Package gridstest holds what the tests of grids and its job packages
// share: a core store on a fresh migrated database, imports from a string,
// and small geometries.
package gridstest

import (
	"context"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
	"github.com/citygrid/citygrid/internal/testdb"
)

// NewStore returns a core store on a fresh database, dropped after t.
func NewStore(t testing.TB) *grids.Store {
	t.Helper()
	return grids.NewStore(testdb.Pool(t), grids.DefaultCodeRules())
}

// Ptr returns a pointer to v, for optional input fields.
func Ptr[T any](v T) *T { return &v }

// Square is the polygon of a d-degree square with its south-west corner at
// x, y.
func Square(x, y, d float64) orb.Polygon {
	return orb.Polygon{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}
}

// ImportString imports a GeoJSON FeatureCollection given as text.
func ImportString(t testing.TB, s *grids.Store, body string, opt ingest.ImportOptions) (ingest.ImportResult, error) {
	t.Helper()
	fr, err := geo.NewFeatureReader(strings.NewReader(body))
	if err != nil {
		return ingest.ImportResult{}, err
	}
	return ingest.NewStore(s).Import(context.Background(), fr, opt)
}
