package pgrun

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// A cluster starts in an empty folder, answers with PostGIS available,
// starts again idempotently, and stops.
func TestClusterLifecycle(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	os.Chmod(dir, 0o755) // the postgres OS user must reach it when we are root
	c := New(Config{Dir: dir, Port: port, Database: "lifecycle", Install: true, Fast: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Stop(context.Background())
	if running, err := c.Status(ctx); err != nil || !running {
		t.Fatalf("status after start: %v %v", running, err)
	}
	url, err := c.URL()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS postgis`); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := conn.QueryRow(ctx, `SELECT postgis_lib_version()`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v[0] != '3' {
		t.Errorf("PostGIS %s, want 3.x", v)
	}
	conn.Close(ctx)
	// Only loopback: the server must not listen on other addresses.
	var listen string
	conn, _ = pgx.Connect(ctx, url)
	conn.QueryRow(ctx, `SHOW listen_addresses`).Scan(&listen)
	conn.Close(ctx)
	if listen != "127.0.0.1" {
		t.Errorf("listen_addresses = %q", listen)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatalf("second start: %v", err)
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if running, _ := c.Status(ctx); running {
		t.Error("still running after stop")
	}
}
