package api_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"testing"
)

type impactJSON struct {
	Summary map[string]int `json:"summary"`
	Grids   []struct {
		Code         string  `json:"code"`
		Kind         string  `json:"kind"`
		AreaChangeM2 float64 `json:"area_change_m2"`
		Successors   []struct {
			Code  string  `json:"code"`
			Share float64 `json:"share"`
		} `json:"successors"`
	} `json:"grids"`
	Assignments []struct {
		ID       int64  `json:"id"`
		Grid     string `json:"grid"`
		Fate     string `json:"fate"`
		Proposal *struct {
			Code  string  `json:"code"`
			Share float64 `json:"share"`
		} `json:"proposal"`
	} `json:"assignments"`
	Objects []struct {
		ID     int64   `json:"id"`
		Before *string `json:"grid_before"`
		After  *string `json:"grid_after"`
	} `json:"objects"`
	Cases []struct {
		Code   string  `json:"code"`
		Before *string `json:"grid_before"`
		After  *string `json:"grid_after"`
	} `json:"cases"`
	Units []struct {
		Code       string      `json:"code"`
		ChangeM2   float64     `json:"change_m2"`
		LoadBefore figuresJSON `json:"load_before"`
		LoadAfter  figuresJSON `json:"load_after"`
		LoadChange figuresJSON `json:"load_change"`
	} `json:"units"`
}

// figuresJSON is a set of load figures (grids/load).
type figuresJSON struct {
	AreaM2  float64        `json:"area_m2"`
	StreetM float64        `json:"street_m"`
	AlleyM  float64        `json:"alley_m"`
	Objects map[string]int `json:"objects"`
	Cases   int            `json:"cases"`
}

func TestDraftImpactBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	planner, dispatcher, inspector := e.token("planner", ""), e.token("dispatcher", ""), e.token("inspector", "")

	var community string
	var communityID int64
	if err := pool.QueryRow(ctx, `
		SELECT c.code, c.id FROM regions c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE c.level = 'community' GROUP BY c.code, c.id HAVING count(*) BETWEEN 12 AND 80 ORDER BY count(*), c.code LIMIT 1`).Scan(&community, &communityID); err != nil {
		t.Fatalf("a community with grids: %v", err)
	}
	// A to split, B and C neighbours to merge, D to shrink.
	var a, b, c, d string
	var line json.RawMessage
	err := pool.QueryRow(ctx, `
		WITH g AS (SELECT code, geom FROM grids WHERE community_id = $1 AND valid_to IS NULL),
		pair AS (SELECT x.code AS b, y.code AS c FROM g x JOIN g y ON x.code < y.code
		         AND ST_Length(ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom))::geography) > 20 ORDER BY x.code, y.code LIMIT 1),
		rest AS (SELECT code, geom FROM g WHERE code NOT IN (SELECT b FROM pair UNION SELECT c FROM pair) ORDER BY code)
		SELECT (SELECT code FROM rest LIMIT 1), pair.b, pair.c, (SELECT code FROM rest OFFSET 1 LIMIT 1),
		       (SELECT ST_AsGeoJSON(ST_MakeLine(ST_MakePoint(ST_X(ST_Centroid(geom)) + (ST_XMax(geom) - ST_XMin(geom)) / 6, ST_YMin(geom) - 0.0005),
		                                         ST_MakePoint(ST_X(ST_Centroid(geom)) + (ST_XMax(geom) - ST_XMin(geom)) / 6, ST_YMax(geom) + 0.0005)))
		        FROM rest LIMIT 1)
		FROM pair`, communityID).Scan(&a, &b, &c, &d, &line)
	if err != nil {
		t.Fatalf("grids to work on: %v", err)
	}

	// A lead on A, for a duty nobody leads there yet, by a unit of its own.
	var theme string
	if err := pool.QueryRow(ctx, `SELECT t.code FROM themes t WHERE NOT EXISTS (SELECT 1 FROM live_leads l WHERE l.theme = t.code AND l.grid_code = $1)
		ORDER BY t.code LIMIT 1`, a).Scan(&theme); err != nil {
		t.Fatalf("a theme: %v", err)
	}
	if r := e.do("POST", "/api/v1/units", adminToken, map[string]any{"code": "IMPACT", "name": "影响测试单位", "kind": "department", "region": community,
		"contact": map[string]any{"person": "联系人", "phone": "138-0000-0000"}}); r.status != 201 {
		t.Fatalf("unit: %d %s", r.status, r.body)
	}
	r := e.do("POST", "/api/v1/assignments", adminToken, map[string]any{"theme": theme, "unit": "IMPACT", "role": "lead", "target_kind": "grid", "target": a})
	if r.status != 201 {
		t.Fatalf("assignment: %d %s", r.status, r.body)
	}
	assignment := int64(r.json(t)["id"].(float64))

	// An object and an open case in A, away from its edges.
	var object int64
	var lon, lat float64
	if err := pool.QueryRow(ctx, `
		WITH a AS (SELECT geom FROM grids WHERE code = $1 AND valid_to IS NULL)
		SELECT ST_X(p), ST_Y(p) FROM a, LATERAL (SELECT ST_PointOnSurface(ST_Buffer(a.geom::geography, -5)::geometry) AS p) m`, a).Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `INSERT INTO objects (layer, name, geom) SELECT code, '影响测试部件', ST_SetSRID(ST_MakePoint($1, $2), 4326)
		FROM layers ORDER BY code LIMIT 1 RETURNING id`, lon, lat).Scan(&object); err != nil {
		t.Fatalf("object: %v", err)
	}
	kase := e.file(inspector, map[string]any{"lon": lon, "lat": lat, "category": "E0504", "source": "inspector", "description": "影响测试"})
	var caseGrid string
	pool.QueryRow(ctx, `SELECT grid_code FROM cases WHERE code = $1`, kase.Code).Scan(&caseGrid)
	if caseGrid != a {
		t.Fatalf("the case at %.6f,%.6f is in grid %q, want %s", lon, lat, caseGrid, a)
	}

	r = e.do("POST", "/api/v1/drafts", planner, map[string]any{"region": community, "name": "影响" + community})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	path, etag := r.header.Get("Location"), r.header.Get("ETag")
	step := func(method, p string, body any) {
		t.Helper()
		r := e.draftCall(method, p, planner, etag, body)
		if r.status != 200 && r.status != 201 {
			t.Fatalf("%s %s: %d %s", method, p, r.status, r.body)
		}
		etag = r.header.Get("ETag")
	}
	impact := func() impactJSON {
		t.Helper()
		r := e.do("GET", path+"/impact", planner, nil)
		if r.status != 200 {
			t.Fatalf("impact: %d %s", r.status, r.body)
		}
		var im impactJSON
		if err := json.Unmarshal(r.body, &im); err != nil {
			t.Fatal(err)
		}
		return im
	}
	if im := impact(); len(im.Grids) != 0 || len(im.Assignments) != 0 || len(im.Objects) != 0 || len(im.Cases) != 0 || len(im.Units) != 0 || im.Summary["unchanged"] == 0 {
		t.Fatalf("a fresh draft changes something: %+v", im)
	}

	step("POST", path+"/split", map[string]any{"code": a, "line": line})
	step("POST", path+"/merge", map[string]any{"codes": []string{b, c}})
	var shrunk json.RawMessage
	pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Buffer(geom::geography, -3)::geometry, 9) FROM grids WHERE code = $1 AND valid_to IS NULL`, d).Scan(&shrunk)
	step("PUT", path+"/grids/"+d, map[string]any{"geometry": shrunk})

	id, _ := strconv.ParseInt(path[len("/api/v1/drafts/"):], 10, 64)
	// The expected figures, straight from the tables.
	var dChange, larger float64
	var largerCode string
	pool.QueryRow(ctx, `SELECT dg.area_m2 - g.area_m2 FROM draft_grids dg JOIN grids g ON g.code = dg.code AND g.valid_to IS NULL
		WHERE dg.draft_id = $1 AND dg.code = $2`, id, d).Scan(&dChange)
	parts := map[string]bool{}
	rows, _ := pool.Query(ctx, `SELECT dg.code FROM draft_grids dg WHERE dg.draft_id = $1 AND dg.origin_code IS NULL`, id)
	for rows.Next() {
		var code string
		rows.Scan(&code)
		parts[code] = true
	}
	rows.Close()
	if len(parts) != 3 {
		t.Fatalf("split and merge made %d new grids, want 3: %v", len(parts), parts)
	}
	var aArea float64
	pool.QueryRow(ctx, `SELECT area_m2 FROM grids WHERE code = $1 AND valid_to IS NULL`, a).Scan(&aArea)
	// The larger part of A: the new grid holding most of A's area.
	pool.QueryRow(ctx, `SELECT dg.code, ST_Area(ST_Intersection(dg.geom, g.geom)::geography) FROM draft_grids dg, grids g
		WHERE dg.draft_id = $1 AND dg.origin_code IS NULL AND g.code = $2 AND g.valid_to IS NULL ORDER BY 2 DESC LIMIT 1`, id, a).Scan(&largerCode, &larger)

	im := impact()
	kinds := map[string]string{}
	for _, g := range im.Grids {
		kinds[g.Code] = g.Kind
		switch g.Code {
		case d:
			if math.Abs(g.AreaChangeM2-dChange) > 0.02 || g.AreaChangeM2 >= 0 {
				t.Errorf("reshaped %s: change %.2f m², want %.2f", d, g.AreaChangeM2, dChange)
			}
		case a:
			if len(g.Successors) != 2 {
				t.Errorf("split %s: successors %+v", a, g.Successors)
			}
		case b, c:
			if len(g.Successors) != 1 || !parts[g.Successors[0].Code] || g.Successors[0].Share < 0.99 {
				t.Errorf("merged %s: successors %+v", g.Code, g.Successors)
			}
		}
	}
	if kinds[a] != "removed" || kinds[b] != "removed" || kinds[c] != "removed" || kinds[d] != "reshaped" || len(im.Grids) != 7 {
		t.Errorf("grids: %v, want %s %s %s removed, %s reshaped, three added", kinds, a, b, c, d)
	}
	for code := range parts {
		if kinds[code] != "added" {
			t.Errorf("new grid %s is %q, want added", code, kinds[code])
		}
	}
	if im.Summary["added"] != 3 || im.Summary["removed"] != 3 || im.Summary["reshaped"] != 1 || im.Summary["cases"] != len(im.Cases) {
		t.Errorf("summary %v", im.Summary)
	}

	found := false
	for _, as := range im.Assignments {
		if as.ID != assignment {
			continue
		}
		found = true
		if as.Fate != "split" || as.Proposal == nil || as.Proposal.Code != largerCode || math.Abs(as.Proposal.Share-larger/aArea) > 0.001 || as.Proposal.Share < 0.5 {
			t.Errorf("the lead on split %s: %+v, want split to %s with %.4f", a, as, largerCode, larger/aArea)
		}
	}
	if !found {
		t.Errorf("the lead on split %s is not listed: %+v", a, im.Assignments)
	}
	// The unit's load, before: grid A's figures in the live load report;
	// after: the larger part's in the draft's load report.
	row := func(l loadJSON, code string) figuresJSON {
		for _, g := range l.Grids {
			if g.Code == code {
				return figuresJSON{AreaM2: g.AreaM2, StreetM: g.StreetM, AlleyM: g.AlleyM, Objects: g.Objects, Cases: g.Cases}
			}
		}
		t.Fatalf("no grid %s in the load report", code)
		return figuresJSON{}
	}
	wantBefore, wantAfter := row(e.load("region="+community, planner), a), row(e.draftLoad(path, planner), largerCode)
	var objectLayer string
	pool.QueryRow(ctx, `SELECT layer FROM objects WHERE id = $1`, object).Scan(&objectLayer)
	sameFigures := func(got, want figuresJSON) bool {
		return math.Abs(got.AreaM2-want.AreaM2) < 0.02 && math.Abs(got.StreetM-want.StreetM) < 0.02 &&
			math.Abs(got.AlleyM-want.AlleyM) < 0.02 && got.Cases == want.Cases
	}
	unitFound := false
	for _, u := range im.Units {
		if u.Code == "IMPACT" {
			unitFound = true
			if math.Abs(u.ChangeM2-(larger-aArea)) > 0.05 {
				t.Errorf("unit IMPACT's lead area changes %.2f m², want %.2f", u.ChangeM2, larger-aArea)
			}
			if !sameFigures(u.LoadBefore, wantBefore) || u.LoadBefore.Cases < 1 || u.LoadBefore.Objects[objectLayer] < 1 {
				t.Errorf("unit IMPACT's load before %+v, want grid %s's %+v with the case and the %s filed there", u.LoadBefore, a, wantBefore, objectLayer)
			}
			if !sameFigures(u.LoadAfter, wantAfter) {
				t.Errorf("unit IMPACT's load after %+v, want draft grid %s's %+v", u.LoadAfter, largerCode, wantAfter)
			}
			if c := u.LoadChange; math.Abs(c.AreaM2-(u.LoadAfter.AreaM2-u.LoadBefore.AreaM2)) > 0.02 || c.Cases != u.LoadAfter.Cases-u.LoadBefore.Cases ||
				c.Objects[objectLayer] != u.LoadAfter.Objects[objectLayer]-u.LoadBefore.Objects[objectLayer] {
				t.Errorf("unit IMPACT's load change %+v is not after %+v less before %+v", c, u.LoadAfter, u.LoadBefore)
			}
		}
	}
	if !unitFound {
		t.Errorf("unit IMPACT is not listed: %+v", im.Units)
	}
	objectFound := false
	for _, o := range im.Objects {
		if o.ID == object {
			objectFound = o.Before != nil && *o.Before == a && o.After != nil && parts[*o.After]
			if !objectFound {
				t.Errorf("object %d: %v -> %v", object, o.Before, o.After)
			}
			objectFound = true
		}
		if o.Before != nil && o.After != nil && *o.Before == *o.After {
			t.Errorf("object %d listed though its grid stays %s", o.ID, *o.Before)
		}
	}
	if !objectFound {
		t.Errorf("object %d in %s is not listed", object, a)
	}
	caseFound := false
	for _, k := range im.Cases {
		if k.Code == kase.Code {
			caseFound = k.Before != nil && *k.Before == a && k.After != nil && parts[*k.After]
		}
	}
	if !caseFound {
		t.Errorf("open case %s in %s is not listed: %+v", kase.Code, a, im.Cases)
	}

	// GeoJSON of the changed areas, by ?f= and by Accept.
	for _, how := range []string{"f", "accept"} {
		req, _ := http.NewRequest("GET", e.url+path+"/impact", nil)
		if how == "f" {
			req.URL.RawQuery = "f=geojson"
		} else {
			req.Header.Set("Accept", "application/geo+json")
		}
		req.Header.Set("Authorization", "Bearer "+planner)
		gr := e.send(req)
		var fc struct {
			Type     string `json:"type"`
			Features []struct {
				Geometry   map[string]any `json:"geometry"`
				Properties struct {
					Code string `json:"code"`
					Kind string `json:"kind"`
				} `json:"properties"`
			} `json:"features"`
		}
		if gr.status != 200 || gr.header.Get("Content-Type") != "application/geo+json" || json.Unmarshal(gr.body, &fc) != nil || fc.Type != "FeatureCollection" {
			t.Fatalf("geojson by %s: %d %s %.200s", how, gr.status, gr.header.Get("Content-Type"), gr.body)
		}
		got := map[string]string{}
		for _, f := range fc.Features {
			if f.Geometry == nil {
				t.Errorf("feature %s without geometry", f.Properties.Code)
			}
			got[f.Properties.Code] = f.Properties.Kind
		}
		if len(got) != 7 || got[a] != "removed" || got[d] != "reshaped" || got[largerCode] != "added" {
			t.Errorf("geojson by %s: %v", how, got)
		}
	}
	if r := e.do("GET", path+"/impact?f=xml", planner, nil); r.status != 400 {
		t.Errorf("f=xml: %d", r.status)
	}
	if r := e.do("GET", path+"/impact", dispatcher, nil); r.status != 403 {
		t.Errorf("dispatcher: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/drafts/999999/impact", planner, nil); r.status != 404 {
		t.Errorf("no such draft: %d %s", r.status, r.body)
	}
}
