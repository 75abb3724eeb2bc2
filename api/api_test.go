package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/citygrid/citygrid/internal/app"
	"github.com/citygrid/citygrid/internal/db"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/internal/testdb"
)

const adminToken = "test-admin-token"

// env is a real server on a real PostGIS database, reached over HTTP.
type env struct {
	t        *testing.T
	url      string
	store    *grids.Store
	migrator *db.Migrator
	resolver *grids.Resolver
	calendar *calendar.Holder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return serverOn(t, testdb.Pool(t))
}

// twin is a second server, with its own pool, index and listener, on the
// same database.
func (e *env) twin(t *testing.T) *env {
	t.Helper()
	pool, err := db.Connect(context.Background(), e.store.Pool().Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return serverOn(t, pool)
}

func serverOn(t *testing.T, pool *pgxpool.Pool) *env {
	t.Helper()
	return serverWith(t, pool, func(*api.Config) {})
}

// serverWith is serverOn with a changed configuration.
func serverWith(t *testing.T, pool *pgxpool.Pool, configure func(*api.Config)) *env {
	t.Helper()
	return serverStarting(t, pool, configure, func() {})
}

// serverStarting is serverWith calling between the server's start-up
// reads and its Run (where it starts listening for changes).
func serverStarting(t *testing.T, pool *pgxpool.Pool, configure func(*api.Config), between func()) *env {
	t.Helper()
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := api.Config{AdminToken: adminToken, Version: "test"}
	configure(&cfg)
	a, err := app.New(ctx, pool, m, app.Config{Codes: grids.DefaultCodeRules(), API: cfg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	between()
	go a.Run(ctx)
	store, res, srv := a.Store, a.Resolver, a.Server
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, store: store, migrator: m, resolver: res, calendar: a.Calendar}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// errField returns the error code and field of an error response.
func (r response) errField(t *testing.T) (code, field string) {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.body)
	}
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.send(req)
}

// send makes a request and reads the whole answer.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// errCase is a GET that must fail with status, naming field (if any).
type errCase struct {
	path, token string
	status      int
	field       string
}

func (e *env) expectErrors(cases []errCase) {
	e.t.Helper()
	for _, c := range cases {
		r := e.do("GET", c.path, c.token, nil)
		if r.status != c.status {
			e.t.Errorf("%s: %d, want %d: %s", c.path, r.status, c.status, r.body)
			continue
		}
		if c.field != "" {
			if _, field := r.errField(e.t); field != c.field {
				e.t.Errorf("%s: error names %q, want %q", c.path, field, c.field)
			}
		}
	}
}

func (e *env) token(role, unit string) string {
	e.t.Helper()
	_, secret, err := grids.NewTokenStore(e.store.Pool()).Create(context.Background(), grids.TokenInput{Role: role, Unit: unit, Name: role + unit})
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func square(x, y, d float64) map[string]any {
	return map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{x, y}, {x + d, y}, {x + d, y + d}, {x, y + d}, {x, y}}}}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/api/v1/units", "", nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", r.status)
	} else if code, _ := r.errField(t); code != "unauthorized" {
		t.Errorf("no token: code %q", code)
	}
	if r := e.do("GET", "/api/v1/units", "cg_not_a_real_token", nil); r.status != 401 {
		t.Errorf("unknown token: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/units", adminToken, nil); r.status != 200 {
		t.Errorf("admin token: %d %s", r.status, r.body)
	}
	analyst := e.token("analyst", "")
	if r := e.do("GET", "/api/v1/units", analyst, nil); r.status != 200 {
		t.Errorf("analyst read: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/units", analyst, map[string]any{"code": "X", "name": "x", "kind": "shop"}); r.status != 403 {
		t.Errorf("analyst write: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/tokens", analyst, nil); r.status != 403 {
		t.Errorf("analyst lists tokens: %d", r.status)
	}
	planner := e.token("planner", "")
	if r := e.do("POST", "/api/v1/units", planner, map[string]any{"code": "X", "name": "x", "kind": "shop"}); r.status != 201 {
		t.Errorf("planner write: %d %s", r.status, r.body)
	}
	if e.do("POST", "/api/v1/units", planner, map[string]any{"code": "X", "name": "x", "kind": "shop"}).status != 409 {
		t.Error("duplicate unit not a conflict")
	}
	// A unit token is bound to its unit.
	unitTok := e.token("unit", "X")
	r := e.do("GET", "/api/v1/me", unitTok, nil)
	if m := r.json(t); m["role"] != "unit" || m["unit"] != "X" {
		t.Errorf("me = %s", r.body)
	}

	// Revocation through the API takes effect at once, cache or not.
	created := e.do("POST", "/api/v1/tokens", adminToken, map[string]any{"role": "dispatcher", "name": "desk-1"})
	if created.status != 201 {
		t.Fatalf("create token: %d %s", created.status, created.body)
	}
	m := created.json(t)
	secret, _ := m["token"].(string)
	id := int(m["id"].(float64))
	if !strings.HasPrefix(secret, "cg_") || e.do("GET", "/api/v1/me", secret, nil).status != 200 {
		t.Fatalf("new token does not work: %s", created.body)
	}
	if list := e.do("GET", "/api/v1/tokens", adminToken, nil); bytes.Contains(list.body, []byte(secret)) {
		t.Error("token list shows a secret")
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+strconv.Itoa(id), adminToken, nil); r.status != 204 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/me", secret, nil); r.status != 401 {
		t.Errorf("revoked token: %d", r.status)
	}
}

// Every kind of bad input is a 4xx naming the field, and nothing is written.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	if r := e.do("POST", "/api/v1/regions", adminToken, map[string]any{"code": "110108", "name": "海淀区", "level": "district", "geometry": square(116.2, 39.9, 0.2)}); r.status != 201 {
		t.Fatalf("district: %d %s", r.status, r.body)
	}
	cases := []struct {
		name   string
		path   string
		body   any
		status int
		field  string
	}{
		{"malformed JSON", "/api/v1/units", `{"code": "A",`, 400, "body"},
		{"not JSON at all", "/api/v1/units", `code=A`, 400, "body"},
		{"empty body", "/api/v1/units", ``, 400, "body"},
		{"unknown field", "/api/v1/units", map[string]any{"code": "A", "name": "a", "kind": "shop", "colour": "red"}, 400, "colour"},
		{"wrong type", "/api/v1/units", map[string]any{"code": 12, "name": "a", "kind": "shop"}, 400, "code"},
		{"nested wrong type", "/api/v1/units", map[string]any{"code": "A", "name": "a", "kind": "shop", "contact": map[string]any{"phone": 123}}, 400, "contact.phone"},
		{"unit code format", "/api/v1/units", map[string]any{"code": "a b", "name": "a", "kind": "shop"}, 422, "code"},
		{"unit kind", "/api/v1/units", map[string]any{"code": "A", "name": "a", "kind": "team"}, 422, "kind"},
		{"parent unit missing", "/api/v1/units", map[string]any{"code": "A", "name": "a", "kind": "shop", "parent": "NOPE"}, 422, "parent"},
		{"trailing data", "/api/v1/units", `{"code":"A","name":"a","kind":"shop"} {}`, 400, "body"},
		{"self-intersecting region", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{116.25, 39.95}, {116.26, 39.96}, {116.26, 39.95}, {116.25, 39.96}, {116.25, 39.95}}}}}, 422, "geometry"},
		{"ring of three points", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{116.25, 39.95}, {116.26, 39.96}, {116.25, 39.95}}}}}, 422, "geometry"},
		{"coordinates out of range", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": square(400, 95, 0.01)}, 422, "geometry"},
		{"a point for a region", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": map[string]any{"type": "Point", "coordinates": []float64{116.25, 39.95}}}, 422, "geometry"},
		{"not a geometry", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": map[string]any{"type": "Feature"}}, 400, "geometry"},
		{"other SRID", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": map[string]any{"type": "Polygon", "crs": map[string]any{"type": "name", "properties": map[string]any{"name": "EPSG:3857"}},
				"coordinates": [][][]float64{{{116.25, 39.95}, {116.26, 39.95}, {116.26, 39.96}, {116.25, 39.95}}}}}, 422, "geometry"},
		{"outside the parent", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": square(116.5, 39.95, 0.01)}, 422, "geometry"},
		{"parent region missing", "/api/v1/regions", map[string]any{"code": "110109001000", "name": "x", "level": "subdistrict", "parent": "110109",
			"geometry": square(116.25, 39.95, 0.01)}, 422, "parent"},
		{"region code format", "/api/v1/regions", map[string]any{"code": "11010800100", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": square(116.25, 39.95, 0.01)}, 422, "code"},
		{"level", "/api/v1/regions", map[string]any{"code": "110108001000", "name": "x", "level": "street", "parent": "110108",
			"geometry": square(116.25, 39.95, 0.01)}, 422, "level"},
		{"unknown crs", "/api/v1/regions?crs=utm", map[string]any{"code": "110108001000", "name": "x", "level": "subdistrict", "parent": "110108",
			"geometry": square(116.25, 39.95, 0.01)}, 400, "crs"},
	}
	units, regions := e.count("units"), e.count("regions")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", c.path, adminToken, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if _, field := r.errField(t); field != c.field {
				t.Errorf("field %q, want %q: %s", field, c.field, r.body)
			}
		})
	}
	if e.count("units") != units || e.count("regions") != regions {
		t.Error("a refused request wrote rows")
	}
	for _, q := range []struct{ path, field string }{
		{"/api/v1/units?limit=0", "limit"}, {"/api/v1/units?limit=abc", "limit"}, {"/api/v1/units?offset=-1", "offset"},
		{"/api/v1/regions?bbox=1,2,3", "bbox"}, {"/api/v1/regions?level=city", "level"}, {"/api/v1/regions?geometry=perhaps", "geometry"},
	} {
		r := e.do("GET", q.path, adminToken, nil)
		if _, field := r.errField(t); r.status != 400 || field != q.field {
			t.Errorf("%s: %d field %q", q.path, r.status, field)
		}
	}
}

func TestRegionsAndUnits(t *testing.T) {
	e := newEnv(t)
	// Districts arrive in GCJ-02 from Chinese web maps and are stored in WGS84.
	r := e.do("POST", "/api/v1/regions?crs=gcj02", adminToken, map[string]any{"code": "110108", "name": "海淀区", "level": "district", "geometry": square(116.2, 39.9, 0.2)})
	if r.status != 201 || r.header.Get("Location") != "/api/v1/regions/110108" {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var d grids.Region
	json.Unmarshal(r.body, &d)
	if d.Bbox[0] > 116.195 || d.Bbox[0] < 116.19 {
		t.Errorf("GCJ-02 not converted: west edge at %f, want about 116.1939", d.Bbox[0])
	}
	if r := e.do("POST", "/api/v1/regions?crs=gcj02", adminToken, map[string]any{"code": "110108001000", "name": "万寿路街道", "level": "subdistrict", "parent": "110108", "geometry": square(116.25, 39.95, 0.05)}); r.status != 201 {
		t.Fatalf("subdistrict: %d %s", r.status, r.body)
	}
	// RFC 7946: exterior ring counter-clockwise, 7 decimals at most.
	got := e.do("GET", "/api/v1/regions/110108001000", adminToken, nil)
	var reg struct {
		Geometry struct {
			Type        string
			Coordinates [][][][]float64
		}
	}
	json.Unmarshal(got.body, &reg)
	if reg.Geometry.Type != "MultiPolygon" || signedArea(reg.Geometry.Coordinates[0][0]) <= 0 {
		t.Errorf("geometry not a counter-clockwise MultiPolygon: %s", got.body)
	}
	if regexp.MustCompile(`\.\d{8,}`).Match(bytes.SplitN(got.body, []byte(`"geometry"`), 2)[1][:200]) {
		t.Error("more than 7 decimals in coordinates")
	}
	list := e.do("GET", "/api/v1/regions?level=subdistrict&parent=110108", adminToken, nil).json(t)
	if list["total"].(float64) != 1 {
		t.Errorf("list: %v", list)
	}
	if r := e.do("DELETE", "/api/v1/regions/110108", adminToken, nil); r.status != 409 {
		t.Errorf("delete district with children: %d", r.status)
	}
	if r := e.do("PATCH", "/api/v1/regions/110108001000", adminToken, map[string]any{"name": "万寿路"}); r.status != 200 || r.json(t)["name"] != "万寿路" {
		t.Errorf("rename: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/regions/999999", adminToken, nil); r.status != 404 {
		t.Errorf("missing region: %d", r.status)
	}

	// Units: create, page, patch, delete.
	for i, code := range []string{"CG", "HW", "SJ"} {
		if r := e.do("POST", "/api/v1/units", adminToken, map[string]any{"code": code, "name": "单位" + code, "kind": "department", "region": "110108",
			"contact": map[string]any{"phone": "010-" + strconv.Itoa(i)}}); r.status != 201 {
			t.Fatalf("unit %s: %d %s", code, r.status, r.body)
		}
	}
	page := e.do("GET", "/api/v1/units?limit=2&offset=2", adminToken, nil).json(t)
	if page["total"].(float64) != 3 || len(page["items"].([]any)) != 1 {
		t.Errorf("page: %v", page)
	}
	if r := e.do("PATCH", "/api/v1/units/HW", adminToken, map[string]any{"parent": "CG", "geometry": map[string]any{"type": "Point", "coordinates": []float64{116.3, 39.98}}}); r.status != 200 {
		t.Fatalf("patch: %d %s", r.status, r.body)
	} else if m := r.json(t); m["parent"] != "CG" || m["geometry"] == nil || m["name"] != "单位HW" {
		t.Errorf("patched unit: %s", r.body)
	}
	if r := e.do("DELETE", "/api/v1/units/CG", adminToken, nil); r.status != 409 {
		t.Errorf("delete a unit with sub-units: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/units/SJ", adminToken, nil); r.status != 204 {
		t.Errorf("delete: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/units/SJ", adminToken, nil); r.status != 404 {
		t.Errorf("deleted unit: %d", r.status)
	}
}

func signedArea(ring [][]float64) float64 {
	a := 0.0
	for i := 0; i+1 < len(ring); i++ {
		a += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return a / 2
}

func TestOperations(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz: %d", r.status)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz: %d %s", r.status, r.body)
	}
	e.do("GET", "/api/v1/units", "", nil)
	e.do("GET", "/api/v1/units", adminToken, nil)
	r := e.do("GET", "/metrics", "", nil)
	for _, want := range []string{
		`citygrid_http_requests_total{method="GET",route="/api/v1/units",status="401"} 1`,
		`citygrid_http_requests_total{method="GET",route="/api/v1/units",status="200"} 1`,
		`citygrid_http_request_duration_seconds_bucket{method="GET",route="/api/v1/units"`,
		`citygrid_db_pool_connections{state="idle"}`,
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if id := e.do("GET", "/healthz", "", nil).header.Get("X-Request-Id"); id == "" {
		t.Error("no request id")
	}
	// A schema behind the binary makes the server unready.
	if _, err := e.migrator.DownTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("readyz with no schema: %d %s", r.status, r.body)
	}
}

func TestReferenceData(t *testing.T) {
	e := newEnv(t)
	themes := e.do("GET", "/api/v1/themes", adminToken, nil)
	if !bytes.Contains(themes.body, []byte(`"sanitation"`)) || !bytes.Contains(themes.body, []byte("门前三包")) {
		t.Errorf("themes: %s", themes.body)
	}
	cats := e.do("GET", "/api/v1/categories", adminToken, nil)
	if !bytes.Contains(cats.body, []byte(`"code":"E0101"`)) {
		t.Errorf("categories: %.300s", cats.body)
	}
}

// Every registered route is described in the OpenAPI document.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	cal, err := calendar.NewHolder(t.Context(), calendar.NewStore(e.store.Pool()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(e.store, e.resolver, e.migrator, api.Deps{Calendar: cal}, slog.New(slog.NewTextHandler(io.Discard, nil)), api.Config{})
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:(\w+)`)
	n := 0
	for _, r := range srv.Routes() {
		if r.Path == "/*" || r.Path == "/" || strings.HasSuffix(r.Path, "/*") || strings.HasPrefix(r.Method, "echo_route") {
			continue // the map app and Echo's group catch-alls
		}
		n++
		path := param.ReplaceAllString(r.Path, "{$1}")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("%s %s is not in openapi.yaml", r.Method, path)
		}
	}
	if n < 15 {
		t.Errorf("only %d routes checked", n)
	}
	r := e.do("GET", "/api/v1/openapi.json", adminToken, nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"openapi":"3.0.3"`)) {
		t.Errorf("openapi.json: %d %.100s", r.status, r.body)
	}
}
