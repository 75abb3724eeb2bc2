package features

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// MaxTileZoom is the deepest zoom a tile may be asked for. At z22 a tile of
// 4,096 units quantises to about 1 cm; nothing citygrid draws needs more.
const MaxTileZoom = 22

// TileExtent is the size of a tile in MVT units: the common 4,096, which at
// z14 over China is about half a metre.
const TileExtent = 4096

// tileBuffer is how far, in tile units, geometry reaches beyond the tile's
// edge, so that lines and outlines of neighbouring tiles join without seams
// at any line width up to 64/16 = 4 px.
const tileBuffer = 64

// TileLayer is one vector-tile layer. Every layer is one entry of the table
// TileLayers returns: the SQL fragments that pick its features, the zooms
// it is drawn at and the tables it is read from. Adding a layer is adding an
// entry. The layers drawn per duty read what a
// lead covers from the ownership views of migration 6 (lead_areas,
// object_leads, citygrid_middle), which coverage reads too.
type TileLayer struct {
	ID          string
	Description string
	MinZoom     int
	MaxZoom     int
	// Fields name each attribute with its TileJSON description.
	Fields map[string]string
	// Tables are the tables whose change makes the layer's tiles stale.
	Tables []string
	// Theme says the layer is drawn per duty, named with ?theme=; AreaOnly
	// that the duty must be an area duty.
	Theme, AreaOnly bool
	// Scoped says a unit token sees only its unit's features (cases), so
	// its tiles are its own.
	Scoped bool
	// OpenParam says ?status=open draws only the open features (cases not
	// closed, cancelled or merged): the dispatcher's map, whose zoomed-out
	// clusters would otherwise be a year of closed cases.
	OpenParam bool

	geom string // the WGS84 geometry expression drawn
	// mercator is geom's stored Web Mercator copy (migration 20), drawn
	// instead of projecting geom for every row of every tile; empty when
	// geom is clipped or computed.
	mercator string
	// settled says the layer reads one table through its geometry index,
	// so its plan is the same for every tile: it is planned once per
	// connection (planning was a seventh of a z14 grid tile's time), as an index
	// scan. The index's order is the order of the features in the tile,
	// as it was before the plan was kept; a bitmap scan, which PostgreSQL
	// picks by a hair's cost, reads them in the table's order.
	settled bool
	// filter is the indexed geometry the tile filter tests, when it is not
	// geom (a part of an object is drawn, the object is looked up).
	filter string
	cols   string // the attributes; `fid` becomes the MVT feature id
	// with adds common table expressions after env, each computed once per
	// tile: a LATERAL subquery over env alone may be rerun for every row
	// when the planner puts it inside a nested loop.
	with string
	from string // what to read, after env (m: the tile in 3857, e: the buffered tile in 4326)
	// where filters beyond the tile; @z is the zoom, so a layer can leave
	// small things out of low zooms.
	where string
	// clip cuts geometries to the buffered tile before they are projected:
	// a district crossing a z16 tile need not have every vertex transformed.
	clip bool
	// simplifyBelow: under this zoom outlines are simplified to about a
	// pixel before ST_AsMVTGeom quantises them, which thins the vertices
	// quantisation alone would keep (one per 1/16 px).
	simplifyBelow int
	extent        string // one box2d: the layer's data, for TileJSON bounds
	// scopedSource replaces from for a Scoped layer: what the unit (empty:
	// any reader) may see (only open ones when open), adding its values to
	// args.
	scopedSource func(unit string, open bool, args pgx.NamedArgs) string
	// clusterSelect, below zoom clusterBelow, replaces the features with
	// clusters: the select of one row per cluster (geom, fid and
	// attributes) at zoom z, as the unit (empty: any reader) may see them,
	// adding its values to args.
	clusterSelect func(z int, unit string, open bool, args pgx.NamedArgs) string
	clusterBelow  int
}

// TileLayers is the table of vector-tile layers, in drawing order.
func TileLayers() []TileLayer {
	return []TileLayer{
		{
			ID:          "regions",
			Description: "districts from z6, subdistricts from z10, communities from z12",
			MinZoom:     6, MaxZoom: 16,
			Fields: map[string]string{"code": "String: the administrative code", "name": "String",
				"level": "String: district, subdistrict or community"},
			Tables: []string{"regions"},
			geom:   "r.geom",
			cols:   "r.id AS fid, r.code, r.name, r.level",
			from:   "regions r",
			where: `(r.level = 'district' OR (r.level = 'subdistrict' AND @z >= 10)
			         OR (r.level = 'community' AND @z >= 12))`,
			clip: true, simplifyBelow: 14,
			extent: `SELECT ST_Extent(geom) FROM regions WHERE level = 'district'`,
		},
		{
			ID:          "grids",
			Description: "live unit grids",
			MinZoom:     13, MaxZoom: 18,
			Fields: map[string]string{"code": "String: the stable grid code", "name": "String",
				"community": "String: the community's code", "area_m2": "Number"},
			Tables:   []string{"grids", "regions"},
			geom:     "g.geom",
			mercator: "g.geom_3857",
			settled:  true,
			cols:     "g.id AS fid, g.code, g.name, g.community_code AS community, round(g.area_m2) AS area_m2",
			from:     "grids g",
			where:    "g.valid_to IS NULL",
			extent:   `SELECT ST_Extent(geom) FROM grids WHERE valid_to IS NULL`,
		},
		{
			ID:          "streets",
			Description: "main and secondary streets from z11, back alleys from z14",
			MinZoom:     11, MaxZoom: 18,
			Fields: map[string]string{"layer": "String: street or alley", "code": "String", "name": "String",
				"length_m": "Number"},
			Tables: []string{"objects"},
			geom:   "o.geom",
			cols:   "o.id AS fid, o.layer, o.code, o.name, round(o.length_m) AS length_m",
			from:   "objects o",
			where:  "(o.layer = 'street' OR (o.layer = 'alley' AND @z >= 14))",
			clip:   true, simplifyBelow: 14,
			extent: `SELECT ST_Extent(geom) FROM objects WHERE layer IN ('street', 'alley')`,
		},
		{
			ID:          "objects",
			Description: "objects of every other layer (markets, schools, compounds, shops, components…): areas from z14, points from z15",
			MinZoom:     14, MaxZoom: 18,
			Fields: map[string]string{"layer": "String: the object layer (see /api/v1/layers)", "code": "String",
				"name": "String", "category": "String: component or event class"},
			Tables:   []string{"objects"},
			geom:     "o.geom",
			mercator: "o.geom_3857",
			settled:  true,
			cols:     "o.id AS fid, o.layer, o.code, o.name, o.category_code AS category",
			from:     "objects o",
			// Points are the many (shops, components: a hundred per grid in
			// a dense city) and read as clutter at z14.
			where:  "o.layer NOT IN ('street', 'alley') AND (@z >= 15 OR ST_Dimension(o.geom) > 0)",
			extent: `SELECT ST_Extent(geom) FROM objects WHERE layer NOT IN ('street', 'alley')`,
		},
		{
			ID: "gaps",
			Description: "coverage gaps of an area duty (?theme=): the city minus every lead area of the duty " +
				"(led grids, led regions, led polygon objects), as in /api/v1/coverage/gaps.geojson",
			MinZoom: 12, MaxZoom: 18,
			Fields: map[string]string{"theme": "String: the duty",
				"community": "String: the community holding the gap's interior point, if any"},
			Tables: []string{"regions", "grids", "objects", "assignments"},
			Theme:  true, AreaOnly: true,
			geom: "gap.geom",
			cols: `row_number() OVER () AS fid, @theme::text AS theme,
			       (SELECT c.code FROM regions c WHERE c.level = 'community' AND c.geom && ST_PointOnSurface(gap.geom)
			          AND ST_Intersects(c.geom, ST_PointOnSurface(gap.geom)) LIMIT 1) AS community`,
			// The lead areas (lead_areas, as coverage reads them) gathered
			// for the buffered tile only: a few hundred grids at z14 instead
			// of the whole city, so one tile costs tens of milliseconds.
			// Regions are clipped to the tile: a district's outline is long.
			from: `LATERAL (
				SELECT ST_UnaryUnion(ST_Collect(ST_ClipByBox2D(r.geom, env.e))) AS g
				FROM regions r WHERE r.level = 'district' AND r.geom && env.e) city,
			LATERAL (
				SELECT ST_UnaryUnion(ST_Collect(CASE WHEN l.kind = 'region' THEN ST_ClipByBox2D(l.geom, env.e) ELSE l.geom END)) AS g
				FROM lead_areas l WHERE l.theme = @theme AND l.geom && env.e) led,
			LATERAL ST_Dump(CASE WHEN led.g IS NULL THEN city.g ELSE ST_Difference(city.g, led.g) END) gap`,
			where:         "city.g IS NOT NULL AND ST_Dimension(gap.geom) = 2",
			simplifyBelow: 14,
			extent:        `SELECT ST_Extent(geom) FROM regions WHERE level = 'district'`,
		},
		{
			ID: "unassigned",
			Description: "objects no unit leads for a duty (?theme=), and the stretches of streets and alleys " +
				"outside every led stretch, as unassigned_object and uncovered_stretch in /api/v1/coverage/gaps.geojson; " +
				"an object duty draws its own layers (road chief: streets and alleys), an area duty every object outside its lead areas",
			MinZoom: 13, MaxZoom: 18,
			Fields: map[string]string{"theme": "String: the duty", "kind": "String: unassigned_object or uncovered_stretch",
				"object_id": "Number", "layer": "String", "name": "String",
				"from_m": "Number: start of an uncovered stretch along the line", "to_m": "Number: its end"},
			Tables: []string{"objects", "assignments", "grids", "regions"},
			Theme:  true,
			geom:   "part.geom",
			filter: "o.geom",
			cols: `row_number() OVER () AS fid, @theme::text AS theme, part.kind, o.id AS object_id, o.layer, o.name,
			       round(part.from_m, 1)::float8 AS from_m, round(part.to_m, 1)::float8 AS to_m`,
			// The rules of coverage, over the same views: an object is led by
			// a lead of its own (object_leads; stretches count along lines)
			// or by a led grid or region (lead_areas of those kinds) covering
			// its middle (citygrid_middle).
			//
			// The territorial test runs once per tile, not once per object:
			// led is the union of the led grids reaching the buffered tile
			// and of the led regions clipped to it, as coverage's
			// cov_territorial and the gaps layer build it, and ST_Covers
			// tests each middle against that one geometry, which PostGIS
			// indexes once and reuses. Probing the grid and region indexes
			// for each of the 4,000 objects of a dense z14 tile cost 50–80
			// ms; the union of its 450 led grids costs about 10 ms. The
			// answers are the same: over every z13 and z14 tile of the bench
			// city, for all 16 duties, the tiles came out byte for byte as
			// before. A middle outside the buffered tile (a long street's, a
			// large compound's) may lie in a lead the union left out or
			// clipped away: those few objects are still probed one by one.
			//
			// unled is a subquery (OFFSET 0) that w names, so that an
			// object's own leads are looked up only once the cheap tests
			// have kept it (80 of 4,000 in a sanitation tile). w looks them
			// up by o.id and names unled only to come after it: keyed by
			// unled.id, a subquery's output whose distinct count the
			// planner does not know (it guesses 200), w was put behind a
			// Memoize that never hits (1,600 misses in a frontage tile,
			// 1–2 ms).
			//
			// Leads compare their theme with th.code, not with the
			// parameter: for a duty nobody leads yet (place_name_signs in
			// the bench city) PostgreSQL estimated no rows for the constant
			// and scanned the whole assignments_one_lead GiST index by theme
			// for each object, 0.8 ms each (3.5 s per z14 tile, 14 s at z13),
			// instead of looking the object up by assignments_object.
			//
			// The union is an aggregate in its own LATERAL subquery, as in
			// the gaps layer: the planner cannot flatten a view's UNION ALL
			// branches that join, so a join condition on the tile would be
			// tested after each branch had read the whole city (20,000 led
			// grids); within a subquery the tile is a parameter, and each
			// branch probes its geometry index with it.
			with: `led AS MATERIALIZED (
				SELECT l.u FROM env CROSS JOIN themes th CROSS JOIN LATERAL (
					SELECT ST_CollectionExtract(ST_UnaryUnion(ST_Collect(
					         CASE WHEN l.kind = 'region' THEN ST_ClipByBox2D(l.geom, env.e) ELSE l.geom END)), 3) AS u
					FROM lead_areas l
					WHERE l.theme = th.code AND l.kind IN ('grid', 'region') AND l.geom && env.e) l
				WHERE th.code = @theme)`,
			from: `themes th
			CROSS JOIN led
			CROSS JOIN objects o
			CROSS JOIN LATERAL (
				SELECT o.id FROM (SELECT citygrid_middle(o.geom) AS p) m
				WHERE (th.scope = 'area' OR o.layer = ANY(th.layers))
				  AND CASE WHEN ST_Contains(env.e, m.p) THEN led.u IS NULL OR NOT ST_Covers(led.u, m.p)
				  ELSE NOT EXISTS (
					SELECT 1 FROM lead_areas l
					WHERE l.theme = th.code AND l.kind IN ('grid', 'region') AND l.geom && m.p AND ST_Covers(l.geom, m.p)) END
				OFFSET 0) unled
			CROSS JOIN LATERAL (
				SELECT range_agg(numrange(l.from_m::numeric, l.to_m::numeric)) AS own
				FROM object_leads l
				WHERE l.object_id = o.id AND unled.id IS NOT NULL AND l.theme = th.code) w
			CROSS JOIN LATERAL (
				SELECT o.geom AS geom, 'unassigned_object' AS kind, NULL::numeric AS from_m, NULL::numeric AS to_m
				WHERE w.own IS NULL
				UNION ALL
				SELECT ST_LineSubstring(o.geom, least(lower(x) / o.length_m::numeric, 1)::float8, least(upper(x) / o.length_m::numeric, 1)::float8),
				       'uncovered_stretch', lower(x), upper(x)
				FROM unnest(nummultirange(numrange(0, o.length_m::numeric)) - w.own) x
				WHERE w.own IS NOT NULL AND GeometryType(o.geom) = 'LINESTRING' AND o.length_m > 0) part`,
			where:  `th.code = @theme`,
			clip:   true,
			extent: `SELECT ST_Extent(geom) FROM objects`,
		},
		casesTileLayer(),
	}
}

// TileSet is the catalogue of tile layers (TileLayers) with lookup by id;
// build it once, it does not change.
type TileSet struct {
	layers []TileLayer
	byID   map[string]int
}

// NewTileSet builds the catalogue.
func NewTileSet() *TileSet {
	t := &TileSet{layers: TileLayers(), byID: map[string]int{}}
	for i, l := range t.layers {
		t.byID[l.ID] = i
	}
	return t
}

// Layers lists the layers in drawing order.
func (t *TileSet) Layers() []TileLayer { return slices.Clone(t.layers) }

// Layer finds a layer by id; an unknown one is a grids.NotFoundError.
func (t *TileSet) Layer(id string) (TileLayer, error) {
	i, ok := t.byID[id]
	if !ok {
		ids := make([]string, len(t.layers))
		for j, l := range t.layers {
			ids[j] = l.ID
		}
		return TileLayer{}, &grids.NotFoundError{What: "tile layer", Key: id, Hint: "the layers are " + strings.Join(ids, ", ")}
	}
	return t.layers[i], nil
}

// Coordinates reads a tile's z, x and y: whole numbers, z up to
// MaxTileZoom, x and y from 0 to 2^z−1, else a grids.MalformedError naming
// the parameter. A zoom outside the layer's range is a
// grids.NotFoundError, as a tile outside a tileset's limits.
func (l TileLayer) Coordinates(zv, xv, yv string) (z, x, y int, err error) {
	if z, err = tileCoord("z", zv, MaxTileZoom+1); err != nil {
		return
	}
	if x, err = tileCoord("x", xv, 1<<z); err != nil {
		return
	}
	if y, err = tileCoord("y", yv, 1<<z); err != nil {
		return
	}
	if z < l.MinZoom || z > l.MaxZoom {
		err = &grids.NotFoundError{What: "tile", Key: fmt.Sprintf("%s/%d/%d/%d", l.ID, z, x, y),
			Hint: fmt.Sprintf("layer %s has tiles from zoom %d to %d; beyond its maximum, draw the maximum zoom's tiles larger (overzoom)", l.ID, l.MinZoom, l.MaxZoom)}
	}
	return
}

// tileCoord reads one of z, x, y: a whole number from 0 to below limit.
func tileCoord(name, v string, limit int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n >= limit {
		return 0, grids.Malformed(name, "want a whole number from 0 to %d, got %q", limit-1, v)
	}
	return n, nil
}

// Narrowing reads the one query parameter that narrows a layer, which
// Tile takes and the cache keys by: a theme layer's duty (?theme=,
// required there, a grids.MalformedError when missing; whether the duty
// exists is Tile's or CheckTileTheme's to say), or "open" for ?status=open
// of a layer with OpenParam. Other layers ignore both, so that they cannot
// split the cache.
func (l TileLayer) Narrowing(q url.Values) (string, error) {
	switch {
	case l.Theme:
		v := q.Get("theme")
		if v == "" {
			return "", grids.Malformed("theme", "required: the duty whose gaps to draw, e.g. sanitation (see /api/v1/themes)")
		}
		return v, nil
	case l.OpenParam:
		switch v := q.Get("status"); v {
		case "", "open":
			return v, nil
		default:
			return "", grids.Malformed("status", "only open is drawn apart (?status=open: not closed, cancelled or merged), not %q", v)
		}
	}
	return "", nil
}

// NarrowingQuery is the query string that asks for narrowing n ("" when none).
func (l TileLayer) NarrowingQuery(n string) string {
	switch {
	case n == "":
		return ""
	case l.Theme:
		return "?theme=" + url.QueryEscape(n)
	default:
		return "?status=" + url.QueryEscape(n)
	}
}

// sql is the layer's tile query: its features in the buffered tile,
// projected to Web Mercator, quantised by ST_AsMVTGeom and encoded by
// ST_AsMVT in one round trip.
//
// OFFSET 0 keeps "t.geom IS NOT NULL" out of the scan: pushed down, it
// made PostgreSQL run ST_AsMVTGeom twice per feature, once to test it and
// once to draw it (a third of a z14 grid tile's time). The features and
// their order are the same.
func (l TileLayer) sql(z int, unit string, open bool, args pgx.NamedArgs) string {
	from := l.from
	if l.scopedSource != nil {
		from = l.scopedSource(unit, open, args)
	}
	g := l.mercator
	if g == "" {
		g = l.geom
		if l.clip {
			g = "ST_ClipByBox2D(" + g + ", env.e)"
		}
		g = "ST_Transform(" + g + ", 3857)"
	}
	if l.simplifyBelow > 0 {
		g = "CASE WHEN @z < " + strconv.Itoa(l.simplifyBelow) + " THEN ST_Simplify(" + g + ", @tolerance, true) ELSE " + g + " END"
	}
	margin := strconv.FormatFloat(float64(tileBuffer)/TileExtent, 'f', -1, 64)
	filter := l.filter
	if filter == "" {
		filter = l.geom
	}
	with := ""
	if l.with != "" {
		with = ",\n\t\t" + l.with
	}
	env := `
		WITH env AS MATERIALIZED (
			SELECT ST_TileEnvelope(@z, @x, @y) AS m,
			       ST_Transform(ST_TileEnvelope(@z, @x, @y, margin => ` + margin + `), 4326) AS e,
			       ST_Transform(ST_TileEnvelope(@z, @x, @y), 4326) AS t)` + with
	if l.clustered(z) {
		return env + `
		SELECT ST_AsMVT(t, @layer, ` + strconv.Itoa(TileExtent) + `, 'geom', 'fid') FROM (` + l.clusterSelect(z, unit, open, args) + `
		) t WHERE t.geom IS NOT NULL`
	}
	return env + `
		SELECT ST_AsMVT(t, @layer, ` + strconv.Itoa(TileExtent) + `, 'geom', 'fid') FROM (
			SELECT ST_AsMVTGeom(` + g + `, env.m, ` + strconv.Itoa(TileExtent) + `, ` + strconv.Itoa(tileBuffer) + `, true) AS geom, ` + l.cols + `
			FROM env, ` + from + `
			WHERE ` + filter + ` && env.e AND ` + l.where + `
			OFFSET 0
		) t WHERE t.geom IS NOT NULL`
}

// clustered says the layer draws clusters at zoom z.
func (l TileLayer) clustered(z int) bool {
	return l.clusterSelect != nil && z < l.clusterBelow
}

// Tile renders one tile of a layer as Mapbox Vector Tile bytes; an empty
// tile is nil. z, x and y must be in range (Coordinates checks them).
// narrowing is what Narrowing read: a theme layer needs an existing duty
// (an area duty for an AreaOnly layer). A deadline on ctx bounds the
// rendering in PostgreSQL too; running out of it is an error wrapping
// context.DeadlineExceeded.
//
// unit is the unit of a unit-role reader of a Scoped layer, which sees only
// its unit's features; empty for every other reader.
func (s *Store) Tile(ctx context.Context, l TileLayer, z, x, y int, narrowing, unit string) ([]byte, error) {
	theme := ""
	if l.Theme {
		theme = narrowing
		if err := s.CheckTileTheme(ctx, l, theme); err != nil {
			return nil, err
		}
	}
	// About one pixel of a 256-pixel tile, in Web Mercator metres.
	tolerance := 2 * math.Pi * 6378137 / (256 * math.Exp2(float64(z)))
	args := pgx.NamedArgs{"z": z, "x": x, "y": y, "layer": l.ID, "theme": theme, "tolerance": tolerance}
	sql := l.sql(z, unit, l.OpenParam && narrowing == "open", args)
	var b []byte
	var err error
	switch {
	case l.clustered(z):
		// A cluster query reads counts by cell, not a box's features: the
		// plan does not depend on the tile, and planning it afresh (over
		// every partition of cases) costs more than running it.
		err = s.settledTile(ctx, sql, args, &b, `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	case l.settled:
		err = s.settledTile(ctx, sql, args, &b, `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
			set_config('enable_bitmapscan', 'off', true)`)
	default:
		err = s.pool.QueryRow(ctx, sql, args).Scan(&b)
	}
	// The pool cancels a query in PostgreSQL when its context ends
	// (internal/db), which PostgreSQL reports as a cancelled statement;
	// the caller is told which deadline it was.
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("tile %s %d/%d/%d: %w: %w", l.ID, z, x, y, ctx.Err(), err)
	}
	if len(b) == 0 {
		b = nil
	}
	return b, err
}

// settledTile renders a tile with settings of its own: set_config(…, true)
// lasts until the end of the batch's implicit transaction, so the settings
// cost no extra round trip.
func (s *Store) settledTile(ctx context.Context, sql string, args pgx.NamedArgs, b *[]byte, settings string) error {
	batch := &pgx.Batch{}
	batch.Queue(settings)
	batch.Queue(sql, args).QueryRow(func(r pgx.Row) error { return r.Scan(b) })
	return s.pool.SendBatch(ctx, batch).Close()
}

// checkTheme refuses unknown duties and, where areas are drawn, object
// duties: an object duty's gaps are unled objects and stretches, not
// areas (the unassigned layer draws them).
func (s *Store) checkTheme(ctx context.Context, theme string, area bool) error {
	var scope string
	err := s.pool.QueryRow(ctx, `SELECT scope FROM themes WHERE code = @theme`, pgx.NamedArgs{"theme": theme}).Scan(&scope)
	if errors.Is(err, pgx.ErrNoRows) {
		return grids.Invalid("theme", "theme %q does not exist (see /api/v1/themes)", theme)
	}
	if err != nil {
		return err
	}
	if area && scope != "area" {
		return grids.Invalid("theme", "%q is an object duty: its gaps are unled objects and stretches, drawn by the unassigned layer; gap tiles draw area duties", theme)
	}
	return nil
}

// TileBounds is the extent of a layer's data in WGS84; ok is false when the
// layer is empty.
func (s *Store) TileBounds(ctx context.Context, l TileLayer) (b orb.Bound, ok bool, err error) {
	var x0, y0, x1, y1 *float64
	err = s.pool.QueryRow(ctx, `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (`+l.extent+`) x(b)`).
		Scan(&x0, &y0, &x1, &y1)
	if err != nil || x0 == nil {
		return b, false, err
	}
	return orb.Bound{Min: orb.Point{*x0, *y0}, Max: orb.Point{*x1, *y1}}, true, nil
}

// CheckTileTheme validates a theme for a theme layer without drawing.
func (s *Store) CheckTileTheme(ctx context.Context, l TileLayer, theme string) error {
	return s.checkTheme(ctx, theme, l.AreaOnly)
}
