package api_test

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/internal/testdb"
	"github.com/citygrid/citygrid/web"
)

type appConfig struct {
	Basemap struct {
		URL         *string `json:"url"`
		Attribution *string `json:"attribution"`
	} `json:"basemap"`
	Version string     `json:"version"`
	Center  [2]float64 `json:"center"`
	Zoom    float64    `json:"zoom"`
}

func (e *env) appConfig() appConfig {
	e.t.Helper()
	r := e.do("GET", "/api/v1/config", "", nil) // no token: the app asks before sign-in
	if r.status != 200 {
		e.t.Fatalf("config: %d %s", r.status, r.body)
	}
	var c appConfig
	if err := json.Unmarshal(r.body, &c); err != nil {
		e.t.Fatal(err)
	}
	if c.Basemap.URL == nil || c.Basemap.Attribution == nil || c.Version == "" {
		e.t.Fatalf("config lacks basemap.url, basemap.attribution or version: %s", r.body)
	}
	return c
}

// TestAppConfig: the map app opens on the city the server holds, without a
// token, and gets the configured basemap.
func TestAppConfig(t *testing.T) {
	e := beijingEnv(t)
	c := e.appConfig()
	if *c.Basemap.URL != "" || c.Version != "test" {
		t.Errorf("default config: basemap %q, version %q", *c.Basemap.URL, c.Version)
	}
	// The demo holds 海淀区 and two districts of the centre beside it: the
	// map opens on the middle of the three, all in a 1024×768 view, with
	// not much room to spare.
	r := e.do("GET", "/api/v1/regions?level=district", adminToken, nil)
	var list struct {
		Items []struct {
			Name string
			Bbox [4]float64
		}
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Items) < 1 {
		t.Fatalf("districts: %d %s", r.status, r.body)
	}
	bb := list.Items[0].Bbox
	for _, d := range list.Items {
		bb = [4]float64{min(bb[0], d.Bbox[0]), min(bb[1], d.Bbox[1]), max(bb[2], d.Bbox[2]), max(bb[3], d.Bbox[3])}
	}
	if math.Abs(c.Center[0]-(bb[0]+bb[2])/2) > 1e-4 || c.Center[1] < bb[1] || c.Center[1] > bb[3] {
		t.Errorf("the map opens at %v, not in the middle of the districts %v", c.Center, bb)
	}
	fits := func(z float64) bool {
		px := func(lat float64) float64 {
			return 512 * math.Exp2(z) * math.Log(math.Tan(math.Pi/4+lat*math.Pi/360)) / (2 * math.Pi)
		}
		return 512*math.Exp2(z)*(bb[2]-bb[0])/360 <= 1024 && px(bb[3])-px(bb[1]) <= 768
	}
	if !fits(c.Zoom) || fits(c.Zoom+0.5) {
		t.Errorf("at zoom %g the districts %v do not fill a 1024×768 view", c.Zoom, bb)
	}

	tdt := "https://t0.tianditu.gov.cn/vec_w/wmts?tk=KEY&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
	b := serverWith(t, testdb.Pool(t), func(c *api.Config) {
		c.Basemap = api.Basemap{URL: tdt, Attribution: "© 天地图"}
	})
	c = b.appConfig()
	if *c.Basemap.URL != tdt || *c.Basemap.Attribution != "© 天地图" {
		t.Errorf("configured basemap: %q %q", *c.Basemap.URL, *c.Basemap.Attribution)
	}
	// An empty database opens on China, and on its first district once
	// one is drawn.
	if c.Zoom > 4 || c.Center[0] < 80 || c.Center[0] > 125 {
		t.Errorf("an empty city opens at %v z%g", c.Center, c.Zoom)
	}
	if r := b.do("POST", "/api/v1/regions", adminToken, map[string]any{"code": "440305", "name": "南山区", "level": "district",
		"geometry": square(113.9, 22.5, 0.1)}); r.status != 201 {
		t.Fatalf("district: %d %s", r.status, r.body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c = b.appConfig(); math.Abs(c.Center[0]-113.95) > 1e-3 && time.Now().Before(deadline); c = b.appConfig() {
		time.Sleep(50 * time.Millisecond)
	}
	if math.Abs(c.Center[0]-113.95) > 1e-3 || math.Abs(c.Center[1]-22.55) > 1e-2 || c.Zoom < 11 || c.Zoom > 12.5 {
		t.Errorf("after a district 0.1° wide at 113.9°E 22.5°N the map opens at %v z%g", c.Center, c.Zoom)
	}
}

// TestWebRoutes: the app's pages beside the API, whose unknown paths stay
// JSON errors and never become pages.
func TestWebRoutes(t *testing.T) {
	e := serverWith(t, testdb.Pool(t), func(c *api.Config) { c.Web = web.Handler() })
	for _, p := range []string{"/", "/m", "/m/"} {
		r := e.do("GET", p, "", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: %d %s, Cache-Control %q", p, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
		}
		if !strings.Contains(string(r.body), "城市网格") {
			t.Errorf("GET %s: not the app: %.200s", p, r.body)
		}
	}
	if web.Built() {
		desk, phone := e.do("GET", "/", "", nil), e.do("GET", "/m/", "", nil)
		if string(desk.body) == string(phone.body) {
			t.Errorf("/m/ serves the desk, not the phone page")
		}
	}
	if r := e.do("HEAD", "/", "", nil); r.status != 200 {
		t.Errorf("HEAD /: %d", r.status)
	}
	for _, c := range []struct {
		path, token string
		status      int
	}{
		{"/api/v1/no-such-route", adminToken, 404},
		{"/api/v1/no-such-route", "", 401},
		{"/api/v2/regions", "", 404},
		{"/api", "", 404},
		{"/tiles/grids/1/2", adminToken, 404},
		{"/ogc/no/such/thing", adminToken, 404},
		{"/healthz", "", 200},
	} {
		r := e.do("GET", c.path, c.token, nil)
		if r.status != c.status || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s, want %d in JSON: %.100s", c.path, r.status, r.header.Get("Content-Type"), c.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/config", "", nil); r.status != http.StatusOK {
		t.Errorf("config beside the app: %d", r.status)
	}
}
