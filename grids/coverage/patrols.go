package coverage

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// Patrol is an inspector's walk.
type Patrol struct {
	ID        int64      `json:"id"`
	Inspector string     `json:"inspector"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	LengthM   float64    `json:"length_m"`
	Source    string     `json:"source"`
}

// PatrolInput is a track to store; Track is WGS84.
type PatrolInput struct {
	Inspector string
	StartedAt *time.Time
	EndedAt   *time.Time
	Track     orb.MultiLineString
	Source    string
}

// CreatePatrol stores a track.
func (s *Store) CreatePatrol(ctx context.Context, in PatrolInput) (Patrol, error) {
	var p grids.Problems
	if strings.TrimSpace(in.Inspector) == "" {
		p.Add("inspector", "required: who walked")
	}
	if in.StartedAt == nil {
		p.Add("started_at", "required: when the walk began (RFC 3339, or the GPX points' times)")
	}
	if in.EndedAt != nil && in.StartedAt != nil && in.EndedAt.Before(*in.StartedAt) {
		p.Add("ended_at", "before started_at")
	}
	if len(in.Track) == 0 {
		p.Add("geometry", "a LineString or MultiLineString track is required")
	}
	if err := p.Err(); err != nil {
		return Patrol{}, err
	}
	var out Patrol
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		b, err := grids.PrepareGeometry(ctx, tx, "geometry", in.Track, "MultiLineString")
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO patrols (inspector, started_at, ended_at, geom, source)
			VALUES (@inspector, @started, @ended, ST_GeomFromWKB(@geom, 4326), @source)
			RETURNING id, inspector, started_at, ended_at, length_m, source`,
			pgx.NamedArgs{"inspector": strings.TrimSpace(in.Inspector), "started": in.StartedAt, "ended": in.EndedAt, "geom": b,
				"source": in.Source}).Scan(&out.ID, &out.Inspector, &out.StartedAt, &out.EndedAt, &out.LengthM, &out.Source)
	})
	return out, err
}

// PatrolCoverage says which streets and alleys of a region were walked in
// a period: each line's length within buffer_m of any track.
type PatrolCoverage struct {
	Region    string         `json:"region"`
	Since     time.Time      `json:"since"`
	Until     time.Time      `json:"until"`
	BufferM   float64        `json:"buffer_m"`
	Patrols   int            `json:"patrols"`
	LengthM   float64        `json:"length_m"`
	WalkedM   float64        `json:"walked_m"`
	Ratio     float64        `json:"ratio"`
	Walked    []PatrolObject `json:"walked"`
	NotWalked []PatrolObject `json:"not_walked"`
}

// PatrolObject is a street or alley and how much of it was walked.
type PatrolObject struct {
	ID      int64   `json:"id"`
	Name    string  `json:"name"`
	Layer   string  `json:"layer"`
	LengthM float64 `json:"length_m"`
	WalkedM float64 `json:"walked_m"`
}

// CoverageOfPatrols computes patrol coverage.
func (s *Store) CoverageOfPatrols(ctx context.Context, region string, since, until time.Time, bufferM float64) (PatrolCoverage, error) {
	c := PatrolCoverage{Region: region, Since: since, Until: until, BufferM: bufferM, Walked: []PatrolObject{}, NotWalked: []PatrolObject{}}
	if _, err := s.core.Region(ctx, region); err != nil {
		return c, grids.Invalid("region", "region %q does not exist", region)
	}
	args := pgx.NamedArgs{"region": region, "since": since, "until": until, "buffer": bufferM}
	if err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM patrols p, regions r
		WHERE r.code = @region AND p.started_at >= @since AND p.started_at < @until AND p.geom && r.geom AND ST_Intersects(p.geom, r.geom)`,
		args).Scan(&c.Patrols); err != nil {
		return c, err
	}
	rows, err := s.pool.Query(ctx, `
		WITH r AS (SELECT geom FROM regions WHERE code = @region),
		walked AS (
			SELECT ST_UnaryUnion(ST_Collect(ST_Buffer(p.geom::geography, @buffer)::geometry)) AS g
			FROM patrols p, r
			WHERE p.started_at >= @since AND p.started_at < @until AND p.geom && r.geom AND ST_Intersects(p.geom, r.geom))
		SELECT o.id, o.name, o.layer, o.length_m,
		       COALESCE(CASE WHEN w.g IS NULL OR NOT (o.geom && w.g) THEN 0
		                     ELSE ST_Length(ST_Intersection(o.geom, w.g)::geography) END, 0)
		FROM objects o, r, walked w
		WHERE o.layer IN ('street', 'alley') AND o.geom && r.geom AND ST_Intersects(o.geom, r.geom)
		ORDER BY o.layer, o.id`, args)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var o PatrolObject
		if err := rows.Scan(&o.ID, &o.Name, &o.Layer, &o.LengthM, &o.WalkedM); err != nil {
			return c, err
		}
		o.WalkedM = round2(min(o.WalkedM, o.LengthM))
		c.LengthM += o.LengthM
		c.WalkedM += o.WalkedM
		if o.WalkedM > 0 {
			c.Walked = append(c.Walked, o)
		} else {
			c.NotWalked = append(c.NotWalked, o)
		}
	}
	c.Ratio = ratio(c.WalkedM, c.LengthM)
	return c, rows.Err()
}
