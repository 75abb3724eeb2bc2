package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/citygrid/citygrid/internal/testdb"
)

// buildBinary compiles the real citygrid binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "citygrid")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The binary serves, answers health, readiness and auth as documented, and
// shuts down cleanly on SIGTERM while a request is in flight.
func TestServeAndGracefulShutdown(t *testing.T) {
	bin := buildBinary(t)
	dbURL := testdb.New(t)
	// token create migrates an empty database and prints a working token.
	out, err := exec.Command(bin, "token", "create", "--role", "analyst", "--name", "qgis", "--database-url", dbURL).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	analyst := strings.TrimSpace(string(out))
	if !strings.HasPrefix(analyst, "cg_") {
		t.Fatalf("token create printed %q", out)
	}

	port := freePort(t)
	cmd := exec.Command(bin, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port))
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "CITYGRID_ADMIN_TOKEN=bootstrap-admin", "CITYGRID_LOG_LEVEL=info")
	var logs lockedBuffer
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	copied := make(chan struct{})
	go func() { io.Copy(&logs, stderr); close(copied) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/readyz", "", 200},
		{"/api/v1/units", "", 401},
		{"/api/v1/units", "bootstrap-admin", 200},
		{"/api/v1/regions", analyst, 200},
		{"/api/v1/tokens", analyst, 403},
		{"/metrics", "", 200},
	} {
		if got := get(c.path, c.token); got != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, got, c.want)
		}
	}

	// A slow client is mid-request (its handler is reading the body) when
	// SIGTERM arrives: it still gets its answer, and the process exits 0.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"code":"CG","name":"城管局","kind":"department"}`
	fmt.Fprintf(conn, "POST /api/v1/units HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bootstrap-admin\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	fmt.Fprint(conn, body[10:])
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	status, rerr := bufio.NewReader(conn).ReadString('\n')
	if !strings.Contains(status, "201") {
		t.Errorf("in-flight request during shutdown: %q %v\n%s", status, rerr, logs.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(25 * time.Second):
		t.Fatal("no exit 25 s after SIGTERM")
	}
	<-copied
	// Logs are JSON lines with request ids.
	sawRequest := false
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"request_id":"`) {
			sawRequest = true
		}
	}
	if !sawRequest {
		t.Errorf("no JSON request log line with a request id:\n%s", logs.String())
	}
}

func TestHelp(t *testing.T) {
	bin := buildBinary(t)
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"db", "--help"}, {"migrate", "--help"}, {"token", "--help"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil || !strings.Contains(strings.ToLower(string(out)), "usage") {
			t.Errorf("citygrid %v: %v\n%s", args, err, out)
		}
	}
	if err := exec.Command(bin, "frobnicate").Run(); err == nil {
		t.Error("unknown command exits 0")
	}
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
