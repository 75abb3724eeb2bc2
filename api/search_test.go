package api_test

import (
	"encoding/json"
	"net/url"
	"testing"
)

type searchBody struct {
	Query   string
	Results []struct {
		Kind, Name, Match, Layer string
		Point                    []float64
		BBox                     []float64
		District                 *struct{ Code, Name string }
	}
}

// The search box over HTTP on the Beijing demo: any role may search, bad
// parameters are a 400 naming them, and an address that matches nothing
// is a 422 address_not_found with candidates.
func TestSearchAPI(t *testing.T) {
	e := beijingEnv(t)
	analyst := e.token("analyst", "")
	r := e.do("GET", "/api/v1/search?q="+url.QueryEscape("中关")+"&kind=region,object&limit=5", analyst, nil)
	if r.status != 200 {
		t.Fatalf("search: %d %s", r.status, r.body)
	}
	var b searchBody
	if err := json.Unmarshal(r.body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Query != "中关" || len(b.Results) != 5 {
		t.Fatalf("%d results for %q: %s", len(b.Results), b.Query, r.body)
	}
	for _, res := range b.Results {
		if (res.Kind != "region" && res.Kind != "object") || len(res.Point) != 2 || len(res.BBox) != 4 || res.District == nil || res.District.Name != "海淀区" {
			t.Errorf("result %+v", res)
		}
	}

	r = e.do("GET", "/api/v1/search?q=xyzzy-nothing", analyst, nil)
	if res, ok := r.json(t)["results"].([]any); r.status != 200 || !ok || len(res) != 0 {
		t.Errorf("no results: %d %s", r.status, r.body)
	}

	e.expectErrors([]errCase{
		{path: "/api/v1/search?q=x", status: 401},
		{path: "/api/v1/search", token: analyst, status: 400, field: "q"},
		{path: "/api/v1/search?q=%20", token: analyst, status: 400, field: "q"},
		{path: "/api/v1/search?q=x&kind=street", token: analyst, status: 400, field: "kind"},
		{path: "/api/v1/search?q=x&limit=51", token: analyst, status: 400, field: "limit"},
		{path: "/api/v1/search?q=x&limit=ten", token: analyst, status: 400, field: "limit"},
		{path: "/api/v1/search?q=x&region=999999", token: analyst, status: 400, field: "region"},
		{path: "/api/v1/search/address?address=x&region=999999", token: analyst, status: 400, field: "region"},
		{path: "/api/v1/search/address", token: analyst, status: 422, field: "address"},
	})

	r = e.do("GET", "/api/v1/search/address?address="+url.QueryEscape("中关村北大街与成府路交叉口"), e.token("dispatcher", ""), nil)
	if r.status != 200 {
		t.Fatalf("address: %d %s", r.status, r.body)
	}
	var p struct {
		Point     []float64
		Match     struct{ Kind, Name string }
		Ambiguous bool
	}
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Match.Kind != "crossing" || p.Match.Name != "中关村北大街与成府路" || len(p.Point) != 2 || p.Ambiguous {
		t.Errorf("the crossing: %s", r.body)
	}

	// A unit's name is no place: 422, with the unit among the candidates.
	r = e.do("GET", "/api/v1/search/address?address="+url.QueryEscape("城市管理委员会"), analyst, nil)
	if r.status != 422 {
		t.Fatalf("an unknown address: %d %s", r.status, r.body)
	}
	if code, field := r.errField(t); code != "address_not_found" || field != "address" {
		t.Errorf("an unknown address: %s %s", code, field)
	}
	cands, ok := r.json(t)["error"].(map[string]any)["candidates"].([]any)
	if !ok {
		t.Fatalf("no candidates array: %s", r.body)
	}
	found := false
	for _, c := range cands {
		found = found || c.(map[string]any)["name"] == "城市管理委员会" && c.(map[string]any)["kind"] == "unit"
	}
	if !found {
		t.Errorf("the unit is not among the candidates: %s", r.body)
	}

	// An address naming a street it cannot cross with another: placed on
	// the street, for a dispatcher to confirm.
	r = e.do("GET", "/api/v1/search/address?address="+url.QueryEscape("火星路与成府路交叉口"), analyst, nil)
	if m := r.json(t); r.status != 200 || m["ambiguous"] != true || m["match"].(map[string]any)["name"] != "成府路" {
		t.Errorf("火星路与成府路: %d %s", r.status, r.body)
	}
}
