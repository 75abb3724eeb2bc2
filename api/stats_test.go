package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/url"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"
	"github.com/xuri/excelize/v2"
)

// statsRow is a row of /api/v1/stats/*.
type statsRow struct {
	Code                string   `json:"code"`
	Name                string   `json:"name"`
	Due                 int      `json:"due"`
	HandledOnTime       int      `json:"handled_on_time"`
	OnTimeRate          *float64 `json:"on_time_rate"`
	DueToClose          int      `json:"due_to_close"`
	Closed              int      `json:"closed"`
	ClosingRate         *float64 `json:"closing_rate"`
	Registered          int      `json:"registered"`
	RegisteredOnTime    int      `json:"registered_on_time"`
	RegistrationRate    *float64 `json:"registration_rate"`
	Dispatched          int      `json:"dispatched"`
	DispatchedCorrectly int      `json:"dispatched_correctly"`
	CorrectDispatchRate *float64 `json:"correct_dispatch_rate"`
	Verified            int      `json:"verified"`
	Reworked            int      `json:"reworked"`
	ReworkRate          *float64 `json:"rework_rate"`
	Returned            int      `json:"returned"`
	AvgHandleHours      *float64 `json:"avg_handle_hours"`
	Rank                *int     `json:"rank"`
}

func (e *env) stats(path, token string) []statsRow {
	e.t.Helper()
	r := e.do("GET", path, token, nil)
	if r.status != 200 {
		e.t.Fatalf("%s: %d %s", path, r.status, r.body)
	}
	var out struct{ Rows []statsRow }
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Rows
}

func rowOf(t *testing.T, rows []statsRow, code string) statsRow {
	t.Helper()
	for _, r := range rows {
		if r.Code == code {
			return r
		}
	}
	t.Fatalf("no row %s in %+v", code, rows)
	return statsRow{}
}

func rate(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", name, fmtRate(got), want)
	}
}

func fmtRate(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// The evaluation on the Beijing demo: cases moved through the workflow
// over HTTP, their deadlines and registrations then placed in November in
// SQL, give exact rates per unit and category, a CSV and an XLSX ledger,
// a unit's own row, the red and black lists, and hotspots whose cells sum
// to the cases and contain their points.
func TestCaseStatsBeijing(t *testing.T) {
	e := beijingEnv(t)
	dispatcher, inspector := e.token("dispatcher", ""), e.token("inspector", "")
	jj, cg := e.token("unit", "JJ"), e.token("unit", "CG")
	ctx := context.Background()
	pool := e.store.Pool()
	sqlExec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	file := func(i int, category string) string {
		return e.file(adminToken, map[string]any{"lon": zgcLon + 0.004*float64(i%4), "lat": zgcLat + 0.003*float64(i/4),
			"category": category, "source": "inspector", "reported_at": fmt.Sprintf("2026-11-%02dT09:00:00+08:00", i+1)}).Code
	}
	dispatch := func(code, unit string) {
		e.act(dispatcher, code, "register", nil)
		if unit == "" {
			e.act(dispatcher, code, "dispatch", nil)
		} else {
			e.act(dispatcher, code, "dispatch", map[string]any{"unit": unit})
		}
	}
	// A: the whole loop, on time, closed, dispatched right.
	a := file(0, "E0504")
	dispatch(a, "")
	e.act(jj, a, "handle", nil)
	e.act(jj, a, "handled", map[string]any{"note": "已拖走"})
	e.act(inspector, a, "verify", map[string]any{"passed": true})
	e.act(dispatcher, a, "close", nil)
	// B: to the wrong unit, returned, re-dispatched, a failed verification
	// and rework, verified, not closed.
	b := file(1, "E0504")
	dispatch(b, "CG")
	e.act(cg, b, "return", map[string]any{"note": "停车归交警"})
	e.act(dispatcher, b, "dispatch", nil)
	e.act(jj, b, "handled", map[string]any{"note": "处理了"})
	e.act(inspector, b, "verify", map[string]any{"passed": false, "note": "还在"})
	e.act(jj, b, "handled", map[string]any{"note": "真处理了"})
	e.act(inspector, b, "verify", map[string]any{"passed": true})
	// C: handled, late (set below); D: still open.
	c := file(2, "E0504")
	dispatch(c, "")
	e.act(jj, c, "handled", map[string]any{"note": "晚了"})
	d := file(3, "E0504")
	dispatch(d, "")
	// E: street lights, due in December: registered in November only.
	el := file(4, "C0118")
	dispatch(el, "")

	sqlExec(`UPDATE cases SET registered_at = reported_at + interval '10 minutes', registered_on_time = (code <> $1)
		WHERE code = ANY($2)`, d, []string{a, b, c, d, el})
	sqlExec(`UPDATE cases SET due_at = '2026-11-20T00:00:00+08:00' WHERE code = ANY($1)`, []string{a, b, c})
	sqlExec(`UPDATE cases SET due_at = '2026-11-01T00:00:00+08:00' WHERE code = $1`, d)  // the first instant: in
	sqlExec(`UPDATE cases SET due_at = '2026-12-01T00:00:00+08:00' WHERE code = $1`, el) // the end: out
	sqlExec(`UPDATE cases SET handled_on_time = false WHERE code = $1`, c)
	sqlExec(`UPDATE cases SET handle_s = CASE code WHEN $1 THEN 3600 WHEN $2 THEN 7200 ELSE 10800 END WHERE code = ANY($3)`,
		a, b, []string{a, b, c})

	const nov = "from=2026-11-01&to=2026-12-01"
	units := e.stats("/api/v1/stats/units?"+nov, adminToken)
	r := rowOf(t, units, "JJ")
	if r.Due != 4 || r.HandledOnTime != 2 || r.Closed != 1 || r.DueToClose != 4 || r.Registered != 4 || r.RegisteredOnTime != 3 ||
		r.Dispatched != 4 || r.DispatchedCorrectly != 2 || r.Verified != 2 || r.Reworked != 1 || r.Returned != 1 {
		t.Errorf("JJ counts %+v", r)
	}
	rate(t, "on-time handling", r.OnTimeRate, 0.5)
	rate(t, "closing", r.ClosingRate, 0.25)
	rate(t, "on-time registration", r.RegistrationRate, 0.75)
	rate(t, "correct dispatch", r.CorrectDispatchRate, 0.5)
	rate(t, "rework", r.ReworkRate, 0.5)
	rate(t, "average hours", r.AvgHandleHours, 2)
	if r.Rank == nil || *r.Rank != 1 {
		t.Errorf("JJ rank %v", r.Rank)
	}
	ld := rowOf(t, units, "LD")
	if ld.Due != 0 || ld.Registered != 1 || ld.OnTimeRate != nil || ld.Rank == nil || *ld.Rank != 2 {
		t.Errorf("LD (due in December) %+v", ld)
	}
	if len(units) != 2 {
		t.Errorf("%d unit rows, want JJ and LD (CG returned its case): %+v", len(units), units)
	}
	// The same metrics by category, and a filter narrows them.
	cat := rowOf(t, e.stats("/api/v1/stats/categories?"+nov, adminToken), "E0504")
	if cat.Due != 4 || cat.HandledOnTime != 2 || cat.Name == "" {
		t.Errorf("E0504 %+v", cat)
	}
	if rows := e.stats("/api/v1/stats/units?"+nov+"&category=C0118", adminToken); len(rows) != 1 || rows[0].Code != "LD" {
		t.Errorf("filtered to street lights: %+v", rows)
	}
	// By region: every case is in Haidian.
	hd := rowOf(t, e.stats("/api/v1/stats/regions?level=district&"+nov, adminToken), "110108")
	if hd.Due != 4 || hd.Registered != 5 {
		t.Errorf("Haidian %+v", hd)
	}
	if g := e.stats("/api/v1/stats/grids?"+nov, adminToken); len(g) == 0 || g[0].Name == "" {
		t.Errorf("grids %+v", g)
	}
	// A period in UTC: D's deadline, midnight in Beijing, is on 31 October
	// in UTC, so it falls out.
	if r := rowOf(t, e.stats("/api/v1/stats/units?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", adminToken), "JJ"); r.Due != 3 {
		t.Errorf("UTC period: JJ due %d, want 3", r.Due)
	}

	// A unit sees only its own row, ranked among every unit.
	if rows := e.stats("/api/v1/stats/units?"+nov, cg); len(rows) != 0 {
		t.Errorf("CG sees %+v", rows)
	}
	if rows := e.stats("/api/v1/stats/units?"+nov, jj); len(rows) != 1 || rows[0].Code != "JJ" || rows[0].Due != 4 {
		t.Errorf("JJ sees %+v", rows)
	}

	// The ledger: CSV with a BOM and Chinese headers, XLSX with numbers.
	csvR := e.do("GET", "/api/v1/stats/units?"+nov+"&format=csv", adminToken, nil)
	if csvR.status != 200 || !bytes.HasPrefix(csvR.body, []byte("\xef\xbb\xbf排名,代码,名称,应处置数,按期处置数,按期处置率")) {
		t.Fatalf("csv: %d %q", csvR.status, csvR.body[:min(len(csvR.body), 200)])
	}
	if !strings.Contains(string(csvR.body), "\n1,JJ,") || !strings.Contains(string(csvR.body), ",4,2,50.00%,4,1,25.00%,4,3,75.00%,") {
		t.Errorf("csv JJ row:\n%s", csvR.body)
	}
	if name := attachmentName(t, csvR.header.Get("Content-Disposition")); name != "案件考核台账_单位_20261101-20261201.csv" {
		t.Errorf("csv file name %q", name)
	}
	x := e.do("GET", "/api/v1/stats/units?"+nov+"&format=xlsx", adminToken, nil)
	if x.status != 200 || !strings.HasPrefix(x.header.Get("Content-Type"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet") {
		t.Fatalf("xlsx: %d %s", x.status, x.header.Get("Content-Type"))
	}
	wb, err := excelize.OpenReader(bytes.NewReader(x.body))
	if err != nil {
		t.Fatalf("not a workbook: %v", err)
	}
	defer wb.Close()
	const sheet = "单位考核"
	cell := func(ref string, raw bool) string {
		v, err := wb.GetCellValue(sheet, ref, excelize.Options{RawCellValue: raw})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for ref, want := range map[string]string{"A1": "排名", "F1": "按期处置率", "T1": "平均处置工时(小时)", "A2": "1", "B2": "JJ", "D2": "4"} {
		if got := cell(ref, false); got != want {
			t.Errorf("xlsx %s = %q, want %q", ref, got, want)
		}
	}
	if got, shown := cell("F2", true), cell("F2", false); got != "0.5" || shown != "50.00%" {
		t.Errorf("xlsx on-time rate stored %q shown %q, want 0.5 shown as 50.00%%", got, shown)
	}
	if typ, _ := wb.GetCellType(sheet, "D2"); typ != excelize.CellTypeNumber && typ != excelize.CellTypeUnset {
		t.Errorf("xlsx D2 type %v, want a number", typ)
	}
	if p, err := wb.GetPanes(sheet); err != nil || !p.Freeze || p.YSplit != 1 {
		t.Errorf("header row not frozen: %+v %v", p, err)
	}
	if w, _ := wb.GetColWidth(sheet, "C"); w < 20 {
		t.Errorf("name column width %v", w)
	}

	e.expectErrors([]errCase{
		{"/api/v1/stats/units?to=2026-12-01", adminToken, 400, "from"},
		{"/api/v1/stats/units?from=2026-11-01&to=yesterday", adminToken, 400, "to"},
		{"/api/v1/stats/units?from=2026-12-01&to=2026-11-01", adminToken, 400, "to"},
		{"/api/v1/stats/regions?level=street&" + nov, adminToken, 400, "level"},
		{"/api/v1/stats/units?format=pdf&" + nov, adminToken, 400, "format"},
		{"/api/v1/stats/units?source=pigeon&" + nov, adminToken, 422, "source"},
		{"/api/v1/stats/ranking?by=street&" + nov, adminToken, 400, "by"},
		{"/api/v1/cases/hotspots?res=5", adminToken, 422, "res"},
	})

	testRanking(t, e, a, c)
	testHotspots(t, e)
}

// attachmentName is the RFC 5987 file name of a Content-Disposition.
func attachmentName(t *testing.T, v string) string {
	t.Helper()
	i := strings.Index(v, "filename*=UTF-8''")
	if i < 0 {
		t.Fatalf("no filename* in %q", v)
	}
	if _, _, err := mime.ParseMediaType(v); err != nil {
		t.Errorf("Content-Disposition %q: %v", v, err)
	}
	name, err := url.PathUnescape(v[i+len("filename*=UTF-8''"):])
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// testRanking copies the closed on-time case a and the late case late into
// October for four units: JJ all on time and closed, LD all on time but
// none closed, CG half on time, and KEEP with too few cases to rank.
func testRanking(t *testing.T, e *env, a, late string) {
	ctx := context.Background()
	pool := e.store.Pool()
	var other string
	if err := pool.QueryRow(ctx, `SELECT code FROM units WHERE code NOT IN ('JJ', 'CG', 'LD') ORDER BY code LIMIT 1`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	seq := 0
	clone := func(from, unit string, n int, status string) {
		t.Helper()
		for range n {
			seq++
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`CREATE TEMP TABLE c ON COMMIT DROP AS SELECT * FROM cases WHERE code = $1`,
				`UPDATE c SET id = id + 1000000 + $1, code = 'R-' || $1, status = $3,
				        unit_id = (SELECT id FROM units WHERE code = $2), first_unit_id = (SELECT id FROM units WHERE code = $2),
				        due_at = '2026-10-15T00:00:00+08:00', registered_at = '2026-10-10T00:00:00+08:00'`,
				`INSERT INTO cases OVERRIDING SYSTEM VALUE SELECT * FROM c`,
			} {
				args := []any{seq, unit, status}
				if strings.Contains(q, "CREATE") {
					args = []any{from}
				} else if strings.Contains(q, "INSERT") {
					args = nil
				}
				if _, err := tx.Exec(ctx, q, args...); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	clone(a, "JJ", 6, "closed")
	clone(a, "LD", 5, "verified")
	clone(a, "CG", 3, "closed")
	clone(late, "CG", 3, "handled")
	clone(a, other, 2, "closed")
	var third string // one more unranked unit, with fewer cases due than other
	if err := pool.QueryRow(ctx, `SELECT code FROM units WHERE code NOT IN ('JJ', 'CG', 'LD', $1) ORDER BY code LIMIT 1`, other).Scan(&third); err != nil {
		t.Fatal(err)
	}
	clone(a, third, 1, "closed")

	var out struct {
		Metric   string
		MinDue   int `json:"min_due"`
		Red      []statsRow
		Black    []statsRow
		Unranked []statsRow
		Note     string
		Total    int `json:"unranked_total"`
	}
	get := func(n int, more ...string) {
		t.Helper()
		r := e.do("GET", fmt.Sprintf("/api/v1/stats/ranking?by=unit&n=%d&from=2026-10-01&to=2026-11-01%s", n, strings.Join(more, "")), e.token("analyst", ""), nil)
		if r.status != 200 {
			t.Fatalf("ranking: %d %s", r.status, r.body)
		}
		out.Red, out.Black, out.Unranked = nil, nil, nil
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
	}
	codes := func(rows []statsRow) string {
		var s []string
		for _, r := range rows {
			s = append(s, fmt.Sprintf("%s#%d", r.Code, *r.Rank))
		}
		return strings.Join(s, " ")
	}
	get(1)
	if codes(out.Red) != "JJ#1" || codes(out.Black) != "CG#3" || out.Metric != "on_time_rate" || out.MinDue != 5 {
		t.Errorf("n=1: red %s black %s metric %s", codes(out.Red), codes(out.Black), out.Metric)
	}
	// Unranked: the n with the most cases due, and how many there are.
	if len(out.Unranked) != 1 || out.Unranked[0].Code != other || out.Unranked[0].Rank != nil || out.Total != 2 ||
		!strings.Contains(out.Note, "2 with fewer than 5") {
		t.Errorf("unranked %+v of %d, note %q", out.Unranked, out.Total, out.Note)
	}
	if get(1, "&unranked=all"); len(out.Unranked) != 2 || out.Unranked[1].Code != third || out.Total != 2 {
		t.Errorf("every unranked unit: %+v of %d", out.Unranked, out.Total)
	}
	if r := e.do("GET", "/api/v1/stats/ranking?by=unit&unranked=some&from=2026-10-01&to=2026-11-01", adminToken, nil); r.status != 400 || !strings.Contains(string(r.body), "unranked") {
		t.Errorf("unranked=some: %d %s", r.status, r.body)
	}
	get(2)
	if codes(out.Red) != "JJ#1 LD#2" || codes(out.Black) != "CG#3" {
		t.Errorf("n=2: red %s black %s", codes(out.Red), codes(out.Black))
	}
	rate(t, "CG on time", out.Black[0].OnTimeRate, 0.5)
	// by grid: every copy is in one grid.
	r := e.do("GET", "/api/v1/stats/ranking?by=grid&n=3&from=2026-10-01&to=2026-11-01", adminToken, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"red":[{`) {
		t.Errorf("by grid: %d %s", r.status, r.body)
	}
}

// testHotspots checks that the cells' counts sum to the filtered cases and
// that each hexagon holds exactly the points of its cases.
func testHotspots(t *testing.T, e *env) {
	type fc struct {
		Total, Overdue int
		Features       []struct {
			ID       string `json:"id"`
			Geometry struct {
				Type        string
				Coordinates [][][2]float64
			}
			Properties struct {
				Cell       string
				Res        int
				Count      int
				Overdue    int
				Categories map[string]int
			}
		}
	}
	var points []orb.Point
	var listed struct{ Total int }
	if err := json.Unmarshal(e.do("GET", "/api/v1/cases?overdue=true&limit=1", adminToken, nil).body, &listed); err != nil {
		t.Fatal(err)
	}
	overdue := listed.Total
	page := e.do("GET", "/api/v1/cases.geojson?limit=10000", adminToken, nil)
	var pts struct {
		Features []struct {
			Geometry struct{ Coordinates [2]float64 }
		}
	}
	if err := json.Unmarshal(page.body, &pts); err != nil {
		t.Fatal(err)
	}
	for _, f := range pts.Features {
		points = append(points, orb.Point(f.Geometry.Coordinates))
	}
	for _, res := range []int{6, 8, 10} {
		r := e.do("GET", fmt.Sprintf("/api/v1/cases/hotspots?res=%d", res), adminToken, nil)
		if r.status != 200 {
			t.Fatalf("hotspots: %d %s", r.status, r.body)
		}
		var h fc
		if err := json.Unmarshal(r.body, &h); err != nil {
			t.Fatal(err)
		}
		sum, sumOverdue, inside := 0, 0, 0
		for _, f := range h.Features {
			if f.Geometry.Type != "Polygon" || len(f.Geometry.Coordinates[0]) != 7 || f.Properties.Res != res || f.ID != f.Properties.Cell {
				t.Errorf("res %d: feature %+v", res, f)
			}
			ring := make(orb.Ring, len(f.Geometry.Coordinates[0]))
			for i, c := range f.Geometry.Coordinates[0] {
				ring[i] = orb.Point(c)
			}
			n, cats := 0, 0
			for _, p := range points {
				if planar.RingContains(ring, p) {
					n++
				}
			}
			for _, v := range f.Properties.Categories {
				cats += v
			}
			if n != f.Properties.Count || cats != n {
				t.Errorf("res %d cell %s: count %d, by category %d, but %d case points inside", res, f.ID, f.Properties.Count, cats, n)
			}
			sum += f.Properties.Count
			sumOverdue += f.Properties.Overdue
			inside += n
		}
		if sum != len(points) || h.Total != sum || inside != len(points) || sumOverdue != overdue || h.Overdue != overdue {
			t.Errorf("res %d: cells sum to %d (total %d, %d inside), overdue %d; want %d cases, %d overdue",
				res, sum, h.Total, inside, sumOverdue, len(points), overdue)
		}
	}
	if overdue == 0 {
		t.Error("no overdue case to count")
	}
	// The shared filters narrow hotspots as they narrow the list.
	r := e.do("GET", "/api/v1/cases/hotspots?res=9&category=C0118", adminToken, nil)
	var h fc
	if err := json.Unmarshal(r.body, &h); err != nil || h.Total != 1 || len(h.Features) != 1 || h.Features[0].Properties.Categories["C0118"] != 1 {
		t.Errorf("street-light hotspots: %d %s", r.status, r.body)
	}
}
