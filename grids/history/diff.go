package history

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Change kinds of a diff, per code.
const (
	Added    = "added"    // no version at from, one at to
	Removed  = "removed"  // a version at from, none at to
	Reshaped = "reshaped" // another version with another geometry
	Renamed  = "renamed"  // another version, same geometry, another name
	Revised  = "revised"  // another version, same geometry and name (moved community, attributes)
)

// DiffProps are a changed grid's properties in the diff's GeoJSON.
type DiffProps struct {
	Code         string   `json:"code"`
	Change       string   `json:"change"`
	FromVersion  *int     `json:"from_version"`
	ToVersion    *int     `json:"to_version"`
	FromName     *string  `json:"from_name"`
	ToName       *string  `json:"to_name"`
	FromAreaM2   float64  `json:"from_area_m2"`
	ToAreaM2     float64  `json:"to_area_m2"`
	AreaChangeM2 float64  `json:"area_change_m2"`         // to minus from
	ChangedBy    *string  `json:"changed_by"`             // who opened the version at to (closed the one at from, if removed)
	ChangedAt    string   `json:"changed_at"`             // when the version at to began (the one at from ended, if removed)
	Predecessors []string `json:"predecessors,omitempty"` // lineage: codes this grid came from
	Successors   []string `json:"successors,omitempty"`   // lineage: codes the grid went to
}

// DiffSummary counts the changes by kind.
type DiffSummary struct {
	Region string         `json:"region"`
	From   time.Time      `json:"from"`
	To     time.Time      `json:"to"`
	Counts map[string]int `json:"counts"`
	// AreaFromM2 and AreaToM2 are the total areas of the region's grids at
	// both moments.
	AreaFromM2 float64 `json:"area_from_m2"`
	AreaToM2   float64 `json:"area_to_m2"`
}

type diffFeature struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties DiffProps       `json:"properties"`
}

// Diff writes, as a GeoJSON FeatureCollection with a summary member, every
// grid code of a region whose version at to differs from its version at
// from: the geometry at to (at from for a removed grid), the versions,
// names, areas, who and when, and lineage. from must be before to.
func (s *Store) Diff(ctx context.Context, region string, from, to time.Time, w io.Writer) error {
	if !from.Before(to) {
		return grids.Invalid("to", "must be after from (%s)", from.Format(time.RFC3339))
	}
	if region != "" {
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM regions WHERE code = @code)`, pgx.NamedArgs{"code": region}).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return &grids.NotFoundError{What: "region", Key: region}
		}
	}
	sum := DiffSummary{Region: region, From: from, To: to, Counts: map[string]int{Added: 0, Removed: 0, Reshaped: 0, Renamed: 0, Revised: 0}}
	args := pgx.NamedArgs{"region": region, "from": from, "to": to}
	if err := s.pool.QueryRow(ctx, `
		WITH comm AS (`+communitiesSQL+`)
		SELECT COALESCE(sum(g.area_m2) FILTER (WHERE `+PeriodHolds("g", "@from")+`), 0),
		       COALESCE(sum(g.area_m2) FILTER (WHERE `+PeriodHolds("g", "@to")+`), 0)
		FROM grids g WHERE g.community_id IN (SELECT id FROM comm)
		  AND (`+PeriodHolds("g", "@from")+` OR `+PeriodHolds("g", "@to")+`)`, args).Scan(&sum.AreaFromM2, &sum.AreaToM2); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `
		WITH comm AS (`+communitiesSQL+`),
		a AS (SELECT * FROM grids g WHERE g.community_id IN (SELECT id FROM comm) AND `+PeriodHolds("g", "@from")+`),
		b AS (SELECT * FROM grids g WHERE g.community_id IN (SELECT id FROM comm) AND `+PeriodHolds("g", "@to")+`)
		SELECT COALESCE(b.code, a.code),
		       CASE WHEN a.id IS NULL THEN 'added' WHEN b.id IS NULL THEN 'removed'
		            WHEN NOT ST_Equals(a.geom, b.geom) THEN 'reshaped'
		            WHEN a.name <> b.name THEN 'renamed' ELSE 'revised' END,
		       a.version, b.version, a.name, b.name, COALESCE(a.area_m2, 0), COALESCE(b.area_m2, 0),
		       CASE WHEN b.id IS NULL THEN a.closed_by ELSE b.created_by END,
		       CASE WHEN b.id IS NULL THEN a.valid_to ELSE b.valid_from END,
		       `+grids.GeoJSONOf("COALESCE(b.geom, a.geom)")+`,
		       ARRAY(SELECT DISTINCT l.predecessor_code FROM grid_lineage l
		             WHERE l.successor_code = b.code AND l.successor_version = b.version ORDER BY 1),
		       ARRAY(SELECT DISTINCT l.successor_code FROM grid_lineage l
		             WHERE l.predecessor_code = a.code AND l.predecessor_version = a.version ORDER BY 1)
		FROM a FULL JOIN b ON a.code = b.code
		WHERE a.id IS DISTINCT FROM b.id
		ORDER BY 1`, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	features := []diffFeature{}
	for rows.Next() {
		f := diffFeature{Type: "Feature"}
		p := &f.Properties
		var at time.Time
		var geom string
		if err := rows.Scan(&p.Code, &p.Change, &p.FromVersion, &p.ToVersion, &p.FromName, &p.ToName, &p.FromAreaM2, &p.ToAreaM2,
			&p.ChangedBy, &at, &geom, &p.Predecessors, &p.Successors); err != nil {
			return err
		}
		p.AreaChangeM2 = p.ToAreaM2 - p.FromAreaM2
		p.ChangedAt = at.UTC().Format(time.RFC3339Nano)
		f.ID, f.Geometry = p.Code, json.RawMessage(geom)
		sum.Counts[p.Change]++
		features = append(features, f)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(struct {
		Type     string        `json:"type"`
		Summary  DiffSummary   `json:"summary"`
		Features []diffFeature `json:"features"`
	}{"FeatureCollection", sum, features})
}
