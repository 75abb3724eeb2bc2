package api_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/citygrid/citygrid/internal/testdb"
)

// open311Schemas compiles the GeoReport v2 schemas of ../shared/open311
// (skipped when absent, a failure in CI).
func open311Schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	root, err := testdb.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "open311", "georeport-v2")
	if _, err := os.Stat(dir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the Open311 schemas are missing in CI: %v", err)
		}
		t.Skipf("the Open311 schemas (%s) are absent; skipping (required when CI=true)", dir)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // date-time and uri are checked, not only annotated
	out := map[string]*jsonschema.Schema{}
	for _, name := range []string{"services", "service-definition", "requests"} {
		s, err := c.Compile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatalf("schema %s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

// validate checks a JSON answer against a schema.
func validate(t *testing.T, s *jsonschema.Schema, what string, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: not JSON: %v\n%s", what, err, body)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("%s does not validate against the GeoReport v2 schema: %v\n%s", what, err, body)
	}
}

// get311 is a plain client's GET, the token as api_key.
func (e *env) get311(path, key string) response {
	e.t.Helper()
	u := e.url + path
	if key != "" {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "api_key=" + url.QueryEscape(key)
	}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

// post311 is a plain client's form POST, as an unchanged Open311 client
// sends it.
func (e *env) post311(path string, form url.Values, header map[string]string) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

type request311 struct {
	ID            string   `json:"service_request_id" xml:"service_request_id"`
	Status        string   `json:"status" xml:"status"`
	StatusNotes   *string  `json:"status_notes" xml:"status_notes"`
	ServiceName   string   `json:"service_name" xml:"service_name"`
	ServiceCode   string   `json:"service_code" xml:"service_code"`
	Description   *string  `json:"description" xml:"description"`
	Agency        *string  `json:"agency_responsible" xml:"agency_responsible"`
	ServiceNotice *string  `json:"service_notice" xml:"service_notice"`
	Requested     string   `json:"requested_datetime" xml:"requested_datetime"`
	Expected      *string  `json:"expected_datetime" xml:"expected_datetime"`
	Address       *string  `json:"address" xml:"address"`
	Lat           *float64 `json:"lat" xml:"lat"`
	Long          *float64 `json:"long" xml:"long"`
	MediaURL      *string  `json:"media_url" xml:"media_url"`
}

func decode311(t *testing.T, r response) []request311 {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var out []request311
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("not a request list: %v\n%s", err, r.body)
	}
	return out
}

func ids311(rs []request311) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID)
	}
	return s
}

// errors311 checks the specification's error array and its status.
func errors311(t *testing.T, what string, r response, status int, mention string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: %d, want %d: %s", what, r.status, status, r.body)
		return
	}
	var list []struct {
		Code        *int    `json:"code"`
		Description *string `json:"description"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil || len(list) == 0 {
		t.Errorf("%s: not an Open311 error array: %v %s", what, err, r.body)
		return
	}
	for _, e := range list {
		if e.Code == nil || *e.Code != status || e.Description == nil || *e.Description == "" {
			t.Errorf("%s: error %s", what, r.body)
		}
	}
	if mention != "" && !strings.Contains(string(r.body), mention) {
		t.Errorf("%s: the errors do not mention %q: %s", what, mention, r.body)
	}
}

// An Open311 client files cases on the Beijing demo with a plain form POST
// and reads them back by id and in lists; every JSON answer validates
// against the GeoReport v2 schemas, XML parses, personal data never appear
// in GET answers, and bad input is the specification's error array.
func TestOpen311Beijing(t *testing.T) {
	schemas := open311Schemas(t)
	e := beijingEnv(t)
	inspector := e.token("inspector", "")
	dispatcher := e.token("dispatcher", "")
	analyst := e.token("analyst", "")

	// Discovery and services are public.
	r := e.get311("/open311/v2/discovery.json", "")
	var disc struct {
		Endpoints []struct {
			URL     string   `json:"url"`
			Formats []string `json:"formats"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(r.body, &disc); err != nil || r.status != 200 || len(disc.Endpoints) != 1 ||
		disc.Endpoints[0].URL != e.url+"/open311/v2" {
		t.Fatalf("discovery: %d %v %s", r.status, err, r.body)
	}
	r = e.get311("/open311/v2/discovery.xml", "")
	var discX struct {
		XMLName xml.Name `xml:"discovery"`
		URLs    []string `xml:"endpoints>endpoint>url"`
		Formats []string `xml:"endpoints>endpoint>formats>format"`
	}
	if err := xml.Unmarshal(r.body, &discX); err != nil || len(discX.URLs) != 1 || len(discX.Formats) != 2 {
		t.Errorf("discovery.xml: %v %s", err, r.body)
	}

	r = e.get311("/open311/v2/services.json", "")
	validate(t, schemas["services"], "services.json", r.body)
	var services []struct {
		Code, Name, Group, Type string
		Metadata                bool
	}
	if err := json.Unmarshal(bytes.ReplaceAll(bytes.ReplaceAll(r.body, []byte(`"service_code"`), []byte(`"code"`)),
		[]byte(`"service_name"`), []byte(`"name"`)), &services); err != nil {
		t.Fatal(err)
	}
	var parking bool
	for _, s := range services {
		if len(s.Code) != 5 {
			t.Errorf("service %q is not a minor class", s.Code)
		}
		if s.Code == "E0504" {
			parking = s.Name == "机动车乱停放" && s.Group == "街面秩序" && s.Type == "realtime" && s.Metadata
		}
	}
	if !parking {
		t.Errorf("E0504 missing or wrong in services: %s", r.body)
	}
	r = e.get311("/open311/v2/services.xml", "")
	var servicesX struct {
		XMLName  xml.Name `xml:"services"`
		Services []struct {
			Code  string `xml:"service_code"`
			Group string `xml:"group"`
		} `xml:"service"`
	}
	if err := xml.Unmarshal(r.body, &servicesX); err != nil || len(servicesX.Services) != len(services) {
		t.Errorf("services.xml: %v, %d services, want %d", err, len(servicesX.Services), len(services))
	}

	r = e.get311("/open311/v2/services/E0504.json", "")
	validate(t, schemas["service-definition"], "services/E0504.json", r.body)
	if !bytes.Contains(r.body, []byte(`"code":"source"`)) || !bytes.Contains(r.body, []byte(`"key":"citizen"`)) {
		t.Errorf("definition without the source choice: %s", r.body)
	}
	r = e.get311("/open311/v2/services/E0504.xml", "")
	var defX struct {
		XMLName xml.Name `xml:"service_definition"`
		Code    string   `xml:"service_code"`
		Keys    []string `xml:"attributes>attribute>values>value>key"`
	}
	if err := xml.Unmarshal(r.body, &defX); err != nil || defX.Code != "E0504" || len(defX.Keys) < 2 {
		t.Errorf("services/E0504.xml: %v %s", err, r.body)
	}
	errors311(t, "unknown service definition", e.get311("/open311/v2/services/E9999.json", ""), 404, "E9999")

	// A plain client files a case.
	before := e.count("cases")
	form := url.Values{"api_key": {inspector}, "service_code": {"E0504"}, "lat": {"39.9845"}, "long": {"116.3075"},
		"description": {"小区门口人行道上停了三辆车"}, "first_name": {"王"}, "last_name": {"五"}, "phone": {"13800000002"},
		"email": {"wangwu@example.com"}, "device_id": {"abc"}, "media_url": {"https://example.com/photos/1.jpg"}}
	r = e.post311("/open311/v2/requests.json", form, map[string]string{"Idempotency-Key": "open311-test-1"})
	if r.status != http.StatusCreated {
		t.Fatalf("POST requests.json: %d %s", r.status, r.body)
	}
	var created []map[string]any
	if err := json.Unmarshal(r.body, &created); err != nil || len(created) != 1 {
		t.Fatalf("answer %v %s", err, r.body)
	}
	code, _ := created[0]["service_request_id"].(string)
	if !regexp.MustCompile(`^110108-\d{8}-\d{5}$`).MatchString(code) {
		t.Fatalf("service_request_id %q is not a Haidian case code", code)
	}
	if v, ok := created[0]["account_id"]; !ok || v != nil {
		t.Errorf("account_id %v (present %v), want null", v, ok)
	}
	if n, _ := created[0]["service_notice"].(string); !strings.Contains(n, "2 小时") {
		t.Errorf("service_notice %q does not give the 2-hour limit", n)
	}
	// A retry with the same key is the same case; the same key with another body is refused.
	r = e.post311("/open311/v2/requests.json", form, map[string]string{"Idempotency-Key": "open311-test-1"})
	if r.status != 200 || !bytes.Contains(r.body, []byte(code)) || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s", r.status, r.body)
	}
	other := url.Values{}
	for k, v := range form {
		other[k] = v
	}
	other.Set("description", "另一件事")
	errors311(t, "reused key", e.post311("/open311/v2/requests.json", other, map[string]string{"Idempotency-Key": "open311-test-1"}),
		400, "Idempotency-Key")
	if n := e.count("cases"); n != before+1 {
		t.Errorf("%d cases after one report and its retries, want %d", n, before+1)
	}

	// Intake made it a citizen's case, routed to the traffic police, with
	// the reporter kept for the dispatcher.
	k := decodeCase(t, e.do("GET", "/api/v1/cases/"+code, dispatcher, nil))
	if k.ProposedUnit == nil || k.ProposedUnit.Code != "JJ" || k.Category != "E0504" ||
		len(k.Reporters) != 1 || k.Reporters[0].Name != "王五" || k.Reporters[0].Phone != "13800000002" {
		t.Errorf("the filed case: %+v", k)
	}
	var src struct{ Source string }
	_ = json.Unmarshal(e.do("GET", "/api/v1/cases/"+code, dispatcher, nil).body, &src)
	if src.Source != "citizen" {
		t.Errorf("source %q, want citizen", src.Source)
	}

	// Read back by id: open, at the point, without personal data.
	r = e.get311("/open311/v2/requests/"+code+".json", analyst)
	validate(t, schemas["requests"], "requests/{id}.json", r.body)
	for _, personal := range []string{"13800000002", "王五", "wangwu"} {
		if bytes.Contains(r.body, []byte(personal)) {
			t.Errorf("personal data %q in a GET answer: %s", personal, r.body)
		}
	}
	got := decode311(t, r)
	if !strings.HasSuffix(got[0].Requested, "+08:00") {
		t.Errorf("requested_datetime %q is not in the city's time (+08:00)", got[0].Requested)
	}
	if len(got) != 1 || got[0].ID != code || got[0].Status != "open" || got[0].ServiceCode != "E0504" ||
		got[0].ServiceName != "机动车乱停放" || got[0].Lat == nil || math.Abs(*got[0].Lat-39.9845) > 1e-6 ||
		math.Abs(*got[0].Long-116.3075) > 1e-6 || got[0].MediaURL == nil || *got[0].MediaURL != "https://example.com/photos/1.jpg" ||
		got[0].Agency != nil || got[0].Expected != nil {
		t.Errorf("requests/{id}.json: %s", r.body)
	}

	// Dispatched: the unit answers for it, the deadline is expected, the
	// note is the status's.
	e.act(dispatcher, code, "register", nil)
	e.act(dispatcher, code, "dispatch", map[string]any{"note": "请交警大队处理"})
	got = decode311(t, e.get311("/open311/v2/requests/"+code+".json", analyst))
	if got[0].Status != "open" || got[0].Agency == nil || *got[0].Agency == "" || got[0].Expected == nil ||
		got[0].StatusNotes == nil || *got[0].StatusNotes != "请交警大队处理" {
		t.Errorf("dispatched request: %+v", got[0])
	}

	// A second report, cancelled: closed, with the reason as its note.
	form2 := url.Values{"api_key": {inspector}, "service_code": {"E0504"}, "lat": {"39.9846"}, "long": {"116.3076"},
		"description": {"又一辆车"}}
	r = e.post311("/open311/v2/requests.json", form2, nil)
	if r.status != http.StatusCreated {
		t.Fatalf("second POST: %d %s", r.status, r.body)
	}
	var created2 []struct {
		ID string `json:"service_request_id"`
	}
	if err := json.Unmarshal(r.body, &created2); err != nil || len(created2) != 1 {
		t.Fatal(err, string(r.body))
	}
	code2 := created2[0].ID
	e.act(dispatcher, code2, "cancel", map[string]any{"note": "重复上报"})

	r = e.get311("/open311/v2/requests.json?service_request_id="+code2+","+code, analyst)
	validate(t, schemas["requests"], "requests.json by ids", r.body)
	got = decode311(t, r)
	if strings.Join(ids311(got), ",") != code2+","+code || got[0].Status != "closed" || got[0].StatusNotes == nil ||
		*got[0].StatusNotes != "重复上报" {
		t.Errorf("by ids: %s", r.body)
	}
	// Lists by status, with the token as a Bearer header this time.
	list := func(q string) []string {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+"/open311/v2/requests.json?"+q, nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		r := e.send(req)
		validate(t, schemas["requests"], "requests.json?"+q, r.body)
		return ids311(decode311(t, r))
	}
	if open := list("status=open&service_code=E0504"); !slices.Contains(open, code) || slices.Contains(open, code2) {
		t.Errorf("status=open: %v; want %s and not %s", open, code, code2)
	}
	if closed := list("status=closed"); slices.Contains(closed, code) || !slices.Contains(closed, code2) {
		t.Errorf("status=closed: %v; want %s and not %s", closed, code2, code)
	}
	if all := list("start_date=2020-01-01T00:00:00Z&end_date=2020-02-01T00:00:00Z"); len(all) != 0 {
		t.Errorf("a window in 2020 lists %v", all)
	}
	if other := list("service_code=E0101"); slices.Contains(other, code) {
		t.Errorf("service_code=E0101 lists the parking case")
	}

	// XML: the specification's shapes.
	r = e.get311("/open311/v2/requests.xml?status=open", analyst)
	var reqX struct {
		XMLName  xml.Name     `xml:"service_requests"`
		Requests []request311 `xml:"request"`
	}
	if err := xml.Unmarshal(r.body, &reqX); err != nil || r.status != 200 || !slices.Contains(func() []string {
		var s []string
		for _, q := range reqX.Requests {
			s = append(s, q.ID)
		}
		return s
	}(), code) {
		t.Errorf("requests.xml: %v %s", err, r.body)
	}
	r = e.get311("/open311/v2/requests/"+code+".xml", analyst)
	reqX.Requests = nil
	if err := xml.Unmarshal(r.body, &reqX); err != nil || len(reqX.Requests) != 1 || reqX.Requests[0].ServiceCode != "E0504" ||
		reqX.Requests[0].Lat == nil {
		t.Errorf("requests/{id}.xml: %v %s", err, r.body)
	}
	r = e.post311("/open311/v2/requests.xml", url.Values{"api_key": {inspector}, "service_code": {"E0101"},
		"lat": {"39.9845"}, "long": {"116.3075"}, "description": {"垃圾"}}, nil)
	var createdX struct {
		XMLName  xml.Name `xml:"service_requests"`
		Requests []struct {
			ID string `xml:"service_request_id"`
		} `xml:"request"`
	}
	if err := xml.Unmarshal(r.body, &createdX); err != nil || r.status != 201 || len(createdX.Requests) != 1 ||
		!strings.HasPrefix(createdX.Requests[0].ID, "110108-") {
		t.Errorf("POST requests.xml: %d %v %s", r.status, err, r.body)
	}

	// Bad input: the specification's error array, and nothing filed.
	before = e.count("cases")
	base := func(change func(url.Values)) url.Values {
		v := url.Values{"api_key": {inspector}, "service_code": {"E0504"}, "lat": {"39.9845"}, "long": {"116.3075"}}
		change(v)
		return v
	}
	errors311(t, "unknown service_code", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("service_code", "E9999") }), nil), 404, "E9999")
	errors311(t, "no service_code", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Del("service_code") }), nil), 400, "service_code")
	errors311(t, "no location", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Del("lat"); v.Del("long") }), nil), 400, "address_string")
	errors311(t, "bad lat", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("lat", "north") }), nil), 400, "lat")
	errors311(t, "lat out of range", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("long", "190") }), nil), 400, "long")
	errors311(t, "bad media_url", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("media_url", "ftp://x/y.jpg") }), nil), 400, "media_url")
	errors311(t, "unknown attribute", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("attribute[colour]", "red") }), nil), 400, "attribute[colour]")
	errors311(t, "bad source", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("attribute[source]", "rumour") }), nil), 400, "attribute[source]")
	errors311(t, "bad api_key", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("api_key", "cg_not_a_token") }), nil), 403, "api_key")
	errors311(t, "no api_key", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Del("api_key") }), nil), 403, "api_key")
	errors311(t, "a role that may not file", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("api_key", analyst) }), nil), 403, "")
	errors311(t, "outside every district", e.post311("/open311/v2/requests.json", base(func(v url.Values) { v.Set("lat", "31.2"); v.Set("long", "121.4") }), nil), 400, "")
	errors311(t, "list without a key", e.get311("/open311/v2/requests.json", ""), 403, "api_key")
	errors311(t, "bad status", e.get311("/open311/v2/requests.json?status=pending", analyst), 400, "status")
	errors311(t, "over 90 days", e.get311("/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", analyst), 400, "90 days")
	errors311(t, "unknown request", e.get311("/open311/v2/requests/110108-20200101-00001.json", analyst), 404, "110108-20200101-00001")
	req, _ := http.NewRequest("POST", e.url+"/open311/v2/requests.json", strings.NewReader(`{"service_code":"E0504"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+inspector)
	errors311(t, "a JSON body", e.send(req), 400, "x-www-form-urlencoded")
	if n := e.count("cases"); n != before {
		t.Errorf("refused reports left %d cases", n-before)
	}
	r = e.get311("/open311/v2/requests/nonesuch.xml", "bad-key")
	var errX struct {
		XMLName xml.Name `xml:"errors"`
		Errors  []struct {
			Code        int    `xml:"code"`
			Description string `xml:"description"`
		} `xml:"error"`
	}
	if err := xml.Unmarshal(r.body, &errX); err != nil || r.status != 403 || len(errX.Errors) != 1 || errX.Errors[0].Code != 403 {
		t.Errorf("an XML error: %d %v %s", r.status, err, r.body)
	}
}
