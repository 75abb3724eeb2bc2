// Package web embeds the map app. Its source (Vite + MapLibre GL JS) lives
// beside this file; `make web` builds it into dist/, which go:embed takes
// into the binary. A binary built without that step still serves a page
// that says how to build the map.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the built app: hashed assets are cached for a year,
// index.html never, so a new release shows at the next reload.
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	if _, err := fs.Stat(sub, "index.html"); err != nil {
		return http.HandlerFunc(notBuilt)
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// Built reports whether the map app was built into the binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

func notBuilt(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(`<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>城市网格 citygrid</title>
<h1>城市网格 citygrid</h1>
<p>地图应用未构建：请运行 <code>make run</code>（或 <code>make web</code> 后重新编译）。</p>
<p>The map app was not built into this binary: run <code>make run</code> (or <code>make web</code> and rebuild).</p>
<p>API: <a href="/healthz">/healthz</a> · /api/v1/openapi.json</p></html>`))
}
