package api

import (
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzhttp"
)

// compressed wraps the server's handler so that answers a client accepts
// compressed are sent gzip or zstd encoded (klauspost/compress: a fast
// gzip at its default level and zstd at its fastest), from 1 KiB up:
// GeoJSON, OGC pages and exports (streamed: each flush sends what is
// compressed so far), JSON and CSV. Answers that set their own encoding
// pass as they are (tiles are kept gzipped in their cache, the app's
// assets gzipped at start), and so do the types that gain nothing or must
// not wait for a compressor: images, vector tiles, archives such as XLSX,
// and the event stream.
func compressed(h http.Handler) (http.Handler, error) {
	wrap, err := gzhttp.NewWrapper(gzhttp.ContentTypeFilter(compressible))
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
