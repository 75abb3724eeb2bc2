package grids

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// GridRecord is a grid as the API lists it.
type GridRecord struct {
	Code      string          `json:"code"`
	Name      string          `json:"name"`
	Community string          `json:"community"`
	AreaM2    float64         `json:"area_m2"`
	Version   int             `json:"version"`
	ValidFrom time.Time       `json:"valid_from"`
	ValidTo   *time.Time      `json:"valid_to,omitempty"`
	Geometry  json.RawMessage `json:"geometry,omitempty"`
}

// Grids lists live grids of a region (any level), or all.
func (s *Store) Grids(ctx context.Context, region string, withGeom bool, page Page) (List[GridRecord], error) {
	args := pgx.NamedArgs{"region": region, "limit": page.Limit, "offset": page.Offset}
	where := ` WHERE g.valid_to IS NULL AND (@region = '' OR c.code = @region OR sd.code = @region OR d.code = @region)`
	from := ` FROM grids g JOIN regions c ON c.id = g.community_id LEFT JOIN regions sd ON sd.id = c.parent_id LEFT JOIN regions d ON d.id = sd.parent_id`
	out := List[GridRecord]{Items: []GridRecord{}, Limit: page.Limit, Offset: page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+from+where, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+GridRecordColumns(withGeom)+from+where+` ORDER BY g.code LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	out.Items, err = CollectGridRecords(rows)
	return out, err
}

// GridRecordColumns is the select list of a GridRecord over grids g and
// their community c, with the geometry as GeoJSON or NULL; rows of it are
// read by CollectGridRecords.
func GridRecordColumns(withGeom bool) string {
	g := "NULL::text"
	if withGeom {
		g = GeoJSONOf("g.geom")
	}
	return `g.code, g.name, c.code, g.area_m2, g.version, g.valid_from, g.valid_to, ` + g
}

// CollectGridRecords reads rows of GridRecordColumns.
func CollectGridRecords(rows pgx.Rows) ([]GridRecord, error) {
	out := []GridRecord{}
	defer rows.Close()
	for rows.Next() {
		var r GridRecord
		var geom *string
		if err := rows.Scan(&r.Code, &r.Name, &r.Community, &r.AreaM2, &r.Version, &r.ValidFrom, &r.ValidTo, &geom); err != nil {
			return out, err
		}
		if geom != nil {
			r.Geometry = json.RawMessage(*geom)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Grid returns a live grid with its geometry.
func (s *Store) Grid(ctx context.Context, code string) (GridRecord, error) {
	var r GridRecord
	var geom string
	err := s.pool.QueryRow(ctx, `
		SELECT g.code, g.name, c.code, g.area_m2, g.version, g.valid_from, g.valid_to, `+GeoJSONOf("g.geom")+`
		FROM grids g JOIN regions c ON c.id = g.community_id WHERE g.code = @code AND g.valid_to IS NULL`,
		pgx.NamedArgs{"code": code}).Scan(&r.Code, &r.Name, &r.Community, &r.AreaM2, &r.Version, &r.ValidFrom, &r.ValidTo, &geom)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, &NotFoundError{What: "grid", Key: code}
	}
	r.Geometry = json.RawMessage(geom)
	return r, err
}
