package api_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// accessEnv is a district with three units, each with a contact, and live
// and ended assignments of two of them.
func accessEnv(t *testing.T) (e *env, ids map[string][]int64) {
	t.Helper()
	e = newEnv(t)
	if r := e.do("POST", "/api/v1/regions", adminToken, map[string]any{"code": "110108", "name": "海淀区", "level": "district", "geometry": square(116.2, 39.9, 0.2)}); r.status != 201 {
		t.Fatalf("region: %d %s", r.status, r.body)
	}
	for i, code := range []string{"CG", "HW", "SJ"} {
		if r := e.do("POST", "/api/v1/units", adminToken, map[string]any{"code": code, "name": "单位" + code, "kind": "department", "region": "110108",
			"contact": map[string]any{"person": "联系人" + code, "phone": "138-0000-000" + strconv.Itoa(i)}}); r.status != 201 {
			t.Fatalf("unit %s: %d %s", code, r.status, r.body)
		}
	}
	ids = map[string][]int64{}
	for _, a := range []struct{ theme, unit string }{{"greening", "CG"}, {"sanitation", "CG"}, {"streetlight", "HW"}, {"frontage", "HW"}} {
		r := e.do("POST", "/api/v1/assignments", adminToken, map[string]any{"theme": a.theme, "unit": a.unit, "role": "lead", "target_kind": "region", "target": "110108"})
		if r.status != 201 {
			t.Fatalf("assignment %v: %d %s", a, r.status, r.body)
		}
		ids[a.unit] = append(ids[a.unit], int64(r.json(t)["id"].(float64)))
	}
	// One of HW's ends: history is read by id and with at=.
	if r := e.do("DELETE", "/api/v1/assignments/"+strconv.FormatInt(ids["HW"][1], 10), adminToken, nil); r.status != 200 {
		t.Fatalf("end: %d %s", r.status, r.body)
	}
	return e, ids
}

type unitJSON struct {
	Code    string          `json:"code"`
	Contact json.RawMessage `json:"contact"`
}

func unitList(t *testing.T, r response) map[string]unitJSON {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("units: %d %s", r.status, r.body)
	}
	var l struct{ Items []unitJSON }
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatal(err)
	}
	out := map[string]unitJSON{}
	for _, u := range l.Items {
		out[u.Code] = u
	}
	return out
}

// hasContact tells whether a unit's JSON carries its contact (a phone).
func hasContact(u unitJSON) bool { return strings.Contains(string(u.Contact), "138-0000-000") }

func TestUnitContactsArePersonalData(t *testing.T) {
	e, _ := accessEnv(t)
	analyst, unitCG := e.token("analyst", ""), e.token("unit", "CG")

	// Analysts read units, without any contact.
	for _, path := range []string{"/api/v1/units", "/api/v1/units?q=CG", "/api/v1/units/CG", "/api/v1/units/HW"} {
		r := e.do("GET", path, analyst, nil)
		if r.status != 200 {
			t.Fatalf("analyst %s: %d %s", path, r.status, r.body)
		}
		if body := string(r.body); strings.Contains(body, `"contact"`) || strings.Contains(body, "138-0000") || strings.Contains(body, "联系人") {
			t.Errorf("analyst %s sees contacts: %s", path, body)
		}
	}
	if l := unitList(t, e.do("GET", "/api/v1/units", analyst, nil)); len(l) != 3 {
		t.Errorf("analyst lists %d units, want 3 (without contacts, not without units)", len(l))
	}

	// A unit reads its own contact only.
	l := unitList(t, e.do("GET", "/api/v1/units", unitCG, nil))
	if len(l) != 3 || !hasContact(l["CG"]) || l["HW"].Contact != nil || l["SJ"].Contact != nil {
		t.Errorf("unit CG's list: %+v", l)
	}
	if r := e.do("GET", "/api/v1/units/CG", unitCG, nil); r.status != 200 || !strings.Contains(string(r.body), "138-0000-0000") {
		t.Errorf("unit CG reading itself: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/units/HW", unitCG, nil); r.status != 200 || strings.Contains(string(r.body), `"contact"`) || strings.Contains(string(r.body), "138-0000") {
		t.Errorf("unit CG reading HW: %d %s", r.status, r.body)
	}

	// Planners, dispatchers and admins read every contact, as before.
	for role, tok := range map[string]string{"planner": e.token("planner", ""), "dispatcher": e.token("dispatcher", ""), "admin": adminToken} {
		l := unitList(t, e.do("GET", "/api/v1/units", tok, nil))
		for _, code := range []string{"CG", "HW", "SJ"} {
			if !hasContact(l[code]) {
				t.Errorf("%s does not see %s's contact: %s", role, code, l[code].Contact)
			}
		}
		if r := e.do("GET", "/api/v1/units/SJ", tok, nil); !strings.Contains(string(r.body), "138-0000-0002") {
			t.Errorf("%s reading SJ: %d %s", role, r.status, r.body)
		}
	}
}

func assignmentUnits(t *testing.T, r response) (units map[string]int, ids map[int64]bool) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("assignments: %d %s", r.status, r.body)
	}
	var l struct {
		Items []struct {
			ID   int64
			Unit string
		}
		Total int
	}
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatal(err)
	}
	if l.Total != len(l.Items) {
		t.Errorf("total %d, %d items", l.Total, len(l.Items))
	}
	units, ids = map[string]int{}, map[int64]bool{}
	for _, a := range l.Items {
		units[a.Unit]++
		ids[a.ID] = true
	}
	return units, ids
}

func TestUnitTokensReadOwnAssignments(t *testing.T) {
	e, ids := accessEnv(t)
	unitCG, unitHW, planner := e.token("unit", "CG"), e.token("unit", "HW"), e.token("planner", "")
	id := func(unit string, i int) string { return strconv.FormatInt(ids[unit][i], 10) }
	future := "2100-01-01T00:00:00Z"
	liveHW := id("HW", 0)

	for _, path := range []string{"/api/v1/assignments", "/api/v1/assignments?unit=CG", "/api/v1/assignments?theme=greening",
		"/api/v1/assignments?target_kind=region&target=110108", "/api/v1/assignments?at=" + future} {
		units, _ := assignmentUnits(t, e.do("GET", path, unitCG, nil))
		if len(units) != 1 || units["CG"] == 0 {
			t.Errorf("unit CG, %s: units %v, want CG's only", path, units)
		}
	}
	if units, _ := assignmentUnits(t, e.do("GET", "/api/v1/assignments", unitCG, nil)); units["CG"] != 2 {
		t.Errorf("unit CG sees %d of its 2 assignments", units["CG"])
	}
	if units, _ := assignmentUnits(t, e.do("GET", "/api/v1/assignments", unitHW, nil)); len(units) != 1 || units["HW"] != 1 {
		t.Errorf("unit HW sees %v, want its one live assignment", units)
	}
	if units, _ := assignmentUnits(t, e.do("GET", "/api/v1/assignments?theme=streetlight", unitCG, nil)); len(units) != 0 {
		t.Errorf("unit CG sees HW's streetlight duty: %v", units)
	}

	// Another unit by name: refused. Another unit's assignment by id: not
	// found, as a missing one is (live or ended).
	e.expectErrors([]errCase{
		{"/api/v1/assignments?unit=HW", unitCG, 403, ""},
		{"/api/v1/assignments?unit=HW&at=" + future, unitCG, 403, ""},
		{"/api/v1/assignments/" + liveHW, unitCG, 404, ""},
		{"/api/v1/assignments/" + id("HW", 1), unitCG, 404, ""},
		{"/api/v1/assignments/" + id("CG", 0), unitHW, 404, ""},
	})
	if r := e.do("GET", "/api/v1/assignments?unit=HW", unitCG, nil); strings.Contains(string(r.body), "streetlight") {
		t.Errorf("the refusal shows HW's duties: %s", r.body)
	}
	hidden := e.do("GET", "/api/v1/assignments/"+liveHW, unitCG, nil)
	missing := e.do("GET", "/api/v1/assignments/999999999", unitCG, nil)
	hc, _ := hidden.errField(t)
	mc, _ := missing.errField(t)
	hm := hidden.json(t)["error"].(map[string]any)["message"].(string)
	mm := missing.json(t)["error"].(map[string]any)["message"].(string)
	if hc != mc || strings.ReplaceAll(hm, liveHW, "N") != strings.ReplaceAll(mm, "999999999", "N") {
		t.Errorf("another unit's assignment is told apart from a missing one:\n%s\n%s", hidden.body, missing.body)
	}
	for _, own := range []string{id("CG", 0), id("CG", 1)} {
		if r := e.do("GET", "/api/v1/assignments/"+own, unitCG, nil); r.status != 200 || r.json(t)["unit"] != "CG" {
			t.Errorf("unit CG reading its assignment %s: %d %s", own, r.status, r.body)
		}
	}
	if r := e.do("GET", "/api/v1/assignments/"+id("HW", 1), unitHW, nil); r.status != 200 || r.json(t)["valid_to"] == nil {
		t.Errorf("unit HW reading its ended assignment: %d %s", r.status, r.body)
	}

	// Planners, analysts and admins read every unit's, as before.
	for role, tok := range map[string]string{"planner": planner, "analyst": e.token("analyst", ""), "admin": adminToken} {
		units, got := assignmentUnits(t, e.do("GET", "/api/v1/assignments", tok, nil))
		if units["CG"] != 2 || units["HW"] != 1 || !got[ids["HW"][0]] {
			t.Errorf("%s sees %v", role, units)
		}
		if units, _ := assignmentUnits(t, e.do("GET", "/api/v1/assignments?unit=HW", tok, nil)); len(units) != 1 || units["HW"] != 1 {
			t.Errorf("%s, unit=HW: %v", role, units)
		}
		for _, other := range []string{liveHW, id("HW", 1), id("CG", 0)} {
			if r := e.do("GET", "/api/v1/assignments/"+other, tok, nil); r.status != 200 {
				t.Errorf("%s reading assignment %s: %d %s", role, other, r.status, r.body)
			}
		}
	}
}
