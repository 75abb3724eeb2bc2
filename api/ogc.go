package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/features"
)

// OGC API – Features, Part 1: Core, with the GeoJSON, HTML and OpenAPI 3.0
// conformance classes, at /ogc. QGIS and GDAL (OAPIF) read the same
// collections as the exports, with the same tokens.

const (
	ogcDefaultLimit = 100
	ogcMaxLimit     = 10000
	crs84           = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
)

// ogcParams are the items parameters besides those features.ParseQuery
// reads.
var ogcParams = []string{"limit", "after", "crs", "bbox-crs"}

var ogcConformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
	"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
}

type ogcLink struct {
	Href  string `json:"href"`
	Rel   string `json:"rel"`
	Type  string `json:"type,omitempty"`
	Title string `json:"title,omitempty"`
}

type ogcExtent struct {
	Spatial struct {
		BBox [][4]float64 `json:"bbox"`
		CRS  string       `json:"crs"`
	} `json:"spatial"`
	Temporal *struct {
		Interval [][2]*time.Time `json:"interval"`
		TRS      string          `json:"trs"`
	} `json:"temporal,omitempty"`
}

type ogcCollection struct {
	ID          string              `json:"id"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	Links       []ogcLink           `json:"links"`
	Extent      *ogcExtent          `json:"extent,omitempty"`
	ItemType    string              `json:"itemType"`
	CRS         []string            `json:"crs"`
	Properties  []features.Property `json:"properties"`
	Filters     []string            `json:"filters"`
}

// ogcBase is the absolute /ogc URL as the client reached it, so that links
// work behind a proxy that sets X-Forwarded-Proto and Host.
func ogcBase(c echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host + "/ogc"
}

// wantsHTML decides between f=html and f=json; without f a browser (Accept
// text/html first) gets HTML and everything else JSON.
func wantsHTML(c echo.Context) (bool, error) {
	switch c.QueryParam("f") {
	case "html":
		return true, nil
	case "json", "geojson":
		return false, nil
	case "":
		acc := c.Request().Header.Get(echo.HeaderAccept)
		return strings.HasPrefix(acc, "text/html"), nil
	default:
		return false, bad("f", "want json or html")
	}
}

// alternate gives a link to the same resource in the other format.
func alternate(c echo.Context, f, typ, title string) ogcLink {
	u := *c.Request().URL
	q := u.Query()
	q.Set("f", f)
	u.RawQuery = q.Encode()
	return ogcLink{Href: c.Scheme() + "://" + c.Request().Host + u.String(), Rel: "alternate", Type: typ, Title: title}
}

func (s *gisAPI) ogcRespond(c echo.Context, page string, data any) error {
	html, err := wantsHTML(c)
	if err != nil {
		return err
	}
	if html {
		var b bytes.Buffer
		if err := ogcPages.ExecuteTemplate(&b, page, data); err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, b.Bytes())
	}
	return c.JSON(http.StatusOK, data)
}

func (s *gisAPI) ogcLanding(c echo.Context) error {
	base := ogcBase(c)
	return s.ogcRespond(c, "landing", map[string]any{
		"title":       "citygrid 城市网格 OGC API – Features",
		"description": "区域、单元网格、责任单位、管理对象与责任分配 · regions, unit grids, units, objects and assignments",
		"links": []ogcLink{
			{Href: base + "?f=json", Rel: "self", Type: "application/json", Title: "this document"},
			alternate(c, "html", "text/html", "this document as HTML"),
			{Href: c.Scheme() + "://" + c.Request().Host + "/api/v1/openapi.json", Rel: "service-desc", Type: "application/vnd.oai.openapi+json;version=3.0", Title: "the API definition (OpenAPI 3.0)"},
			{Href: base + "?f=html", Rel: "service-doc", Type: "text/html", Title: "the API documentation"},
			{Href: base + "/conformance", Rel: "conformance", Type: "application/json", Title: "conformance classes"},
			{Href: base + "/collections", Rel: "data", Type: "application/json", Title: "the collections"},
		},
	})
}

func (s *gisAPI) ogcConformanceDoc(c echo.Context) error {
	return s.ogcRespond(c, "conformance", map[string]any{"conformsTo": ogcConformance})
}

func describe(c echo.Context, col *features.Collection, ext map[string]features.Extent) ogcCollection {
	base := ogcBase(c) + "/collections/" + url.PathEscape(col.ID)
	oc := ogcCollection{
		ID: col.ID, Title: col.Title, Description: col.Description, ItemType: "feature", CRS: []string{crs84},
		Properties: col.Properties, Filters: col.FilterNames(),
		Links: []ogcLink{
			{Href: base, Rel: "self", Type: "application/json", Title: col.Title},
			{Href: base + "?f=html", Rel: "alternate", Type: "text/html", Title: col.Title},
			{Href: base + "/items", Rel: "items", Type: "application/geo+json", Title: "features"},
			{Href: base + "/schema", Rel: "describedby", Type: "application/schema+json", Title: "the features' JSON Schema"},
			{Href: base + "/items?f=html", Rel: "items", Type: "text/html", Title: "features as HTML"},
			// GDAL 3.6 types fields from this one: it matches "describedBy"
			// exactly and wants XML.
			xsdLink(ogcBase(c), col),
		},
	}
	if x, ok := ext[col.ID]; ok {
		oc.Extent = &ogcExtent{}
		oc.Extent.Spatial.BBox = [][4]float64{x.BBox}
		oc.Extent.Spatial.CRS = crs84
		if col.Temporal != features.Timeless && x.Start != nil {
			oc.Extent.Temporal = &struct {
				Interval [][2]*time.Time `json:"interval"`
				TRS      string          `json:"trs"`
			}{Interval: [][2]*time.Time{{x.Start, x.End}}, TRS: "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
		}
	}
	return oc
}

// extentCache keeps the collections' extents, which take a scan of every
// table, and the counts of items queries (numberMatched), which a client
// walking next links asks for again on every page, until a change
// notification names one of the tables they are read from. Cases have a
// generation of their own: they change all day, and a new case must not
// make the other layers' extents be measured again.
type extentCache struct {
	mu     sync.Mutex
	gen    uint64 // bumped by changes
	have   uint64 // the generation ext was measured at, plus one
	ext    map[string]features.Extent
	counts map[string]cachedCount // by query
	// caseGen is bumped by changes of cases; caseExt, measured at
	// caseHave−1, is the cases' extent (nil: none yet).
	caseGen, caseHave uint64
	caseExt           *features.Extent
}

// cachedCount is a count with the generation it was made at.
type cachedCount struct {
	n, gen uint64
}

// countGeneration is the generation a collection's counts follow.
func (e *extentCache) countGeneration(id string) uint64 {
	if id == "cases" {
		return e.caseGen
	}
	return e.gen
}

// maxCachedCounts bounds the count cache; past it the cache starts over.
const maxCachedCounts = 4096

func (e *extentCache) changed(table string) {
	switch table {
	case "regions", "grids", "units", "objects", "assignments":
		e.mu.Lock()
		e.gen++
		e.mu.Unlock()
	case "cases":
		e.mu.Lock()
		e.caseGen++
		e.mu.Unlock()
	case grids.AnyChange:
		e.mu.Lock()
		e.gen++
		e.caseGen++
		e.mu.Unlock()
	}
}

// countKey is the count cache's key of an items query: its parameters
// but the paging ones, and the unit it is scoped to.
func countKey(col *features.Collection, q features.FeatureQuery, params url.Values) string {
	key := url.Values{}
	for k, v := range params {
		if k != "after" && k != "limit" && k != "f" {
			key[k] = v
		}
	}
	return col.ID + "?" + key.Encode() + "#" + q.OnlyUnit
}

// cachedMatched is numberMatched of query key from the cache (ok), and the
// generation a count made now must be stored with.
func (e *extentCache) cachedMatched(col *features.Collection, key string) (n int64, gen uint64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	gen = e.countGeneration(col.ID)
	if c, hit := e.counts[key]; hit && c.gen == gen {
		return int64(c.n), gen, true
	}
	return 0, gen, false
}

// keepMatched stores a count made at generation gen, unless something
// changed while counting.
func (e *extentCache) keepMatched(col *features.Collection, key string, gen uint64, n int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.countGeneration(col.ID) != gen {
		return
	}
	if e.counts == nil || len(e.counts) >= maxCachedCounts {
		e.counts = map[string]cachedCount{}
	}
	e.counts[key] = cachedCount{uint64(n), gen}
}

// countMatched is numberMatched: the count of what the query matches
// across all its pages, from the cache when nothing changed since.
func (s *gisAPI) countMatched(ctx context.Context, col *features.Collection, q features.FeatureQuery, params url.Values) (int64, error) {
	k := countKey(col, q, params)
	n, gen, ok := s.extents.cachedMatched(col, k)
	if ok {
		return n, nil
	}
	n, err := s.features.CountFeatures(ctx, col, q)
	if err != nil {
		return 0, err
	}
	s.extents.keepMatched(col, k, gen, n)
	return n, nil
}

func (s *gisAPI) collectionExtents(ctx context.Context) (map[string]features.Extent, error) {
	e := &s.extents
	e.mu.Lock()
	gen := e.gen
	if e.have == gen+1 {
		ext := e.ext
		e.mu.Unlock()
		return s.withCasesExtent(ctx, ext)
	}
	e.mu.Unlock()
	ext, err := s.features.Extents(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.gen == gen { // nothing changed while measuring
		e.ext, e.have = ext, gen+1
	}
	e.mu.Unlock()
	return s.withCasesExtent(ctx, ext)
}

// withCasesExtent returns ext with the cases' extent added, measured (a
// few index probes) once per change of cases.
func (s *gisAPI) withCasesExtent(ctx context.Context, ext map[string]features.Extent) (map[string]features.Extent, error) {
	e := &s.extents
	e.mu.Lock()
	gen, have, x := e.caseGen, e.caseHave, e.caseExt
	e.mu.Unlock()
	if have != gen+1 {
		m, ok, err := s.features.CasesExtent(ctx)
		if err != nil {
			return nil, err
		}
		x = nil
		if ok {
			x = &m
		}
		e.mu.Lock()
		if e.caseGen == gen {
			e.caseExt, e.caseHave = x, gen+1
		}
		e.mu.Unlock()
	}
	if x == nil {
		return ext, nil
	}
	out := make(map[string]features.Extent, len(ext)+1)
	for k, v := range ext {
		out[k] = v
	}
	out["cases"] = *x
	return out, nil
}

func (s *gisAPI) ogcCollections(c echo.Context) error {
	cols, err := s.features.ReadableCollections(c.Request().Context(), principalOf(c))
	if err != nil {
		return err
	}
	ext, err := s.collectionExtents(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]ogcCollection, len(cols))
	for i, col := range cols {
		out[i] = describe(c, col, ext)
	}
	base := ogcBase(c) + "/collections"
	return s.ogcRespond(c, "collections", map[string]any{
		"links": []ogcLink{
			{Href: base, Rel: "self", Type: "application/json", Title: "collections"},
			{Href: base + "?f=html", Rel: "alternate", Type: "text/html", Title: "collections as HTML"},
		},
		"collections": out,
	})
}

// ogcCollectionFor finds the stored collection the request names; the
// computed ones (gaps, grid_check) are exports only.
func (s *gisAPI) ogcCollectionFor(c echo.Context) (*features.Collection, error) {
	id := c.Param("collection")
	col, err := s.features.Readable(c.Request().Context(), principalOf(c), id)
	if err == nil && col.Computed() {
		return nil, &grids.NotFoundError{What: "collection", Key: id}
	}
	return col, err
}

func (s *gisAPI) ogcCollection(c echo.Context) error {
	col, err := s.ogcCollectionFor(c)
	if err != nil {
		return err
	}
	ext, err := s.collectionExtents(c.Request().Context())
	if err != nil {
		return err
	}
	return s.ogcRespond(c, "collection", describe(c, col, ext))
}

// ogcSchema describes a collection's features as a JSON Schema of a
// GeoJSON Feature, so that clients (GDAL) type the fields from it rather
// than guessing from the first page, where a null reads as a string.
func (s *gisAPI) ogcSchema(c echo.Context) error {
	col, err := s.ogcCollectionFor(c)
	if err != nil {
		return err
	}
	props := map[string]any{}
	for _, p := range col.Properties {
		var t map[string]any
		switch p.Type {
		case features.PropInteger:
			t = map[string]any{"type": "integer"}
		case features.PropNumber:
			t = map[string]any{"type": "number"}
		case features.PropDateTime:
			t = map[string]any{"type": "string", "format": "date-time"}
		case features.PropBoolean:
			t = map[string]any{"type": "boolean"}
		default:
			t = map[string]any{"type": "string"}
		}
		t["title"] = p.Title
		props[p.Name] = t
	}
	geom := map[string]any{"$ref": "https://geojson.org/schema/Geometry.json"}
	if col.GeometryType != "Geometry" {
		geom = map[string]any{"$ref": "https://geojson.org/schema/" + col.GeometryType + ".json"}
	}
	idType := "string"
	if col.NumericID {
		idType = "integer"
	}
	return c.JSONBlob(http.StatusOK, mustJSON(map[string]any{
		"$schema": "https://json-schema.org/draft/2019-09/schema",
		"$id":     ogcBase(c) + "/collections/" + url.PathEscape(col.ID) + "/schema",
		"title":   col.Title, "type": "object", "required": []string{"type", "geometry", "properties"},
		"properties": map[string]any{
			"type":       map[string]any{"type": "string", "enum": []string{"Feature"}},
			"id":         map[string]any{"type": idType},
			"geometry":   geom,
			"properties": map[string]any{"type": "object", "properties": props},
		},
	}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// ogcItems answers a page of features. Paging is by the sort key: the next
// link carries after=<last key>, so that deep pages cost what the first
// does.
func (s *gisAPI) ogcItems(c echo.Context) error {
	col, err := s.ogcCollectionFor(c)
	if err != nil {
		return err
	}
	html, err := wantsHTML(c)
	if err != nil {
		return err
	}
	limit := ogcDefaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ogcMaxLimit {
			return bad("limit", "must be a whole number from 1 to %d", ogcMaxLimit)
		}
		limit = n
	}
	params := c.QueryParams()
	if params.Has("offset") {
		return bad("offset", "paging is by key: follow the next link (after=)")
	}
	for _, name := range []string{"crs", "bbox-crs"} {
		// Part 2 (other CRSs) is not offered: only the default is accepted.
		if v := params.Get(name); v != "" && v != crs84 {
			return bad(name, "only %s (WGS84 longitude/latitude) is offered", crs84)
		}
	}
	q, err := s.features.ParseQuery(c.Request().Context(), params, ogcParams, principalOf(c), col, geo.WGS84)
	if err != nil {
		return err
	}
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return bad("after", "not a paging key; follow the next link")
		}
		q.After = n
	}
	q.Limit = limit
	ctx := c.Request().Context()
	if html {
		matched, err := s.countMatched(ctx, col, q, params)
		if err != nil {
			return err
		}
		return s.ogcItemsHTML(c, col, q, matched)
	}
	// numberMatched comes from the cache, or is counted with the page
	// (features.Store.Page) and kept for the next pages.
	key := countKey(col, q, params)
	matched, gen, cached := s.extents.cachedMatched(col, key)
	lw := &lazyWriter{c: c}
	bw := bufio.NewWriterSize(lw, 64<<10)
	fw := features.NewGeoJSONWriter(bw, col, geo.WGS84)
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	if err := fw.Begin(nil); err != nil {
		return err
	}
	returned, last := 0, int64(0)
	n, err := s.features.Page(ctx, col, q, fw.Encoding(), !cached, func(f *features.FeatureRow) error {
		returned++
		last = f.SK
		return fw.Feature(f)
	})
	if err != nil {
		if lw.started {
			panic(http.ErrAbortHandler)
		}
		return err
	}
	if !cached {
		matched = n
		s.extents.keepMatched(col, key, gen, n)
	}
	links := []ogcLink{
		{Href: pageURL(c, -1), Rel: "self", Type: "application/geo+json", Title: "this page"},
		alternate(c, "html", "text/html", "this page as HTML"),
		{Href: ogcBase(c) + "/collections/" + url.PathEscape(col.ID), Rel: "collection", Type: "application/json", Title: col.Title},
	}
	if returned == limit {
		links = append(links, ogcLink{Href: pageURL(c, last), Rel: "next", Type: "application/geo+json", Title: "next page"})
	}
	if err := fw.End(map[string]any{
		"numberMatched": matched, "numberReturned": returned,
		"timeStamp": time.Now().UTC().Format(time.RFC3339), "links": links,
	}); err != nil {
		return err
	}
	return bw.Flush()
}

// pageURL is this request's URL with after set (after < 0 keeps it).
func pageURL(c echo.Context, after int64) string {
	u := *c.Request().URL
	q := u.Query()
	if after >= 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	u.RawQuery = q.Encode()
	return c.Scheme() + "://" + c.Request().Host + u.String()
}

func (s *gisAPI) ogcItemsHTML(c echo.Context, col *features.Collection, q features.FeatureQuery, matched int64) error {
	type row struct {
		ID     string
		Props  map[string]any
		Values []any
	}
	var rows []row
	last := int64(0)
	err := s.features.Features(c.Request().Context(), col, q, features.AsGeoJSON, false, func(f *features.FeatureRow) error {
		var m map[string]any
		json.Unmarshal(f.Props, &m)
		vals := make([]any, len(col.Properties))
		for i, p := range col.Properties {
			vals[i] = m[p.Name]
		}
		rows = append(rows, row{ID: f.ID, Props: m, Values: vals})
		last = f.SK
		return nil
	})
	if err != nil {
		return err
	}
	next := ""
	if len(rows) == q.Limit {
		next = pageURL(c, last)
	}
	var b bytes.Buffer
	if err := ogcPages.ExecuteTemplate(&b, "items", map[string]any{
		"collection": col, "rows": rows, "matched": matched, "next": next,
		"base": ogcBase(c) + "/collections/" + url.PathEscape(col.ID),
	}); err != nil {
		return err
	}
	return c.HTMLBlob(http.StatusOK, b.Bytes())
}

func (s *gisAPI) ogcItem(c echo.Context) error {
	col, err := s.ogcCollectionFor(c)
	if err != nil {
		return err
	}
	html, err := wantsHTML(c)
	if err != nil {
		return err
	}
	f, err := s.features.Feature(c.Request().Context(), col, c.Param("id"), principalOf(c), features.AsGeoJSON)
	if err != nil {
		return err
	}
	base := ogcBase(c) + "/collections/" + url.PathEscape(col.ID)
	if html {
		var m map[string]any
		json.Unmarshal(f.Props, &m)
		var b bytes.Buffer
		if err := ogcPages.ExecuteTemplate(&b, "item", map[string]any{"collection": col, "id": f.ID, "props": m, "geometry": string(f.Geom), "base": base}); err != nil {
			return err
		}
		return c.HTMLBlob(http.StatusOK, b.Bytes())
	}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	fw := features.NewGeoJSONSeqWriter(bw, col, geo.WGS84, false)
	if err := fw.Feature(f); err != nil {
		return err
	}
	bw.Flush()
	// Close the feature with its links: replace the final "}\n".
	out := bytes.TrimSuffix(buf.Bytes(), []byte("}\n"))
	links, _ := json.Marshal([]ogcLink{
		{Href: base + "/items/" + url.PathEscape(f.ID), Rel: "self", Type: "application/geo+json"},
		{Href: base + "/items/" + url.PathEscape(f.ID) + "?f=html", Rel: "alternate", Type: "text/html"},
		{Href: base, Rel: "collection", Type: "application/json", Title: col.Title},
	})
	out = append(append(append(out, `,"links":`...), links...), '}')
	return c.Blob(http.StatusOK, "application/geo+json", out)
}

// The HTML pages: plain, zh-CN first, readable without JavaScript.
var ogcPages = template.Must(template.New("ogc").Funcs(template.FuncMap{
	"json": func(v any) string { b, _ := json.Marshal(v); return string(b) },
}).Parse(`
{{define "head"}}<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{.}}</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem;max-width:80rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;font-size:.9rem}code{background:#f4f4f4}</style></head><body>
<p><a href="/ogc?f=html">citygrid OGC API</a> · <a href="/ogc/collections?f=html">数据集 Collections</a> · <a href="/ogc/conformance?f=html">一致性 Conformance</a></p>{{end}}
{{define "landing"}}{{template "head" .title}}<h1>{{.title}}</h1><p>{{.description}}</p>
<p>GDAL: <code>GDAL_HTTP_HEADERS="Authorization: Bearer …" ogrinfo OAPIF:{{with index .links 0}}{{.Href}}{{end}}</code>;
a collection of mixed geometry (assignments, objects, units) into a GeoPackage: <code>ogr2ogr -f GPKG out.gpkg OAPIF:… assignments -oo PAGE_SIZE=1000 -nlt GEOMETRY</code></p>
<ul>{{range .links}}<li><a href="{{.Href}}">{{.Title}}</a> ({{.Rel}})</li>{{end}}</ul></body></html>{{end}}
{{define "conformance"}}{{template "head" "Conformance"}}<h1>一致性 Conformance</h1><ul>{{range .conformsTo}}<li>{{.}}</li>{{end}}</ul></body></html>{{end}}
{{define "collections"}}{{template "head" "Collections"}}<h1>数据集 Collections</h1><table><tr><th>id</th><th>名称 Title</th><th>说明 Description</th></tr>
{{range .collections}}<tr><td><a href="/ogc/collections/{{.ID}}/items?f=html">{{.ID}}</a></td><td>{{.Title}}</td><td>{{.Description}}</td></tr>{{end}}</table></body></html>{{end}}
{{define "collection"}}{{template "head" .Title}}<h1>{{.Title}} <small>{{.ID}}</small></h1><p>{{.Description}}</p>
<p><a href="/ogc/collections/{{.ID}}/items?f=html">要素 Items</a> · <a href="/ogc/collections/{{.ID}}/items">GeoJSON</a></p>
{{with .Extent}}<p>范围 Extent: {{json .Spatial.BBox}}</p>{{end}}
<table><tr><th>属性 Property</th><th>类型 Type</th><th>说明</th></tr>{{range .Properties}}<tr><td>{{.Name}}</td><td>{{.Type}}</td><td>{{.Title}}</td></tr>{{end}}</table></body></html>{{end}}
{{define "items"}}{{template "head" .collection.Title}}<h1>{{.collection.Title}}</h1><p>共 {{.matched}} 个要素 · {{.matched}} features matched</p>
<table><tr><th>id</th>{{range .collection.Properties}}<th>{{.Name}}</th>{{end}}</tr>
{{$base := .base}}{{range .rows}}<tr><td><a href="{{$base}}/items/{{.ID}}?f=html">{{.ID}}</a></td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{if .next}}<p><a href="{{.next}}">下一页 Next page</a></p>{{end}}</body></html>{{end}}
{{define "item"}}{{template "head" .id}}<h1>{{.collection.Title}}: {{.id}}</h1><table>{{range $k, $v := .props}}<tr><th>{{$k}}</th><td>{{$v}}</td></tr>{{end}}</table>
<h2>几何 Geometry (GeoJSON, WGS84)</h2><pre>{{.geometry}}</pre><p><a href="{{.base}}/items?f=html">返回 Back</a></p></body></html>{{end}}
`))
