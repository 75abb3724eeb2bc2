package geo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
)

// Feature is one feature read from a stream. Geometry is nil for a feature
// with a null geometry; GeometryErr says why a geometry could not be read,
// so that a caller can report it at the feature's index and go on.
type Feature struct {
	Index       int
	ID          string
	Properties  map[string]any
	Geometry    orb.Geometry
	GeometryErr error
}

// FeatureReader decodes a GeoJSON FeatureCollection, or newline-delimited
// features (GeoJSONL, RFC 8142 sequences), one feature at a time, so that a
// file of any size is read in bounded memory.
type FeatureReader struct {
	dec    *json.Decoder
	lines  bool
	inside bool // inside the "features" array
	done   bool
	next   int
	// CRSName is the legacy "crs" member's name, if the file had one.
	CRSName string
}

// NewFeatureReader starts reading r. It looks at the first bytes to tell a
// FeatureCollection from line-delimited features.
func NewFeatureReader(r io.Reader) (*FeatureReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	fr := &FeatureReader{}
	// Peek at the first object's keys to tell a single collection from a
	// sequence of features: a sequence starts with a Feature object.
	head, _ := br.Peek(4096)
	if bytes.HasPrefix(head, []byte(utf8BOM)) {
		// Editors on Windows write one; the JSON decoder would stop at it.
		br.Discard(len(utf8BOM))
		head = head[len(utf8BOM):]
	}
	head = bytes.TrimLeft(head, " \t\r\n\x1e")
	if len(head) == 0 {
		return nil, errors.New("the file is empty")
	}
	if head[0] != '{' {
		return nil, errors.New("not GeoJSON: it does not start with a JSON object")
	}
	line, _, ok := bytes.Cut(head, []byte("\n"))
	// A first line longer than the peek (a detailed boundary) still says
	// what it is with its "type" member, which writers put first.
	fr.lines = ok && isFeatureLine(line) || !ok && firstType(head) == "Feature"
	fr.dec = json.NewDecoder(skipRS{br})
	if !fr.lines {
		if err := fr.openCollection(); err != nil {
			return nil, err
		}
	}
	return fr, nil
}

const utf8BOM = "\xef\xbb\xbf"

// firstType is the "type" member of the object head starts, "" when head
// does not hold it.
func firstType(head []byte) string {
	dec := json.NewDecoder(bytes.NewReader(head))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return ""
		}
		var typ string
		if key == "type" && json.Unmarshal(v, &typ) == nil {
			return typ
		}
	}
	return ""
}

func isFeatureLine(line []byte) bool {
	var probe struct{ Type string }
	return json.Unmarshal(bytes.TrimSpace(line), &probe) == nil && probe.Type == "Feature"
}

// skipRS drops the RFC 8142 record separators so that the JSON decoder sees
// plain concatenated objects.
type skipRS struct{ r io.Reader }

func (s skipRS) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	j := 0
	for _, b := range p[:n] {
		if b != 0x1e {
			p[j] = b
			j++
		}
	}
	return j, err
}

func (fr *FeatureReader) openCollection() error {
	if t, err := fr.dec.Token(); err != nil || t != json.Delim('{') {
		return syntaxErr(err, "not GeoJSON: want a FeatureCollection object")
	}
	for fr.dec.More() {
		t, err := fr.dec.Token()
		if err != nil {
			return syntaxErr(err, "malformed GeoJSON")
		}
		key, _ := t.(string)
		switch key {
		case "type":
			var typ string
			if err := fr.dec.Decode(&typ); err != nil {
				return syntaxErr(err, "malformed GeoJSON type")
			}
			if typ != "FeatureCollection" {
				return fmt.Errorf("want a GeoJSON FeatureCollection, got a %s", typ)
			}
		case "crs":
			var crs struct {
				Properties struct{ Name string } `json:"properties"`
			}
			if err := fr.dec.Decode(&crs); err != nil {
				return syntaxErr(err, "malformed crs member")
			}
			fr.CRSName = crs.Properties.Name
		case "features":
			if t, err := fr.dec.Token(); err != nil || t != json.Delim('[') {
				return syntaxErr(err, "\"features\" must be an array")
			}
			fr.inside = true
			return nil
		default:
			var skip json.RawMessage
			if err := fr.dec.Decode(&skip); err != nil {
				return syntaxErr(err, "malformed GeoJSON")
			}
		}
	}
	return errors.New("the FeatureCollection has no \"features\" member")
}

func syntaxErr(err error, msg string) error {
	if err == nil {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

type rawFeature struct {
	Type       string          `json:"type"`
	ID         json.RawMessage `json:"id"`
	Properties map[string]any  `json:"properties"`
	Geometry   json.RawMessage `json:"geometry"`
}

// Next returns the next feature, or io.EOF after the last. A feature whose
// geometry cannot be read is returned with GeometryErr set; a stream that is
// not JSON any more ends the reading with an error.
func (fr *FeatureReader) Next() (Feature, error) {
	if fr.done {
		return Feature{}, io.EOF
	}
	if fr.inside && !fr.dec.More() {
		fr.done = true
		if _, err := fr.dec.Token(); err != nil { // the closing ]
			if errors.Is(err, io.EOF) {
				return Feature{}, fmt.Errorf("feature %d: the file ends before the features array is closed (truncated?)", fr.next)
			}
			return Feature{}, fmt.Errorf("feature %d: malformed JSON: %w", fr.next, err)
		}
		return Feature{}, io.EOF
	}
	var raw rawFeature
	if err := fr.dec.Decode(&raw); err != nil {
		if fr.lines && errors.Is(err, io.EOF) {
			fr.done = true
			return Feature{}, io.EOF
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Feature{}, fmt.Errorf("feature %d: the file ends in the middle of a feature (truncated?)", fr.next)
		}
		return Feature{}, fmt.Errorf("feature %d: malformed JSON: %w", fr.next, err)
	}
	f := Feature{Index: fr.next, Properties: raw.Properties}
	fr.next++
	if f.Properties == nil {
		f.Properties = map[string]any{}
	}
	if raw.Type != "Feature" {
		f.GeometryErr = fmt.Errorf("not a Feature (type %q)", raw.Type)
		return f, nil
	}
	if len(raw.ID) > 0 && string(raw.ID) != "null" {
		var s string
		if json.Unmarshal(raw.ID, &s) != nil {
			s = strings.TrimSpace(string(raw.ID))
		}
		f.ID = s
	}
	if len(raw.Geometry) == 0 || string(raw.Geometry) == "null" {
		return f, nil
	}
	g, err := geojson.UnmarshalGeometry(raw.Geometry)
	if err != nil {
		f.GeometryErr = fmt.Errorf("malformed geometry: %v", err)
		return f, nil
	}
	f.Geometry = g.Geometry()
	return f, nil
}
