package coverage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Rule is a proximity rule: source objects within DistanceM of target
// objects are forbidden (forbidden) or to be rectified first (priority).
type Rule struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`
	SourceLayers []string  `json:"source_layers"`
	TargetLayers []string  `json:"target_layers"`
	DistanceM    float64   `json:"distance_m"`
	Description  string    `json:"description"`
	Enabled      bool      `json:"enabled"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// RuleInput is a rule to create, or the fields of one to change.
type RuleInput struct {
	Name         *string   `json:"name"`
	Kind         *string   `json:"kind"`
	SourceLayers *[]string `json:"source_layers"`
	TargetLayers *[]string `json:"target_layers"`
	DistanceM    *float64  `json:"distance_m"`
	Description  *string   `json:"description"`
	Enabled      *bool     `json:"enabled"`
}

const ruleColumns = `id, name, kind, source_layers, target_layers, distance_m, description, enabled, created_at, updated_at`

func scanRule(row pgx.Row) (Rule, error) {
	var r Rule
	err := row.Scan(&r.ID, &r.Name, &r.Kind, &r.SourceLayers, &r.TargetLayers, &r.DistanceM, &r.Description, &r.Enabled, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// Rules lists the rules.
func (s *Store) Rules(ctx context.Context) ([]Rule, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+ruleColumns+` FROM rules ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Rule, error) { return scanRule(r) })
}

// Rule returns one rule.
func (s *Store) Rule(ctx context.Context, id int64) (Rule, error) {
	r, err := scanRule(s.pool.QueryRow(ctx, `SELECT `+ruleColumns+` FROM rules WHERE id = @id`, pgx.NamedArgs{"id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, &grids.NotFoundError{What: "rule", Key: strconv.FormatInt(id, 10)}
	}
	return r, err
}

func (s *Store) checkRule(ctx context.Context, in RuleInput, creating bool) error {
	var p grids.Problems
	if creating {
		for field, missing := range map[string]bool{"name": in.Name == nil, "kind": in.Kind == nil, "source_layers": in.SourceLayers == nil,
			"target_layers": in.TargetLayers == nil, "distance_m": in.DistanceM == nil} {
			if missing {
				p.Add(field, "required")
			}
		}
	}
	if in.Name != nil && strings.TrimSpace(*in.Name) == "" {
		p.Add("name", "must not be empty")
	}
	if in.Kind != nil && *in.Kind != "forbidden" && *in.Kind != "priority" {
		p.Add("kind", "want forbidden or priority")
	}
	if in.DistanceM != nil && (*in.DistanceM <= 0 || *in.DistanceM > 5000) {
		p.Add("distance_m", "want more than 0 and at most 5,000 m")
	}
	layers, err := s.core.Layers(ctx)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, l := range layers {
		known[l.Code] = true
	}
	for field, ls := range map[string]*[]string{"source_layers": in.SourceLayers, "target_layers": in.TargetLayers} {
		if ls == nil {
			continue
		}
		if len(*ls) == 0 {
			p.Add(field, "name at least one layer")
		}
		for _, l := range *ls {
			if !known[l] {
				p.Add(field, "layer %q does not exist", l)
			}
		}
	}
	return p.Err()
}

// CreateRule adds a rule.
func (s *Store) CreateRule(ctx context.Context, in RuleInput) (Rule, error) {
	if err := s.checkRule(ctx, in, true); err != nil {
		return Rule{}, err
	}
	enabled := true
	if in.Enabled != nil {
		enabled = *in.Enabled
	}
	return scanRule(s.pool.QueryRow(ctx, `
		INSERT INTO rules (name, kind, source_layers, target_layers, distance_m, description, enabled)
		VALUES (@name, @kind, @src, @dst, @d, COALESCE(@desc, ''), @enabled) RETURNING `+ruleColumns,
		pgx.NamedArgs{"name": strings.TrimSpace(*in.Name), "kind": *in.Kind, "src": *in.SourceLayers, "dst": *in.TargetLayers,
			"d": *in.DistanceM, "desc": in.Description, "enabled": enabled}))
}

// UpdateRule changes the given fields of a rule.
func (s *Store) UpdateRule(ctx context.Context, id int64, in RuleInput) (Rule, error) {
	if err := s.checkRule(ctx, in, false); err != nil {
		return Rule{}, err
	}
	r, err := scanRule(s.pool.QueryRow(ctx, `
		UPDATE rules SET name = COALESCE(@name, name), kind = COALESCE(@kind, kind),
			source_layers = COALESCE(@src, source_layers), target_layers = COALESCE(@dst, target_layers),
			distance_m = COALESCE(@d, distance_m), description = COALESCE(@desc, description),
			enabled = COALESCE(@enabled, enabled), updated_at = now()
		WHERE id = @id RETURNING `+ruleColumns,
		pgx.NamedArgs{"name": trimmed(in.Name), "kind": in.Kind, "src": in.SourceLayers, "dst": in.TargetLayers, "d": in.DistanceM,
			"desc": in.Description, "enabled": in.Enabled, "id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, &grids.NotFoundError{What: "rule", Key: strconv.FormatInt(id, 10)}
	}
	return r, err
}

// RuleMatch is one pair that a rule finds.
type RuleMatch struct {
	Source    MatchObject `json:"source"`
	Target    MatchObject `json:"target"`
	DistanceM float64     `json:"distance_m"`
}

// MatchObject names an object in a match.
type MatchObject struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Layer string `json:"layer"`
}

// ruleMatchSQL finds every (source, target) pair within the rule's
// distance on the spheroid. The few objects of a rule's layers hide among
// a city of shops and components in the objects index; so the smaller side
// (s, the sources, or t, the targets) is gathered in rule_near with an
// index of its own (see ruleTx), and each object of the other side finds
// its candidates there through a box. The box is a safe bound below 89° of
// latitude and away from the antimeridian: a degree of latitude is at least
// 110,574 m (the meridian's radius of curvature at the equator) and a
// degree of longitude at least 111,319 m times the cosine of the latitude
// (the parallel's radius is at least the equator's times that cosine), at
// the latitude farthest from the equator that the distance can reach; 5%
// and 10 m more cover PostGIS measuring along great circles rather than
// straight lines of longitude and latitude (a 10 km edge strays 2 m from
// its straight line). A region limits the sources.
const ruleMatchSQL = `
	SELECT s.id AS sid, s.name AS sname, s.layer AS slayer, t.id AS tid, t.name AS tname, t.layer AS tlayer,
	       ST_Distance(s.geom::geography, t.geom::geography) AS d, s.geom AS sg, t.geom AS tg
	FROM objects {outer}
	CROSS JOIN LATERAL (SELECT (@distance * 1.05 + 10) AS m) reach
	CROSS JOIN LATERAL (SELECT reach.m / 110574.0 AS dy) lat
	CROSS JOIN LATERAL (
		SELECT reach.m / (111319.0 * cos(radians(least(89, greatest(abs(ST_YMin({outer}.geom)), abs(ST_YMax({outer}.geom))) + lat.dy)))) AS dx) lon
	JOIN rule_near {inner} ON {inner}.geom && ST_Expand({outer}.geom, lon.dx, lat.dy) AND t.id <> s.id
	     AND ST_DWithin(s.geom::geography, t.geom::geography, @distance)
	WHERE {outer}.layer = ANY(@{outer}_layers)
	  AND (@region = '' OR EXISTS (SELECT 1 FROM regions x WHERE x.code = @region AND x.geom && s.geom AND ST_Intersects(x.geom, s.geom)))`

// ruleTx gathers the smaller side of a rule in rule_near and runs fn with
// the query of the rule's pairs (ruleMatchSQL) and its arguments.
func (s *Store) ruleTx(ctx context.Context, rule Rule, region string, fn func(tx pgx.Tx, matches string, args pgx.NamedArgs) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		args := pgx.NamedArgs{"s_layers": rule.SourceLayers, "t_layers": rule.TargetLayers, "distance": rule.DistanceM, "region": region}
		var sources, targets int
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FILTER (WHERE layer = ANY(@s_layers)), count(*) FILTER (WHERE layer = ANY(@t_layers))
			FROM objects WHERE layer = ANY(@s_layers) OR layer = ANY(@t_layers)`, args).Scan(&sources, &targets); err != nil {
			return err
		}
		outer, inner := "s", "t"
		if sources < targets {
			outer, inner = "t", "s"
		}
		for _, stmt := range []string{
			`CREATE TEMP TABLE rule_near ON COMMIT DROP AS
			 SELECT id, name, layer, geom FROM objects WHERE layer = ANY(@` + inner + `_layers)`,
			`CREATE INDEX ON rule_near USING gist (geom)`,
			`ANALYZE rule_near`,
		} {
			if _, err := tx.Exec(ctx, stmt, args); err != nil {
				return err
			}
		}
		return fn(tx, strings.NewReplacer("{outer}", outer, "{inner}", inner).Replace(ruleMatchSQL), args)
	})
}

// RuleMatches lists the pairs a rule finds, nearest first.
func (s *Store) RuleMatches(ctx context.Context, id int64, region string, limit int) ([]RuleMatch, int, error) {
	rule, err := s.Rule(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	var out []RuleMatch
	var total int
	err = s.ruleTx(ctx, rule, region, func(tx pgx.Tx, matches string, args pgx.NamedArgs) error {
		args["limit"] = limit
		// One pass: the total rides along with each row.
		rows, err := tx.Query(ctx, `
			SELECT m.sid, m.sname, m.slayer, m.tid, m.tname, m.tlayer, m.d, count(*) OVER ()
			FROM (`+matches+`) m ORDER BY d, sid, tid LIMIT @limit`, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []RuleMatch{}
		for rows.Next() {
			var m RuleMatch
			if err := rows.Scan(&m.Source.ID, &m.Source.Name, &m.Source.Layer, &m.Target.ID, &m.Target.Name, &m.Target.Layer, &m.DistanceM, &total); err != nil {
				return err
			}
			m.DistanceM = round2(m.DistanceM)
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, total, err
}

// WriteRuleMatches writes a rule's matches as GeoJSON: each pair as the
// shortest line between the two objects (kind match), and each target's
// zone, its buffer of the rule's distance on the spheroid (kind zone).
func (s *Store) WriteRuleMatches(ctx context.Context, id int64, region string, w io.Writer) error {
	rule, err := s.Rule(ctx, id)
	if err != nil {
		return err
	}
	return s.ruleTx(ctx, rule, region, func(tx pgx.Tx, matches string, args pgx.NamedArgs) error {
		rows, err := tx.Query(ctx, `
			WITH m AS (`+matches+`)
			SELECT NULL::text, 'match', json_build_object('kind', 'match', 'source_id', m.sid, 'source', m.sname, 'source_layer', m.slayer,
			                                              'target_id', m.tid, 'target', m.tname, 'target_layer', m.tlayer,
			                                              'distance_m', round(m.d::numeric, 2))::text,
			       ST_AsGeoJSON(ST_ShortestLine(m.sg, m.tg), 7)
			FROM m
			UNION ALL
			SELECT NULL, 'zone', json_build_object('kind', 'zone', 'target_id', z.id, 'target', z.name, 'layer', z.layer,
			                                       'distance_m', @distance::float8)::text,
			       `+grids.GeoJSONOf("z.g")+`
			FROM (SELECT t.id, t.name, t.layer, ST_Buffer(t.geom::geography, @distance::float8)::geometry AS g
			      FROM objects t WHERE t.id IN (SELECT tid FROM m)) z`, args)
		if err != nil {
			return err
		}
		fc := &featureCollection{w: w}
		if err := emitFindings(rows, fc.write); err != nil {
			return err
		}
		meta, _ := json.Marshal(rule)
		return fc.close("rule", meta)
	})
}

// trimmed trims a name that may be absent.
func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	return &t
}

// round2 rounds a distance to centimetres, as the locate answers do.
func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}
