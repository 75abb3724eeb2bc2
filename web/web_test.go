package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return string(b)
}

// TestPages: the desk at /, the phone page at /m and /m/, assets cached for
// a year, pages revalidated, a missing asset a 404 and not a page.
func TestPages(t *testing.T) {
	js := strings.Repeat("console.log('citygrid');\n", 200)
	h := NewHandler(fstest.MapFS{
		"index.html":          {Data: []byte("<title>desk</title>")},
		"m/index.html":        {Data: []byte("<title>phone</title>")},
		"assets/main-a1b2.js": {Data: []byte(js)},
		"glyphs/0-255.pbf":    {Data: []byte("pbf")},
		".gitkeep":            {},
	})
	for _, c := range []struct {
		path, want string
		status     int
		cache      string
	}{
		{"/", "desk", 200, "no-cache"},
		{"/index.html", "desk", 200, "no-cache"},
		{"/m", "phone", 200, "no-cache"},
		{"/m/", "phone", 200, "no-cache"},
		{"/m/report", "phone", 200, "no-cache"},  // a route of the phone page
		{"/cases/BJ-1", "desk", 200, "no-cache"}, // a route of the desk
		{"/assets/main-a1b2.js", "citygrid", 200, "public, max-age=31536000, immutable"},
		{"/glyphs/0-255.pbf", "pbf", 200, "no-cache"},
		{"/assets/gone-ffff.js", "", 404, ""},
		{"/assets/", "", 404, ""},
		{"/favicon.ico", "", 404, ""},
		{"/.gitkeep", "", 404, ""},
	} {
		res := get(t, h, c.path)
		b := body(t, res)
		if res.StatusCode != c.status || !strings.Contains(b, c.want) {
			t.Errorf("%s: %d %.40q, want %d with %q", c.path, res.StatusCode, b, c.status, c.want)
		}
		if c.status == 200 && res.Header.Get("Cache-Control") != c.cache {
			t.Errorf("%s: Cache-Control %q, want %q", c.path, res.Header.Get("Cache-Control"), c.cache)
		}
	}
	if ct := get(t, h, "/m/").Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("/m/: Content-Type %q", ct)
	}

	// Gzipped for a browser that takes it, revalidated by ETag.
	res := get(t, h, "/assets/main-a1b2.js", "Accept-Encoding", "gzip, deflate, br")
	n, _ := io.Copy(io.Discard, bytes.NewReader([]byte(body(t, res))))
	if res.Header.Get("Content-Encoding") != "gzip" || res.ContentLength >= int64(len(js))/4 || n != int64(len(js)) {
		t.Errorf("gzip: %q, %d bytes sent for %d", res.Header.Get("Content-Encoding"), res.ContentLength, len(js))
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("gzipped script: Content-Type %q", ct)
	}
	tag := get(t, h, "/").Header.Get("ETag")
	if res := get(t, h, "/", "If-None-Match", tag); tag == "" || res.StatusCode != http.StatusNotModified {
		t.Errorf("revalidating / with ETag %s: %d", tag, res.StatusCode)
	}
	if res := get(t, h, "/assets/main-a1b2.js"); res.Header.Get("Content-Encoding") != "" || body(t, res) != js {
		t.Errorf("a client without gzip got %q", res.Header.Get("Content-Encoding"))
	}
}

// TestPlaceholder: a binary built without the app still answers at its
// pages with how to build it.
func TestPlaceholder(t *testing.T) {
	h := NewHandler(fstest.MapFS{".gitkeep": {}})
	for _, p := range []string{"/", "/m", "/m/"} {
		res := get(t, h, p)
		if b := body(t, res); res.StatusCode != 200 || !strings.Contains(b, "make run") {
			t.Errorf("%s: %d %.60q", p, res.StatusCode, b)
		}
	}
	if res := get(t, h, "/assets/x.js"); res.StatusCode != 404 {
		t.Errorf("asset without a build: %d", res.StatusCode)
	}
}
