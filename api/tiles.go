package api

import (
	"bytes"
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/features"
)

// Vector tiles (/tiles/{layer}/{z}/{x}/{y}.mvt) and their TileJSON: the
// HTTP adapter, with the cache, over grids/features, which holds the layers
// and renders them.
//
// Statuses follow OGC API – Tiles: a tile inside the layer's zoom range
// with nothing in it is 204 No Content (MapLibre draws it as empty, without
// an error); a zoom outside the layer's range is 404, as a tile outside the
// tileset's limits (clients reading the TileJSON never ask for one);
// z > 22, x or y outside 0…2^z−1 or not whole numbers are 400 naming the
// parameter.
//
// Caching: the server keeps rendered tiles, gzipped, in an LRU bounded by
// bytes. Each layer has a generation, bumped when a table it reads from
// changes (the same NOTIFY that refreshes the locate index); an entry of an
// older generation is never served. A request with Cache-Control: no-cache
// (a browser's hard reload, or a benchmark of rendering) is rendered afresh.
// Responses carry a strong ETag (a hash of the tile) and
// Cache-Control: private, max-age=60: private because the answer depends on
// the token (a shared proxy must not hand the city's data to requests
// without one); 60 seconds so that a browser redraws a pan from its own
// cache yet sees a planner's edit within a minute, and revalidating after
// that costs a 304 from memory.

const (
	mvtContentType    = "application/vnd.mapbox-vector-tile"
	tileCacheControl  = "private, max-age=60"
	defaultTileCache  = 64 << 20
	tileEntryOverhead = 200 // map slot, list element, key and struct, roughly
	// tileRenderTimeout bounds one rendering. The HTTP server sets no
	// write timeout, and a rendering outlives the requester that started
	// it (others may be waiting for it), so without this a pathological
	// tile (a theme layer's lowest zoom over a far larger city, a lock
	// held) would keep a pool connection and a PostgreSQL backend busy for
	// as long as it takes. Tiles of the 20,000-grid bench city render in
	// well under a second; 30 s leaves room for a loaded server. A
	// constant, not configuration: nobody should need to tune it.
	tileRenderTimeout = 30 * time.Second
)

// tileService is the layer table and the tile cache of one server.
type tileService struct {
	layers *features.TileSet
	cache  *tileCache
	gz     sync.Pool // *gzip.Writer
	// flight merges concurrent misses of one tile (a wall of dispatch
	// screens opening the same view) into one rendering.
	flight singleflight.Group
	// renderTimeout bounds one rendering (tileRenderTimeout).
	renderTimeout time.Duration
}

func newTileService(maxBytes int64, reg *prometheus.Registry) *tileService {
	if maxBytes <= 0 {
		maxBytes = defaultTileCache
	}
	t := &tileService{layers: features.NewTileSet(), renderTimeout: tileRenderTimeout}
	t.cache = newTileCache(maxBytes, t.layers.Layers(), reg)
	return t
}

type tileKey struct {
	layer     string
	z, x, y   int
	narrowing string // the duty of a theme layer, or open (?status=open)
	unit      string // a unit token's own tiles of a scoped layer (cases)
}

type tileEntry struct {
	key  tileKey
	gen  uint64
	gz   []byte // the gzipped tile; nil when the tile is empty
	etag string // a hash of the uncompressed tile
}

// tileCache is an LRU of rendered tiles bounded by bytes, with one
// generation per layer. Stale entries are dropped when met or pushed out.
type tileCache struct {
	mu     sync.Mutex
	max    int64
	size   int64
	lru    *list.List // of *tileEntry, most recent first
	items  map[tileKey]*list.Element
	gens   map[string]uint64
	deps   map[string][]string // table → layers that read it
	bounds map[string]layerBounds

	hits, misses prometheus.Counter
	bytes        prometheus.GaugeFunc
}

type layerBounds struct {
	gen uint64
	b   orb.Bound
	ok  bool
}

func newTileCache(maxBytes int64, layers []features.TileLayer, reg *prometheus.Registry) *tileCache {
	c := &tileCache{
		max: maxBytes, lru: list.New(), items: map[tileKey]*list.Element{},
		gens: map[string]uint64{}, deps: map[string][]string{}, bounds: map[string]layerBounds{},
	}
	for _, l := range layers {
		c.gens[l.ID] = 1
		for _, t := range l.Tables {
			c.deps[t] = append(c.deps[t], l.ID)
		}
	}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "citygrid_tile_cache_lookups_total",
		Help: "Vector tile requests answered from the in-process cache (hit) or rendered (miss).",
	}, []string{"result"})
	c.hits, c.misses = lookups.WithLabelValues("hit"), lookups.WithLabelValues("miss")
	c.bytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "citygrid_tile_cache_bytes",
		Help: "Bytes held by the vector tile cache.",
	}, func() float64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return float64(c.size)
	})
	if reg != nil {
		reg.MustRegister(lookups, c.bytes)
	}
	return c
}

// changed makes stale every layer that reads table (all of them for
// grids.AnyChange).
func (c *tileCache) changed(table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if table == grids.AnyChange {
		for l := range c.gens {
			c.gens[l]++
		}
		return
	}
	for _, l := range c.deps[table] {
		c.gens[l]++
	}
}

// generation is read before rendering: a tile rendered while its data
// changed is stored under the old generation and so never served.
func (c *tileCache) generation(layer string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gens[layer]
}

func (c *tileCache) get(k tileKey) (*tileEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*tileEntry)
	if e.gen != c.gens[k.layer] {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

func (c *tileCache) put(e *tileEntry) {
	cost := entryCost(e)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.gen != c.gens[e.key.layer] || cost > c.max/8 {
		return // stale already, or so large it would flush the cache
	}
	if el, ok := c.items[e.key]; ok {
		c.remove(el)
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.size += cost
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *tileCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*tileEntry)
	delete(c.items, e.key)
	c.size -= entryCost(e)
}

func entryCost(e *tileEntry) int64 {
	return int64(len(e.gz) + len(e.etag) + len(e.key.layer) + len(e.key.narrowing) + len(e.key.unit) + tileEntryOverhead)
}

func (c *tileCache) layerBounds(layer string) (layerBounds, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.bounds[layer]
	return b, ok && b.gen == c.gens[layer]
}

func (c *tileCache) putBounds(layer string, b layerBounds) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bounds[layer] = b
}

// tile answers GET /tiles/{layer}/{z}/{x}/{y}.mvt.
func (s *gisAPI) tile(c echo.Context) error {
	l, err := s.tiles.layers.Layer(c.Param("layer"))
	if err != nil {
		return err
	}
	yv, ok := strings.CutSuffix(c.Param("y.mvt"), ".mvt")
	if !ok {
		return &grids.NotFoundError{What: "tile", Key: c.Param("y.mvt"), Hint: "tiles are served as .mvt (Mapbox Vector Tile)"}
	}
	z, x, y, err := l.Coordinates(c.Param("z"), c.Param("x"), yv)
	if err != nil {
		return err
	}
	narrowing, err := l.Narrowing(c.QueryParams())
	if err != nil {
		return err
	}
	unit, err := tileUnit(l, principalOf(c))
	if err != nil {
		return err
	}
	key := tileKey{layer: l.ID, z: z, x: x, y: y, narrowing: narrowing, unit: unit}
	cache := s.tiles.cache
	if !noCache(c.Request()) {
		if e, ok := cache.get(key); ok {
			cache.hits.Inc()
			return s.writeTile(c, e, "hit")
		}
	}
	cache.misses.Inc()
	gen := cache.generation(l.ID)
	v, err, _ := s.tiles.flight.Do(fmt.Sprintf("%v/%d", key, gen), func() (any, error) {
		// The rendering outlives a requester that hangs up, since others
		// may wait for it, so it is bounded by its own timeout instead
		// (the pool cancels the query in PostgreSQL when it runs out).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request().Context()), s.tiles.renderTimeout)
		defer cancel()
		raw, err := s.features.Tile(ctx, l, z, x, y, narrowing, unit)
		if errors.Is(err, context.DeadlineExceeded) {
			s.log.Warn("tile rendering timed out", "layer", l.ID, "z", z, "x", x, "y", y, "narrowing", narrowing,
				"timeout", s.tiles.renderTimeout.String(), "err", err)
			return nil, &unavailable{fmt.Sprintf("rendering tile %s %d/%d/%d took longer than %s and was given up", l.ID, z, x, y, s.tiles.renderTimeout)}
		}
		if err != nil {
			return nil, err
		}
		e := &tileEntry{key: key, gen: gen}
		if raw != nil {
			sum := sha256.Sum256(raw)
			e.etag = hex.EncodeToString(sum[:12])
			if e.gz, err = s.tiles.gzip(raw); err != nil {
				return nil, err
			}
		}
		cache.put(e)
		return e, nil
	})
	if err != nil {
		return err
	}
	e := v.(*tileEntry)
	return s.writeTile(c, e, "miss")
}

// tileUnit is the unit whose features alone a reader sees in a scoped
// layer: a unit token's unit, empty for other roles and layers. A unit
// token without a unit (which token creation refuses) sees none.
func tileUnit(l features.TileLayer, p grids.Principal) (string, error) {
	if !l.Scoped || p.Role != grids.RoleUnit {
		return "", nil
	}
	if p.Unit == "" {
		return "", grids.ErrForbidden
	}
	return p.Unit, nil
}

// noCache says the client asks for a fresh rendering.
func noCache(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Cache-Control"), "no-cache") || r.Header.Get("Pragma") == "no-cache"
}

func (t *tileService) gzip(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw) / 3)
	w, _ := t.gz.Get().(*gzip.Writer)
	if w == nil {
		// klauspost's level 2: tiles are compressed once per rendering,
		// and a z14 grids tile of 44 KB takes 0.14 ms there against the
		// standard library's 0.33 ms at its fastest level, for 6% more
		// bytes (17.5 KB against 16.5 KB); larger levels save a few per
		// cent for several times the time.
		w, _ = gzip.NewWriterLevel(&buf, 2)
	} else {
		w.Reset(&buf)
	}
	defer t.gz.Put(w)
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (s *gisAPI) writeTile(c echo.Context, e *tileEntry, cacheResult string) error {
	h := c.Response().Header()
	h.Set("Cache-Control", tileCacheControl)
	h.Set("X-Cache", cacheResult)
	if e.gz == nil {
		return c.NoContent(http.StatusNoContent)
	}
	h.Set("Vary", "Accept-Encoding")
	gz := acceptsGzip(c.Request())
	// The two encodings are two representations, so two strong ETags; a
	// revalidation with either means the client holds this tile.
	etag := `"` + e.etag + `"`
	if gz {
		etag = `"` + e.etag + `-gz"`
	}
	h.Set("ETag", etag)
	if matchesETag(c.Request().Header.Get("If-None-Match"), e.etag) {
		return c.NoContent(http.StatusNotModified)
	}
	if gz {
		h.Set("Content-Encoding", "gzip")
		return c.Blob(http.StatusOK, mvtContentType, e.gz)
	}
	r, err := gzip.NewReader(bytes.NewReader(e.gz))
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mvtContentType, raw)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// matchesETag compares If-None-Match weakly (RFC 9110 §13.1.2) with either
// encoding's tag of the tile whose hash is etag.
func matchesETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == `"`+etag+`"` || t == `"`+etag+`-gz"` {
			return true
		}
	}
	return false
}

// TileJSON 3.0.0 (https://github.com/mapbox/tilejson-spec/tree/master/3.0.0).
type tileJSON struct {
	TileJSON     string        `json:"tilejson"`
	Name         string        `json:"name"`
	Description  string        `json:"description"`
	Scheme       string        `json:"scheme"`
	Tiles        []string      `json:"tiles"`
	MinZoom      int           `json:"minzoom"`
	MaxZoom      int           `json:"maxzoom"`
	Bounds       [4]float64    `json:"bounds"`
	Center       [3]float64    `json:"center"`
	VectorLayers []vectorLayer `json:"vector_layers"`
}

type vectorLayer struct {
	ID          string            `json:"id"`
	Description string            `json:"description"`
	Fields      map[string]string `json:"fields"`
	MinZoom     int               `json:"minzoom"`
	MaxZoom     int               `json:"maxzoom"`
}

// tileJSON answers GET /tiles/{layer}.json.
func (s *gisAPI) tileJSON(c echo.Context) error {
	id, ok := strings.CutSuffix(c.Param("layer.json"), ".json")
	if !ok {
		return &grids.NotFoundError{What: "tileset", Key: c.Param("layer.json"), Hint: "ask for /tiles/{layer}.json or /tiles/{layer}/{z}/{x}/{y}.mvt"}
	}
	l, err := s.tiles.layers.Layer(id)
	if err != nil {
		return err
	}
	narrowing, err := l.Narrowing(c.QueryParams())
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if l.Theme {
		if err := s.features.CheckTileTheme(ctx, l, narrowing); err != nil {
			return err
		}
	}
	lb, fresh := s.tiles.cache.layerBounds(l.ID)
	if !fresh {
		gen := s.tiles.cache.generation(l.ID)
		b, ok, err := s.features.TileBounds(ctx, l)
		if err != nil {
			return err
		}
		lb = layerBounds{gen: gen, b: b, ok: ok}
		s.tiles.cache.putBounds(l.ID, lb)
	}
	// The whole Web Mercator world when the layer is still empty.
	b := orb.Bound{Min: orb.Point{-180, -85.0511287798066}, Max: orb.Point{180, 85.0511287798066}}
	if lb.ok {
		b = lb.b
	}
	tiles := c.Scheme() + "://" + c.Request().Host + "/tiles/" + l.ID + "/{z}/{x}/{y}.mvt"
	name := l.ID
	if narrowing != "" {
		tiles += l.NarrowingQuery(narrowing)
		name += " (" + narrowing + ")"
	}
	doc := tileJSON{
		TileJSON:    "3.0.0",
		Name:        "citygrid " + name,
		Description: l.Description,
		Scheme:      "xyz",
		Tiles:       []string{tiles},
		MinZoom:     l.MinZoom,
		MaxZoom:     l.MaxZoom,
		Bounds:      [4]float64{round7(b.Min[0]), round7(b.Min[1]), round7(b.Max[0]), round7(b.Max[1])},
		Center:      [3]float64{round7(b.Center()[0]), round7(b.Center()[1]), float64(min(l.MaxZoom, max(l.MinZoom, 14)))},
		VectorLayers: []vectorLayer{{
			ID: l.ID, Description: l.Description, Fields: l.Fields, MinZoom: l.MinZoom, MaxZoom: l.MaxZoom,
		}},
	}
	c.Response().Header().Set("Cache-Control", tileCacheControl)
	return c.JSON(http.StatusOK, doc)
}

func round7(f float64) float64 { return math.Round(f*1e7) / 1e7 }
