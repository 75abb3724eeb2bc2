package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/paulmach/orb/planar"
)

// getTile fetches a tile or TileJSON with extra request headers. Go's
// client asks for gzip and unpacks it, as a browser does.
func (e *env) getTile(path string, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest("GET", e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return e.send(req)
}

// decodeTile checks the headers of a 200 tile and returns its one layer's
// features in WGS84.
func decodeTile(t *testing.T, r response, tile maptile.Tile, layer string) []*geojson.Feature {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("tile %v: %d %s", tile, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/vnd.mapbox-vector-tile" {
		t.Errorf("Content-Type %q", ct)
	}
	if r.header.Get("ETag") == "" || r.header.Get("Cache-Control") != "private, max-age=60" {
		t.Errorf("ETag %q, Cache-Control %q", r.header.Get("ETag"), r.header.Get("Cache-Control"))
	}
	layers, err := mvt.Unmarshal(r.body)
	if err != nil {
		t.Fatalf("not a vector tile: %v", err)
	}
	if len(layers) != 1 || layers[0].Name != layer {
		names := []string{}
		for _, l := range layers {
			names = append(names, l.Name)
		}
		t.Fatalf("layers %v, want [%s]", names, layer)
	}
	if layers[0].Extent != 4096 {
		t.Errorf("extent %d", layers[0].Extent)
	}
	layers.ProjectToWGS84(tile)
	return layers[0].Features
}

func tilePath(layer string, tile maptile.Tile, query string) string {
	return fmt.Sprintf("/tiles/%s/%d/%d/%d.mvt%s", layer, tile.Z, tile.X, tile.Y, query)
}

// envelope is the SQL for a tile's WGS84 envelope, optionally with the
// 64-unit buffer the server draws.
func envelope(tile maptile.Tile, buffered bool) string {
	margin := "0"
	if buffered {
		margin = "0.015625"
	}
	return fmt.Sprintf("ST_Transform(ST_TileEnvelope(%d, %d, %d, margin => %s), 4326)", tile.Z, tile.X, tile.Y, margin)
}

// A z14 grid tile holds exactly the live grids that reach it, with their
// codes and communities, drawn where the grids are.
func TestTileGrids(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	tile := maptile.At(e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM grids) x`), 14)
	type grid struct {
		community string
		bound     orb.Bound
		inner     bool // wholly inside the unbuffered tile
	}
	want := map[string]grid{}
	rows, err := e.store.Pool().Query(ctx, `
		SELECT g.code, c.code, ST_XMin(g.geom), ST_YMin(g.geom), ST_XMax(g.geom), ST_YMax(g.geom), ST_CoveredBy(g.geom, `+envelope(tile, false)+`),
		       ST_Intersects(g.geom, `+envelope(tile, false)+`)
		FROM grids g JOIN regions c ON c.id = g.community_id
		WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, `+envelope(tile, true)+`)`)
	if err != nil {
		t.Fatal(err)
	}
	inTile := 0
	for rows.Next() {
		var code string
		var g grid
		var touches bool
		if err := rows.Scan(&code, &g.community, &g.bound.Min[0], &g.bound.Min[1], &g.bound.Max[0], &g.bound.Max[1], &g.inner, &touches); err != nil {
			t.Fatal(err)
		}
		want[code] = g
		if touches {
			inTile++
		}
	}
	rows.Close()
	if inTile < 100 {
		t.Fatalf("only %d grids in tile %v; the test city should fill it", inTile, tile)
	}

	features := decodeTile(t, e.getTile(tilePath("grids", tile, "")), tile, "grids")
	seen := map[string]bool{}
	// Quantisation at z14: a 4,096th of the tile, about 5e-6 degrees.
	tol := (tile.Bound().Max[0] - tile.Bound().Min[0]) / 4096 * 1.5
	for _, f := range features {
		code, _ := f.Properties["code"].(string)
		g, ok := want[code]
		if !ok {
			t.Errorf("feature %q is no live grid reaching the tile", code)
			continue
		}
		seen[code] = true
		if f.Properties["community"] != g.community {
			t.Errorf("grid %s: community %v, want %s", code, f.Properties["community"], g.community)
		}
		if a, _ := f.Properties["area_m2"].(float64); a < 1000 || a > 100000 {
			t.Errorf("grid %s: area_m2 %v", code, f.Properties["area_m2"])
		}
		if _, ok := f.Geometry.(orb.Polygon); !ok {
			if _, ok := f.Geometry.(orb.MultiPolygon); !ok {
				t.Errorf("grid %s: a %s", code, f.Geometry.GeoJSONType())
			}
		}
		b := f.Geometry.Bound()
		grown := g.bound.Pad(tol)
		if !grown.Contains(b.Min) || !grown.Contains(b.Max) {
			t.Errorf("grid %s drawn at %v, outside its bbox %v", code, b, g.bound)
		}
		if g.inner && (math.Abs(b.Min[0]-g.bound.Min[0]) > tol || math.Abs(b.Max[1]-g.bound.Max[1]) > tol) {
			t.Errorf("grid %s inside the tile drawn at %v, want its bbox %v", code, b, g.bound)
		}
	}
	for code, g := range want {
		if !seen[code] && g.inner {
			t.Errorf("grid %s lies in the tile but is not drawn", code)
		}
	}
	if len(seen) < inTile {
		t.Errorf("%d grids drawn, %d reach the tile", len(seen), inTile)
	}

	// Below the layer's zoom range: 404 naming the range; an empty tile in
	// range: 204.
	low := maptile.At(tile.Center(), 10)
	if r := e.getTile(tilePath("grids", low, "")); r.status != 404 || !strings.Contains(string(r.body), "zoom 13 to 18") {
		t.Errorf("grids at z10: %d %s", r.status, r.body)
	}
	if r := e.getTile(tilePath("grids", maptile.New(0, 0, 14), "")); r.status != 204 || len(r.body) != 0 {
		t.Errorf("empty tile: %d %q", r.status, r.body)
	}
	// The route is counted under its template.
	if r := e.do("GET", "/metrics", "", nil); !strings.Contains(string(r.body), `route="/tiles/:layer/:z/:x/:y.mvt"`) {
		t.Error("tile requests are not in the metrics")
	}
}

// Streets and alleys are line features; other objects are areas at z14 and
// points as well from z15.
func TestTileStreetsAndObjects(t *testing.T) {
	e := cityEnv(t)
	centre := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM grids) x`)
	tile := maptile.At(centre, 14)
	layers := map[string]int{}
	for _, f := range decodeTile(t, e.getTile(tilePath("streets", tile, "")), tile, "streets") {
		switch f.Geometry.(type) {
		case orb.LineString, orb.MultiLineString:
		default:
			t.Errorf("street feature %v is a %s", f.Properties, f.Geometry.GeoJSONType())
		}
		layer, _ := f.Properties["layer"].(string)
		layers[layer]++
		if f.ID == nil {
			t.Errorf("street feature without an id: %v", f.Properties)
		}
	}
	if layers["street"] == 0 || layers["alley"] == 0 || len(layers) != 2 {
		t.Errorf("streets tile at z14 has %v, want streets and alleys", layers)
	}
	// At z12 the alleys are left out.
	z12 := maptile.At(centre, 12)
	for _, f := range decodeTile(t, e.getTile(tilePath("streets", z12, "")), z12, "streets") {
		if f.Properties["layer"] != "street" {
			t.Fatalf("z12 streets tile has a %v", f.Properties["layer"])
		}
	}

	count := func(z maptile.Zoom) (points, areas int) {
		tl := maptile.At(centre, z)
		for _, f := range decodeTile(t, e.getTile(tilePath("objects", tl, "")), tl, "objects") {
			if f.Properties["layer"] == "street" || f.Properties["layer"] == "alley" {
				t.Errorf("objects tile has a %v", f.Properties["layer"])
			}
			switch f.Geometry.Dimensions() {
			case 0:
				points++
			case 2:
				areas++
			}
		}
		return points, areas
	}
	if p, a := count(14); p != 0 || a == 0 {
		t.Errorf("objects at z14: %d points, %d areas; want areas only", p, a)
	}
	if p, _ := count(15); p == 0 {
		t.Error("objects at z15 have no points")
	}
}

// gapsAt returns the gap polygons of a tile (none for 204).
func (e *env) gapsAt(tile maptile.Tile, theme string) ([]*geojson.Feature, response) {
	e.t.Helper()
	r := e.getTile(tilePath("gaps", tile, "?theme="+theme))
	if r.status == 204 {
		return nil, r
	}
	return decodeTile(e.t, r, tile, "gaps"), r
}

func inAny(fs []*geojson.Feature, p orb.Point) bool {
	for _, f := range fs {
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			if planar.PolygonContains(g, p) {
				return true
			}
		case orb.MultiPolygon:
			if planar.MultiPolygonContains(g, p) {
				return true
			}
		}
	}
	return false
}

// A grid without a sanitation lead is a gap on the map; a tile where every
// grid is led has none. Giving the grid a lead reaches the cached tile
// through the change notification, and leaves other layers' cache alone.
func TestTileGaps(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	const led = `EXISTS (SELECT 1 FROM assignments a WHERE a.grid_code = g.code AND a.theme_code = 'sanitation' AND a.role = 'lead' AND a.valid_to IS NULL)`
	var code string
	var p orb.Point
	err := e.store.Pool().QueryRow(ctx, `
		SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM grids g
		WHERE g.valid_to IS NULL AND NOT `+led+`
		  AND NOT EXISTS (SELECT 1 FROM objects o WHERE ST_Dimension(o.geom) = 2 AND ST_Intersects(o.geom, g.geom))
		ORDER BY g.code LIMIT 1`).Scan(&code, &p[0], &p[1])
	if err != nil {
		t.Fatalf("no grid without a sanitation lead: %v", err)
	}
	tile := maptile.At(p, 16)
	gaps, _ := e.gapsAt(tile, "sanitation")
	if !inAny(gaps, p) {
		t.Fatalf("grid %s has no lead, but no gap polygon of tile %v covers it (%d gaps)", code, tile, len(gaps))
	}
	for _, f := range gaps {
		if f.Properties["theme"] != "sanitation" {
			t.Errorf("gap properties %v", f.Properties)
		}
	}

	// A z16 tile inside the city where every grid reaching it is led.
	var full maptile.Tile
	rows, err := e.store.Pool().Query(ctx, `SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM grids g WHERE g.valid_to IS NULL ORDER BY g.code`)
	if err != nil {
		t.Fatal(err)
	}
	var candidates []maptile.Tile
	for rows.Next() {
		var q orb.Point
		rows.Scan(&q[0], &q[1])
		candidates = append(candidates, maptile.At(q, 16))
	}
	rows.Close()
	for _, c := range candidates {
		var ok bool
		e.store.Pool().QueryRow(ctx, `SELECT ST_CoveredBy(`+envelope(c, true)+`, (SELECT ST_Union(geom) FROM regions WHERE level = 'district'))
			AND NOT EXISTS (SELECT 1 FROM grids g WHERE g.valid_to IS NULL AND ST_Intersects(g.geom, `+envelope(c, true)+`) AND NOT `+led+`)`).Scan(&ok)
		if ok {
			full = c
			break
		}
	}
	if full.Z == 0 {
		t.Fatal("no z16 tile with every grid led")
	}
	if gaps, r := e.gapsAt(full, "sanitation"); len(gaps) != 0 {
		t.Errorf("tile %v has every grid led, yet %d gaps (%d)", full, len(gaps), r.status)
	}

	// Warm the grids tile, then lead the gap grid.
	gridsPath := tilePath("grids", tile, "")
	e.getTile(gridsPath)
	if r := e.getTile(gridsPath); r.header.Get("X-Cache") != "hit" {
		t.Fatalf("second grids request: X-Cache %q", r.header.Get("X-Cache"))
	}
	if r := e.getTile(tilePath("gaps", tile, "?theme=sanitation")); r.header.Get("X-Cache") != "hit" {
		t.Fatalf("second gaps request: X-Cache %q", r.header.Get("X-Cache"))
	}
	if r := e.do("POST", "/api/v1/assignments", adminToken, map[string]any{"theme": "sanitation", "unit": "HW", "role": "lead", "target_kind": "grid", "target": code}); r.status != 201 {
		t.Fatalf("assign: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		gaps, _ = e.gapsAt(tile, "sanitation")
		if !inAny(gaps, p) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gap is still drawn 10 s after the grid got a lead")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// An assignment changes no grid: the grids tile is still cached.
	if r := e.getTile(gridsPath); r.header.Get("X-Cache") != "hit" {
		t.Errorf("grids tile after an assignment: X-Cache %q", r.header.Get("X-Cache"))
	}
	// Redrawing grids reaches the grids layer.
	if _, err := e.store.Pool().Exec(ctx, `UPDATE grids SET name = 'renamed' WHERE code = $1 AND valid_to IS NULL`, code); err != nil {
		t.Fatal(err)
	}
	for {
		r := e.getTile(gridsPath)
		renamed := false
		for _, f := range decodeTile(t, r, tile, "grids") {
			renamed = renamed || (f.Properties["code"] == code && f.Properties["name"] == "renamed")
		}
		if renamed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the grids tile still shows the old name 10 s after the change")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Object duties have no area gaps; the theme is required and must exist.
	if r := e.getTile(tilePath("gaps", tile, "?theme=road_chief")); r.status != 422 {
		t.Errorf("object duty: %d %s", r.status, r.body)
	}
	if r := e.getTile(tilePath("gaps", tile, "?theme=nope")); r.status != 422 {
		t.Errorf("unknown theme: %d %s", r.status, r.body)
	}
	if r := e.getTile(tilePath("gaps", tile, "")); r.status != 400 {
		t.Errorf("no theme: %d %s", r.status, r.body)
	} else if _, field := r.errField(t); field != "theme" {
		t.Errorf("no theme: field %q", field)
	}
}

func TestTileJSON(t *testing.T) {
	e := cityEnv(t)
	var bounds [4]float64
	e.store.Pool().QueryRow(context.Background(), `SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM (SELECT ST_Extent(geom) b FROM grids WHERE valid_to IS NULL) x`).
		Scan(&bounds[0], &bounds[1], &bounds[2], &bounds[3])
	r := e.getTile("/tiles/grids.json")
	if r.status != 200 {
		t.Fatalf("grids.json: %d %s", r.status, r.body)
	}
	var doc struct {
		TileJSON     string     `json:"tilejson"`
		Name         string     `json:"name"`
		Tiles        []string   `json:"tiles"`
		MinZoom      int        `json:"minzoom"`
		MaxZoom      int        `json:"maxzoom"`
		Bounds       [4]float64 `json:"bounds"`
		Center       [3]float64 `json:"center"`
		VectorLayers []struct {
			ID      string            `json:"id"`
			Fields  map[string]string `json:"fields"`
			MinZoom int               `json:"minzoom"`
			MaxZoom int               `json:"maxzoom"`
		} `json:"vector_layers"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.TileJSON != "3.0.0" || doc.Name == "" || len(doc.Tiles) != 1 || doc.Tiles[0] != e.url+"/tiles/grids/{z}/{x}/{y}.mvt" {
		t.Errorf("tilejson %q name %q tiles %v", doc.TileJSON, doc.Name, doc.Tiles)
	}
	if doc.MinZoom != 13 || doc.MaxZoom != 18 {
		t.Errorf("zooms %d-%d", doc.MinZoom, doc.MaxZoom)
	}
	for i := range bounds {
		if math.Abs(doc.Bounds[i]-bounds[i]) > 1e-6 {
			t.Errorf("bounds %v, want %v", doc.Bounds, bounds)
			break
		}
	}
	if doc.Center[0] < bounds[0] || doc.Center[0] > bounds[2] || doc.Center[1] < bounds[1] || doc.Center[1] > bounds[3] ||
		doc.Center[2] < 13 || doc.Center[2] > 18 {
		t.Errorf("center %v outside %v", doc.Center, bounds)
	}
	if len(doc.VectorLayers) != 1 || doc.VectorLayers[0].ID != "grids" || doc.VectorLayers[0].Fields["code"] == "" ||
		doc.VectorLayers[0].Fields["community"] == "" || doc.VectorLayers[0].MinZoom != 13 {
		t.Errorf("vector_layers %+v", doc.VectorLayers)
	}
	// The template is usable as it stands.
	tile := maptile.At(orb.Point{doc.Center[0], doc.Center[1]}, maptile.Zoom(doc.Center[2]))
	u := strings.NewReplacer("{z}", fmt.Sprint(tile.Z), "{x}", fmt.Sprint(tile.X), "{y}", fmt.Sprint(tile.Y)).Replace(doc.Tiles[0])
	if r := e.getTile(strings.TrimPrefix(u, e.url)); r.status != 200 {
		t.Errorf("the centre tile %s: %d", u, r.status)
	}

	r = e.getTile("/tiles/gaps.json?theme=sanitation")
	if err := json.Unmarshal(r.body, &doc); err != nil || r.status != 200 || !strings.HasSuffix(doc.Tiles[0], "/tiles/gaps/{z}/{x}/{y}.mvt?theme=sanitation") {
		t.Errorf("gaps.json: %d %s", r.status, r.body)
	}
	if r := e.getTile("/tiles/gaps.json"); r.status != 400 {
		t.Errorf("gaps.json without a theme: %d", r.status)
	}
	if r := e.getTile("/tiles/nope.json"); r.status != 404 {
		t.Errorf("nope.json: %d", r.status)
	}
}

// ETags round-trip in either encoding; the server cache answers the
// second request and no-cache renders afresh.
func TestTileETag(t *testing.T) {
	e := cityEnv(t)
	tile := maptile.At(e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_Centroid(ST_Extent(geom)) c FROM grids) x`), 14)
	path := tilePath("grids", tile, "")
	first := e.getTile(path)
	etag := first.header.Get("ETag")
	if first.status != 200 || etag == "" || first.header.Get("X-Cache") != "miss" {
		t.Fatalf("first: %d ETag %q X-Cache %q", first.status, etag, first.header.Get("X-Cache"))
	}
	if r := e.getTile(path, "If-None-Match", etag); r.status != 304 || len(r.body) != 0 || r.header.Get("X-Cache") != "hit" {
		t.Errorf("If-None-Match: %d X-Cache %q", r.status, r.header.Get("X-Cache"))
	}
	if r := e.getTile(path, "If-None-Match", `"abc", W/`+etag); r.status != 304 {
		t.Errorf("weak tag in a list: %d", r.status)
	}
	if r := e.getTile(path, "If-None-Match", `"stale"`); r.status != 200 {
		t.Errorf("stale tag: %d", r.status)
	}
	// Without gzip the same tile comes raw, under its own tag; either tag
	// revalidates.
	plain := e.getTile(path, "Accept-Encoding", "identity")
	if plain.status != 200 || plain.header.Get("Content-Encoding") != "" || plain.header.Get("ETag") == etag {
		t.Errorf("identity: %d encoding %q ETag %q", plain.status, plain.header.Get("Content-Encoding"), plain.header.Get("ETag"))
	}
	if string(plain.body) != string(first.body) {
		t.Error("identity and gzip bodies differ")
	}
	if r := e.getTile(path, "Accept-Encoding", "identity", "If-None-Match", etag); r.status != 304 {
		t.Errorf("identity revalidation with the gzip tag: %d", r.status)
	}
	if r := e.getTile(path, "Cache-Control", "no-cache"); r.status != 200 || r.header.Get("X-Cache") != "miss" || r.header.Get("ETag") != etag {
		t.Errorf("no-cache: %d X-Cache %q ETag %q (was %q)", r.status, r.header.Get("X-Cache"), r.header.Get("ETag"), etag)
	}
}

// Bad coordinates are 400 naming the parameter; an unknown layer is 404;
// tiles need a token.
func TestTileBadInput(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		path   string
		status int
		field  string
	}{
		{"/tiles/grids/23/0/0.mvt", 400, "z"},
		{"/tiles/grids/-1/0/0.mvt", 400, "z"},
		{"/tiles/grids/1.5/0/0.mvt", 400, "z"},
		{"/tiles/grids/abc/0/0.mvt", 400, "z"},
		{"/tiles/grids/14/16384/0.mvt", 400, "x"},
		{"/tiles/grids/14/x/0.mvt", 400, "x"},
		{"/tiles/grids/14/0/16384.mvt", 400, "y"},
		{"/tiles/grids/14/0/-1.mvt", 400, "y"},
		{"/tiles/grids/14/0/1.5.mvt", 400, "y"},
		{"/tiles/grids/0/1/0.mvt", 400, "x"},
		{"/tiles/nope/14/0/0.mvt", 404, ""},
		{"/tiles/grids/14/0/0.png", 404, ""},
		{"/tiles/grids/22/0/0.mvt", 404, ""}, // beyond the layer's maximum zoom
	} {
		r := e.getTile(c.path)
		if r.status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.path, r.status, c.status, r.body)
			continue
		}
		if code, field := r.errField(t); field != c.field || code == "" {
			t.Errorf("%s: code %q field %q, want field %q", c.path, code, field, c.field)
		}
	}
	if r := e.do("GET", "/tiles/grids/14/0/0.mvt", "", nil); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
	if r := e.do("GET", "/tiles/grids/14/0/0.mvt", e.token("analyst", ""), nil); r.status != 204 {
		t.Errorf("analyst token, empty tile: %d %s", r.status, r.body)
	}
}

// The unassigned layer draws what an object duty leaves without a lead: an
// alley with no road chief whole, and after half of it gets one, the other
// half as an uncovered stretch.
func TestTileUnassigned(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	var id int64
	var length float64
	var mid orb.Point
	if err := e.store.Pool().QueryRow(ctx, `
		SELECT o.id, o.length_m, ST_X(ST_LineInterpolatePoint(o.geom, 0.5)), ST_Y(ST_LineInterpolatePoint(o.geom, 0.5))
		FROM objects o WHERE o.layer = 'alley' AND GeometryType(o.geom) = 'LINESTRING' AND o.length_m > 100
		  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.object_id = o.id AND a.theme_code = 'road_chief')
		ORDER BY o.id LIMIT 1`).Scan(&id, &length, &mid[0], &mid[1]); err != nil {
		t.Fatalf("an alley without a road chief: %v", err)
	}
	tile := maptile.At(mid, 16)
	parts := func() map[string][]*geojson.Feature {
		r := e.getTile(tilePath("unassigned", tile, "?theme=road_chief"), "Cache-Control", "no-cache")
		out := map[string][]*geojson.Feature{}
		if r.status == 204 {
			return out
		}
		for _, f := range decodeTile(t, r, tile, "unassigned") {
			if f.Properties["object_id"] == float64(id) {
				out[f.Properties["kind"].(string)] = append(out[f.Properties["kind"].(string)], f)
			}
			if l := f.Properties["layer"]; l != "street" && l != "alley" {
				t.Fatalf("road chief is a duty for streets and alleys, the tile has a %v", l)
			}
		}
		return out
	}
	if got := parts(); len(got["unassigned_object"]) != 1 || len(got["uncovered_stretch"]) != 0 {
		t.Fatalf("alley %d without a road chief: %d whole, %d stretches", id, len(got["unassigned_object"]), len(got["uncovered_stretch"]))
	}
	half := math.Round(length/2*10) / 10
	if r := e.do("POST", "/api/v1/assignments", adminToken, map[string]any{"theme": "road_chief", "unit": "HW", "role": "lead",
		"target_kind": "object", "target": fmt.Sprint(id), "from_m": 0, "to_m": half}); r.status != 201 {
		t.Fatalf("assign half: %d %s", r.status, r.body)
	}
	got := parts()
	if len(got["unassigned_object"]) != 0 || len(got["uncovered_stretch"]) != 1 {
		t.Fatalf("half led: %d whole, %d stretches", len(got["unassigned_object"]), len(got["uncovered_stretch"]))
	}
	p := got["uncovered_stretch"][0].Properties
	if math.Abs(p["from_m"].(float64)-half) > 0.1 || math.Abs(p["to_m"].(float64)-length) > 0.1 {
		t.Errorf("uncovered stretch %v–%v, want %.1f–%.1f", p["from_m"], p["to_m"], half, length)
	}
	if r := e.getTile(tilePath("unassigned", tile, "?theme=nope")); r.status != 422 {
		t.Errorf("unknown theme: %d", r.status)
	}
}

// The unassigned layer draws what coverage reports. Over tiles of three
// zooms around a grid nobody leads, for an area duty, an object duty over
// lines (with a stretch led) and one over points: every feature drawn is
// an unassigned_object or uncovered_stretch of /api/v1/coverage/gaps.geojson
// for the whole city, and every one reported whose object's middle lies in
// the tile is drawn. At z16 many streets cross a tile with their middles
// outside it, which the tile tests one by one rather than against its union
// of leads.
func TestTileUnassignedAgreesWithCoverage(t *testing.T) {
	e := cityEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	var anchor orb.Point
	if err := pool.QueryRow(ctx, `
		SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom)) FROM grids g
		WHERE g.valid_to IS NULL AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.grid_code = g.code
		  AND a.theme_code = 'sanitation' AND a.role = 'lead' AND a.valid_to IS NULL)
		ORDER BY g.code LIMIT 1`).Scan(&anchor[0], &anchor[1]); err != nil {
		t.Fatalf("no grid without a sanitation lead: %v", err)
	}
	// Half of the longest street near the anchor gets a road chief of its
	// own, so that an uncovered stretch is drawn.
	var street int64
	var length float64
	if err := pool.QueryRow(ctx, `
		SELECT o.id, o.length_m FROM objects o WHERE o.layer IN ('street', 'alley') AND GeometryType(o.geom) = 'LINESTRING'
		  AND ST_DWithin(o.geom, ST_SetSRID(ST_MakePoint($1, $2), 4326), 0.002)
		  AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.object_id = o.id AND a.theme_code = 'road_chief' AND a.valid_to IS NULL)
		ORDER BY o.length_m DESC, o.id LIMIT 1`, anchor[0], anchor[1]).Scan(&street, &length); err != nil {
		t.Fatalf("no street without a road chief near %v: %v", anchor, err)
	}
	if r := e.do("POST", "/api/v1/assignments", adminToken, map[string]any{"theme": "road_chief", "unit": "HW", "role": "lead",
		"target_kind": "object", "target": fmt.Sprint(street), "from_m": 0, "to_m": math.Round(length/3*10) / 10}); r.status != 201 {
		t.Fatalf("assign a third: %d %s", r.status, r.body)
	}

	type part struct {
		kind     string
		id       int64
		from, to float64
	}
	key := func(f *geojson.Feature) part {
		p := part{kind: f.Properties.MustString("kind", ""), id: int64(f.Properties.MustFloat64("object_id", 0))}
		p.from, p.to = f.Properties.MustFloat64("from_m", 0), f.Properties.MustFloat64("to_m", 0)
		return p
	}
	// Stretch ends are rounded to 0.01 m in gaps.geojson, to 0.1 m in tiles.
	same := func(a, b part) bool {
		return a.kind == b.kind && a.id == b.id && math.Abs(a.from-b.from) < 0.06 && math.Abs(a.to-b.to) < 0.06
	}
	stretches := 0
	for _, theme := range []string{"sanitation", "road_chief", "frontage"} {
		r := e.do("GET", "/api/v1/coverage/gaps.geojson?theme="+theme, adminToken, nil)
		if r.status != 200 {
			t.Fatalf("gaps %s: %d %s", theme, r.status, r.body)
		}
		fc, err := geojson.UnmarshalFeatureCollection(r.body)
		if err != nil {
			t.Fatal(err)
		}
		reported := map[int64][]part{}
		for _, f := range fc.Features {
			if k := key(f); k.kind == "unassigned_object" || k.kind == "uncovered_stretch" {
				reported[k.id] = append(reported[k.id], k)
			}
		}
		for _, z := range []maptile.Zoom{14, 15, 16} {
			tile := maptile.At(anchor, z)
			// Each object reaching the buffered tile: whether its middle
			// lies in the tile, and whether in the city (coverage speaks
			// of the city only).
			type where struct{ inTile, inCity bool }
			objects := map[int64]where{}
			rows, err := pool.Query(ctx, `
				SELECT o.id, ST_Covers(`+envelope(tile, false)+`, m.p),
				       EXISTS (SELECT 1 FROM regions d WHERE d.level = 'district' AND ST_Covers(d.geom, m.p))
				FROM objects o, LATERAL (SELECT CASE WHEN ST_Dimension(o.geom) = 0 THEN o.geom ELSE ST_PointOnSurface(o.geom) END AS p) m
				WHERE o.geom && `+envelope(tile, true))
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id int64
				var w where
				if err := rows.Scan(&id, &w.inTile, &w.inCity); err != nil {
					t.Fatal(err)
				}
				objects[id] = w
			}
			rows.Close()

			res := e.getTile(tilePath("unassigned", tile, "?theme="+theme), "Cache-Control", "no-cache")
			var drawn []part
			if res.status != 204 {
				for _, f := range decodeTile(t, res, tile, "unassigned") {
					drawn = append(drawn, key(f))
				}
			}
			checked := 0
			for _, d := range drawn {
				if d.kind == "uncovered_stretch" {
					stretches++
				}
				w, ok := objects[d.id]
				if !ok {
					t.Errorf("%s z%d: object %d is drawn but does not reach the tile", theme, z, d.id)
					continue
				}
				if !w.inCity {
					continue
				}
				checked++
				found := false
				for _, p := range reported[d.id] {
					found = found || same(p, d)
				}
				if !found {
					t.Errorf("%s tile %v: drawn %+v, gaps.geojson has %+v for the object", theme, tile, d, reported[d.id])
				}
			}
			for id, ps := range reported {
				if w := objects[id]; !w.inTile {
					continue
				}
				for _, p := range ps {
					found := false
					for _, d := range drawn {
						found = found || same(p, d)
					}
					// A stretch far along a line may miss the tile its
					// object's middle lies in; a whole object may not.
					if !found && p.kind == "unassigned_object" {
						t.Errorf("%s tile %v: gaps.geojson reports %+v, whose middle lies in the tile, but it is not drawn", theme, tile, p)
					}
				}
			}
			t.Logf("%s z%d: %d parts drawn, %d of them in the city", theme, z, len(drawn), checked)
			if z == 14 && checked == 0 {
				t.Errorf("%s tile %v: nothing drawn to compare", theme, tile)
			}
		}
	}
	if stretches == 0 {
		t.Errorf("no uncovered stretch drawn, though street %d is led for a third of its length", street)
	}
}
