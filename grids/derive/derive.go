package derive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
)

// DeriveResult says what a derivation made.
type DeriveResult struct {
	Region      string   `json:"region"`
	Subdistrict int      `json:"subdistricts,omitempty"`
	Communities int      `json:"communities,omitempty"`
	Grids       int      `json:"grids,omitempty"`
	Replaced    int      `json:"replaced,omitempty"` // grids closed because they were redrawn
	Warnings    []string `json:"warnings,omitempty"`
}

// SubdistrictPoint is a subdistrict centre (街道办事处 location).
type SubdistrictPoint struct {
	Code  string
	Name  string
	Point orb.Point // WGS84
}

// SubdistrictPointsFrom reads subdistrict centres from features: code and
// name properties, Point geometries in crs. An office name such as
// "…街道办事处" names the subdistrict "…街道".
func SubdistrictPointsFrom(src ingest.FeatureSource, crs geo.CRS) ([]SubdistrictPoint, error) {
	var out []SubdistrictPoint
	for {
		f, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		p, ok := f.Geometry.(orb.Point)
		if !ok || f.GeometryErr != nil {
			return nil, fmt.Errorf("feature %d: want a Point", f.Index)
		}
		code := ingest.Property(f.Properties, "code")
		if code == "" {
			return nil, fmt.Errorf("feature %d: no code", f.Index)
		}
		name := strings.TrimSuffix(ingest.Property(f.Properties, "name"), "办事处")
		out = append(out, SubdistrictPoint{Code: code, Name: name, Point: crs.ToWGS84()(p)})
	}
}

// DeriveSubdistricts draws a district's subdistricts as the Voronoi cells of
// their centre points, clipped to the district: the cells tile the district
// exactly. Points are those whose code starts with the district's code;
// existing subdistricts with the same codes are redrawn.
func (s *Store) DeriveSubdistricts(ctx context.Context, district string, points []SubdistrictPoint) (DeriveResult, error) {
	res := DeriveResult{Region: district}
	var mine []SubdistrictPoint
	for _, p := range points {
		if strings.HasPrefix(p.Code, district) {
			if msg := s.core.Codes().CheckRegionCode(grids.Subdistrict, p.Code); msg != "" {
				return res, grids.Invalid("points", "%s", msg)
			}
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return res, grids.Invalid("points", "no subdistrict point has a code starting with %s", district)
	}
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		var districtID int64
		var level grids.Level
		err := tx.QueryRow(ctx, `SELECT id, level FROM regions WHERE code = @code`, pgx.NamedArgs{"code": district}).Scan(&districtID, &level)
		if errors.Is(err, pgx.ErrNoRows) {
			return &grids.NotFoundError{What: "region", Key: district}
		}
		if err != nil {
			return err
		}
		if level != grids.District {
			return grids.Invalid("district", "region %s is a %s, not a district", district, level)
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE derive_points (code text, name text, geom geometry(Point, 4326)) ON COMMIT DROP`); err != nil {
			return err
		}
		rows := make([][]any, len(mine))
		for i, p := range mine {
			rows[i] = []any{p.Code, p.Name, fmt.Sprintf("SRID=4326;POINT(%.9f %.9f)", p.Point[0], p.Point[1])}
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE derive_points ALTER COLUMN geom TYPE text`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"derive_points"}, []string{"code", "name", "geom"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		// Points outside the district (a centre just over the line in the
		// data) still get the part of their cell that lies inside.
		tag, err := tx.Exec(ctx, `
			WITH d AS (SELECT geom FROM regions WHERE id = @id),
			pts AS (SELECT code, name, ST_GeomFromEWKT(geom) AS geom FROM derive_points),
			cells AS (
				SELECT (ST_Dump(ST_VoronoiPolygons(ST_Collect(pts.geom), 0, ST_Expand(ST_Envelope(d.geom), 0.1)))).geom AS cell
				FROM pts, d GROUP BY d.geom),
			clipped AS (
				SELECT p.code, p.name, ST_Multi(ST_CollectionExtract(ST_Intersection(c.cell, d.geom), 3)) AS geom
				FROM cells c JOIN pts p ON ST_Intersects(c.cell, p.geom), d)
			INSERT INTO regions AS r (code, name, level, parent_id, geom, attrs)
			SELECT code, name, 'subdistrict', @id, geom, '{"derived": "voronoi"}'
			FROM clipped WHERE NOT ST_IsEmpty(geom)
			ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, parent_id = EXCLUDED.parent_id,
				geom = EXCLUDED.geom, attrs = EXCLUDED.attrs, updated_at = now()`,
			pgx.NamedArgs{"id": districtID})
		if err != nil {
			return err
		}
		res.Subdistrict = int(tag.RowsAffected())
		return nil
	})
	return res, err
}

// DeriveOptions tune grid derivation.
type DeriveOptions struct {
	TargetArea          float64 // m² per grid (default 10,000: the 万米单元网格)
	CommunityTargetArea float64 // m² per derived community (default 500,000)
	// Replace redraws communities that already have grids (closing the old
	// versions); without it they are left alone.
	Replace bool
	// OnlyNear limits the work to subdistricts that touch at least one
	// street or alley: a city whose street data covers one quarter need not
	// be gridded where nothing is known. Every community of a subdistrict
	// that is worked on gets grids.
	OnlyNear bool
	// Progress, when set, is told after each community.
	Progress func(done, total int)
}

func (o *DeriveOptions) defaults() {
	if o.TargetArea <= 0 {
		o.TargetArea = 10000
	}
	if o.CommunityTargetArea <= 0 {
		o.CommunityTargetArea = 500000
	}
}

// DeriveGrids draws unit grids for a region along its streets and alleys.
// A community gets grids; a subdistrict or district gets them for each of
// its communities, deriving communities first (at CommunityTargetArea,
// along main streets) where a subdistrict has none.
//
// The method: polygonize the region's boundary with the street network
// clipped to it, split cells larger than 3× the target into Voronoi cells of
// k-means centres, then merge cells smaller than 0.3× the target into the
// neighbour sharing the longest border (unless that would exceed 3×). The
// cells tile the region exactly: they are faces of one planar graph, and
// splits and merges keep that property.
func (s *Store) DeriveGrids(ctx context.Context, region string, opt DeriveOptions) (DeriveResult, error) {
	opt.defaults()
	res := DeriveResult{Region: region}
	r, err := s.core.Region(ctx, region)
	if err != nil {
		return res, err
	}
	// Communities to grid, deriving missing ones.
	var subdistricts []string
	switch r.Level {
	case grids.District:
		rows, err := s.pool.Query(ctx, `SELECT code FROM regions WHERE parent_id = (SELECT id FROM regions WHERE code = @code) ORDER BY code`, pgx.NamedArgs{"code": region})
		if err != nil {
			return res, err
		}
		if subdistricts, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return res, err
		}
		if len(subdistricts) == 0 {
			return res, grids.Invalid("region", "district %s has no subdistricts: derive them first (citygrid derive subdistricts)", region)
		}
	case grids.Subdistrict:
		subdistricts = []string{region}
	}
	var communities []string
	if r.Level == grids.Community {
		communities = []string{region}
	}
	for _, sd := range subdistricts {
		if opt.OnlyNear {
			near, err := s.touchesStreets(ctx, sd)
			if err != nil {
				return res, err
			}
			if !near {
				continue
			}
		}
		cs, made, err := s.ensureCommunities(ctx, sd, opt)
		if err != nil {
			return res, err
		}
		res.Communities += made
		communities = append(communities, cs...)
	}
	for i, c := range communities {
		n, replaced, err := s.gridCommunity(ctx, c, opt)
		if err != nil {
			return res, fmt.Errorf("community %s: %w", c, err)
		}
		res.Grids += n
		res.Replaced += replaced
		if opt.Progress != nil {
			opt.Progress(i+1, len(communities))
		}
	}
	return res, nil
}

func (s *Store) touchesStreets(ctx context.Context, region string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM objects o, regions r
			WHERE r.code = @code AND o.layer IN ('street', 'alley') AND o.geom && r.geom AND ST_Intersects(o.geom, r.geom))`,
		pgx.NamedArgs{"code": region}).Scan(&ok)
	return ok, err
}

// ensureCommunities returns a subdistrict's communities, deriving them
// along main streets when it has none.
func (s *Store) ensureCommunities(ctx context.Context, subdistrict string, opt DeriveOptions) ([]string, int, error) {
	existing, err := s.childCodes(ctx, subdistrict)
	if err != nil || len(existing) > 0 {
		return existing, 0, err
	}
	made := 0
	err = s.core.Tx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM regions WHERE code = @code FOR UPDATE`, pgx.NamedArgs{"code": subdistrict}).Scan(&id); err != nil {
			return err
		}
		if err := partition(ctx, tx, id, []string{"street"}, byArea(opt.CommunityTargetArea)); err != nil {
			return err
		}
		codes, err := numberCells(ctx, tx, opt.CommunityTargetArea, func(i int) string {
			return fmt.Sprintf("%s%03d", subdistrict[:9], i)
		})
		if err != nil {
			return err
		}
		if len(codes) > 999 {
			return grids.Invalid("community_target_area", "subdistrict %s would get %d communities; codes allow 999", subdistrict, len(codes))
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO regions (code, name, level, parent_id, geom, attrs)
			SELECT c.code, format('%s第%s社区', r.name, right(c.code, 3)), 'community', r.id, ST_Multi(c.geom),
			       '{"derived": "streets"}'
			FROM derive_cells c, regions r WHERE r.id = @id`, pgx.NamedArgs{"id": id})
		made = int(tag.RowsAffected())
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	codes, err := s.childCodes(ctx, subdistrict)
	return codes, made, err
}

func (s *Store) childCodes(ctx context.Context, code string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.code FROM regions c JOIN regions p ON p.id = c.parent_id WHERE p.code = @code ORDER BY c.code`, pgx.NamedArgs{"code": code})
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// gridCommunity draws one community's grids in one transaction.
func (s *Store) gridCommunity(ctx context.Context, community string, opt DeriveOptions) (made, replaced int, err error) {
	err = s.core.Tx(ctx, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `SELECT id FROM regions WHERE code = @code FOR UPDATE`, pgx.NamedArgs{"code": community}).Scan(&id); err != nil {
			return err
		}
		var existing int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM grids WHERE community_id = @id AND valid_to IS NULL`, pgx.NamedArgs{"id": id}).Scan(&existing); err != nil {
			return err
		}
		if existing > 0 && !opt.Replace {
			return nil
		}
		if err := partition(ctx, tx, id, []string{"street", "alley"}, byArea(opt.TargetArea)); err != nil {
			return err
		}
		codes, err := numberCells(ctx, tx, opt.TargetArea, func(i int) string { return fmt.Sprintf("%s%03d", community, i) })
		if err != nil {
			return err
		}
		if len(codes) > 999 {
			return grids.Invalid("target_area", "community %s would get %d grids; codes allow 999", community, len(codes))
		}
		if existing > 0 {
			tag, err := tx.Exec(ctx, `UPDATE grids SET valid_to = now() WHERE community_id = @id AND valid_to IS NULL`, pgx.NamedArgs{"id": id})
			if err != nil {
				return err
			}
			replaced = int(tag.RowsAffected())
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO grids (code, community_id, name, geom, version, attrs)
			SELECT c.code, @id, format('%s网格', right(c.code, 3)), c.geom,
			       COALESCE((SELECT max(version) + 1 FROM grids g WHERE g.code = c.code), 1),
			       '{"derived": "streets"}'
			FROM derive_cells c ORDER BY c.code`, pgx.NamedArgs{"id": id})
		made = int(tag.RowsAffected())
		return err
	})
	return made, replaced, err
}

// balance is what a partition evens out: the cells' area in m² (byArea),
// or their load (byLoad, balance.go).
type balance struct {
	col    string  // the column of derive_cells balanced: area or load
	target float64 // a cell's, in col's unit
	// Cells over split times the target are cut (up to splitRounds times,
	// as a cut piece can stay over it when the load is not spread evenly
	// over the area); cells under under times it merge into a neighbour
	// while both stay at most limit times it.
	split, under, limit float64
	splitRounds         int
	// weigh fills the load of the cells that have none yet; nil for area.
	weigh func(ctx context.Context, tx pgx.Tx) error
}

// pairLimit is the largest multiple of the target a small cell and its
// neighbour may make to be offered as a merge: by load, any (pickByLoad
// keeps to the limit where it can).
func (b balance) pairLimit() float64 {
	if b.weigh != nil {
		return math.MaxFloat64
	}
	return b.limit
}

// byArea balances cells' areas, about target m² each.
func byArea(target float64) balance {
	return balance{col: "area", target: target, split: 3, under: 0.3, limit: 3, splitRounds: 1}
}

func (b balance) weighed(ctx context.Context, tx pgx.Tx) error {
	if b.weigh == nil {
		return nil
	}
	return b.weigh(ctx, tx)
}

// partition fills the temp table derive_cells with polygons that tile the
// region exactly along the given object layers, balanced as b says.
func partition(ctx context.Context, tx pgx.Tx, regionID int64, layers []string, b balance) error {
	args := pgx.NamedArgs{"id": regionID, "layers": layers}
	_, err := tx.Exec(ctx, `
		DROP TABLE IF EXISTS derive_cells;
		CREATE TEMP TABLE derive_cells (
			id serial PRIMARY KEY, code text, geom geometry(Polygon, 4326), area double precision, load double precision) ON COMMIT DROP`)
	if err != nil {
		return err
	}
	// The streets inside the region, noded: grid edges should follow them,
	// so merges prefer borders that are not on them.
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS derive_lines`); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `
		CREATE TEMP TABLE derive_lines ON COMMIT DROP AS
		SELECT d.geom
		FROM regions r,
		     LATERAL (SELECT ST_UnaryUnion(ST_Collect(ST_CollectionExtract(ST_Intersection(o.geom, r.geom), 2))) AS g
		              FROM objects o
		              WHERE o.layer = ANY(@layers) AND ST_Dimension(o.geom) = 1
		                AND o.geom && r.geom AND ST_Intersects(o.geom, r.geom)) l,
		     LATERAL ST_Dump(l.g) d
		WHERE r.id = @id`, args)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE INDEX ON derive_lines USING gist (geom)`); err != nil {
		return err
	}
	// Faces of the region's boundary and those streets. Dead ends and stubs
	// bound no face and drop out on their own.
	_, err = tx.Exec(ctx, `
		WITH r AS (SELECT geom FROM regions WHERE id = @id),
		faces AS (
			SELECT (ST_Dump(ST_Polygonize(g))).geom AS f
			FROM (SELECT ST_UnaryUnion(ST_Collect(g)) AS g
			      FROM (SELECT ST_Boundary(geom) AS g FROM r UNION ALL SELECT geom FROM derive_lines) x) n)
		INSERT INTO derive_cells (geom, area)
		SELECT f, ST_Area(f::geography) FROM faces, r
		WHERE ST_Within(ST_PointOnSurface(f), r.geom)`, args)
	if err != nil {
		return err
	}
	if err := b.weighed(ctx, tx); err != nil {
		return err
	}
	for range b.splitRounds {
		cut, err := splitLarge(ctx, tx, b)
		if err != nil {
			return err
		}
		if err := b.weighed(ctx, tx); err != nil {
			return err
		}
		if cut == 0 {
			break
		}
	}
	return mergeSmall(ctx, tx, b)
}

// splitLarge cuts cells over b.split times the target into k pieces (k
// the cell's multiple of the target): the Voronoi cells of the k-means
// centres of a lattice of points over the cell, clipped to it. The
// clustering runs in Web Mercator, which is conformal, so pieces come out
// about as wide as they are tall in metres; the lattice makes it
// deterministic (the same data gives the same grids). It returns how many
// cells it cut; the pieces have no load until weighed.
func splitLarge(ctx context.Context, tx pgx.Tx, b balance) (int, error) {
	col := pgx.Identifier{b.col}.Sanitize()
	var cut int
	err := tx.QueryRow(ctx, `
		WITH big AS (
			SELECT id, geom, ST_Transform(geom, 3857) AS m, GREATEST(2, round(`+col+` / @target::float8))::int AS k
			FROM derive_cells WHERE `+col+` > @split::float8 * @target::float8),
		steps AS (
			SELECT id, sqrt(ST_Area(m) / (k * 12.0)) AS step FROM big),
		pts AS (
			SELECT b.id, b.k, ST_SetSRID(ST_MakePoint(x, y), 3857) AS p
			FROM big b JOIN steps s ON s.id = b.id
			CROSS JOIN LATERAL generate_series(0, floor((ST_XMax(b.m) - ST_XMin(b.m)) / s.step)::int) AS i
			CROSS JOIN LATERAL generate_series(0, floor((ST_YMax(b.m) - ST_YMin(b.m)) / s.step)::int) AS j
			CROSS JOIN LATERAL (SELECT ST_XMin(b.m) + (i + 0.5) * s.step AS x, ST_YMin(b.m) + (j + 0.5) * s.step AS y) xy
			WHERE ST_Intersects(b.m, ST_SetSRID(ST_MakePoint(x, y), 3857))),
		clustered AS (
			SELECT id, p, ST_ClusterKMeans(p, k) OVER (PARTITION BY id) AS cl FROM pts),
		centres AS (
			SELECT id, ST_Collect(c) AS cs
			FROM (SELECT id, ST_Centroid(ST_Collect(p)) AS c FROM clustered GROUP BY id, cl) x GROUP BY id),
		cells AS (
			SELECT b.id, ST_Transform(vc.geom, 4326) AS v
			FROM centres c JOIN big b ON b.id = c.id
			CROSS JOIN LATERAL ST_Dump(ST_VoronoiPolygons(c.cs, 0, ST_Expand(ST_Envelope(b.m), 100))) AS vc),
		pieces AS (
			SELECT p.geom AS piece
			FROM cells c JOIN big b ON b.id = c.id
			CROSS JOIN LATERAL ST_Dump(CASE WHEN ST_Within(c.v, b.geom) THEN c.v
			                               ELSE ST_CollectionExtract(ST_Intersection(b.geom, c.v), 3) END) AS p),
		gone AS (DELETE FROM derive_cells WHERE id IN (SELECT id FROM big)),
		made AS (
			INSERT INTO derive_cells (geom, area)
			SELECT piece, ST_Area(piece::geography) FROM pieces WHERE NOT ST_IsEmpty(piece) AND ST_Area(piece) > 0)
		SELECT count(*) FROM big`,
		pgx.NamedArgs{"target": b.target, "split": b.split}).Scan(&cut)
	return cut, err
}

// unionFind groups cells merged together: each merged cell's parent, up to
// the group's root (a cell never merged has no entry).
type unionFind map[int64]int64

func (u unionFind) find(x int64) int64 {
	p, ok := u[x]
	if !ok || p == x {
		return x
	}
	r := u.find(p)
	u[x] = r
	return r
}

// union joins a's group into b's and returns the root of both.
func (u unionFind) union(a, b int64) int64 {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		u[ra] = rb
	}
	return rb
}

// mergeCandidate is a neighbour a small cell may merge into.
type mergeCandidate struct {
	small, into   int64
	wSmall, wInto float64 // their area or load
	shared        float64 // the length of the border they share, in degrees
	onStreet      bool    // that border runs along a street
}

// mergeSmall merges each cell under b.under times the target into a
// neighbour, as long as the two stay at most b.limit times it; rounds
// repeat until nothing changes. The neighbour is one whose shared border
// is not a street (across a street only when nothing else is left); by
// area, the one sharing the longest border, and chains (a small cell into
// a small cell) are resolved with union-find so that each round is one set
// of unions; by load, the one making the lightest cell, lightest small
// cells first, no merged cell going over the limit (see pickByLoad).
func mergeSmall(ctx context.Context, tx pgx.Tx, b balance) error {
	col := pgx.Identifier{b.col}.Sanitize()
	for round := 0; round < 12; round++ {
		rows, err := tx.Query(ctx, `
			SELECT s.id, n.id, s.`+col+`, n.`+col+`, x.shared, x.on_street
			FROM derive_cells s
			JOIN derive_cells n ON n.id <> s.id AND n.geom && s.geom AND ST_Intersects(n.geom, s.geom)
			CROSS JOIN LATERAL (SELECT ST_CollectionExtract(ST_Intersection(s.geom, n.geom), 2) AS border) b
			CROSS JOIN LATERAL (
				SELECT ST_Length(b.border) AS shared,
				       EXISTS (SELECT 1 FROM derive_lines l
				               WHERE ST_DWithin(l.geom, ST_LineInterpolatePoint(
				                   (SELECT d.geom FROM ST_Dump(ST_LineMerge(b.border)) d ORDER BY ST_Length(d.geom) DESC LIMIT 1), 0.5), 1e-9)
				       ) AS on_street) x
			WHERE s.`+col+` < @under::float8 * @target::float8 AND x.shared > 0 AND s.`+col+` + n.`+col+` <= @limit::float8 * @target::float8
			ORDER BY s.id, x.on_street, x.shared DESC, n.id`, pgx.NamedArgs{"target": b.target, "under": b.under, "limit": b.pairLimit()})
		if err != nil {
			return err
		}
		cands, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mergeCandidate, error) {
			var c mergeCandidate
			return c, r.Scan(&c.small, &c.into, &c.wSmall, &c.wInto, &c.shared, &c.onStreet)
		})
		if err != nil {
			return err
		}
		type pair struct{ a, b int64 }
		var pairs []pair
		if b.weigh == nil {
			// By area: each small cell's first candidate, in the order above.
			for i, c := range cands {
				if i == 0 || cands[i-1].small != c.small {
					pairs = append(pairs, pair{c.small, c.into})
				}
			}
		} else {
			for _, c := range pickByLoad(cands, b.under*b.target, b.limit*b.target) {
				pairs = append(pairs, pair{c.small, c.into})
			}
		}
		if len(pairs) == 0 {
			return nil
		}
		sets := unionFind{}
		for _, p := range pairs {
			sets.union(p.a, p.b)
		}
		ids := make([]int64, 0, len(sets))
		roots := make([]int64, 0, len(sets))
		for id := range sets {
			ids = append(ids, id)
			roots = append(roots, sets.find(id))
		}
		// A merged cell's load is its parts' (load adds up); should the
		// union fall apart into pieces, they are weighed afresh.
		_, err = tx.Exec(ctx, `
			WITH m AS (SELECT unnest(@ids::bigint[]) AS id, unnest(@roots::bigint[]) AS root),
			groups AS (
				SELECT m.root, ST_UnaryUnion(ST_Collect(c.geom)) AS g, sum(c.load) AS load
				FROM m JOIN derive_cells c ON c.id = m.id GROUP BY m.root),
			merged AS (
				SELECT root, load + (SELECT load FROM derive_cells WHERE id = root) AS load, (ST_Dump(ST_CollectionExtract(
					ST_UnaryUnion(ST_Collect(g, (SELECT geom FROM derive_cells WHERE id = root))), 3))).geom AS g
				FROM groups),
			gone AS (DELETE FROM derive_cells WHERE id IN (SELECT id FROM m UNION SELECT root FROM m))
			INSERT INTO derive_cells (geom, area, load)
			SELECT g, ST_Area(g::geography), CASE WHEN count(*) OVER (PARTITION BY root) = 1 THEN load END FROM merged`,
			pgx.NamedArgs{"ids": ids, "roots": roots})
		if err != nil {
			return err
		}
		if err := b.weighed(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// numberCells gives derive_cells their codes, numbered west to east in rows
// from north to south (rows are about one cell high), and returns them.
func numberCells(ctx context.Context, tx pgx.Tx, target float64, code func(int) string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT id, ST_X(c), ST_Y(c) FROM (SELECT id, ST_PointOnSurface(geom) AS c FROM derive_cells) x`)
	if err != nil {
		return nil, err
	}
	type cell struct {
		id   int64
		x, y float64
	}
	cells, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (cell, error) {
		var c cell
		return c, r.Scan(&c.id, &c.x, &c.y)
	})
	if err != nil || len(cells) == 0 {
		return nil, err
	}
	// A row is as tall as a typical cell: sqrt(target) metres in degrees.
	rowDeg := math.Sqrt(target) / 111320
	maxY := cells[0].y
	for _, c := range cells {
		maxY = max(maxY, c.y)
	}
	sort.Slice(cells, func(i, j int) bool {
		ri, rj := int((maxY-cells[i].y)/rowDeg), int((maxY-cells[j].y)/rowDeg)
		if ri != rj {
			return ri < rj
		}
		if cells[i].x != cells[j].x {
			return cells[i].x < cells[j].x
		}
		return cells[i].id < cells[j].id
	})
	ids := make([]int64, len(cells))
	codes := make([]string, len(cells))
	for i, c := range cells {
		ids[i], codes[i] = c.id, code(i+1)
	}
	_, err = tx.Exec(ctx, `
		UPDATE derive_cells d SET code = m.code
		FROM (SELECT unnest(@ids::bigint[]) AS id, unnest(@codes::text[]) AS code) m WHERE m.id = d.id`,
		pgx.NamedArgs{"ids": ids, "codes": codes})
	return codes, err
}

// Propose draws, in tx, cells that tile a community about target m² each
// along its streets and alleys, as DeriveGrids would, without writing any
// grid: they are left in tx's temporary table derive_cells (geom, area),
// for a planner's draft to take (grids/drafts). The next call replaces them.
func Propose(ctx context.Context, tx pgx.Tx, communityID int64, target float64) error {
	return partition(ctx, tx, communityID, []string{"street", "alley"}, byArea(target))
}
