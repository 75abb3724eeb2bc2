package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// maxBatch is the most points one batch request may carry.
const maxBatch = 10000

// locateScratch is what one locate request works in: the lookup, the
// answer and its bytes. Server.scratch recycles them, so that a locate
// allocates nothing for the lookup, the answer or its encoding.
type locateScratch struct {
	l   grids.Located
	a   grids.Answer
	buf []byte
}

func (s *Server) getScratch() *locateScratch {
	if sc, ok := s.scratch.Get().(*locateScratch); ok {
		return sc
	}
	return &locateScratch{buf: make([]byte, 0, 8<<10)}
}

func (s *Server) putScratch(sc *locateScratch) {
	if cap(sc.buf) > 256<<10 { // a rare huge answer is not kept
		sc.buf = make([]byte, 0, 8<<10)
	}
	s.scratch.Put(sc)
}

// locateQuery is a validated locate request's options.
type locateQuery struct {
	crs      geo.CRS
	theme    int16
	themeStr string
	db       bool
}

func (s *Server) locateOptions(c echo.Context, snap *grids.Snapshot) (locateQuery, error) {
	q := locateQuery{theme: -1}
	var err error
	if q.crs, err = crsParam(c); err != nil {
		return q, err
	}
	switch e := c.QueryParam("engine"); e {
	case "", "index":
	case "db":
		q.db = true
	default:
		return q, bad("engine", "%q is not an engine (index or db)", e)
	}
	if t := c.QueryParam("theme"); t != "" {
		if q.theme = snap.ThemeIndex(t); q.theme < 0 {
			return q, bad("theme", "unknown theme %q (see /api/v1/themes)", t)
		}
		q.themeStr = t
	}
	if cat := c.QueryParam("category"); cat != "" {
		t, ok := snap.CategoryTheme(cat)
		if !ok {
			return q, bad("category", "unknown category %q (see /api/v1/categories)", cat)
		}
		if t < 0 {
			return q, bad("category", "category %q is a major class with no duty; give a minor class", cat)
		}
		if q.theme >= 0 && q.theme != t {
			return q, bad("category", "category %q belongs to theme %s, not %s", cat, snap.Themes[t].Code, q.themeStr)
		}
		q.theme, q.themeStr = t, snap.Themes[t].Code
	}
	return q, nil
}

func coordParam(c echo.Context, name string, limit float64) (float64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return 0, bad(name, "required")
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, bad(name, "%q is not a number", v)
	}
	if f < -limit || f > limit {
		return 0, bad(name, "%g is outside -%g..%g", f, limit, limit)
	}
	return f, nil
}

// locate answers GET /api/v1/locate: who owns this place.
func (s *Server) locate(c echo.Context) error {
	snap := s.resolver.Snapshot()
	q, err := s.locateOptions(c, snap)
	if err != nil {
		return err
	}
	lon, err := coordParam(c, "lon", 180)
	if err != nil {
		return err
	}
	lat, err := coordParam(c, "lat", 90)
	if err != nil {
		return err
	}
	fields, err := parseAnswerFields(c.QueryParam("fields"))
	if err != nil {
		return err
	}
	in := orb.Point{lon, lat}
	p := q.crs.ToWGS84()(in)
	sc := s.getScratch()
	defer s.putScratch(sc)
	a := &sc.a
	switch {
	case q.db:
		if *a, err = s.answer(c, q, p); err != nil {
			return err
		}
	case !fields.needsCarriers():
		// Neither objects nor owners asked for: the objects at the point
		// and the duties are never looked up.
		s.resolver.LocatePlace(p, &sc.l).AnswerInto(&sc.l, a)
	default:
		snap, err := s.resolver.Locate(c.Request().Context(), p, q.theme, &sc.l)
		if err != nil {
			return err
		}
		snap.AnswerInto(&sc.l, a)
	}
	if q.crs != geo.WGS84 {
		a.Input = &grids.InputPoint{Lon: lon, Lat: lat, CRS: q.crs.String()}
	}
	sc.buf = appendAnswer(sc.buf[:0], a, fields)
	return writeJSONBytes(c, sc.buf)
}

// writeJSONBytes sends an encoded JSON answer as c.JSON would (indented
// under ?pretty), in one write with its length: an answer over the
// server's 2 KiB write buffer is not sent in chunks.
func writeJSONBytes(c echo.Context, b []byte) error {
	if _, pretty := c.QueryParams()["pretty"]; pretty || c.Echo().Debug {
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "  "); err != nil {
			return err
		}
		b = out.Bytes()
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(b)))
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(b)
	return err
}

func (s *Server) answer(c echo.Context, q locateQuery, p orb.Point) (grids.Answer, error) {
	ctx := c.Request().Context()
	if q.db {
		return s.resolver.LocateDB(ctx, p, q.themeStr)
	}
	sc := s.getScratch()
	defer s.putScratch(sc)
	snap, err := s.resolver.Locate(ctx, p, q.theme, &sc.l)
	if err != nil {
		return grids.Answer{}, err
	}
	return snap.Answer(&sc.l), nil
}

// batchFeature is one answer of a batch, in input order.
type batchFeature struct {
	Type       string    `json:"type"`
	ID         int       `json:"id"`
	Geometry   *geometry `json:"geometry"`
	Properties any       `json:"properties"`
}

type geometry struct {
	Type        string     `json:"type"`
	Coordinates [2]float64 `json:"coordinates"`
}

// locateBatch answers POST /api/v1/locate: a FeatureCollection of up to
// 10,000 points in, a FeatureCollection out, streamed in input order. A bad
// point gets an error at its index instead of failing the batch.
func (s *Server) locateBatch(c echo.Context) error {
	snap := s.resolver.Snapshot()
	q, err := s.locateOptions(c, snap)
	if err != nil {
		return err
	}
	body := http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.BatchLimit)
	fr, err := geo.NewFeatureReader(body)
	if err != nil {
		return bad("body", "%v", err)
	}
	var feats []geo.Feature
	for {
		f, err := fr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if err != nil {
			return bad("body", "%v", err)
		}
		if len(feats) == maxBatch {
			return &tooLarge{msg: "a batch takes at most 10,000 points; split it"}
		}
		feats = append(feats, f)
	}
	// Answers are computed and encoded in chunks on every core, and written
	// in input order as each chunk is ready: the client sees the first
	// answers while later ones are still being computed.
	const chunk = 500
	n := (len(feats) + chunk - 1) / chunk
	done := make([]chan []byte, n)
	for i := range done {
		done[i] = make(chan []byte, 1)
	}
	work := make(chan int)
	ctx := c.Request().Context()
	var failed error
	var failOnce sync.Once
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for k := range work {
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				for i := k * chunk; i < min((k+1)*chunk, len(feats)); i++ {
					if i > 0 {
						buf.WriteByte(',')
					}
					if err := enc.Encode(s.batchAnswer(c, q, i, feats[i])); err != nil {
						failOnce.Do(func() { failed = err })
					}
				}
				done[k] <- buf.Bytes()
			}
		}()
	}
	go func() {
		defer close(work)
		for k := range n {
			select {
			case work <- k:
			case <-ctx.Done():
				return
			}
		}
	}()
	w := c.Response()
	w.Header().Set(echo.HeaderContentType, "application/geo+json")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{"type":"FeatureCollection","features":[`))
	for k := range n {
		select {
		case b := <-done[k]:
			if _, err := w.Write(b); err != nil {
				return err
			}
			w.Flush()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if failed != nil {
		// The status line is gone; all that is left is to log and cut off.
		return failed
	}
	_, err = w.Write([]byte("]}\n"))
	return err
}

// batchAnswer is one feature of a batch answer.
func (s *Server) batchAnswer(c echo.Context, q locateQuery, i int, f geo.Feature) batchFeature {
	out := batchFeature{Type: "Feature", ID: i}
	pt, ok := f.Geometry.(orb.Point)
	switch {
	case f.GeometryErr != nil:
		out.Properties = map[string]any{"error": f.GeometryErr.Error(), "index": i}
	case !ok:
		typ := "no geometry"
		if f.Geometry != nil {
			typ = "a " + f.Geometry.GeoJSONType()
		}
		out.Properties = map[string]any{"error": "want a Point, got " + typ, "index": i}
	case geo.Validate(pt) != nil:
		out.Properties = map[string]any{"error": geo.Validate(pt).Error(), "index": i}
	default:
		p := q.crs.ToWGS84()(pt)
		a, err := s.answer(c, q, p)
		if err != nil {
			out.Properties = map[string]any{"error": "could not locate this point", "index": i}
			s.log.Error("batch locate", "err", err, "index", i)
			return out
		}
		if q.crs != geo.WGS84 {
			a.Input = &grids.InputPoint{Lon: pt[0], Lat: pt[1], CRS: q.crs.String()}
		}
		out.Geometry = &geometry{Type: "Point", Coordinates: [2]float64{p[0], p[1]}}
		out.Properties = a
	}
	return out
}
