package geo_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/geo"
	"github.com/paulmach/orb"
)

// readAll reads every feature, stopping at the first error other than EOF.
func readAll(t *testing.T, in string) ([]geo.Feature, error) {
	t.Helper()
	fr, err := geo.NewFeatureReader(strings.NewReader(in))
	if err != nil {
		return nil, err
	}
	var out []geo.Feature
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, f)
	}
}

const collection = `{
  "type": "FeatureCollection",
  "name": "grids",
  "bbox": [116.3, 39.9, 116.4, 40.0],
  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
  "features": [
    {"type": "Feature", "id": "g-1", "properties": {"code": "110108001001", "area": 12.5, "tags": ["a", "b"], "owner": {"unit": 3}, "note": null},
     "geometry": {"type": "Polygon", "coordinates": [[[116.30, 39.98], [116.31, 39.98], [116.31, 39.99], [116.30, 39.98]]]}},
    {"type": "Feature", "id": 7, "geometry": {"type": "Point", "coordinates": [116.305, 39.985]}, "properties": {"code": "p"}, "title": "a foreign member"},
    {"type": "Feature", "properties": null, "geometry": null},
    {"properties": {"code": "late type"}, "geometry": {"type": "LineString", "coordinates": [[116.3, 39.9], [116.4, 39.9]]}, "id": null, "type": "Feature"},
    {"type": "Feature", "id": 1.5e3, "properties": {}, "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]], [[[2, 2], [3, 2], [3, 3], [2, 2]]]]}}
  ],
  "after": "members after the features are not read"
}`

func TestFeatureReaderCollection(t *testing.T) {
	fr, err := geo.NewFeatureReader(strings.NewReader(collection))
	if err != nil {
		t.Fatal(err)
	}
	if fr.CRSName != "urn:ogc:def:crs:OGC:1.3:CRS84" {
		t.Errorf("CRSName = %q", fr.CRSName)
	}
	want := []geo.Feature{
		{Index: 0, ID: "g-1",
			Properties: map[string]any{"code": "110108001001", "area": 12.5, "tags": []any{"a", "b"}, "owner": map[string]any{"unit": 3.0}, "note": nil},
			Geometry:   orb.Polygon{{{116.30, 39.98}, {116.31, 39.98}, {116.31, 39.99}, {116.30, 39.98}}}},
		{Index: 1, ID: "7", Properties: map[string]any{"code": "p"}, Geometry: orb.Point{116.305, 39.985}},
		{Index: 2, Properties: map[string]any{}},
		{Index: 3, Properties: map[string]any{"code": "late type"}, Geometry: orb.LineString{{116.3, 39.9}, {116.4, 39.9}}},
		{Index: 4, ID: "1.5e3", Properties: map[string]any{},
			Geometry: orb.MultiPolygon{{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}, {{{2, 2}, {3, 2}, {3, 3}, {2, 2}}}}},
	}
	// One at a time: each Next hands over the next feature.
	for _, w := range want {
		got, err := fr.Next()
		if err != nil {
			t.Fatalf("feature %d: %v", w.Index, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("feature %d:\n got %+v\nwant %+v", w.Index, got, w)
		}
	}
	for range 2 {
		if f, err := fr.Next(); !errors.Is(err, io.EOF) {
			t.Errorf("after the last feature: %+v, %v; want io.EOF", f, err)
		}
	}
}

// How the stream starts decides between a collection and a sequence.
func TestFeatureReaderForms(t *testing.T) {
	const f = `{"type":"Feature","id":"a","properties":{},"geometry":null}`
	cases := []struct{ name, in string }{
		{"one-line collection", `{"type":"FeatureCollection","features":[` + f + `]}`},
		{"one-line collection and a newline", `{"type":"FeatureCollection","features":[` + f + `]}` + "\n"},
		{"features before type", `{"features":[` + f + `],"type":"FeatureCollection"}` + "\n"},
		{"no type", `{"features":[` + f + `]}`},
		{"indented collection", "{\n  \"type\": \"FeatureCollection\",\n  \"features\": [\n    " + f + "\n  ]\n}\n"},
		{"leading blank lines", "\n\n  " + f + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, c.in)
			if err != nil || len(got) != 1 || got[0].ID != "a" || got[0].GeometryErr != nil {
				t.Errorf("read %+v, %v; want the one feature", got, err)
			}
		})
	}
}

// A feature that is not one, or whose geometry cannot be read, comes back
// with GeometryErr at its index, and the features after it are read.
func TestFeatureReaderBadFeatures(t *testing.T) {
	in := `{"type":"FeatureCollection","features":[
		{"type":"Point","coordinates":[1,2]},
		{"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":"x"}},
		{"type":"Feature","geometry":{"type":"Blob","coordinates":[1]}},
		{"type":"Feature","id":"ok","geometry":{"type":"Point","coordinates":[1,2]}}]}`
	got, err := readAll(t, in)
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []string{`not a Feature (type "Point")`, "malformed geometry", "malformed geometry", ""}
	if len(got) != len(wantErr) {
		t.Fatalf("read %d features, want %d", len(got), len(wantErr))
	}
	for i, f := range got {
		if f.Index != i {
			t.Errorf("feature %d has Index %d", i, f.Index)
		}
		switch {
		case wantErr[i] == "" && f.GeometryErr != nil:
			t.Errorf("feature %d: GeometryErr %v", i, f.GeometryErr)
		case wantErr[i] != "" && (f.GeometryErr == nil || !strings.Contains(f.GeometryErr.Error(), wantErr[i])):
			t.Errorf("feature %d: GeometryErr %v, want %q", i, f.GeometryErr, wantErr[i])
		}
	}
	if got[1].Properties["n"] != 1.0 {
		t.Errorf("a feature with a bad geometry lost its properties: %v", got[1].Properties)
	}
	if got[3].ID != "ok" || got[3].Geometry != (orb.Point{1, 2}) {
		t.Errorf("the feature after the bad ones: %+v", got[3])
	}
}

func TestFeatureReaderSequences(t *testing.T) {
	line := func(id string) string {
		return `{"type":"Feature","id":"` + id + `","properties":{"k":"` + id + `"},"geometry":{"type":"Point","coordinates":[116.3,39.9]}}`
	}
	// A district boundary of 20,000 vertices: one line of several hundred
	// kilobytes, longer than any peek at the start of the stream.
	var big strings.Builder
	big.WriteString(`{"type":"Feature","id":"big","properties":{},"geometry":{"type":"Polygon","coordinates":[[`)
	for i := range 20000 {
		fmt.Fprintf(&big, "[%.7f,%.7f],", 116.3+float64(i)*1e-6, 39.9+float64(i%2)*1e-6)
	}
	big.WriteString(`[116.3,39.9]]]}}`)
	cases := []struct {
		name string
		in   string
		ids  []string
	}{
		{"GeoJSONL", line("a") + "\n" + line("b") + "\n" + line("c") + "\n", []string{"a", "b", "c"}},
		{"no final newline", line("a") + "\n" + line("b"), []string{"a", "b"}},
		{"CRLF and blank lines", line("a") + "\r\n\r\n" + line("b") + "\r\n", []string{"a", "b"}},
		{"RFC 8142 record separators", "\x1e" + line("a") + "\n\x1e" + line("b") + "\n", []string{"a", "b"}},
		{"a bare Feature on one line", line("a"), []string{"a"}},
		{"a first line longer than the peek", big.String() + "\n" + line("b") + "\n", []string{"big", "b"}},
		{"record separators and a long first line", "\x1e" + big.String() + "\n\x1e" + line("b") + "\n", []string{"big", "b"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, c.in)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for i, f := range got {
				ids = append(ids, f.ID)
				if f.Index != i || f.GeometryErr != nil || f.Geometry == nil {
					t.Errorf("feature %d: %+v", i, f)
				}
			}
			if !reflect.DeepEqual(ids, c.ids) {
				t.Errorf("ids %v, want %v", ids, c.ids)
			}
		})
	}
}

// A UTF-8 byte order mark, as Windows editors write, is skipped.
func TestFeatureReaderBOM(t *testing.T) {
	for _, in := range []string{
		"\xef\xbb\xbf" + `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null}]}`,
		"\xef\xbb\xbf" + `{"type":"Feature","geometry":null}` + "\n",
	} {
		if got, err := readAll(t, in); err != nil || len(got) != 1 {
			t.Errorf("%q: %d features, %v", in, len(got), err)
		}
	}
}

// Input that cannot start a reader is refused by NewFeatureReader with a
// reason.
func TestNewFeatureReaderErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"blank", " \n\t ", "empty"},
		{"not an object", `[{"type":"Feature"}]`, "does not start with a JSON object"},
		{"not JSON", "code,name\n1,a\n", "does not start with a JSON object"},
		{"a geometry", `{"type":"Point","coordinates":[116.3,39.9]}`, "want a GeoJSON FeatureCollection, got a Point"},
		{"a Feature over several lines", "{\n  \"type\": \"Feature\",\n  \"geometry\": null\n}\n", "got a Feature"},
		{"no features", `{"type":"FeatureCollection"}`, `no "features" member`},
		{"features not an array", `{"type":"FeatureCollection","features":{}}`, `"features" must be an array`},
		{"type not a string", `{"type":5,"features":[]}`, "malformed GeoJSON type"},
		{"malformed crs", `{"type":"FeatureCollection","crs":"x","features":[]}`, "malformed crs"},
		{"malformed before the features", `{"type":"FeatureCollection","name":}`, "malformed GeoJSON"},
		{"truncated before the features", `{"type":"FeatureCollection","na`, "malformed GeoJSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fr, err := geo.NewFeatureReader(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("NewFeatureReader = %v, %v; want an error with %q", fr, err, c.want)
			}
		})
	}
}

// A stream that breaks off or stops being GeoJSON ends with an error that
// names the feature where it happened, after the good features before it.
func TestFeatureReaderNextErrors(t *testing.T) {
	const good = `{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[116.3,39.9]}}`
	const fc = `{"type":"FeatureCollection","features":[`
	cases := []struct {
		name string
		in   string
		read int    // good features before the error
		want string // in the error, after "feature N: "
	}{
		{"truncated in a feature", fc + good + `,{"type":"Feature","prop`, 1, "ends in the middle of a feature (truncated?)"},
		{"truncated after a comma", fc + good + `,`, 1, "truncated?"},
		{"truncated before the ]", fc + good + `,` + good, 2, "ends before the features array is closed (truncated?)"},
		{"truncated after the [", fc, 0, "ends before the features array is closed (truncated?)"},
		{"garbage between features", fc + good + ` x ` + good + `]}`, 1, "malformed JSON"},
		{"not an object", fc + good + `,42]}`, 1, "cannot unmarshal number"},
		{"properties not an object", fc + `{"type":"Feature","properties":5,"geometry":null}]}`, 0, "properties"},
		{"a closing brace for the array", fc + good + `}`, 1, "malformed JSON"},
		{"sequence truncated", good + "\n" + good + "\n" + `{"type":"Feature","geom`, 2, "truncated?"},
		{"sequence with an array", good + "\n[1,2]\n", 1, "cannot unmarshal array"},
		{"sequence with garbage", good + "\nnot json\n", 1, "malformed JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := readAll(t, c.in)
			if len(got) != c.read {
				t.Errorf("read %d features before the error, want %d", len(got), c.read)
			}
			prefix := fmt.Sprintf("feature %d: ", c.read)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q…%q", err, prefix, c.want)
			}
		})
	}
}

// featureSource generates a FeatureCollection of n polygon features as it
// is read, so that a test can feed far more than it would want to hold.
type featureSource struct {
	n, i int
	buf  bytes.Buffer
	sent int // bytes handed out so far
}

func (s *featureSource) Read(p []byte) (int, error) {
	for s.buf.Len() < len(p) && s.i <= s.n {
		switch {
		case s.i == 0:
			s.buf.WriteString(`{"type":"FeatureCollection","name":"stream","features":[`)
		case s.i == s.n:
			s.buf.WriteString("]}")
		default:
			if s.i > 1 {
				s.buf.WriteString(",\n")
			}
			x := 116 + float64(s.i%1000)*0.001
			fmt.Fprintf(&s.buf, `{"type":"Feature","id":"f%d","properties":{"code":"%012d","name":"网格 %d"},"geometry":{"type":"Polygon","coordinates":[[[%.7f,39.9],[%.7f,39.9],[%.7f,39.901],[%.7f,39.901],[%.7f,39.9]]]}}`,
				s.i, s.i, s.i, x, x+0.001, x+0.001, x, x)
		}
		s.i++
	}
	if s.buf.Len() == 0 {
		return 0, io.EOF
	}
	n, err := s.buf.Read(p)
	s.sent += n
	return n, err
}

// "A file of any size is read in bounded memory": the live heap stays flat
// while tens of megabytes stream through.
func TestFeatureReaderFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 30 MB")
	}
	const n = 120_000 // about 250 bytes each
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	first := heap()
	src := &featureSource{n: n}
	fr, err := geo.NewFeatureReader(src)
	if err != nil {
		t.Fatal(err)
	}
	var most uint64
	read := 0
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || f.GeometryErr != nil {
			t.Fatalf("feature %d: %v %v", read, err, f.GeometryErr)
		}
		read++
		if read%20_000 == 0 {
			most = max(most, heap())
		}
	}
	if read != n-1 {
		t.Fatalf("read %d features, want %d", read, n-1)
	}
	// The decoder holds about one feature and a 64 KB read buffer.
	const allowance = 2 << 20
	if src.sent < 10*allowance {
		t.Fatalf("only %d bytes streamed: too few to tell", src.sent)
	}
	if most > first+allowance {
		t.Errorf("live heap grew from %d to %d bytes while reading %d bytes", first, most, src.sent)
	}
}

func ExampleFeatureReader() {
	in := `{"type":"FeatureCollection","features":[
		{"type":"Feature","id":"g1","properties":{"code":"110108001001"},"geometry":{"type":"Point","coordinates":[116.3165,39.9835]}},
		{"type":"Feature","id":2,"properties":{"code":"110108001002"},"geometry":{"type":"Point","coordinates":"here"}},
		{"type":"Feature","properties":{"code":"110108001003"},"geometry":null}]}`
	fr, err := geo.NewFeatureReader(strings.NewReader(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println(err) // the stream is broken: stop
			return
		}
		switch {
		case f.GeometryErr != nil: // this feature only: report it and go on
			fmt.Printf("%d %q %v: %v\n", f.Index, f.ID, f.Properties["code"], f.GeometryErr)
		case f.Geometry == nil:
			fmt.Printf("%d %q %v: no geometry\n", f.Index, f.ID, f.Properties["code"])
		default:
			fmt.Printf("%d %q %v: %s %v\n", f.Index, f.ID, f.Properties["code"], f.Geometry.GeoJSONType(), f.Geometry)
		}
	}
	// Output:
	// 0 "g1" 110108001001: Point [116.3165 39.9835]
	// 1 "2" 110108001002: malformed geometry: json: cannot unmarshal string into Go value of type orb.Point
	// 2 "" 110108001003: no geometry
}

func BenchmarkFeatureReader(b *testing.B) {
	const n = 1000
	in, err := io.ReadAll(&featureSource{n: n + 1})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		fr, err := geo.NewFeatureReader(bytes.NewReader(in))
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := fr.Next(); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/feature")
}
