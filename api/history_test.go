package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids/history"
)

type historyJSON struct {
	Code     string `json:"code"`
	Live     bool   `json:"live"`
	Versions []struct {
		Version      int             `json:"version"`
		AreaM2       float64         `json:"area_m2"`
		ValidFrom    time.Time       `json:"valid_from"`
		ValidTo      *time.Time      `json:"valid_to"`
		CreatedBy    *string         `json:"created_by"`
		ClosedBy     *string         `json:"closed_by"`
		Geometry     json.RawMessage `json:"geometry"`
		Predecessors []struct {
			Code    string   `json:"code"`
			Version int      `json:"version"`
			Kind    string   `json:"kind"`
			Share   *float64 `json:"share"`
		} `json:"predecessors"`
		Successors []struct {
			Code    string `json:"code"`
			Version int    `json:"version"`
			Kind    string `json:"kind"`
		} `json:"successors"`
	} `json:"versions"`
}

func (e *env) history(code string) historyJSON {
	e.t.Helper()
	r := e.do("GET", "/api/v1/grids/"+code+"/history", adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("history of %s: %d %s", code, r.status, r.body)
	}
	var h historyJSON
	if err := json.Unmarshal(r.body, &h); err != nil {
		e.t.Fatal(err)
	}
	return h
}

// gridsAt lists a region's grids at a moment: code → version.
func (e *env) gridsAt(region string, at time.Time) map[string]int {
	e.t.Helper()
	r := e.do("GET", "/api/v1/grids?limit=1000&region="+region+"&at="+url.QueryEscape(at.Format(time.RFC3339Nano)), adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("grids at %s: %d %s", at, r.status, r.body)
	}
	var l struct {
		Items []struct {
			Code    string
			Version int
		}
		Total int
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		e.t.Fatal(err)
	}
	if l.Total != len(l.Items) {
		e.t.Fatalf("grids at %s: total %d, %d items", at, l.Total, len(l.Items))
	}
	out := map[string]int{}
	for _, it := range l.Items {
		out[it.Code] = it.Version
	}
	return out
}

// A planner's redraw of a Beijing community (written here as a publish
// will write it: one transaction naming its user, new versions, closed
// ones, lineage) shows in the history, in the layout as of a moment before
// and after, and in the diff between them.
func TestGridHistoryBeijing(t *testing.T) {
	e := beijingEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	// A community with at least three grids: A is reshaped, B split into
	// two new codes, C merged with D into a new code.
	var comm string
	var codes []string
	if err := pool.QueryRow(ctx, `
		SELECT c.code, array_agg(g.code ORDER BY g.code) FROM regions c JOIN grids g ON g.community_id = c.id AND g.valid_to IS NULL
		GROUP BY c.code HAVING count(*) >= 6 ORDER BY c.code LIMIT 1`).Scan(&comm, &codes); err != nil {
		t.Fatal(err)
	}
	a, b := codes[0], codes[1]
	var c, d string
	// Two grids that touch, other than a and b.
	if err := pool.QueryRow(ctx, `
		SELECT g1.code, g2.code FROM grids g1 JOIN grids g2 ON g2.community_id = g1.community_id AND g2.code > g1.code
		  AND g2.valid_to IS NULL AND ST_Relate(g1.geom, g2.geom, '****1****')
		WHERE g1.valid_to IS NULL AND g1.code = ANY(@codes) AND g1.code <> ALL(@ab) AND g2.code <> ALL(@ab)
		ORDER BY 1, 2 LIMIT 1`, pgx.NamedArgs{"codes": codes, "ab": []string{a, b}}).Scan(&c, &d); err != nil {
		t.Fatal(err)
	}
	var aArea, bArea, commArea float64
	if err := pool.QueryRow(ctx, `
		SELECT (SELECT area_m2 FROM grids WHERE code = @a AND valid_to IS NULL), (SELECT area_m2 FROM grids WHERE code = @b AND valid_to IS NULL),
		       (SELECT sum(g.area_m2) FROM grids g JOIN regions r ON r.id = g.community_id WHERE r.code = @comm AND g.valid_to IS NULL)`,
		pgx.NamedArgs{"a": a, "b": b, "comm": comm}).Scan(&aArea, &bArea, &commArea); err != nil {
		t.Fatal(err)
	}
	before := e.gridsAt(comm, time.Now())
	if len(before) != len(codes) || before[a] != 1 {
		t.Fatalf("live layout of %s: %v, want the %d codes at version 1", comm, before, len(codes))
	}
	t0 := time.Now()
	time.Sleep(10 * time.Millisecond)
	x, y, z := comm+"901", comm+"902", comm+"903"
	err := e.store.Tx(ctx, func(tx pgx.Tx) error {
		if err := history.SetActor(ctx, tx, "planner-li"); err != nil {
			return err
		}
		args := pgx.NamedArgs{"all": []string{a, b, c, d}, "a": a, "b": b, "c": c, "d": d, "x": x, "y": y, "z": z}
		for _, q := range []string{
			`CREATE TEMP TABLE old ON COMMIT DROP AS SELECT code, version, community_id, name, geom FROM grids WHERE code = ANY(@all) AND valid_to IS NULL`,
			`UPDATE grids SET valid_to = now() WHERE code = ANY(@all) AND valid_to IS NULL`,
			// A keeps its code: its west tenth goes (a redraw that only shrinks it).
			`INSERT INTO grids (code, community_id, name, geom, version)
			SELECT code, community_id, name, ST_GeometryN(ST_CollectionExtract(ST_Difference(geom, ST_MakeEnvelope(ST_XMin(geom) - 1, -90,
			       ST_XMin(geom) + (ST_XMax(geom) - ST_XMin(geom)) / 10, 90, 4326)), 3), 1), version + 1 FROM old WHERE code = @a`,
			// B split at its bounding box's middle meridian.
			`INSERT INTO grids (code, community_id, name, geom)
			SELECT p.code, o.community_id, p.code, ST_GeometryN(ST_CollectionExtract(ST_Intersection(o.geom, ST_MakeEnvelope(p.x0, -90, p.x1, 90, 4326)), 3), 1)
			FROM old o CROSS JOIN LATERAL (VALUES
				(@x::text, ST_XMin(o.geom) - 1, (ST_XMin(o.geom) + ST_XMax(o.geom)) / 2),
				(@y::text, (ST_XMin(o.geom) + ST_XMax(o.geom)) / 2, ST_XMax(o.geom) + 1)) p (code, x0, x1)
			WHERE o.code = @b`,
			// C and D merged.
			`INSERT INTO grids (code, community_id, name, geom)
			SELECT @z, min(community_id), @z, ST_Union(geom) FROM old WHERE code IN (@c, @d)`,
		} {
			if _, err := tx.Exec(ctx, q, args); err != nil {
				return err
			}
		}
		half := 0.5
		return history.RecordLineage(ctx, tx, []history.Link{
			{PredecessorCode: b, PredecessorVersion: 1, SuccessorCode: x, SuccessorVersion: 1, Kind: "split", Share: &half},
			{PredecessorCode: b, PredecessorVersion: 1, SuccessorCode: y, SuccessorVersion: 1, Kind: "split"},
			{PredecessorCode: c, PredecessorVersion: 1, SuccessorCode: z, SuccessorVersion: 1, Kind: "merge"},
			{PredecessorCode: d, PredecessorVersion: 1, SuccessorCode: z, SuccessorVersion: 1, Kind: "merge"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	t1 := time.Now()

	// History: versions with geometry, who and when, lineage both ways.
	ha := e.history(a)
	if !ha.Live || len(ha.Versions) != 2 || ha.Versions[0].ValidTo == nil || !ha.Versions[0].ValidTo.Equal(ha.Versions[1].ValidFrom) {
		t.Fatalf("history of reshaped %s: %+v", a, ha)
	}
	if v := ha.Versions[1]; v.CreatedBy == nil || *v.CreatedBy != "planner-li" || v.ValidTo != nil || ha.Versions[0].CreatedBy != nil ||
		ha.Versions[0].ClosedBy == nil || *ha.Versions[0].ClosedBy != "planner-li" {
		t.Errorf("who: v1 created %v closed %v, v2 created %v", ha.Versions[0].CreatedBy, ha.Versions[0].ClosedBy, v.CreatedBy)
	}
	if v1, v2 := ha.Versions[0].AreaM2, ha.Versions[1].AreaM2; math.Abs(v1-aArea) > 0.01 || v2 >= v1 || v2 < v1*0.7 {
		t.Errorf("areas of %s: v1 %.1f (was %.1f), v2 %.1f", a, v1, aArea, v2)
	}
	// The old version's geometry is the grid as it was (to GeoJSON's 7 decimals).
	var same bool
	if err := pool.QueryRow(ctx, `SELECT ST_HausdorffDistance(ST_GeomFromGeoJSON($1), geom) < 1e-7 FROM grids WHERE code = $2 AND version = 1`,
		string(ha.Versions[0].Geometry), a).Scan(&same); err != nil || !same {
		t.Errorf("v1 geometry of %s is not the stored one (err %v)", a, err)
	}
	hb := e.history(b)
	if hb.Live || len(hb.Versions) != 1 || len(hb.Versions[0].Successors) != 2 || hb.Versions[0].Successors[0].Code != x ||
		hb.Versions[0].Successors[1].Code != y || hb.Versions[0].Successors[0].Kind != "split" {
		t.Errorf("history of split %s: %+v", b, hb)
	}
	hx := e.history(x)
	if p := hx.Versions[0].Predecessors; len(p) != 1 || p[0].Code != b || p[0].Version != 1 || p[0].Share == nil || *p[0].Share != 0.5 {
		t.Errorf("predecessors of %s: %+v", x, p)
	}
	if p := e.history(z).Versions[0].Predecessors; len(p) != 2 || p[0].Code != c || p[1].Code != d || p[0].Kind != "merge" {
		t.Errorf("predecessors of merged %s: %+v", z, p)
	}

	// The layout as of a moment: before, the old codes at version 1; after,
	// the new codes and A's second version.
	then := e.gridsAt(comm, t0)
	if len(then) != len(codes) || then[a] != 1 || then[b] != 1 || then[x] != 0 {
		t.Errorf("at t0: %d grids, %s v%d, %s v%d, %s present: %v", len(then), a, then[a], b, then[b], x, then[x] != 0)
	}
	now := e.gridsAt(comm, t1)
	if len(now) != len(codes) || now[a] != 2 || now[b] != 0 || now[c] != 0 || now[x] != 1 || now[y] != 1 || now[z] != 1 {
		t.Errorf("at t1: %v", now)
	}
	if early := e.gridsAt(comm, t0.AddDate(-50, 0, 0)); len(early) != 0 {
		t.Errorf("fifty years ago: %d grids", len(early))
	}

	// The diff between the two moments.
	r := e.do("GET", "/api/v1/layouts/diff.geojson?region="+comm+"&from="+url.QueryEscape(t0.Format(time.RFC3339Nano))+
		"&to="+url.QueryEscape(t1.Format(time.RFC3339Nano)), adminToken, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("diff: %d %s %.300s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var fc struct {
		Type    string
		Summary struct {
			Counts map[string]int
			From   float64 `json:"area_from_m2"`
			To     float64 `json:"area_to_m2"`
		}
		Features []struct {
			ID         string
			Geometry   json.RawMessage
			Properties struct {
				Code, Change             string
				FromVersion              *int    `json:"from_version"`
				ToVersion                *int    `json:"to_version"`
				AreaChangeM2             float64 `json:"area_change_m2"`
				ChangedBy                *string `json:"changed_by"`
				Predecessors, Successors []string
			}
		}
	}
	if err := json.Unmarshal(r.body, &fc); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fc.Features {
		p := f.Properties
		got[p.Code] = p.Change
		if p.ChangedBy == nil || *p.ChangedBy != "planner-li" || len(f.Geometry) < 10 {
			t.Errorf("diff feature %s: changed by %v, geometry %s", p.Code, p.ChangedBy, f.Geometry)
		}
		switch p.Code {
		case a:
			if a2 := ha.Versions[1].AreaM2; math.Abs(p.AreaChangeM2-(a2-aArea)) > 0.01 || *p.FromVersion != 1 || *p.ToVersion != 2 {
				t.Errorf("diff of %s: %+v, want area change %.2f", a, p, a2-aArea)
			}
		case b:
			if fmt.Sprint(p.Successors) != fmt.Sprint([]string{x, y}) || math.Abs(p.AreaChangeM2+bArea) > 0.01 || p.ToVersion != nil {
				t.Errorf("diff of %s: %+v", b, p)
			}
		case z:
			if fmt.Sprint(p.Predecessors) != fmt.Sprint([]string{c, d}) {
				t.Errorf("diff of %s: %+v", z, p)
			}
		}
	}
	want := map[string]string{a: "reshaped", b: "removed", c: "removed", d: "removed", x: "added", y: "added", z: "added"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("diff: %v, want %v", got, want)
	}
	if fc.Summary.Counts["added"] != 3 || fc.Summary.Counts["removed"] != 3 || fc.Summary.Counts["reshaped"] != 1 {
		t.Errorf("summary counts %v", fc.Summary.Counts)
	}
	var liveArea float64
	if err := pool.QueryRow(ctx, `SELECT sum(g.area_m2) FROM grids g JOIN regions r ON r.id = g.community_id WHERE r.code = @comm AND g.valid_to IS NULL`,
		pgx.NamedArgs{"comm": comm}).Scan(&liveArea); err != nil {
		t.Fatal(err)
	}
	if math.Abs(fc.Summary.From-commArea) > 0.01 || math.Abs(fc.Summary.To-liveArea) > 0.01 || fc.Summary.To >= fc.Summary.From {
		t.Errorf("areas from %.1f (live was %.1f) to %.1f (live is %.1f)", fc.Summary.From, commArea, fc.Summary.To, liveArea)
	}
	// Nothing changed since.
	r = e.do("GET", "/api/v1/layouts/diff.geojson?region="+comm+"&from="+url.QueryEscape(t1.Format(time.RFC3339Nano))+
		"&to="+url.QueryEscape(time.Now().Format(time.RFC3339Nano)), adminToken, nil)
	if err := json.Unmarshal(r.body, &fc); err != nil || r.status != 200 || len(fc.Features) != 0 {
		t.Errorf("diff since t1: %d, %d features", r.status, len(fc.Features))
	}

	ts := url.QueryEscape(t1.Format(time.RFC3339Nano))
	e.expectErrors([]errCase{
		{path: "/api/v1/grids/" + comm + "999/history", token: adminToken, status: 404},
		{path: "/api/v1/grids?at=yesterday", token: adminToken, status: 400, field: "at"},
		{path: "/api/v1/layouts/diff.geojson?region=" + comm + "&to=" + ts, token: adminToken, status: 400, field: "from"},
		{path: "/api/v1/layouts/diff.geojson?region=" + comm + "&from=" + ts + "&to=" + ts, token: adminToken, status: 422, field: "to"},
		{path: "/api/v1/layouts/diff.geojson?region=999999&from=" + url.QueryEscape(t0.Format(time.RFC3339Nano)) + "&to=" + ts, token: adminToken, status: 404},
		{path: "/api/v1/grids/" + a + "/history", status: 401},
	})
}
