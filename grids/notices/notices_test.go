package notices_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/notices"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver answers the n-th request with status(n) and hands every request
// to the test.
func receiver(t *testing.T, status func(n int) int) (*httptest.Server, <-chan received) {
	t.Helper()
	got := make(chan received, 100)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{header: r.Header.Clone(), body: b}
		w.WriteHeader(status(int(n.Add(1))))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func next(t *testing.T, got <-chan received, within time.Duration) received {
	t.Helper()
	select {
	case r := <-got:
		return r
	case <-time.After(within):
		t.Fatalf("no delivery within %s", within)
		return received{}
	}
}

func unit(t testing.TB, s *grids.Store, code string) {
	t.Helper()
	if _, err := s.CreateUnit(context.Background(), grids.UnitInput{Code: gridstest.Ptr(code), Name: gridstest.Ptr(code + " 城管"),
		Kind: gridstest.Ptr("department")}); err != nil {
		t.Fatal(err)
	}
}

// enqueue commits (or rolls back) one notice in its own transaction, as a
// case transition would.
func enqueue(t *testing.T, s *grids.Store, ns *notices.Store, n notices.Notice, commit bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := ns.Enqueue(ctx, tx, n); err != nil {
		t.Fatal(err)
	}
	if commit {
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func jobs(t *testing.T, s *grids.Store) int {
	t.Helper()
	var n int
	if err := s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE kind = 'citygrid_webhook_delivery'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A committed notice reaches the unit's subscribed webhook, signed, and a
// failed delivery is retried with the same delivery id; each attempt is in
// the log. A rolled-back notice, another kind and another unit's notice
// reach nobody.
func TestDeliveryRetriesUntilAccepted(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	unit(t, s, "CG-HD")
	unit(t, s, "CG-XC")
	ns, err := notices.NewStore(s.Pool(), notices.Config{Retry: []time.Duration{300 * time.Millisecond}, Timeout: 2 * time.Second, Allow: loopback}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	srv, got := receiver(t, func(n int) int {
		if n == 1 {
			return http.StatusBadGateway
		}
		return http.StatusNoContent
	})
	const secret = "a-secret-of-sixteen-or-more"
	hook, err := ns.CreateWebhook(ctx, "CG-HD", notices.WebhookInput{URL: srv.URL + "/hook", Events: []string{"dispatched", "returned", "dispatched"}, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if hook.Secret != "" || len(hook.Events) != 2 || hook.Unit != "CG-HD" {
		t.Errorf("created webhook: %+v (a given secret is not echoed; events deduplicated)", hook)
	}
	other, _ := receiver(t, func(int) int { t.Error("the overdue-only webhook got a dispatch"); return 200 })
	if _, err := ns.CreateWebhook(ctx, "CG-HD", notices.WebhookInput{URL: other.URL, Events: []string{"overdue"}}); err != nil {
		t.Fatal(err)
	}
	elsewhere, _ := receiver(t, func(int) int { t.Error("another unit's webhook got a delivery"); return 200 })
	if _, err := ns.CreateWebhook(ctx, "CG-XC", notices.WebhookInput{URL: elsewhere.URL}); err != nil {
		t.Fatal(err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if err := ns.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	defer ns.Stop(ctx)

	at := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
	enqueue(t, s, ns, notices.Notice{Kind: "dispatched", Case: "110108-20261201-00001", Unit: "CG-HD", At: at}, false)
	enqueue(t, s, ns, notices.Notice{Kind: "dispatched", Case: "110108-20261201-00042", Unit: "CG-HD", At: at,
		Data: map[string]any{"deadline": "2026-12-03T09:30:00Z"}}, true)

	first := next(t, got, 15*time.Second)
	second := next(t, got, 15*time.Second)
	for i, r := range []received{first, second} {
		if sig := r.header.Get(notices.HeaderSignature); sig != notices.Sign(secret, r.body) {
			t.Errorf("attempt %d: signature %q does not match the body", i+1, sig)
		}
		if ev := r.header.Get(notices.HeaderEvent); ev != "dispatched" {
			t.Errorf("attempt %d: event header %q", i+1, ev)
		}
	}
	if a, b := first.header.Get(notices.HeaderDelivery), second.header.Get(notices.HeaderDelivery); a == "" || a != b {
		t.Errorf("delivery ids %q and %q: want one id on every retry", a, b)
	}
	if string(first.body) != string(second.body) {
		t.Errorf("a retry posts another body:\n%s\n%s", first.body, second.body)
	}
	var body struct {
		ID, Kind, Case, Unit string
		At                   time.Time
		Data                 map[string]any
	}
	if err := json.Unmarshal(second.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ID == "" || body.Kind != "dispatched" || body.Case != "110108-20261201-00042" || body.Unit != "CG-HD" ||
		!body.At.Equal(at) || body.Data["deadline"] != "2026-12-03T09:30:00Z" {
		t.Errorf("body: %s", second.body)
	}

	// The log: newest first, the failure with its status and error.
	var log grids.List[notices.Delivery]
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if log, err = ns.Deliveries(ctx, hook.ID, grids.Page{Limit: 10}); err != nil {
			t.Fatal(err)
		}
		if log.Total == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if log.Total != 2 || len(log.Items) != 2 {
		t.Fatalf("delivery log: %+v", log)
	}
	newest, oldest := log.Items[0], log.Items[1]
	if newest.Attempt != 2 || newest.StatusCode == nil || *newest.StatusCode != 204 || newest.Error != "" {
		t.Errorf("second attempt logged as %+v", newest)
	}
	if oldest.Attempt != 1 || oldest.StatusCode == nil || *oldest.StatusCode != 502 || oldest.Error == "" || oldest.Case != "110108-20261201-00042" {
		t.Errorf("first attempt logged as %+v", oldest)
	}
	if newest.DeliveryID != first.header.Get(notices.HeaderDelivery) || newest.Notice != body.ID {
		t.Errorf("log ids %q/%q, headers %q/%q", newest.DeliveryID, newest.Notice, first.header.Get(notices.HeaderDelivery), body.ID)
	}
	select {
	case r := <-got:
		t.Errorf("a third delivery (the rolled-back notice?): %s", r.body)
	case <-time.After(500 * time.Millisecond):
	}
}

// A unit without webhooks costs no job; a bad kind is refused.
func TestEnqueueWithoutWebhooks(t *testing.T) {
	s := gridstest.NewStore(t)
	unit(t, s, "CG-HD")
	ns, err := notices.NewStore(s.Pool(), notices.Config{Allow: loopback}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, ns, notices.Notice{Kind: "overdue", Case: "110108-20261201-00001", Unit: "CG-HD"}, true)
	enqueue(t, s, ns, notices.Notice{Kind: "returned", Case: "110108-20261201-00001", Unit: ""}, true)
	if n := jobs(t, s); n != 0 {
		t.Errorf("%d jobs for a unit without webhooks", n)
	}
	err = pgx.BeginFunc(context.Background(), s.Pool(), func(tx pgx.Tx) error {
		return ns.Enqueue(context.Background(), tx, notices.Notice{Kind: "closed", Unit: "CG-HD"})
	})
	if err == nil {
		t.Error("an unknown kind was enqueued")
	}
}

// Input rules: http(s) URLs, known kinds, long enough secrets, an existing
// unit; a generated secret is shown once.
func TestWebhookInput(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	unit(t, s, "CG-HD")
	ns, err := notices.NewStore(s.Pool(), notices.Config{Allow: loopback}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in    notices.WebhookInput
		field string
	}{
		{notices.WebhookInput{URL: "ftp://example.org/x"}, "url"},
		{notices.WebhookInput{URL: "javascript:alert(1)"}, "url"},
		{notices.WebhookInput{URL: ""}, "url"},
		{notices.WebhookInput{URL: "http://127.0.0.1/x", Events: []string{"dispatched", "closed"}}, "events[1]"},
		{notices.WebhookInput{URL: "http://127.0.0.1/x", Secret: "short"}, "secret"},
	} {
		_, err := ns.CreateWebhook(ctx, "CG-HD", c.in)
		var ve *grids.ValidationError
		if !errors.As(err, &ve) || ve.Problems[0].Field != c.field {
			t.Errorf("%+v: %v, want a problem with %s", c.in, err, c.field)
		}
	}
	var nf *grids.NotFoundError
	if _, err := ns.CreateWebhook(ctx, "NOPE", notices.WebhookInput{URL: "https://example.org/x"}); !errors.As(err, &nf) {
		t.Errorf("unknown unit: %v", err)
	}
	w, err := ns.CreateWebhook(ctx, "CG-HD", notices.WebhookInput{URL: "https://example.org/x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Secret) < 32 || len(w.Events) != len(notices.Kinds()) {
		t.Errorf("a webhook with defaults: %+v", w)
	}
	list, err := ns.Webhooks(ctx, "CG-HD")
	if err != nil || len(list) != 1 || list[0].Secret != "" {
		t.Errorf("list shows %+v, %v (never a secret)", list, err)
	}
}

// Periodic work runs once the runner starts, on the elected server.
func TestPeriodicRuns(t *testing.T) {
	s := gridstest.NewStore(t)
	ns, err := notices.NewStore(s.Pool(), notices.Config{Allow: loopback}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	ran := make(chan struct{})
	if err := ns.Register(notices.Periodic{Name: "deadline-scan", Every: time.Minute, Run: func(ctx context.Context) error {
		once.Do(func() { close(ran) })
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if err := ns.Register(notices.Periodic{Name: "deadline-scan", Every: time.Minute, Run: func(context.Context) error { return nil }}); err == nil {
		t.Error("the same name registered twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ns.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ns.Stop(context.Background())
	select {
	case <-ran:
	case <-time.After(20 * time.Second):
		t.Fatal("the periodic work did not run on start")
	}
	if err := ns.Register(notices.Periodic{Name: "late", Every: time.Minute, Run: func(context.Context) error { return nil }}); err == nil {
		t.Error("registered after start")
	}
}

// A subscriber that stops reading is dropped once its buffer is full; the
// others go on receiving.
func TestFeedDropsSlowSubscribers(t *testing.T) {
	s := gridstest.NewStore(t)
	feed := notices.NewFeed(s.Pool(), notices.Config{EventBuffer: 3}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	slow, fast, mine := feed.Subscribe(""), feed.Subscribe(""), feed.Subscribe("CG-XC")
	notify := func(code, unit string) {
		payload, _ := json.Marshal(notices.CaseEvent{Code: code, Unit: unit, Status: "registered", Action: "register", At: time.Now()})
		if _, err := s.Pool().Exec(ctx, `SELECT pg_notify('citygrid_cases', $1)`, string(payload)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(sub *notices.Subscription) (notices.Event, bool) {
		select {
		case ev, ok := <-sub.C:
			return ev, ok
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
			return notices.Event{}, false
		}
	}
	// Until the LISTEN is up, notices are lost: announce until one lands.
	for warm := false; !warm; {
		notify("warm-up", "CG-HD")
		select {
		case <-fast.C:
			warm = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	for i := range 10 {
		notify(fmt.Sprintf("110108-20261201-%05d", i), "CG-HD")
		if ev, ok := read(fast); !ok || ev.Kind != "case" || !strings.Contains(string(ev.Data), fmt.Sprintf("%05d", i)) {
			t.Fatalf("fast subscriber, event %d: %+v %v", i, ev, ok)
		}
	}
	n := 0
	for range slow.C {
		n++
	}
	if n > 3+1 { // the warm-ups it held, at most its buffer
		t.Errorf("the slow subscriber got %d events past a buffer of 3", n)
	}
	notify("110108-20261201-09999", "CG-XC")
	if ev, ok := read(mine); !ok || !strings.Contains(string(ev.Data), "09999") {
		t.Errorf("a unit's subscriber: %+v %v (and nothing of other units before it)", ev, ok)
	}
	feed.Close()
	if _, ok := <-fast.C; ok {
		// drain what is left; the channel must end
		for range fast.C {
		}
	}
	if after := feed.Subscribe(""); after != nil {
		if _, ok := <-after.C; ok {
			t.Error("a subscription after Close is open")
		}
	}
}

// When the feed's connection drops it reconnects and tells every
// subscriber to resync, as changes may have been missed meanwhile.
func TestFeedResyncsAfterReconnect(t *testing.T) {
	s := gridstest.NewStore(t)
	feed := notices.NewFeed(s.Pool(), notices.Config{}, quiet)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed.Run(ctx)
	sub := feed.Subscribe("CG-HD")
	kill := func() int {
		var n int
		err := s.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND query = 'LISTEN "citygrid_cases"'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for kill() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the feed's LISTEN connection never showed up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case ev, ok := <-sub.C:
		if !ok || ev.Kind != "resync" {
			t.Errorf("after a reconnect: %+v %v, want a resync", ev, ok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resync after the connection dropped")
	}
}

// A delivery queued for a webhook that is deleted before it goes out is
// cancelled, not posted; the webhook's log stays readable.
func TestDeletedWebhookCancelsPendingDeliveries(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	unit(t, s, "CG-HD")
	ns, err := notices.NewStore(s.Pool(), notices.Config{Allow: loopback}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	srv, got := receiver(t, func(int) int { return 200 })
	hook, err := ns.CreateWebhook(ctx, "CG-HD", notices.WebhookInput{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, s, ns, notices.Notice{Kind: "returned", Case: "110108-20261201-00005", Unit: "CG-HD"}, true)
	if err := ns.DeleteWebhook(ctx, grids.Principal{Role: grids.RoleUnit, Unit: "CG-XC"}, hook.ID); err == nil {
		t.Error("another unit deleted the webhook")
	}
	if err := ns.DeleteWebhook(ctx, grids.Principal{Role: grids.RoleUnit, Unit: "CG-HD"}, hook.ID); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if err := ns.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	defer ns.Stop(ctx)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var state string
		if err := s.Pool().QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'citygrid_webhook_delivery'`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "cancelled" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is %s, want cancelled", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case r := <-got:
		t.Errorf("a deleted webhook got %s", r.body)
	default:
	}
	if log, err := ns.Deliveries(ctx, hook.ID, grids.Page{Limit: 10}); err != nil || log.Total != 0 {
		t.Errorf("log of the deleted webhook: %+v %v", log, err)
	}
}

// loopback lets the tests' receivers, on 127.0.0.1, be reached.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Webhooks do not reach loopback or link-local addresses unless allowed:
// a literal address is refused when the webhook is made, a name that
// resolves to one when it is dialled, and the log says why.
func TestWebhookGuard(t *testing.T) {
	s := gridstest.NewStore(t)
	ctx := context.Background()
	unit(t, s, "CG-HD")
	ns, err := notices.NewStore(s.Pool(), notices.Config{Retry: []time.Duration{time.Hour}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"http://169.254.169.254/latest/meta-data", "http://127.0.0.1:5432/", "http://localhost/x",
		"http://[::1]/", "http://0.0.0.0/"} {
		_, err := ns.CreateWebhook(ctx, "CG-HD", notices.WebhookInput{URL: u})
		var v *grids.ValidationError
		if !errors.As(err, &v) || v.Problems[0].Field != "url" {
			t.Errorf("%s: %v, want a problem naming url", u, err)
		}
	}
	unit(t, s, "CG-XC") // another unit's, so that nothing is posted to it
	if _, err := ns.CreateWebhook(ctx, "CG-XC", notices.WebhookInput{URL: "https://10.20.30.40/hook"}); err != nil {
		t.Errorf("a private address (a city's own systems): %v", err)
	}

	// A name that resolved elsewhere when the webhook was made and to
	// loopback now (DNS rebinding) is as good as the address itself: the
	// row is written as such a webhook would be found at delivery.
	srv, got := receiver(t, func(int) int { return 204 })
	var id int64
	if err := s.Pool().QueryRow(ctx, `INSERT INTO webhooks (unit_id, url, events, secret, created_by)
		SELECT id, $1, '{dispatched}', 'a-secret-of-sixteen-or-more', 'test' FROM units WHERE code = 'CG-HD' RETURNING id`,
		srv.URL+"/hook").Scan(&id); err != nil {
		t.Fatal(err)
	}
	hook := notices.Webhook{ID: id}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	if err := ns.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	defer ns.Stop(ctx)
	enqueue(t, s, ns, notices.Notice{Kind: "dispatched", Case: "110108-20261201-00001", Unit: "CG-HD", At: time.Now()}, true)
	deadline := time.Now().Add(10 * time.Second)
	for {
		log, err := ns.Deliveries(ctx, hook.ID, grids.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(log.Items) > 0 {
			if e := log.Items[0].Error; !strings.Contains(e, "loopback") {
				t.Errorf("the refused delivery is logged as %q", e)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt logged")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case r := <-got:
		t.Errorf("a delivery reached loopback: %s", r.body)
	default:
	}
}
