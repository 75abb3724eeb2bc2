package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/logw"
	"github.com/paulmach/orb"
)

// cityEnv is a server on the generated demo city.
func cityEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	if _, err := citygen.Load(context.Background(), e.store, citygen.Config{Grids: 600, Seed: 5}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if err := e.resolver.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) locate(query string) grids.Answer {
	e.t.Helper()
	r := e.do("GET", "/api/v1/locate?"+query, adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("locate %s: %d %s", query, r.status, r.body)
	}
	var a grids.Answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) point(sql string) orb.Point {
	e.t.Helper()
	var p orb.Point
	if err := e.store.Pool().QueryRow(context.Background(), sql).Scan(&p[0], &p[1]); err != nil {
		e.t.Fatalf("%v\n%s", err, sql)
	}
	return p
}

func q(p orb.Point, extra string) string {
	return fmt.Sprintf("lon=%.10f&lat=%.10f%s", p[0], p[1], extra)
}

func leadOf(a grids.Answer, theme string) *grids.AnswerOwner {
	for i, o := range a.Owners {
		if o.Theme == theme && o.Role == "lead" {
			return &a.Owners[i]
		}
	}
	return nil
}

func TestLocateOwnershipRules(t *testing.T) {
	e := cityEnv(t)
	// Inside a grid led by a contractor.
	p := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(g.geom) c FROM grids g
		JOIN assignments a ON a.grid_code = g.code AND a.theme_code = 'sanitation' AND a.role = 'lead'
		JOIN units u ON u.id = a.unit_id AND u.kind = 'contractor'
		WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE ST_Dimension(o.geom) = 2 AND ST_Intersects(o.geom, g.geom))
		ORDER BY g.code LIMIT 1) x`)
	a := e.locate(q(p, "&theme=sanitation"))
	if a.Grid == nil || !a.Inside || a.Regions.Community == nil || a.Regions.Subdistrict == nil || a.Regions.District == nil {
		t.Fatalf("inside a grid: %+v", a)
	}
	if l := leadOf(a, "sanitation"); l == nil || l.Unit.Kind != "contractor" || l.Via.Kind != "grid" || l.Via.Code != a.Grid.Code {
		t.Errorf("sanitation lead %+v, want the grid's contractor", l)
	}
	for _, o := range a.Owners {
		if o.Theme != "sanitation" {
			t.Errorf("theme=sanitation answered %s too", o.Theme)
		}
	}
	// A market's own manager beats the grid's sanitation lead.
	p = e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM objects WHERE layer = 'market' ORDER BY id LIMIT 1) x`)
	a = e.locate(q(p, "&category=E0101")) // exposed garbage → sanitation
	if l := leadOf(a, "sanitation"); l == nil || l.Via.Kind != "object" || l.Via.Layer != "market" {
		t.Errorf("in a market: sanitation lead %+v, want the market's manager", l)
	}
	// Territorial fallback: mobile vendors are the subdistrict office's.
	if l := leadOf(a, "mobile_vendors"); l != nil {
		t.Errorf("category E0101 answered mobile_vendors too")
	}
	a = e.locate(q(p, "&theme=mobile_vendors"))
	if l := leadOf(a, "mobile_vendors"); l == nil || l.Via.Kind != "region" || l.Via.Level != "subdistrict" || l.Unit.Kind != "subdistrict_office" {
		t.Errorf("mobile vendors lead %+v, want the subdistrict office via the subdistrict", l)
	}
	// Without a theme: every duty someone answers for here.
	all := e.locate(q(p, ""))
	themes := map[string]bool{}
	for _, o := range all.Owners {
		themes[o.Theme] = true
	}
	if !themes["sanitation"] || !themes["mobile_vendors"] || !themes["billboards"] {
		t.Errorf("all duties: %v", themes)
	}
}

func TestLocateBoundariesAndOutside(t *testing.T) {
	e := cityEnv(t)
	// A lattice vertex inside the city is shared by four grids.
	p := e.point(`SELECT x, y FROM (SELECT code, ST_X((ST_DumpPoints(geom)).geom) x, ST_Y((ST_DumpPoints(geom)).geom) y FROM grids) v
		GROUP BY x, y HAVING count(DISTINCT code) = 4 ORDER BY x, y LIMIT 1`)
	a := e.locate(q(p, ""))
	if a.Grid == nil || !a.OnBoundary || len(a.Adjacent) != 3 {
		t.Fatalf("on a vertex: grid %v, on_boundary %v, adjacent %d", a.Grid, a.OnBoundary, len(a.Adjacent))
	}
	for _, g := range a.Adjacent {
		if g.Code < a.Grid.Code {
			t.Errorf("grid %s chosen though %s also covers the point: the smallest code wins", a.Grid.Code, g.Code)
		}
	}
	again := e.locate(q(p, ""))
	if again.Grid.Code != a.Grid.Code {
		t.Error("a boundary point changed grid between two calls")
	}
	// Far outside the city: no grid, the nearest one and its distance.
	var b orb.Bound
	e.store.Pool().QueryRow(context.Background(), `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM grids) x`).
		Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1])
	out := orb.Point{b.Max[0] + 0.01, (b.Min[1] + b.Max[1]) / 2}
	a = e.locate(q(out, ""))
	if a.Inside || a.Grid != nil || a.NearestGrid == nil || a.NearestGrid.DistanceM < 500 || a.NearestGrid.DistanceM > 1100 {
		t.Errorf("outside: inside %v grid %v nearest %+v (want about 850 m)", a.Inside, a.Grid, a.NearestGrid)
	}
	db := e.locate(q(out, "&engine=db"))
	if db.NearestGrid == nil || db.NearestGrid.Code != a.NearestGrid.Code || abs(db.NearestGrid.DistanceM-a.NearestGrid.DistanceM) > 0.5 {
		t.Errorf("nearest grid: index %+v, db %+v", a.NearestGrid, db.NearestGrid)
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// The index and PostGIS give the same whole answer, grids, objects,
// distances (to the centimetre) and owners, on points all over the city.
func TestLocateEngineDBAgrees(t *testing.T) {
	e := cityEnv(t)
	rows, err := e.store.Pool().Query(context.Background(), `
		SELECT ST_X(p), ST_Y(p) FROM (
			(SELECT ST_PointOnSurface(geom) p FROM grids ORDER BY md5(code) LIMIT 60)
			UNION ALL (SELECT ST_LineInterpolatePoint(geom, 0.37) FROM objects WHERE GeometryType(geom) = 'LINESTRING' ORDER BY id LIMIT 60)
			UNION ALL (SELECT ST_PointOnSurface(geom) FROM objects WHERE ST_Dimension(geom) = 2 ORDER BY id LIMIT 60)
			UNION ALL (SELECT (ST_DumpPoints(geom)).geom FROM grids WHERE code LIKE '%001' LIMIT 60)) x`)
	if err != nil {
		t.Fatal(err)
	}
	pts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (orb.Point, error) {
		var p orb.Point
		return p, r.Scan(&p[0], &p[1])
	})
	if err != nil || len(pts) < 200 {
		t.Fatalf("%d points: %v", len(pts), err)
	}
	for _, p := range pts {
		idx, db := e.locate(q(p, "")), e.locate(q(p, "&engine=db"))
		for i := range idx.Objects {
			if i < len(db.Objects) && abs(idx.Objects[i].DistanceM-db.Objects[i].DistanceM) <= 0.01 {
				db.Objects[i].DistanceM = idx.Objects[i].DistanceM
			}
		}
		idx.Engine, db.Engine = "", ""
		if !reflect.DeepEqual(idx, db) {
			a, _ := json.Marshal(idx)
			b, _ := json.Marshal(db)
			t.Fatalf("point %v:\nindex %s\n   db %s", p, a, b)
		}
	}
}

func TestLocateBadInput(t *testing.T) {
	e := cityEnv(t)
	for _, c := range []struct{ query, field string }{
		{"lat=36.65", "lon"}, {"lon=117", "lat"}, {"lon=abc&lat=36", "lon"}, {"lon=117&lat=95", "lat"},
		{"lon=190&lat=36", "lon"}, {"lon=NaN&lat=36", "lon"}, {"lon=117&lat=36&crs=utm", "crs"},
		{"lon=117&lat=36&theme=nope", "theme"}, {"lon=117&lat=36&category=X9", "category"},
		{"lon=117&lat=36&category=E01", "category"}, {"lon=117&lat=36&engine=fast", "engine"},
	} {
		r := e.do("GET", "/api/v1/locate?"+c.query, adminToken, nil)
		if _, field := r.errField(t); r.status != 400 || field != c.field {
			t.Errorf("%s: %d field %q, want 400 %q", c.query, r.status, field, c.field)
		}
	}
	if r := e.do("GET", "/api/v1/locate?lon=117&lat=36", "", nil); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
}

func TestLocateGCJ02Input(t *testing.T) {
	e := cityEnv(t)
	p := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids ORDER BY code LIMIT 1) x`)
	// A phone app reports the same place in GCJ-02, about half a kilometre off.
	g := geo.WGS84ToGCJ02(p)
	wgs := e.locate(q(p, ""))
	gcj := e.locate(q(g, "&crs=gcj02"))
	if gcj.Grid == nil || wgs.Grid == nil || gcj.Grid.Code != wgs.Grid.Code || gcj.Input == nil || gcj.Input.CRS != "gcj02" {
		t.Errorf("GCJ-02 input: %+v vs %+v", gcj.Grid, wgs.Grid)
	}
	if abs(gcj.Point.Lon-p[0]) > 1e-7 || abs(gcj.Point.Lat-p[1]) > 1e-7 {
		t.Errorf("converted point %v, want %v", gcj.Point, p)
	}
}

func TestLocateBatch(t *testing.T) {
	e := cityEnv(t)
	p := e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids ORDER BY code LIMIT 1) x`)
	body := fmt.Sprintf(`{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"ref":"a"},"geometry":{"type":"Point","coordinates":[%[1]f,%[2]f]}},
		{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
		{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[400,95]}},
		{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[%[1]f,%[2]f]}}]}`, p[0], p[1])
	r := e.do("POST", "/api/v1/locate?theme=sanitation", adminToken, body)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/geo+json") {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var fc struct {
		Features []struct {
			ID         int
			Geometry   *struct{ Coordinates [2]float64 }
			Properties map[string]any
		}
	}
	if err := json.Unmarshal(r.body, &fc); err != nil {
		t.Fatalf("not GeoJSON: %v\n%s", err, r.body)
	}
	if len(fc.Features) != 4 {
		t.Fatalf("%d features, want 4", len(fc.Features))
	}
	for i, f := range fc.Features {
		if f.ID != i {
			t.Errorf("feature %d has id %d: answers out of order", i, f.ID)
		}
	}
	if fc.Features[0].Properties["grid"] == nil || fc.Features[3].Properties["grid"] == nil {
		t.Error("good points got no grid")
	}
	for _, i := range []int{1, 2} {
		if msg, _ := fc.Features[i].Properties["error"].(string); msg == "" {
			t.Errorf("feature %d: no error: %v", i, fc.Features[i].Properties)
		}
	}
	var many strings.Builder
	many.WriteString(`{"type":"FeatureCollection","features":[`)
	for i := 0; i <= 10000; i++ {
		if i > 0 {
			many.WriteByte(',')
		}
		many.WriteString(`{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[117,36.6]}}`)
	}
	many.WriteString("]}")
	if r := e.do("POST", "/api/v1/locate", adminToken, many.String()); r.status != 413 {
		t.Errorf("10,001 points: %d", r.status)
	}
}

// Two servers on one database: a change made through one is answered by
// the other within a second (LISTEN/NOTIFY and a background rebuild); so
// is one committed while the other was starting, after it read its
// snapshot and before it listened.
func TestLocateSecondServerSeesChanges(t *testing.T) {
	a := cityEnv(t)
	p := a.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(g.geom) c FROM grids g
		WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE ST_Dimension(o.geom) = 2 AND ST_Intersects(o.geom, g.geom))
		ORDER BY g.code LIMIT 1) x`)
	importMarket := func(id, name string) {
		t.Helper()
		market := fmt.Sprintf(`{"type":"FeatureCollection","features":[{"type":"Feature","id":%q,"properties":{"layer":"market","name":%q},
		"geometry":{"type":"Polygon","coordinates":[[[%[3]f,%[4]f],[%[5]f,%[4]f],[%[5]f,%[6]f],[%[3]f,%[6]f],[%[3]f,%[4]f]]]}}]}`,
			id, name, p[0]-0.0001, p[1]-0.0001, p[0]+0.0001, p[1]+0.0001)
		if r := a.do("POST", "/api/v1/import/objects", adminToken, market); r.status != 200 {
			t.Fatalf("import through server A: %d %s", r.status, r.body)
		}
	}
	sees := func(b *env, name string) {
		t.Helper()
		start := time.Now()
		for {
			found := false
			for _, o := range b.locate(q(p, "")).Objects {
				found = found || o.Name == name
			}
			if found {
				t.Logf("the other server answered with %s after %s", name, time.Since(start).Round(time.Millisecond))
				return
			}
			// That it arrives is checked here and how fast is logged; a 1 s
			// deadline made the test fail under -race on a loaded 2-core
			// machine, and speed belongs to benchmarks, not to tests.
			if time.Since(start) > 20*time.Second {
				t.Fatalf("the other server did not see %s within 20 s", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	b := a.twin(t)
	for _, o := range b.locate(q(p, "")).Objects {
		if o.Layer == "market" {
			t.Fatal("a market is already there")
		}
	}
	importMarket("new-market", "新开市场")
	sees(b, "新开市场")

	pool, err := db.Connect(context.Background(), a.store.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	c := serverStarting(t, pool, func(*api.Config) {}, func() { importMarket("second-market", "开业市场") })
	sees(c, "开业市场")
}

// The locate answer is written without reflection; a client reads the same
// bytes encoding/json writes for the resolver's answer (no HTML escaping, a
// final newline), on random points all over the city and its outskirts, in
// both coordinate systems, for one duty and for all, indented under ?pretty.
func TestLocateAnswerAsEncodingJSON(t *testing.T) {
	e := cityEnv(t)
	var b orb.Bound
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (SELECT ST_Extent(geom) x FROM grids) e`).
		Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(16, 4))
	snap := e.resolver.Snapshot()
	var l grids.Located
	for i := range 400 {
		// a little beyond the city, so that some points are outside every grid
		p := orb.Point{b.Min[0] - 0.002 + r.Float64()*(b.Max[0]-b.Min[0]+0.004), b.Min[1] - 0.002 + r.Float64()*(b.Max[1]-b.Min[1]+0.004)}
		theme, extra := int16(-1), ""
		if i%3 == 0 {
			theme, extra = snap.ThemeIndex("sanitation"), "&theme=sanitation"
		}
		query := q(p, extra)
		p = orb.Point{mustParse(t, query, "lon"), mustParse(t, query, "lat")} // as sent, to ten decimals
		if _, err := e.resolver.Locate(context.Background(), p, theme, &l); err != nil {
			t.Fatal(err)
		}
		want := snap.Answer(&l)
		if i%5 == 0 {
			query = q(geo.WGS84ToGCJ02(p), extra+"&crs=gcj02")
			// the point as sent, to the query's ten decimals
			in := orb.Point{mustParse(t, query, "lon"), mustParse(t, query, "lat")}
			if _, err := e.resolver.Locate(context.Background(), geo.GCJ02ToWGS84(in), theme, &l); err != nil {
				t.Fatal(err)
			}
			want = snap.Answer(&l)
			want.Input = &grids.InputPoint{Lon: in[0], Lat: in[1], CRS: "gcj02"}
		}
		indent := ""
		if i%7 == 0 {
			query, indent = query+"&pretty", "  "
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", indent)
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		got := e.do("GET", "/api/v1/locate?"+query, adminToken, nil)
		if got.status != 200 || !bytes.Equal(got.body, buf.Bytes()) {
			n := 0
			for n < min(len(got.body), buf.Len()) && got.body[n] == buf.Bytes()[n] {
				n++
			}
			t.Fatalf("%s: %d, differs at byte %d\n got %s\nwant %s", query, got.status, n, got.body, buf.Bytes())
		}
	}
}

func mustParse(t *testing.T, query, name string) float64 {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(v.Get(name), 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fields= gives the named top-level fields of the whole answer, in the
// answer's order, and nothing else; an unknown name is a 400 naming fields.
func TestLocateFields(t *testing.T) {
	e := cityEnv(t)
	pts := []orb.Point{
		e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c FROM grids ORDER BY code LIMIT 1) x`),
		e.point(`SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_LineInterpolatePoint(geom, 0.37) c FROM objects WHERE GeometryType(geom) = 'LINESTRING' ORDER BY id LIMIT 1) x`),
		e.point(`SELECT ST_XMin(x) - 0.01, ST_YMin(x) - 0.01 FROM (SELECT ST_Extent(geom) x FROM grids) e`), // outside every grid
	}
	for _, p := range pts {
		for _, engine := range []string{"", "&engine=db"} {
			for _, fields := range []string{"grid,owners", "owners,grid", "inside", "grid,regions,adjacent,nearest_grid", "objects", "point,input,engine,on_boundary"} {
				full := e.do("GET", "/api/v1/locate?"+q(p, engine+"&crs=wgs84"), adminToken, nil)
				part := e.do("GET", "/api/v1/locate?"+q(p, engine+"&fields="+fields), adminToken, nil)
				if full.status != 200 || part.status != 200 {
					t.Fatalf("%d %s / %d %s", full.status, full.body, part.status, part.body)
				}
				var want bytes.Buffer
				want.WriteByte('{')
				dec := json.NewDecoder(bytes.NewReader(full.body))
				dec.Token() // {
				for dec.More() {
					k, _ := dec.Token()
					var v json.RawMessage
					if err := dec.Decode(&v); err != nil {
						t.Fatal(err)
					}
					if slices.Contains(strings.Split(fields, ","), k.(string)) {
						if want.Len() > 1 {
							want.WriteByte(',')
						}
						fmt.Fprintf(&want, "%q:%s", k, v)
					}
				}
				want.WriteString("}\n")
				if !bytes.Equal(part.body, want.Bytes()) {
					t.Errorf("%v%s fields=%s:\n got %s\nwant %s", p, engine, fields, part.body, want.Bytes())
				}
			}
		}
	}
	for _, bad := range []string{"grid,nope", "Grid", "grid,", "owners.unit"} {
		r := e.do("GET", "/api/v1/locate?"+q(pts[0], "&fields="+bad), adminToken, nil)
		if _, field := r.errField(t); r.status != 400 || field != "fields" {
			t.Errorf("fields=%s: %d %s, want a 400 naming fields", bad, r.status, r.body)
		}
	}
}

// An operator's access log: one JSON line per request, with the route,
// status, bytes sent, duration, remote address and user, written through
// the batching writer that serve uses.
func TestLocateAccessLog(t *testing.T) {
	e := newEnv(t)
	cal, err := calendar.NewHolder(t.Context(), calendar.NewStore(e.store.Pool()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	lw := logw.New(&out, time.Hour)
	srv, err := api.New(e.store, e.resolver, e.migrator, api.Deps{Calendar: cal},
		slog.New(logw.Urgent(slog.NewJSONHandler(lw, nil), lw)), api.Config{AdminToken: adminToken})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	(&env{t: t, url: hs.URL}).do("GET", "/api/v1/locate?lon=117&lat=36.65&fields=grid", adminToken, nil)
	r := (&env{t: t, url: hs.URL}).do("GET", "/api/v1/locate?lon=117&lat=36.65", adminToken, nil)
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	var l struct {
		Level, Msg, Method, Route, Path, Remote, User, Role, RequestID string
		Status                                                         int
		Bytes, Duration                                                int64
	}
	if err := json.Unmarshal([]byte(strings.ReplaceAll(lines[1], `"request_id"`, `"requestid"`)), &l); err != nil {
		t.Fatal(err)
	}
	if l.Level != "INFO" || l.Msg != "request" || l.Method != "GET" || l.Route != "/api/v1/locate" || l.Path != "/api/v1/locate" ||
		l.Status != 200 || l.Bytes != int64(len(r.body)) || l.Duration <= 0 || !strings.HasPrefix(l.Remote, "127.0.0.1") ||
		l.User == "" || l.Role != "admin" || l.RequestID != r.header.Get("X-Request-Id") {
		t.Errorf("access log line %s\nread as %+v; answer of %d bytes", lines[1], l, len(r.body))
	}
}
