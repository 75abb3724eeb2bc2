package grids

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/citygrid/citygrid/geo"
)

// Querier is what both a pool and a transaction offer.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// geomSQL renders a stored geometry as RFC 7946 GeoJSON: exterior rings
// counter-clockwise, holes clockwise, 7 decimals (about 1 cm).
const geomSQL = `ST_AsGeoJSON(ST_ForcePolygonCCW(%s), 7)`

// GeoJSONOf renders the geometry column col as RFC 7946 GeoJSON text.
func GeoJSONOf(col string) string { return fmt.Sprintf(geomSQL, col) }

// PrepareGeometry checks a WGS84 geometry's structure in Go and its topology
// in PostGIS, and returns its WKB for insertion with ST_GeomFromWKB(…, 4326).
// field names the input field in errors. allowed lists the accepted types;
// a Polygon is promoted to MultiPolygon when only MultiPolygon is allowed.
func PrepareGeometry(ctx context.Context, q Querier, field string, g orb.Geometry, allowed ...string) ([]byte, error) {
	if g == nil {
		return nil, Invalid(field, "geometry is required")
	}
	if p, ok := g.(orb.Polygon); ok && len(allowed) == 1 && allowed[0] == "MultiPolygon" {
		g = orb.MultiPolygon{p}
	}
	if len(allowed) > 0 {
		ok := false
		for _, a := range allowed {
			ok = ok || g.GeoJSONType() == a
		}
		if !ok {
			return nil, Invalid(field, "geometry type %s is not accepted here (want %v)", g.GeoJSONType(), allowed)
		}
	}
	if err := geo.Validate(g); err != nil {
		return nil, Invalid(field, "%v", err)
	}
	b, err := wkb.Marshal(g)
	if err != nil {
		return nil, Invalid(field, "cannot encode geometry: %v", err)
	}
	var valid bool
	var reason string
	err = q.QueryRow(ctx, `
		SELECT ST_IsValid(g), ST_IsValidReason(g)
		FROM (SELECT ST_GeomFromWKB(@wkb, 4326) AS g) AS x`,
		pgx.NamedArgs{"wkb": b}).Scan(&valid, &reason)
	if err != nil {
		return nil, err
	}
	if !valid {
		return nil, Invalid(field, "invalid geometry: %s", reason)
	}
	return b, nil
}
