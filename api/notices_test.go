package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/notices"
	"github.com/citygrid/citygrid/internal/app"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// noticesEnv is newEnv that keeps the app, to enqueue notices as the cases
// workflow does and to shut the streams down.
func noticesEnv(t *testing.T, cfg notices.Config) (*env, *app.App) {
	t.Helper()
	pool := testdb.Pool(t)
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The tests' receivers are on loopback, which webhooks reach only when allowed.
	cfg.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	a, err := app.New(ctx, pool, m, app.Config{Codes: grids.DefaultCodeRules(), Notices: cfg,
		API: api.Config{AdminToken: adminToken, Version: "test"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go a.Run(ctx)
	hs := httptest.NewServer(a.Server)
	t.Cleanup(hs.Close)
	return &env{t: t, url: hs.URL, store: a.Store, migrator: m, resolver: a.Resolver}, a
}

func (e *env) unit(code string) {
	e.t.Helper()
	if r := e.do("POST", "/api/v1/units", adminToken, map[string]any{"code": code, "name": code + " 城管", "kind": "department"}); r.status != 201 {
		e.t.Fatalf("create unit %s: %d %s", code, r.status, r.body)
	}
}

// dispatch stands for a case transition: it commits a notice through
// Enqueue in a transaction of its own.
func dispatch(t *testing.T, a *app.App, caseCode, unit string) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), a.Pool, func(tx pgx.Tx) error {
		return a.Notices.Enqueue(context.Background(), tx, notices.Notice{Kind: notices.KindDispatched, Case: caseCode, Unit: unit,
			At: time.Now(), Data: map[string]any{"note": "请于两个工作日内处置"}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWebhooksAPI(t *testing.T) {
	e, a := noticesEnv(t, notices.Config{})
	e.unit("CG-HD")
	e.unit("CG-XC")
	hd, xc, analyst := e.token("unit", "CG-HD"), e.token("unit", "CG-XC"), e.token("analyst", "")

	got := make(chan *http.Request, 10)
	bodies := make(chan []byte, 10)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer recv.Close()

	// Who may subscribe: admin and the unit's own tokens.
	for _, c := range []struct {
		token  string
		status int
	}{{xc, 403}, {analyst, 403}, {"", 401}} {
		if r := e.do("POST", "/api/v1/units/CG-HD/webhooks", c.token, map[string]any{"url": recv.URL}); r.status != c.status {
			t.Errorf("create with a token of another kind: %d, want %d: %s", r.status, c.status, r.body)
		}
	}
	for _, c := range []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"url": "ftp://example.org/in"}, 422, "url"},
		{map[string]any{"url": recv.URL, "events": []string{"closed"}}, 422, "events[0]"},
		{map[string]any{"url": recv.URL, "secret": "short"}, 422, "secret"},
		{map[string]any{"url": recv.URL, "colour": "red"}, 400, "colour"},
		{map[string]any{"url": 7}, 400, "url"},
	} {
		r := e.do("POST", "/api/v1/units/CG-HD/webhooks", hd, c.body)
		if r.status != c.status {
			t.Errorf("%v: %d, want %d: %s", c.body, r.status, c.status, r.body)
			continue
		}
		if _, f := r.errField(t); f != c.field {
			t.Errorf("%v: error names %q, want %q", c.body, f, c.field)
		}
	}
	if r := e.do("POST", "/api/v1/units/NOPE/webhooks", adminToken, map[string]any{"url": recv.URL}); r.status != 404 {
		t.Errorf("unknown unit: %d", r.status)
	}
	r := e.do("POST", "/api/v1/units/CG-HD/webhooks", hd, map[string]any{"url": recv.URL + "/citygrid", "events": []string{"dispatched"}})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var hook struct {
		ID     int64    `json:"id"`
		Secret string   `json:"secret"`
		Events []string `json:"events"`
	}
	json.Unmarshal(r.body, &hook)
	if hook.Secret == "" || r.header.Get("Location") == "" || len(hook.Events) != 1 {
		t.Fatalf("created webhook shows no generated secret or location: %s", r.body)
	}
	list := e.do("GET", "/api/v1/units/CG-HD/webhooks", hd, nil)
	if list.status != 200 || !strings.Contains(string(list.body), recv.URL) || strings.Contains(string(list.body), hook.Secret) {
		t.Errorf("list: %d %s (the secret is shown once only)", list.status, list.body)
	}
	if r := e.do("GET", "/api/v1/units/CG-HD/webhooks", xc, nil); r.status != 403 {
		t.Errorf("another unit lists: %d", r.status)
	}

	// A dispatch committed to CG-HD is posted, signed with the secret.
	dispatch(t, a, "110108-20261201-00007", "CG-HD")
	dispatch(t, a, "110108-20261201-00008", "CG-XC") // no webhook there
	var req *http.Request
	var body []byte
	select {
	case req = <-got:
		body = <-bodies
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery")
	}
	if req.URL.Path != "/citygrid" || req.Header.Get(notices.HeaderSignature) != notices.Sign(hook.Secret, body) ||
		req.Header.Get(notices.HeaderEvent) != "dispatched" || !strings.Contains(string(body), `"case":"110108-20261201-00007"`) {
		t.Errorf("delivery %s %v: %s", req.URL.Path, req.Header, body)
	}

	// The log is the admin's.
	path := "/api/v1/webhooks/" + itoa(hook.ID) + "/deliveries"
	if r := e.do("GET", path, hd, nil); r.status != 403 {
		t.Errorf("a unit reads the delivery log: %d", r.status)
	}
	var log struct {
		Total int `json:"total"`
		Items []struct {
			Attempt    int    `json:"attempt"`
			StatusCode int    `json:"status_code"`
			Case       string `json:"case"`
			DeliveryID string `json:"delivery_id"`
		} `json:"items"`
	}
	deadline := time.Now().Add(5 * time.Second)
	for log.Total == 0 && time.Now().Before(deadline) {
		r := e.do("GET", path+"?limit=5", adminToken, nil)
		if r.status != 200 {
			t.Fatalf("deliveries: %d %s", r.status, r.body)
		}
		json.Unmarshal(r.body, &log)
		time.Sleep(50 * time.Millisecond)
	}
	if log.Total != 1 || log.Items[0].StatusCode != 200 || log.Items[0].Attempt != 1 || log.Items[0].Case != "110108-20261201-00007" ||
		log.Items[0].DeliveryID != req.Header.Get(notices.HeaderDelivery) {
		t.Errorf("delivery log: %+v", log)
	}
	e.expectErrors([]errCase{
		{"/api/v1/webhooks/x/deliveries", adminToken, 400, "id"},
		{"/api/v1/webhooks/999999/deliveries", adminToken, 404, ""},
		{path + "?limit=0", adminToken, 400, "limit"},
	})

	// Another unit cannot even see it to delete it; its own unit can.
	if r := e.do("DELETE", "/api/v1/webhooks/"+itoa(hook.ID), xc, nil); r.status != 404 {
		t.Errorf("another unit deletes: %d", r.status)
	}
	if r := e.do("DELETE", "/api/v1/webhooks/"+itoa(hook.ID), hd, nil); r.status != 204 {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.do("DELETE", "/api/v1/webhooks/"+itoa(hook.ID), hd, nil); r.status != 404 {
		t.Errorf("delete twice: %d", r.status)
	}
	if r := e.do("GET", "/api/v1/units/CG-HD/webhooks", adminToken, nil); strings.Contains(string(r.body), recv.URL) {
		t.Errorf("a deleted webhook is listed: %s", r.body)
	}
	dispatch(t, a, "110108-20261201-00009", "CG-HD")
	select {
	case r := <-got:
		t.Errorf("a deleted webhook got a delivery: %v", r.URL)
	case <-time.After(time.Second):
	}
}

// sse is an open event stream, its events sent on a channel.
type sse struct {
	events   chan sseEvent
	comments chan string
	ended    chan struct{}
	cancel   context.CancelFunc
}

type sseEvent struct{ id, event, data string }

func (e *env) subscribe(token string, lastEventID ...string) *sse {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	for _, id := range lastEventID {
		req.Header.Set("Last-Event-ID", id)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		e.t.Fatalf("events: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sse{events: make(chan sseEvent, 100), comments: make(chan string, 100), ended: make(chan struct{}), cancel: cancel}
	connected := make(chan struct{})
	go func() {
		defer close(s.ended)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				if strings.TrimSpace(line[1:]) == "connected" {
					close(connected)
				} else {
					s.comments <- strings.TrimSpace(line[1:])
				}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		e.t.Fatal("the stream did not open")
	}
	return s
}

// notify announces a case change as the cases workflow does.
func (e *env) notify(code, unit string) {
	e.t.Helper()
	payload, _ := json.Marshal(notices.CaseEvent{Code: code, Status: "dispatched", Unit: unit, Action: "dispatch", At: time.Now()})
	if _, err := e.store.Pool().Exec(context.Background(), `SELECT pg_notify('citygrid_cases', $1)`, string(payload)); err != nil {
		e.t.Fatal(err)
	}
}

// wait returns the next case event of s, failing after a while.
func (s *sse) wait(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev := <-s.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return sseEvent{}
	}
}

func TestEventStream(t *testing.T) {
	e, a := noticesEnv(t, notices.Config{Heartbeat: 300 * time.Millisecond})
	e.unit("CG-HD")
	e.unit("CG-XC")
	dispatcher := e.subscribe(e.token("dispatcher", ""))
	hd := e.subscribe(e.token("unit", "CG-HD"))
	analyst := e.subscribe(e.token("analyst", ""))

	// The feed's LISTEN starts with the server: announce until it hears.
	deadline := time.Now().Add(10 * time.Second)
	for warm := false; !warm; {
		if time.Now().After(deadline) {
			t.Fatal("the feed never heard a notice")
		}
		e.notify("warm-up", "CG-HD")
		select {
		case <-dispatcher.events:
			warm = true
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(300 * time.Millisecond)
	for _, s := range []*sse{dispatcher, hd, analyst} {
	drain:
		for {
			select {
			case <-s.events:
			default:
				break drain
			}
		}
	}

	e.notify("110108-20261201-00002", "CG-XC")
	e.notify("110108-20261201-00003", "CG-HD")
	e.notify("110108-20261201-00004", "")

	var ids []string
	for _, want := range []string{"00002", "00003", "00004"} {
		for _, s := range []*sse{dispatcher, analyst} {
			ev := s.wait(t)
			if ev.event != "case" || !strings.Contains(ev.data, want) {
				t.Errorf("want case %s, got %+v", want, ev)
			}
			if s == dispatcher {
				ids = append(ids, ev.id)
			}
		}
	}
	if ids[0] == "" || ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("event ids %v: want one per event", ids)
	}
	ev := hd.wait(t)
	var ce notices.CaseEvent
	if err := json.Unmarshal([]byte(ev.data), &ce); err != nil || ce.Code != "110108-20261201-00003" || ce.Unit != "CG-HD" ||
		ce.Status != "dispatched" || ce.Action != "dispatch" || ce.At.IsZero() {
		t.Errorf("the unit's event: %+v %v", ev, err)
	}
	select {
	case ev := <-hd.events:
		t.Errorf("the unit token saw another unit's (or no unit's) case: %+v", ev)
	case <-time.After(500 * time.Millisecond):
	}
	select {
	case c := <-hd.comments:
		if c != "heartbeat" {
			t.Errorf("comment %q", c)
		}
	case <-time.After(2 * time.Second):
		t.Error("no heartbeat")
	}

	// A client coming back names the last event it saw: what it missed is
	// a resync before anything else; a fresh one gets no resync.
	back := e.subscribe(e.token("dispatcher", ""), ids[2])
	if ev := back.wait(t); ev.event != "resync" {
		t.Errorf("a reconnecting client's first event %+v, want resync", ev)
	}
	e.notify("110108-20261201-00005", "")
	if ev := back.wait(t); ev.event != "case" || !strings.Contains(ev.data, "00005") {
		t.Errorf("after the resync: %+v", ev)
	}
	if ev := dispatcher.wait(t); ev.event != "case" || !strings.Contains(ev.data, "00005") {
		t.Errorf("a client that never left: %+v, want the case and no resync", ev)
	}

	// Shutdown ends every stream, so the HTTP server can stop.
	a.CloseStreams()
	for _, s := range []*sse{dispatcher, hd, analyst, back} {
		select {
		case <-s.ended:
		case <-time.After(5 * time.Second):
			t.Fatal("a stream outlived the shutdown")
		}
	}
}

func TestEventStreamNeedsAToken(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/api/v1/events", "", nil); r.status != 401 {
		t.Errorf("no token: %d", r.status)
	}
}
