package api_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
)

// draftCall is a change of a draft sent with an If-Match header.
func (e *env) draftCall(method, path, token, etag string, body any) response {
	e.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if etag != "" {
		req.Header.Set("If-Match", etag)
	}
	return e.send(req)
}

// draftGrids reads a draft's grids: code → area.
func (e *env) draftGrids(path, token string) map[string]float64 {
	e.t.Helper()
	r := e.do("GET", path+"/grids", token, nil)
	if r.status != 200 {
		e.t.Fatalf("draft grids: %d %s", r.status, r.body)
	}
	var fc struct {
		Features []struct {
			Properties struct {
				Code   string  `json:"code"`
				AreaM2 float64 `json:"area_m2"`
			}
		}
	}
	if err := json.Unmarshal(r.body, &fc); err != nil {
		e.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fc.Features {
		out[f.Properties.Code] = f.Properties.AreaM2
	}
	return out
}

// draftCheck counts a draft's (or the live region's) findings by kind.
func (e *env) findings(path, token string) map[string]float64 {
	e.t.Helper()
	r := e.do("GET", path, token, nil)
	if r.status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	var fc struct {
		Summary struct {
			Findings map[string]float64 `json:"findings"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(r.body, &fc); err != nil {
		e.t.Fatalf("%s: %v %.300s", path, err, r.body)
	}
	return fc.Summary.Findings
}

func sum(m map[string]float64) (s float64) {
	for _, v := range m {
		s += v
	}
	return s
}

// A planner redraws a Beijing community in a draft: split, merge and
// reshape, with the ETag guarding every change; the check finds the gap and
// overlap put in on purpose, undo takes them back exactly, bad input
// changes nothing, the live city never changes, and a dispatcher is
// refused everywhere.
func TestDraftsBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	planner, dispatcher := e.token("planner", ""), e.token("dispatcher", "")

	// A community with a dozen grids or more, where two grids share an edge.
	var community string
	var communityID int64
	err := pool.QueryRow(ctx, `
		SELECT c.code, c.id FROM regions c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		WHERE c.level = 'community' GROUP BY c.code, c.id HAVING count(*) BETWEEN 12 AND 80 ORDER BY count(*), c.code LIMIT 1`).Scan(&community, &communityID)
	if err != nil {
		t.Fatalf("a community with grids: %v", err)
	}
	live := func() string {
		var h string
		pool.QueryRow(ctx, `SELECT md5(string_agg(code || version || ST_AsEWKB(geom)::text, ',' ORDER BY code)) FROM grids
			WHERE community_id = $1 AND valid_to IS NULL`, communityID).Scan(&h)
		return h
	}
	liveBefore := live()
	// A closed grid of the community: its sequence must never be given again.
	if _, err := pool.Exec(ctx, `INSERT INTO grids (code, community_id, name, geom, valid_from, valid_to)
		SELECT $1 || '900', id, '旧网格', ST_GeometryN(ST_Multi(ST_Buffer(ST_PointOnSurface(geom), 0.0001)), 1), now() - interval '2 days', now() - interval '1 day'
		FROM regions WHERE id = $2`, community, communityID); err != nil {
		t.Fatal(err)
	}

	r := e.do("POST", "/api/v1/drafts", planner, map[string]any{"region": community, "name": "重划" + community})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	draft := r.json(t)
	path := r.header.Get("Location")
	etag := r.header.Get("ETag")
	if path == "" || etag == "" || etag != draft["etag"] {
		t.Fatalf("create: Location %q ETag %q body %v", path, etag, draft)
	}
	var liveN int
	var liveArea float64
	pool.QueryRow(ctx, `SELECT count(*), sum(area_m2) FROM grids WHERE community_id = $1 AND valid_to IS NULL`, communityID).Scan(&liveN, &liveArea)
	gs := e.draftGrids(path, planner)
	if len(gs) != liveN || math.Abs(sum(gs)-liveArea) > 0.01*float64(liveN) {
		t.Fatalf("draft has %d grids of %.1f m², live %d of %.1f m²", len(gs), sum(gs), liveN, liveArea)
	}
	baseline := e.findings("/api/v1/grids/check?region="+community, planner)
	if got := e.findings(path+"/check", planner); got["gap"] != baseline["gap"] || got["overlap"] != baseline["overlap"] || got["duplicate_code"] != 0 {
		t.Fatalf("fresh draft's check %v, live check %v", got, baseline)
	}

	// A dispatcher is refused at every draft route, before anything is read.
	routes := [][2]string{{"GET", "/api/v1/drafts"}, {"POST", "/api/v1/drafts"}, {"GET", path}, {"PATCH", path}, {"DELETE", path},
		{"GET", path + "/grids"}, {"POST", path + "/grids"}, {"PUT", path + "/grids/x"}, {"DELETE", path + "/grids/x"},
		{"POST", path + "/split"}, {"POST", path + "/merge"}, {"POST", path + "/derive"}, {"POST", path + "/undo"},
		{"GET", path + "/steps"}, {"GET", path + "/check"}, {"GET", path + "/impact"}, {"GET", path + "/load"}, {"POST", path + "/publish"}}
	for _, rt := range routes {
		if r := e.draftCall(rt[0], rt[1], dispatcher, etag, map[string]any{}); r.status != 403 {
			t.Errorf("dispatcher %s %s: %d", rt[0], rt[1], r.status)
		}
	}

	// Grids to work on: A to split, B and C neighbours to merge, D to shrink,
	// F to grow over its neighbours.
	var a, b, c, d, f string
	var line string
	err = pool.QueryRow(ctx, `
		WITH g AS (SELECT code, geom FROM grids WHERE community_id = $1 AND valid_to IS NULL),
		pair AS (SELECT x.code AS b, y.code AS c FROM g x JOIN g y ON x.code < y.code
		         AND ST_Length(ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom))::geography) > 20 ORDER BY x.code, y.code LIMIT 1),
		rest AS (SELECT code, geom FROM g WHERE code NOT IN (SELECT b FROM pair UNION SELECT c FROM pair) ORDER BY code)
		SELECT (SELECT code FROM rest LIMIT 1), pair.b, pair.c, (SELECT code FROM rest OFFSET 1 LIMIT 1), (SELECT code FROM rest OFFSET 2 LIMIT 1),
		       (SELECT ST_AsGeoJSON(ST_MakeLine(ST_MakePoint(ST_X(ST_Centroid(geom)), ST_YMin(geom) - 0.0005), ST_MakePoint(ST_X(ST_Centroid(geom)), ST_YMax(geom) + 0.0005)))
		        FROM rest LIMIT 1)
		FROM pair`, communityID).Scan(&a, &b, &c, &d, &f, &line)
	if err != nil {
		t.Fatalf("grids to work on: %v", err)
	}

	// Bad input: a clear 4xx naming the field, and the draft unchanged.
	far := `{"type":"LineString","coordinates":[[0.1,0.1],[0.2,0.2]]}`
	var notNeighbour string
	pool.QueryRow(ctx, `SELECT y.code FROM grids x JOIN grids y ON y.community_id = x.community_id AND y.valid_to IS NULL AND NOT ST_Intersects(x.geom, y.geom)
		WHERE x.code = $1 AND x.valid_to IS NULL ORDER BY y.code LIMIT 1`, b).Scan(&notNeighbour)
	var outside, bowtie json.RawMessage
	pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Buffer(geom, 0.002)) FROM grids WHERE code = $1 AND valid_to IS NULL`, d).Scan(&outside)
	bowtie = json.RawMessage(`{"type":"Polygon","coordinates":[[[116.30,39.90],[116.31,39.91],[116.31,39.90],[116.30,39.91],[116.30,39.90]]]}`)
	bads := []struct {
		method, path string
		body         any
		status       int
		field        string
	}{
		{"POST", path + "/split", map[string]any{"code": a, "line": json.RawMessage(far)}, 422, "line"},
		{"POST", path + "/split", map[string]any{"code": "nope", "line": json.RawMessage(line)}, 422, "code"},
		{"POST", path + "/split", map[string]any{"code": a}, 422, "line"},
		{"POST", path + "/merge", map[string]any{"codes": []string{b, notNeighbour}}, 422, "codes"},
		{"POST", path + "/merge", map[string]any{"codes": []string{b}}, 422, "codes"},
		{"PUT", path + "/grids/" + d, map[string]any{"geometry": outside}, 422, "geometry"},
		{"PUT", path + "/grids/" + d, map[string]any{"geometry": bowtie}, 422, "geometry"},
		{"PUT", path + "/grids/" + d, map[string]any{"geom": outside}, 400, "geom"},
		{"POST", path + "/grids", map[string]any{"geometry": outside}, 422, "geometry"},
		{"POST", path + "/derive", map[string]any{"target_area": 5}, 422, "target_area"},
		{"POST", path + "/derive", map[string]any{}, 422, "target_area"},
		{"POST", path + "/derive", map[string]any{"target_load": 0}, 422, "target_load"},
		{"POST", path + "/derive", map[string]any{"target_load": -1}, 422, "target_load"},
		{"POST", path + "/derive", map[string]any{"target_load": 50}, 422, "target_load"},
		{"POST", path + "/derive", map[string]any{"target_area": 10000, "target_load": 1}, 422, "target_load"},
		// Not a number is malformed JSON for the field, as everywhere.
		{"POST", path + "/derive", map[string]any{"target_load": "heavy"}, 400, "target_load"},
		{"POST", path + "/undo", map[string]any{"steps": 1}, 422, "steps"},
		{"PATCH", path, map[string]any{"name": " "}, 422, "name"},
	}
	for _, bc := range bads {
		r := e.draftCall(bc.method, bc.path, planner, etag, bc.body)
		if r.status != bc.status {
			t.Errorf("%s %s %v: %d, want %d: %s", bc.method, bc.path, bc.body, r.status, bc.status, r.body)
			continue
		}
		if _, field := r.errField(t); field != bc.field {
			t.Errorf("%s %s: error names %q, want %q: %s", bc.method, bc.path, field, bc.field, r.body)
		}
	}
	if r := e.do("POST", "/api/v1/drafts", planner, map[string]any{"name": "x"}); r.status != 422 {
		t.Errorf("no region: %d %s", r.status, r.body)
	} else if _, field := r.errField(t); field != "region" {
		t.Errorf("no region names %q", field)
	}
	if r := e.do("POST", "/api/v1/drafts", planner, map[string]any{"name": "x", "region": "110108"}); r.status != 422 {
		t.Errorf("a district: %d %s", r.status, r.body)
	}
	if got := e.draftGrids(path, planner); len(got) != len(gs) || e.do("GET", path, planner, nil).header.Get("ETag") != etag {
		t.Fatalf("bad input changed the draft: %d grids, ETag %s", len(got), e.do("GET", path, planner, nil).header.Get("ETag"))
	}

	// No If-Match, or a stale one: refused, nothing written.
	if r := e.draftCall("DELETE", path+"/grids/"+d, planner, "", nil); r.status != 428 {
		t.Errorf("no If-Match: %d %s", r.status, r.body)
	}
	step := func(method, p string, body any) map[string]any {
		t.Helper()
		r := e.draftCall(method, p, planner, etag, body)
		if r.status != 200 && r.status != 201 {
			t.Fatalf("%s %s: %d %s", method, p, r.status, r.body)
		}
		if r.header.Get("ETag") == etag || r.header.Get("ETag") == "" {
			t.Fatalf("%s %s: ETag %q after a change, was %q", method, p, r.header.Get("ETag"), etag)
		}
		stale := etag
		etag = r.header.Get("ETag")
		if r2 := e.draftCall(method, p, planner, stale, body); r2.status != 412 || r2.header.Get("ETag") != etag {
			t.Fatalf("%s %s with the stale ETag: %d (ETag %q) %s", method, p, r2.status, r2.header.Get("ETag"), r2.body)
		}
		return r.json(t)
	}

	// Split A: new codes after every sequence the community ever had (900
	// is closed), parts adding up to A.
	step("POST", path+"/split", map[string]any{"code": a, "line": json.RawMessage(line)})
	after := e.draftGrids(path, planner)
	if _, ok := after[a]; ok {
		t.Errorf("split grid %s is still in the draft", a)
	}
	parts := []string{community + "901", community + "902"}
	if after[parts[0]] == 0 || after[parts[1]] == 0 || math.Abs(after[parts[0]]+after[parts[1]]-gs[a]) > 0.05 {
		t.Errorf("split %s (%.2f m²) into %v: %.2f + %.2f m²", a, gs[a], parts, after[parts[0]], after[parts[1]])
	}
	// Merge B and C.
	step("POST", path+"/merge", map[string]any{"codes": []string{b, c}})
	after = e.draftGrids(path, planner)
	merged := community + "903"
	if _, ok := after[b]; ok || math.Abs(after[merged]-gs[b]-gs[c]) > 0.05 {
		t.Errorf("merge %s + %s (%.2f m²): %v has %.2f m²", b, c, gs[b]+gs[c], merged, after[merged])
	}
	if math.Abs(sum(after)-sum(gs)) > sum(gs)*1e-4 {
		t.Errorf("the community's area moved from %.1f to %.1f m²", sum(gs), sum(after))
	}
	clean := e.findings(path+"/check", planner)
	if clean["gap"] != baseline["gap"] || clean["overlap"] != baseline["overlap"] {
		t.Errorf("after split and merge: %v, live %v", clean, baseline)
	}

	// Reshape D (shrunk 3 m: a gap) and F (grown 3 m into its neighbours:
	// overlaps); the check finds both.
	var shrunk, grown json.RawMessage
	pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Buffer(geom::geography, -3)::geometry, 9) FROM grids WHERE code = $1 AND valid_to IS NULL`, d).Scan(&shrunk)
	pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_GeometryN(ST_Multi(ST_CollectionExtract(ST_Intersection(ST_Buffer(g.geom::geography, 3)::geometry, c.geom), 3)), 1), 9)
		FROM grids g JOIN regions c ON c.id = g.community_id WHERE g.code = $1 AND g.valid_to IS NULL`, f).Scan(&grown)
	step("PUT", path+"/grids/"+d, map[string]any{"geometry": shrunk, "name": "缩小"})
	step("PUT", path+"/grids/"+f, map[string]any{"geometry": grown})
	broken := e.findings(path+"/check", planner)
	if broken["gap"] <= clean["gap"] || broken["overlap"] <= clean["overlap"] {
		t.Errorf("the check missed the gap or the overlap: %v, before %v", broken, clean)
	}

	// Undo both reshapes: the live geometry again, exactly.
	step("POST", path+"/undo", map[string]any{"steps": 2})
	if again := e.findings(path+"/check", planner); again["gap"] != clean["gap"] || again["overlap"] != clean["overlap"] {
		t.Errorf("after undo: %v, want %v", again, clean)
	}
	var same bool
	pool.QueryRow(ctx, `SELECT bool_and(ST_Equals(dg.geom, g.geom) AND dg.name = g.name) FROM draft_grids dg JOIN grids g ON g.code = dg.code AND g.valid_to IS NULL
		WHERE dg.draft_id = $1 AND dg.code IN ($2, $3)`, int64(draft["id"].(float64)), d, f).Scan(&same)
	if !same {
		t.Errorf("undo did not restore %s and %s exactly", d, f)
	}
	// The steps are all kept, the undone ones marked.
	var steps struct {
		Items []struct {
			Kind     string  `json:"kind"`
			UndoneAt *string `json:"undone_at"`
		}
	}
	json.Unmarshal(e.do("GET", path+"/steps", planner, nil).body, &steps)
	kinds := []string{}
	for _, s := range steps.Items {
		k := s.Kind
		if s.UndoneAt != nil {
			k += "(undone)"
		}
		kinds = append(kinds, k)
	}
	if strings.Join(kinds, ",") != "create,split,merge,update(undone),update(undone)" {
		t.Errorf("steps: %v", kinds)
	}
	// A new grid takes the next sequence; undoing it frees nothing that a
	// closed grid held.
	var hole json.RawMessage
	pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Buffer(ST_PointOnSurface(geom), 0.0002), 9) FROM regions WHERE id = $1`, communityID).Scan(&hole)
	step("POST", path+"/grids", map[string]any{"geometry": hole, "name": "新网格"})
	if _, ok := e.draftGrids(path, planner)[community+"904"]; !ok {
		t.Errorf("the added grid is not %s904", community)
	}

	// Derive: a proposal along the streets that tiles the community.
	step("POST", path+"/derive", map[string]any{"target_area": 10000})
	derived := e.draftGrids(path, planner)
	if len(derived) < 2 || math.Abs(sum(derived)-sum(gs)) > sum(gs)*1e-3 {
		t.Errorf("derived %d grids of %.1f m², community %.1f m²", len(derived), sum(derived), sum(gs))
	}
	if got := e.findings(path+"/check", planner); got["gap"] != 0 || got["overlap"] != 0 || got["duplicate_code"] != 0 {
		t.Errorf("derived grids' check: %v", got)
	}
	step("POST", path+"/undo", nil)
	if got := e.draftGrids(path, planner); len(got) != len(after)+1 {
		t.Errorf("undoing derive: %d grids, want %d", len(got), len(after)+1)
	}

	// Rename, list, discard.
	step("PATCH", path, map[string]any{"name": "新名字"})
	var list struct {
		Items []map[string]any `json:"items"`
	}
	json.Unmarshal(e.do("GET", "/api/v1/drafts", planner, nil).body, &list)
	if len(list.Items) != 1 || list.Items[0]["name"] != "新名字" || list.Items[0]["etag"] != etag {
		t.Errorf("list: %v", list.Items)
	}
	if r := e.draftCall("DELETE", path, planner, etag, nil); r.status != 204 {
		t.Errorf("discard: %d %s", r.status, r.body)
	}
	if r := e.do("GET", path, planner, nil); r.status != 404 {
		t.Errorf("discarded draft: %d", r.status)
	}
	if live() != liveBefore {
		t.Error("the live grids changed")
	}
}

// Two planners change the same draft at once with the same ETag: one
// change is made, the other is refused with 412, and the draft holds only
// the first.
func TestDraftsConcurrentChanges(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	p1, p2 := e.token("planner", ""), e.token("planner", "")
	var community string
	var codes []string
	rows, _ := e.store.Pool().Query(ctx, `
		WITH c AS (SELECT c.code, c.id FROM regions c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		           WHERE c.level = 'community' GROUP BY c.code, c.id HAVING count(*) >= 4 ORDER BY c.code LIMIT 1)
		SELECT c.code, g.code FROM c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL ORDER BY g.code LIMIT 2`)
	for rows.Next() {
		var g string
		rows.Scan(&community, &g)
		codes = append(codes, g)
	}
	rows.Close()
	if len(codes) != 2 {
		t.Fatalf("a community with grids: %v", codes)
	}
	r := e.do("POST", "/api/v1/drafts", p1, map[string]any{"region": community, "name": "并发"})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	path, etag := r.header.Get("Location"), r.header.Get("ETag")
	before := len(e.draftGrids(path, p1))
	statuses := make(chan int, 2)
	for i, tok := range []string{p1, p2} {
		go func() {
			req, _ := http.NewRequest("DELETE", e.url+path+"/grids/"+codes[i], nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("If-Match", etag)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode >= 500 {
				t.Logf("%d %s", res.StatusCode, body)
			}
			statuses <- res.StatusCode
		}()
	}
	a, b := <-statuses, <-statuses
	if !(a == 200 && b == 412 || a == 412 && b == 200) {
		t.Fatalf("two changes with one ETag: %d and %d, want 200 and 412", a, b)
	}
	if got := len(e.draftGrids(path, p1)); got != before-1 {
		t.Errorf("%d grids after one delete of %d", got, before)
	}
	// Undo brings the deleted grid back.
	cur := e.do("GET", path, p2, nil).header.Get("ETag")
	if r := e.draftCall("POST", path+"/undo", p2, cur, nil); r.status != 200 {
		t.Fatalf("undo: %d %s", r.status, r.body)
	}
	if got := e.draftGrids(path, p1); len(got) != before || got[codes[0]] == 0 || got[codes[1]] == 0 {
		t.Errorf("after undo: %d grids, want %d with %v", len(got), before, codes)
	}
}
