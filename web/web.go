// Package web embeds the map app. Its source (Vite + MapLibre GL JS) lives
// beside this file; `make web` builds it into dist/, which go:embed takes
// into the binary. A binary built without that step still serves a page
// that says how to build the map.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// The two pages of the app: the dispatcher's desk at / and the
// inspector's phone page at /m (a second Vite entry).
const (
	deskPage  = "index.html"
	phonePage = "m/index.html"
)

// Handler serves the built app: hashed assets under /assets/ are cached
// for a year, everything else (the pages, public files) is revalidated on
// every load by its ETag, so a new release shows at the next reload.
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	return NewHandler(sub)
}

// NewHandler serves the app built into files (dist/'s layout); a tree
// without index.html gets the placeholder page.
func NewHandler(files fs.FS) http.Handler {
	h := &handler{files: map[string]*file{}}
	fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(path.Base(name), ".") {
			return nil
		}
		data, err := fs.ReadFile(files, name)
		if err != nil {
			return nil
		}
		h.files[name] = newFile(name, data)
		return nil
	})
	if h.files[deskPage] == nil {
		h.files[deskPage] = newFile(deskPage, []byte(placeholder))
		h.placeholder = true
	}
	return h
}

// Built reports whether the map app was built into the binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/"+deskPage)
	return err == nil
}

// handler holds every file of the app in memory, read once: the whole
// build is a few megabytes, and it is already in the binary.
type handler struct {
	files       map[string]*file
	placeholder bool
}

// file is one served file with its validator and, when compressing pays,
// its gzipped form (the JavaScript shrinks to about a third).
type file struct {
	name        string
	data, gz    []byte
	etag, gzTag string
}

func newFile(name string, data []byte) *file {
	sum := sha256.Sum256(data)
	tag := base64.RawURLEncoding.EncodeToString(sum[:12])
	f := &file{name: name, data: data, etag: `"` + tag + `"`}
	if compressible(name) && len(data) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		if b.Len() < len(data)*9/10 {
			f.gz, f.gzTag = b.Bytes(), `"`+tag+`-gz"`
		}
	}
	return f
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map", ".webmanifest", ".pbf", ".xml":
		return true
	}
	return false
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	f, hashed := h.lookup(p)
	if f == nil {
		http.NotFound(w, r)
		return
	}
	if hashed {
		// Vite names assets by their content: a changed file is a new URL.
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	if strings.HasSuffix(f.name, ".html") {
		w.Header().Set("X-Content-Type-Options", "nosniff")
	}
	data, tag := f.data, f.etag
	if f.gz != nil {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			data, tag = f.gz, f.gzTag
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	w.Header().Set("ETag", tag)
	// ServeContent would guess the type from the gzipped bytes otherwise.
	if ct := contentType(f.name); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(data))
}

// lookup finds what a path serves: the pages at / and /m, a file of the
// build, or, for a path that names no file, the page of the app it lies
// in (a bookmarked or mistyped route, not a missing asset). hashed says
// the file is one of Vite's content-named assets.
func (h *handler) lookup(p string) (f *file, hashed bool) {
	switch {
	case p == "/" || p == "/index.html":
		return h.files[deskPage], false
	case p == "/m" || p == "/m/index.html":
		return h.page(phonePage), false
	}
	name := strings.TrimPrefix(p, "/")
	if name == "assets" || strings.HasPrefix(name, "assets/") {
		return h.files[name], true // a missing asset is a 404, never a page
	}
	if f := h.files[name]; f != nil {
		return f, false
	}
	if path.Ext(name) != "" {
		return nil, false
	}
	if strings.HasPrefix(name, "m/") {
		return h.page(phonePage), false
	}
	return h.files[deskPage], false
}

// page is one of the app's pages; the placeholder stands in for all of
// them in a binary built without the app.
func (h *handler) page(name string) *file {
	if f := h.files[name]; f != nil {
		return f
	}
	if h.placeholder {
		return h.files[deskPage]
	}
	return nil
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0"
		}
	}
	return false
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".pbf":
		return "application/x-protobuf"
	case ".png":
		return "image/png"
	case ".woff2":
		return "font/woff2"
	}
	return "" // ServeContent sniffs
}

const placeholder = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>城市网格 citygrid</title>
<h1>城市网格 citygrid</h1>
<p>地图应用未构建：请运行 <code>make run</code>（或 <code>make web</code> 后重新编译）。</p>
<p>The map app was not built into this binary: run <code>make run</code> (or <code>make web</code> and rebuild).</p>
<p>API: <a href="/healthz">/healthz</a> · /api/v1/openapi.json</p></html>`
