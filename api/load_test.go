package api_test

import (
	"context"
	"encoding/json"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type loadJSON struct {
	Region       string
	Mean, Median struct {
		AreaM2  float64 `json:"area_m2"`
		WalkM   float64 `json:"walk_m"`
		Objects float64
		Cases   float64
		Load    float64
	}
	Over, Under int
	Grids       []struct {
		Code    string
		AreaM2  float64 `json:"area_m2"`
		StreetM float64 `json:"street_m"`
		AlleyM  float64 `json:"alley_m"`
		Objects map[string]int
		Cases   int
		Load    float64
		Flag    string
	}
}

func (e *env) load(query, token string) loadJSON {
	e.t.Helper()
	return e.loadAt("/api/v1/grids/load?"+query, token)
}

// loadAt reads a load report (of a region's live grids or of a draft's).
func (e *env) loadAt(path, token string) loadJSON {
	e.t.Helper()
	r := e.do("GET", path, token, nil)
	if r.status != 200 {
		e.t.Fatalf("load %s: %d %s", path, r.status, r.body)
	}
	var l loadJSON
	if err := json.Unmarshal(r.body, &l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// The load figures of a Beijing subdistrict add up to what PostGIS
// measures over the whole of it (the grids tile it: streets along the
// borders between grids are shared, objects on them counted once), count
// the cases just filed in one grid, and flag exactly the grids the
// definition flags.
func TestGridLoadBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	var sd, grid string
	var lon, lat float64
	if err := pool.QueryRow(ctx, `
		SELECT sd.code, g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
		FROM regions sd JOIN regions c ON c.parent_id = sd.id JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE sd.level = 'subdistrict' ORDER BY sd.code, g.code LIMIT 1`).Scan(&sd, &grid, &lon, &lat); err != nil {
		t.Fatal(err)
	}
	beforeCases := time.Now()
	inspector := e.token("inspector", "")
	for i := range 4 {
		e.file(inspector, map[string]any{"lon": lon + float64(i)*0.000001, "lat": lat, "category": "E0110", "source": "inspector"})
	}
	l := e.load("region="+sd, e.token("dispatcher", ""))

	// Independent: the subdistrict's grids, their union, and what lies in it.
	var n int
	var area, walk float64
	var things map[string]int
	if err := pool.QueryRow(ctx, `
		WITH g AS (SELECT g.geom, g.area_m2 FROM grids g JOIN regions c ON c.id = g.community_id JOIN regions sd ON sd.id = c.parent_id
		           WHERE sd.code = @sd AND g.valid_to IS NULL),
		u AS (SELECT ST_Union(geom) AS geom FROM g)
		SELECT (SELECT count(*) FROM g), (SELECT sum(area_m2) FROM g),
		       (SELECT COALESCE(sum(ST_Length(ST_Intersection(o.geom, r.geom)::geography)
		                            - ST_Length(ST_Intersection(o.geom, ST_Boundary(r.geom))::geography) / 2), 0) FROM objects o, regions r
		        WHERE r.code = @sd AND o.layer IN ('street', 'alley') AND ST_Intersects(o.geom, r.geom)),
		       (SELECT COALESCE(jsonb_object_agg(layer, n), '{}') FROM (SELECT o.layer, count(*) AS n FROM objects o, u
		        WHERE ST_Intersects(ST_PointOnSurface(o.geom), u.geom) GROUP BY o.layer) x)
		FROM u`, pgx.NamedArgs{"sd": sd}).Scan(&n, &area, &walk, &things); err != nil {
		t.Fatal(err)
	}
	if len(l.Grids) != n || n < 10 || l.Region != sd {
		t.Fatalf("load of %s: %d grids, want %d", sd, len(l.Grids), n)
	}
	var sumArea, sumWalk float64
	sumThings := map[string]int{}
	for _, g := range l.Grids {
		sumArea += g.AreaM2
		sumWalk += g.StreetM + g.AlleyM
		for k, v := range g.Objects {
			sumThings[k] += v
		}
		if want := map[bool]int{true: 4, false: 0}[g.Code == grid]; g.Cases != want {
			t.Errorf("grid %s: %d cases, want %d", g.Code, g.Cases, want)
		}
	}
	if math.Abs(sumArea-area) > 0.01*float64(n) {
		t.Errorf("areas add up to %.1f m², the grids' stored areas to %.1f", sumArea, area)
	}
	// The streets inside the subdistrict's outline (which its grids tile),
	// not inside the union of the grids: that union keeps float-wide
	// slivers between grids along the streets, on whose edges a street
	// counts half (12% short on this subdistrict).
	if walk == 0 || math.Abs(sumWalk-walk) > walk*0.005 {
		t.Errorf("street and alley lengths add up to %.1f m, PostGIS over the subdistrict measures %.1f", sumWalk, walk)
	}
	for k, v := range things {
		if sumThings[k] != v {
			t.Errorf("layer %s: %d objects over the grids, %d in the subdistrict", k, sumThings[k], v)
		}
	}

	// The load as documented: the mean of the ratios to the medians that
	// are not 0; flags at twice and half the median load.
	if l.Mean.AreaM2 <= 0 || l.Mean.WalkM <= 0 || l.Mean.Objects <= 0 || math.Abs(l.Mean.Cases-4/float64(n)) > 1e-9 || l.Median.AreaM2 <= 0 {
		t.Errorf("means %+v, medians %+v", l.Mean, l.Median)
	}
	over, under := 0, 0
	for _, g := range l.Grids {
		sum, k := 0.0, 0
		other := 0
		for layer, v := range g.Objects {
			if layer != "street" && layer != "alley" {
				other += v
			}
		}
		for _, p := range [][2]float64{{g.AreaM2, l.Mean.AreaM2}, {g.StreetM + g.AlleyM, l.Mean.WalkM}, {float64(other), l.Mean.Objects}, {float64(g.Cases), l.Mean.Cases}} {
			if p[1] > 0 {
				sum += p[0] / p[1]
				k++
			}
		}
		if want := sum / float64(k); math.Abs(g.Load-want) > 1e-9 {
			t.Errorf("grid %s: load %.4f, want %.4f", g.Code, g.Load, want)
		}
		want := ""
		if g.Load > 2*l.Median.Load {
			want, over = "over", over+1
		} else if g.Load < l.Median.Load/2 {
			want, under = "under", under+1
		}
		if g.Flag != want {
			t.Errorf("grid %s: load %.3f (median %.3f) flagged %q, want %q", g.Code, g.Load, l.Median.Load, g.Flag, want)
		}
	}
	if l.Over != over || l.Under != under {
		t.Errorf("counted %d over and %d under, flags say %d and %d", l.Over, l.Under, over, under)
	}
	if over == 0 || under == 0 {
		t.Errorf("no grid of %s flagged over (%d) or under (%d) its median load", sd, over, under)
	}
	t.Logf("%s: %d grids, means %+v, medians %+v, %d over, %d under", sd, n, l.Mean, l.Median, over, under)

	// A window that ends before the cases were filed counts none.
	for _, g := range e.load("region="+sd+"&until="+url.QueryEscape(beforeCases.Format(time.RFC3339Nano)), adminToken).Grids {
		if g.Cases != 0 {
			t.Errorf("grid %s: %d cases before they were filed", g.Code, g.Cases)
		}
	}
	e.expectErrors([]errCase{
		{path: "/api/v1/grids/load", token: adminToken, status: 400, field: "region"},
		{path: "/api/v1/grids/load?region=999999", token: adminToken, status: 404},
		{path: "/api/v1/grids/load?region=" + sd + "&until=soon", token: adminToken, status: 400, field: "until"},
	})
}
