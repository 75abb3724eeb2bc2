package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// caseJSON is the part of a case the tests read.
type caseJSON struct {
	Code              string `json:"code"`
	Status            string `json:"status"`
	Category          string `json:"category"`
	LocationQuality   string `json:"location_quality"`
	NeedsConfirmation bool   `json:"needs_confirmation"`
	Grid              *struct {
		Code    string `json:"code"`
		Version int    `json:"version"`
	} `json:"grid"`
	Regions struct {
		District, Subdistrict, Community *struct{ Code, Name string }
	} `json:"regions"`
	Routing struct {
		Via   string `json:"via"`
		Leads []struct {
			Unit struct{ Code, Kind string } `json:"unit"`
			Via  struct{ Kind, Code, Level string }
		} `json:"leads"`
		Supporters []struct {
			Unit struct{ Code string } `json:"unit"`
		} `json:"supporters"`
	} `json:"routing"`
	ProposedUnit *struct{ Code string } `json:"proposed_unit"`
	Unit         *struct{ Code string } `json:"unit"`
	Manual       bool                   `json:"manual_dispatch"`
	Reporters    []struct {
		Name, Phone, Case string
	} `json:"reporters"`
	Deadline   *string `json:"deadline"`
	RemainingS *int64  `json:"remaining_s"`
	Overdue    bool    `json:"overdue"`
	Warning    bool    `json:"warning"`
	Dispatches int     `json:"dispatches"`
	Returns    int     `json:"returns"`
	Reworks    int     `json:"reworks"`
	Reopens    int     `json:"reopens"`
	MergedInto *string `json:"merged_into"`
	Duplicates []struct {
		Code      string  `json:"code"`
		DistanceM float64 `json:"distance_m"`
	} `json:"possible_duplicates"`
	Actions []string `json:"actions"`
}

func decodeCase(t *testing.T, r response) caseJSON {
	t.Helper()
	var c caseJSON
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("not a case: %v\n%s", err, r.body)
	}
	return c
}

// file reports a case and fails unless it is created.
func (e *env) file(token string, body map[string]any) caseJSON {
	e.t.Helper()
	r := e.do("POST", "/api/v1/cases", token, body)
	if r.status != http.StatusCreated {
		e.t.Fatalf("intake: %d %s", r.status, r.body)
	}
	return decodeCase(e.t, r)
}

// act takes an action and fails unless it succeeds.
func (e *env) act(token, code, action string, body map[string]any) caseJSON {
	e.t.Helper()
	var b any
	if body != nil {
		b = body
	}
	r := e.do("POST", "/api/v1/cases/"+code+"/"+action, token, b)
	if r.status != http.StatusOK {
		e.t.Fatalf("%s %s: %d %s", action, code, r.status, r.body)
	}
	return decodeCase(e.t, r)
}

func (e *env) events(code string) []string {
	e.t.Helper()
	r := e.do("GET", "/api/v1/cases/"+code+"/events", adminToken, nil)
	if r.status != 200 {
		e.t.Fatalf("events: %d %s", r.status, r.body)
	}
	var out struct {
		Events []struct{ Action, From, To string }
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		e.t.Fatal(err)
	}
	var s []string
	for _, ev := range out.Events {
		s = append(s, ev.Action+":"+ev.To)
	}
	return s
}

// Zhongguancun, in Haidian: a point of the Beijing demo on no street.
const zgcLon, zgcLat = 116.3075, 39.9845

// The closed loop on the Beijing demo, with a token of each role: intake
// and routing (a duty's lead, and the territorial fallback where nobody
// leads), idempotent retries, duplicates and a merge, registration that
// re-routes, dispatch, return and re-dispatch, handling, failed
// verification and rework, close, reopen, suspend and resume; each refused
// action leaves no trace.
func TestCaseLoopBeijing(t *testing.T) {
	e := beijingEnv(t)
	dispatcher := e.token("dispatcher", "")
	inspector := e.token("inspector", "")
	analyst := e.token("analyst", "")

	// Illegal parking in the middle of the demo: the traffic police lead.
	park := e.file(inspector, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "inspector",
		"description": "人行道上停了三辆车", "reporter_name": "王五", "reporter_phone": "13800000001"})
	if park.ProposedUnit == nil || park.ProposedUnit.Code != "JJ" {
		t.Fatalf("parking proposed to %+v, want JJ; routing %+v", park.ProposedUnit, park.Routing)
	}
	if park.Grid == nil || park.Regions.District == nil || park.Regions.District.Code != "110108" {
		t.Fatalf("grid %+v, district %+v", park.Grid, park.Regions.District)
	}
	if !strings.HasPrefix(park.Code, "110108-") || len(park.Code) != len("110108-20261201-00042") {
		t.Errorf("code %q", park.Code)
	}
	if park.Status != "reported" || park.LocationQuality != "gps" {
		t.Errorf("status %s, quality %s", park.Status, park.LocationQuality)
	}
	if len(park.Reporters) != 0 {
		t.Errorf("an inspector sees the reporter's personal data: %+v", park.Reporters)
	}
	if got := decodeCase(t, e.do("GET", "/api/v1/cases/"+park.Code, dispatcher, nil)); len(got.Reporters) != 1 || got.Reporters[0].Phone != "13800000001" {
		t.Errorf("the dispatcher does not see the reporter: %+v", got.Reporters)
	}
	if got := decodeCase(t, e.do("GET", "/api/v1/cases/"+park.Code, analyst, nil)); len(got.Reporters) != 0 {
		t.Errorf("an analyst sees the reporter: %+v", got.Reporters)
	}

	// What a case names stays: its category and its proposed unit cannot
	// be deleted (the foreign keys' work, done by triggers: see migration 8).
	if _, err := e.store.Pool().Exec(context.Background(), `DELETE FROM categories WHERE code = 'E0504'`); err == nil {
		t.Error("deleted the category of a case")
	}
	if r := e.do("DELETE", "/api/v1/units/JJ", adminToken, nil); r.status != 409 || !strings.Contains(string(r.body), "cases") {
		t.Errorf("deleting the proposed unit of a case: %d %s", r.status, r.body)
	}

	// Dog nuisance: no unit leads dog keeping, so the subdistrict office
	// takes it (属地兜底), and coverage still shows the gap.
	dog := e.file(inspector, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0110", "source": "hotline"})
	if dog.Routing.Via != "fallback" || dog.ProposedUnit == nil || !strings.HasPrefix(dog.ProposedUnit.Code, "JD") {
		t.Fatalf("dog nuisance routing %+v proposed %+v, want the subdistrict office via fallback", dog.Routing, dog.ProposedUnit)
	}
	if dog.Routing.Leads[0].Via.Level != "subdistrict" || dog.Routing.Leads[0].Via.Code != dog.Regions.Subdistrict.Code {
		t.Errorf("fallback via %+v", dog.Routing.Leads[0].Via)
	}
	if cov := e.coverage("dog_keeping", "110108"); cov.Ratio > 0.001 {
		t.Errorf("the fallback counts as coverage: %v", cov.Ratio)
	}

	// Retrying with the same key returns the same case; another body is 422.
	body := map[string]any{"lon": zgcLon + 0.0001, "lat": zgcLat, "category": "E0504", "source": "citizen", "description": "车又来了"}
	send := func(b map[string]any) response {
		j, _ := json.Marshal(b)
		req, _ := http.NewRequest("POST", e.url+"/api/v1/cases", strings.NewReader(string(j)))
		req.Header.Set("Authorization", "Bearer "+inspector)
		req.Header.Set("Idempotency-Key", "call-42")
		return e.send(req)
	}
	first, again := send(body), send(body)
	if first.status != 201 || again.status != 200 || decodeCase(t, first).Code != decodeCase(t, again).Code {
		t.Fatalf("retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
	}
	dup := decodeCase(t, first)
	if len(dup.Duplicates) != 1 || dup.Duplicates[0].Code != park.Code || dup.Duplicates[0].DistanceM < 5 || dup.Duplicates[0].DistanceM > 15 {
		t.Errorf("possible duplicates %+v, want %s about 8.5 m away", dup.Duplicates, park.Code)
	}
	body["description"] = "别的"
	if r := send(body); r.status != 422 {
		t.Errorf("same key, other body: %d %s", r.status, r.body)
	} else if _, f := r.errField(t); f != "Idempotency-Key" {
		t.Errorf("error names %q", f)
	}
	if n := e.count("cases"); n != 3 {
		t.Errorf("%d cases, want 3", n)
	}

	// A duplicate merges into the first report, whose reporters it joins.
	merged := e.act(dispatcher, dup.Code, "merge", map[string]any{"into": park.Code, "note": "同一处"})
	if merged.Status != "merged" || merged.MergedInto == nil || *merged.MergedInto != park.Code {
		t.Errorf("merged: %+v", merged)
	}
	if got := decodeCase(t, e.do("GET", "/api/v1/cases/"+park.Code, dispatcher, nil)); len(got.Reporters) != 2 {
		t.Errorf("survivor reporters %+v", got.Reporters)
	}

	// Registration corrects the category, which routes the case again:
	// street lights are the streetlight office's.
	reg := e.act(dispatcher, park.Code, "register", map[string]any{"category": "C0118", "note": "其实是路灯不亮"})
	if reg.Status != "registered" || reg.Category != "C0118" || reg.ProposedUnit == nil || reg.ProposedUnit.Code != "LD" {
		t.Fatalf("registered: %s %s proposed %+v", reg.Status, reg.Category, reg.ProposedUnit)
	}
	// Back to parking for the rest of the loop.
	if _, err := e.store.Pool().Exec(context.Background(), `UPDATE cases SET status = 'reported' WHERE code = $1`, park.Code); err != nil {
		t.Fatal(err)
	}
	reg = e.act(dispatcher, park.Code, "register", map[string]any{"category": "E0504"})
	if reg.ProposedUnit.Code != "JJ" {
		t.Fatalf("re-routed to %s", reg.ProposedUnit.Code)
	}

	jj, cg := e.token("unit", "JJ"), e.token("unit", "CG")
	// A unit sees nothing before it is dispatched the case.
	if r := e.do("GET", "/api/v1/cases/"+park.Code, jj, nil); r.status != 404 {
		t.Errorf("undispatched case to its unit: %d", r.status)
	}
	// A dispatch to another unit than proposed is recorded as manual; the
	// unit returns it, and it is dispatched again to the proposal.
	d := e.act(dispatcher, park.Code, "dispatch", map[string]any{"unit": "CG"})
	if d.Status != "dispatched" || d.Unit.Code != "CG" || !d.Manual || d.Deadline == nil || d.RemainingS == nil {
		t.Fatalf("dispatched: %+v", d)
	}
	if r := e.do("GET", "/api/v1/cases/"+park.Code, jj, nil); r.status != 404 {
		t.Errorf("JJ sees CG's case: %d", r.status)
	}
	if r := e.do("POST", "/api/v1/cases/"+park.Code+"/return", cg, map[string]any{}); r.status != 422 {
		t.Errorf("return without reason: %d %s", r.status, r.body)
	}
	ret := e.act(cg, park.Code, "return", map[string]any{"note": "停车归交警"})
	if ret.Status != "registered" || ret.Returns != 1 || ret.Unit != nil {
		t.Errorf("returned: %+v", ret)
	}
	if r := e.do("GET", "/api/v1/cases/"+park.Code, cg, nil); r.status != 404 {
		t.Errorf("CG still sees the returned case: %d", r.status)
	}
	d = e.act(dispatcher, park.Code, "dispatch", nil)
	if d.Unit.Code != "JJ" || d.Manual || d.Dispatches != 2 {
		t.Errorf("re-dispatched: %+v", d)
	}

	// Refusals: the wrong role (403), the wrong state (409), another
	// unit's case (404); none writes an event.
	before := len(e.events(park.Code))
	for _, c := range []struct {
		token, action string
		body          map[string]any
		status        int
	}{
		{jj, "close", nil, 403},
		{analyst, "register", nil, 403},
		{dispatcher, "register", nil, 409},
		{jj, "verify", map[string]any{"passed": true}, 403},
		{cg, "handle", nil, 404},
		{dispatcher, "fly", nil, 404},
		{jj, "handled", map[string]any{"note": strings.Repeat("长", 4001)}, 422},
	} {
		r := e.do("POST", "/api/v1/cases/"+park.Code+"/"+c.action, c.token, c.body)
		if r.status != c.status {
			t.Errorf("%s by %s: %d, want %d: %s", c.action, c.token[:6], r.status, c.status, r.body)
		}
	}
	if after := len(e.events(park.Code)); after != before {
		t.Errorf("refused actions wrote %d events", after-before)
	}

	// Handling, a failed verification (rework), handled again, verified,
	// closed, reopened.
	e.act(jj, park.Code, "handle", nil)
	e.act(jj, park.Code, "handled", map[string]any{"note": "已拖走"})
	rw := e.act(inspector, park.Code, "verify", map[string]any{"passed": false, "note": "还有一辆"})
	if rw.Status != "handling" || rw.Reworks != 1 || rw.Deadline == nil {
		t.Errorf("failed verification: %+v", rw)
	}
	e.act(jj, park.Code, "handled", map[string]any{"note": "全部拖走"})
	e.act(inspector, park.Code, "verify", map[string]any{"passed": true})
	closed := e.act(dispatcher, park.Code, "close", nil)
	if closed.Status != "closed" || closed.Overdue {
		t.Errorf("closed: %+v", closed)
	}
	re := e.act(dispatcher, park.Code, "reopen", map[string]any{"note": "市民反映又停车"})
	if re.Status != "registered" || re.Reopens != 1 {
		t.Errorf("reopened: %+v", re)
	}

	// Suspension stops the clock; resuming starts it again.
	e.act(dispatcher, park.Code, "dispatch", nil)
	s := e.act(dispatcher, park.Code, "suspend", map[string]any{"note": "等待资金"})
	if s.Status != "suspended" || s.Deadline != nil || s.RemainingS == nil {
		t.Errorf("suspended: %+v", s)
	}
	r := e.act(dispatcher, park.Code, "resume", nil)
	if r.Status != "dispatched" || r.Deadline == nil {
		t.Errorf("resumed: %+v", r)
	}
	want := []string{"report:reported", "merged_in:reported", "register:registered", "register:registered", "dispatch:dispatched",
		"return:registered", "dispatch:dispatched", "handle:handling", "handled:handled", "verify:handling", "handled:handled",
		"verify:verified", "close:closed", "reopen:registered", "dispatch:dispatched", "suspend:suspended", "resume:dispatched"}
	if got := e.events(park.Code); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history\n got %v\nwant %v", got, want)
	}

	// Bad input: each a clear error naming the field, and no case.
	n := e.count("cases")
	for _, c := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E9999", "source": "hotline"}, 422, "category"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E05", "source": "hotline"}, 422, "category"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "pigeon"}, 422, "source"},
		{map[string]any{"lon": 121.47, "lat": 31.23, "category": "E0504", "source": "hotline"}, 422, "lon"},
		{map[string]any{"lat": zgcLat, "category": "E0504", "source": "hotline"}, 422, "lat"},
		{map[string]any{"category": "E0504", "source": "hotline"}, 422, "lon"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "description": strings.Repeat("字", 4001)}, 422, "description"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "photo_urls": []string{"file:///etc/passwd"}}, 422, "photo_urls[0]"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "colour": "red"}, 400, "colour"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "reported_at": "2026-01-01T00:00:00Z"}, 422, "reported_at"},
		{map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "object_id": 987654321}, 422, "object_id"},
	} {
		r := e.do("POST", "/api/v1/cases", inspector, c.body)
		if r.status != c.status {
			t.Errorf("%v: %d, want %d: %s", c.body, r.status, c.status, r.body)
			continue
		}
		if _, f := r.errField(t); f != c.field {
			t.Errorf("%v: error names %q, want %q: %s", c.body, f, c.field, r.body)
		}
		if c.field == "lon" && c.body["lon"] != nil && !strings.Contains(string(r.body), "nearest grid") {
			t.Errorf("outside every district, no nearest grid: %s", r.body)
		}
	}
	if r := e.do("POST", "/api/v1/cases", analyst, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline"}); r.status != 403 {
		t.Errorf("an analyst files a case: %d", r.status)
	}
	if got := e.count("cases"); got != n {
		t.Errorf("refused reports wrote %d cases", got-n)
	}

	byAddress(t, e, inspector, dispatcher)
	timeLimits(t, e, dispatcher)
}

// byAddress files hotline reports that give only an address: a street
// crossing is placed at the crossing, flagged address quality, and an
// address that matches nothing is refused with candidates. The search box
// finds a case by its code.
func byAddress(t *testing.T, e *env, inspector, dispatcher string) {
	c := e.file(dispatcher, map[string]any{"address": "中关村北大街与成府路交叉口", "category": "E0101", "source": "hotline"})
	if c.LocationQuality != "address" || c.Grid == nil {
		t.Fatalf("placed by address: %+v", c)
	}
	var near bool
	if err := e.store.Pool().QueryRow(context.Background(), `
		SELECT bool_and(EXISTS (SELECT 1 FROM objects o WHERE o.name = s AND ST_DWithin(o.geom::geography, c.geom::geography, 30)))
		FROM cases c, unnest(ARRAY['中关村北大街', '成府路']) s WHERE c.code = $1`, c.Code).Scan(&near); err != nil || !near {
		t.Errorf("the crossing is not within 30 m of both streets (%v)", err)
	}
	r := e.do("POST", "/api/v1/cases", inspector, map[string]any{"address": "火星大道与木星路交叉口", "category": "E0101", "source": "hotline"})
	if r.status != 422 || !strings.Contains(string(r.body), "address_not_found") || !strings.Contains(string(r.body), `"candidates"`) {
		t.Errorf("an address matching nothing: %d %s", r.status, r.body)
	}
	r = e.do("GET", "/api/v1/search?q="+c.Code, dispatcher, nil)
	var found struct {
		Results []struct{ Kind, Code string }
	}
	if err := json.Unmarshal(r.body, &found); err != nil || len(found.Results) == 0 || found.Results[0].Kind != "case" || found.Results[0].Code != c.Code {
		t.Errorf("search by case code: %d %s", r.status, r.body)
	}
}

// timeLimits checks deadlines on the working calendar, with a make-up
// working day, and the warning (黄牌) and overdue (红牌) flags and queue.
func timeLimits(t *testing.T, e *env, dispatcher string) {
	// From today to the next Saturday every weekday is made a holiday and
	// that Saturday a make-up working day: a 2-working-day limit
	// dispatched now runs through the Saturday and the Monday after it,
	// and ends at the Tuesday's midnight, local time. Without the make-up
	// day it would end a day later.
	cst := time.FixedZone("CST", 8*3600)
	now := time.Now().In(cst)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, cst)
	sat := today.AddDate(0, 0, 1)
	for sat.Weekday() != time.Saturday {
		sat = sat.AddDate(0, 0, 1)
	}
	byYear := map[int][]map[string]string{}
	for d := today; d.Before(sat); d = d.AddDate(0, 0, 1) {
		if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
			byYear[d.Year()] = append(byYear[d.Year()], map[string]string{"date": d.Format("2006-01-02"), "kind": "holiday", "name": "测试假日"})
		}
	}
	byYear[sat.Year()] = append(byYear[sat.Year()], map[string]string{"date": sat.Format("2006-01-02"), "kind": "workday", "name": "调休上班"})
	for y, days := range byYear {
		b, _ := json.Marshal(map[string]any{"days": days})
		if r := e.putCalendar(adminToken, fmt.Sprint(y), "application/json", string(b)); r.status != 200 {
			t.Fatalf("calendar %d: %d %s", y, r.status, r.body)
		}
	}
	// The other servers' calendars follow a change notification; wait for this one's.
	want := sat.AddDate(0, 0, 3)
	var cab caseJSON
	for try := 0; ; try++ {
		c := e.file(dispatcher, map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "C0110", "source": "patrol"})
		e.act(dispatcher, c.Code, "register", nil)
		cab = e.act(dispatcher, c.Code, "dispatch", nil)
		if cab.Deadline == nil {
			t.Fatalf("no deadline: %+v", cab)
		}
		got, _ := time.Parse(time.RFC3339Nano, *cab.Deadline)
		if got.Equal(want) {
			break
		}
		if try == 20 {
			t.Fatalf("2 working days from %s end %s, want %s (the make-up Saturday %s counts)", now, got.In(cst), want, sat.Format("2006-01-02"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if cab.Overdue || cab.Warning || cab.RemainingS == nil || *cab.RemainingS <= 0 {
		t.Errorf("fresh dispatch: overdue %v warning %v remaining %v", cab.Overdue, cab.Warning, cab.RemainingS)
	}

	// A 2-hour parking case whose clock started 100 minutes ago is in its
	// last fifth (warning); one that started 3 hours ago is overdue.
	clockBack := func(code string, minutes int) {
		if _, err := e.store.Pool().Exec(context.Background(), `UPDATE cases SET clock_from = clock_from - make_interval(mins => $2),
			due_at = due_at - make_interval(mins => $2), warn_at = warn_at - make_interval(mins => $2) WHERE code = $1`, code, minutes); err != nil {
			t.Fatal(err)
		}
	}
	var codes []string
	for _, minutes := range []int{100, 180} {
		c := e.file(dispatcher, map[string]any{"lon": zgcLon + float64(minutes)*1e-5, "lat": zgcLat, "category": "E0504", "source": "patrol"})
		e.act(dispatcher, c.Code, "register", nil)
		e.act(dispatcher, c.Code, "dispatch", nil)
		clockBack(c.Code, minutes)
		codes = append(codes, c.Code)
	}
	warn := decodeCase(t, e.do("GET", "/api/v1/cases/"+codes[0], dispatcher, nil))
	late := decodeCase(t, e.do("GET", "/api/v1/cases/"+codes[1], dispatcher, nil))
	if !warn.Warning || warn.Overdue || *warn.RemainingS > 20*60 || *warn.RemainingS < 19*60 {
		t.Errorf("100 of 120 minutes gone: warning %v overdue %v remaining %v s", warn.Warning, warn.Overdue, *warn.RemainingS)
	}
	if !late.Overdue || late.Warning || *late.RemainingS > -59*60 {
		t.Errorf("180 of 120 minutes gone: warning %v overdue %v remaining %v s", late.Warning, late.Overdue, *late.RemainingS)
	}
	list := func(q string) map[string]bool {
		r := e.do("GET", "/api/v1/cases?"+q, dispatcher, nil)
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", q, r.status, r.body)
		}
		var page struct{ Items []caseJSON }
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, c := range page.Items {
			got[c.Code] = true
		}
		return got
	}
	if got := list("overdue=true"); !got[codes[1]] || got[codes[0]] || got[cab.Code] {
		t.Errorf("overdue queue %v", got)
	}
	if got := list("warning=true"); !got[codes[0]] || got[codes[1]] {
		t.Errorf("warning queue %v", got)
	}
	// Suspended in time, a case is neither warned nor overdue while it
	// waits, and keeps the time it had left.
	sus := e.act(dispatcher, codes[0], "suspend", map[string]any{"note": "等待产权单位确认"})
	if sus.Overdue || sus.Warning || sus.Deadline != nil || sus.RemainingS == nil || *sus.RemainingS > 20*60 || *sus.RemainingS < 19*60 {
		t.Errorf("suspended with 20 minutes left: overdue %v warning %v deadline %v remaining %v", sus.Overdue, sus.Warning, sus.Deadline, sus.RemainingS)
	}
	if got := list("overdue=true"); got[codes[0]] {
		t.Errorf("overdue queue holds the case suspended in time: %v", got)
	}
	if got := list("warning=true"); got[codes[0]] {
		t.Errorf("warning queue holds the suspended case: %v", got)
	}
	e.act(dispatcher, codes[0], "resume", nil)
	// Handled late stays late: the closing ledger counts it.
	jj := e.token("unit", "JJ")
	h := e.act(jj, codes[1], "handled", map[string]any{"note": "已处理"})
	if !h.Overdue {
		t.Errorf("handled after its deadline, not overdue: %+v", h)
	}
}

// The duplicate search names the monthly partitions of its window: a
// window across a month's end reads both months, and one reaching a month
// without a partition (its cases in the default partition) still finds
// them.
func TestCaseDuplicatesAcrossPartitions(t *testing.T) {
	e := beijingEnv(t)
	at := func(s string) map[string]any {
		return map[string]any{"lon": zgcLon, "lat": zgcLat, "category": "E0504", "source": "hotline", "reported_at": s}
	}
	month := time.Now().UTC()
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC) // partitions are UTC months
	old := month.AddDate(-3, 0, 0)                                          // older than every partition: the default one
	for _, tc := range []struct{ name, first, second, part string }{
		{"across a month's end", month.Add(-30 * time.Minute).Format(time.RFC3339), month.Add(30 * time.Minute).Format(time.RFC3339),
			"cases_" + month.Add(-time.Hour).Format("200601")},
		{"before every partition", old.Format(time.RFC3339), old.Add(time.Hour).Format(time.RFC3339), "cases_default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := e.file(adminToken, at(tc.first))
			second := e.file(adminToken, at(tc.second))
			if len(second.Duplicates) != 1 || second.Duplicates[0].Code != first.Code {
				t.Errorf("possible duplicates of %s: %+v, want %s", second.Code, second.Duplicates, first.Code)
			}
			var part string
			if err := e.store.Pool().QueryRow(context.Background(),
				`SELECT tableoid::regclass::text FROM cases WHERE code = $1`, first.Code).Scan(&part); err != nil {
				t.Fatal(err)
			}
			if part != tc.part {
				t.Errorf("the first case is in %s, want %s", part, tc.part)
			}
		})
	}
}
