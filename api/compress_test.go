package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/maptile"
)

// Answers come compressed to clients that ask for it, decode to what an
// uncompressed client gets, and types that gain nothing pass as they are.
func TestCompression(t *testing.T) {
	e := beijingEnv(t)
	get := func(path, accept string) response {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		// Setting the header stops Go's client from asking for gzip and
		// decoding it behind the test's back.
		req.Header.Set("Accept-Encoding", accept)
		return e.send(req)
	}
	decode := func(r response) []byte {
		t.Helper()
		switch r.header.Get("Content-Encoding") {
		case "gzip":
			zr, err := gzip.NewReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		case "zstd":
			zr, err := zstd.NewReader(bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			defer zr.Close()
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return r.body
	}
	for _, path := range []string{
		"/ogc/collections/grids/items?limit=200",
		"/api/v1/export/grids.geojson", // streamed
		"/api/v1/export/grids.csv",     // streamed
		"/api/v1/grids?limit=100",      // JSON
	} {
		plain := get(path, "identity")
		if plain.status != 200 || plain.header.Get("Content-Encoding") != "" {
			t.Fatalf("%s without compression: %d, encoding %q", path, plain.status, plain.header.Get("Content-Encoding"))
		}
		for _, enc := range []string{"gzip", "zstd"} {
			r := get(path, enc)
			if r.status != 200 || r.header.Get("Content-Encoding") != enc || !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s, %s: %d, encoding %q, vary %q", path, enc, r.status, r.header.Get("Content-Encoding"), r.header.Get("Vary"))
				continue
			}
			if len(r.body)*3 > len(plain.body) {
				t.Errorf("%s, %s: %d bytes for %d", path, enc, len(r.body), len(plain.body))
			}
			if got := decode(r); !sameAnswer(got, plain.body) {
				t.Errorf("%s, %s: decodes to another answer (%d bytes, want %d)", path, enc, len(got), len(plain.body))
			}
		}
	}
	// A small JSON answer is not worth compressing.
	if r := get("/healthz", "gzip"); r.header.Get("Content-Encoding") != "" {
		t.Errorf("healthz compressed: %q", r.header.Get("Content-Encoding"))
	}
	// Tiles are gzipped once, in the cache, and sent as stored.
	tile := get(tilePath("grids", maptile.At(orb.Point{zgcLon, zgcLat}, 14), ""), "gzip, zstd")
	if tile.status != 200 || tile.header.Get("Content-Encoding") != "gzip" {
		t.Errorf("a tile: %d, encoding %q", tile.status, tile.header.Get("Content-Encoding"))
	}
}

// sameAnswer compares two answers, as JSON where they are JSON: OGC pages
// carry the time they were made.
func sameAnswer(a, b []byte) bool {
	var x, y map[string]any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	delete(x, "timeStamp")
	delete(y, "timeStamp")
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
