package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/notices"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// dispatchOverHTTP files a case in the generated city, registers it and
// dispatches it to unit through the server's API: the dispatch's
// transaction commits the webhook's job.
func dispatchOverHTTP(t *testing.T, pool *pgxpool.Pool, base, unit string) string {
	t.Helper()
	var lon, lat float64
	if err := pool.QueryRow(context.Background(), `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids ORDER BY code LIMIT 1) g`).
		Scan(&lon, &lat); err != nil {
		t.Fatal(err)
	}
	call := func(path, body string) map[string]any {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer kill-test-admin")
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode/100 != 2 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("POST %s: %d %s", path, res.StatusCode, b)
		}
		return out
	}
	c := call("/api/v1/cases", fmt.Sprintf(`{"lon": %f, "lat": %f, "category": "E0504", "source": "hotline"}`, lon, lat))
	code, _ := c["code"].(string)
	call("/api/v1/cases/"+code+"/register", "")
	call("/api/v1/cases/"+code+"/dispatch", fmt.Sprintf(`{"unit": %q}`, unit))
	return code
}

// server is a running `citygrid serve`.
type server struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

func startServer(t *testing.T, bin, dbURL string, port int) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	// Short delivery timeout, rescue and retry, so that the dead server's
	// delivery is taken back within seconds (production: 10 s, 2 min, 10 s).
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CITYGRID_LOG_LEVEL=info", "CITYGRID_ADMIN_TOKEN=kill-test-admin",
		"CITYGRID_WEBHOOK_TIMEOUT=3s", "CITYGRID_JOBS_RESCUE_AFTER=8s", "CITYGRID_WEBHOOK_RETRY=100ms",
		"CITYGRID_WEBHOOK_ALLOW=127.0.0.0/8") // the receiver is on loopback
	s := &server{cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, s.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The test: the server dies (SIGKILL) between a dispatch's commit
// and its webhook delivery, with the delivery in flight; after a restart
// the receiver gets it, validly signed, with the same delivery id.
func TestWebhookDeliverySurvivesAKilledServer(t *testing.T) {
	bin := buildBinary(t)
	dbURL := testdb.New(t)
	ctx := context.Background()
	pool, err := db.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	store := grids.NewStore(pool, grids.DefaultCodeRules())
	if _, err := citygen.Load(ctx, store, citygen.Config{Grids: 20, Seed: 1}, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateUnit(ctx, grids.UnitInput{Code: gridstest.Ptr("JJ-HD"), Name: gridstest.Ptr("海淀交警"), Kind: gridstest.Ptr("department")}); err != nil {
		t.Fatal(err)
	}
	// This process only enqueues: its river client is never started.
	ns, err := notices.NewStore(pool, notices.Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	// The receiver holds the first delivery open (the server dies during
	// it) and accepts the next.
	type delivery struct {
		header http.Header
		body   []byte
	}
	var calls atomic.Int64
	inFlight := make(chan delivery, 1)
	accepted := make(chan delivery, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := delivery{r.Header.Clone(), b}
		if calls.Add(1) == 1 {
			inFlight <- d
			<-r.Context().Done() // the sender's connection dies with it
			return
		}
		accepted <- d
	}))
	defer recv.Close()
	const secret = "kill-test-secret-0123456789"
	hook, err := ns.CreateWebhook(ctx, "JJ-HD", notices.WebhookInput{URL: recv.URL + "/hooks/citygrid", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}

	port := freePort(t)
	first := startServer(t, bin, dbURL, port)
	code := dispatchOverHTTP(t, pool, fmt.Sprintf("http://127.0.0.1:%d", port), "JJ-HD")
	var held delivery
	select {
	case held = <-inFlight:
	case <-time.After(20 * time.Second):
		t.Fatalf("the first server never tried the delivery\n%s", first.logs.String())
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done
	killed := time.Now()
	// The job died running: nobody recorded an outcome.
	var state string
	var logged int
	if err := pool.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'citygrid_webhook_delivery'`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if state != "running" || logged != 0 {
		t.Fatalf("after the kill: job %s, %d attempts logged; want a running job and none logged", state, logged)
	}

	second := startServer(t, bin, dbURL, port)
	var got delivery
	select {
	case got = <-accepted:
	case <-time.After(60 * time.Second):
		t.Fatalf("no delivery after the restart\n%s", second.logs.String())
	}
	t.Logf("delivered %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	if !strings.Contains(string(got.body), `"`+code+`"`) {
		t.Errorf("the delivery does not name case %s: %s", code, got.body)
	}
	if sig := got.header.Get(notices.HeaderSignature); sig != notices.Sign(secret, got.body) {
		t.Errorf("signature %q does not match the body %s", sig, got.body)
	}
	if a, b := held.header.Get(notices.HeaderDelivery), got.header.Get(notices.HeaderDelivery); a == "" || a != b {
		t.Errorf("delivery id %q after the restart, %q before: want the same", b, a)
	}
	if string(got.body) != string(held.body) || got.header.Get(notices.HeaderEvent) != "dispatched" {
		t.Errorf("redelivered %s %s, first try %s", got.header.Get(notices.HeaderEvent), got.body, held.body)
	}

	// The log shows the successful attempt; the server then stops cleanly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var status *int
		err := pool.QueryRow(ctx, `SELECT status_code FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY id DESC LIMIT 1`, hook.ID).Scan(&status)
		if err == nil && status != nil && *status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log: %v %v", status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// An open event stream does not hold the shutdown up: it ends.
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v1/events", port), nil)
	req.Header.Set("Authorization", "Bearer kill-test-admin")
	stream, err := http.DefaultClient.Do(req)
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", err, stream)
	}
	defer stream.Body.Close()
	streamEnded := make(chan struct{})
	go func() { io.Copy(io.Discard, stream.Body); close(streamEnded) }()
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, second.logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after SIGTERM (an event stream holding the shutdown?)")
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Error("the event stream outlived the server")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the receiver was called %d times, want 2", n)
	}
}
