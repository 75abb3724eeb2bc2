// Package testdb gives each test its own freshly migrated PostGIS database.
//
// The server is CITYGRID_TEST_DATABASE_URL when set (any PostGIS 3 server
// where the user may create databases; `make test` sets it), otherwise the
// project's own test cluster in .data/test, started through the same
// machinery as `citygrid db start`. A missing database is a failure, never a
// skip.
package testdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/pgrun"
	"github.com/citygrid/citygrid/migrations"
)

// EnvURL names the variable holding an admin URL of a test server.
const EnvURL = "CITYGRID_TEST_DATABASE_URL"

// TestPort is the loopback port of the project's test cluster; `make run`
// uses another, so tests never touch the demo data.
const TestPort = 54339

var seq atomic.Int64

// RepoRoot is the folder holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// ServerURL returns an admin URL of the test server, starting the local
// test cluster if needed.
func ServerURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := pgrun.New(pgrun.Config{Dir: filepath.Join(root, ".data", "test"), Port: TestPort, Install: true, Fast: true, Log: os.Stderr})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("test database: %v", err)
	}
	u, err := c.AdminURL()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// New creates an empty, fully migrated database for one test and drops it
// when the test ends. It returns the database's URL.
func New(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	return copyOf(t, admin, template(t, admin))
}

// copyOf creates a database for one test from a template and drops it when
// the test ends.
func copyOf(t testing.TB, admin, tmpl string) string {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("cg_test_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(admin, name)
}

// Pool is New plus an open pool, closed when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Connect(context.Background(), New(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Empty creates an empty database without migrations, for migration tests.
func Empty(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	ctx := context.Background()
	name := fmt.Sprintf("cg_empty_%d_%d", os.Getpid(), seq.Add(1))
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return withDatabase(admin, name)
}

// template returns a database migrated to the current migrations, made once
// per set of migrations and shared by every test package: copying it is much
// faster than creating PostGIS and migrating for each test.
func template(t testing.TB, admin string) string {
	t.Helper()
	ctx := context.Background()
	name := "cg_template_" + migrationsHash()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	// Test packages run as parallel processes: one makes the template while
	// the others wait on this lock.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727272)`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock(727272)`)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		return name
	}
	building := name + "_building"
	conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	pool, err := db.Connect(ctx, withDatabase(admin, building))
	if err != nil {
		t.Fatal(err)
	}
	m, err := db.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatalf("migrate template: %v", err)
	}
	m.Close()
	pool.Close()
	if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return name
}

func migrationsHash() string {
	h := sha256.New()
	fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(migrations.FS, path)
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	// River's schema comes with the river module (internal/db.Migrator
	// applies it after goose): another river version, another template.
	if rm, err := rivermigrate.New(riverpgxv5.New(nil), nil); err == nil {
		for _, v := range rm.AllVersions() {
			h.Write([]byte(v.SQLUp))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// withDatabase points a postgres:// URL at another database.
func withDatabase(raw, db string) string {
	u, err := url.Parse(raw)
	if err != nil {
		panic(fmt.Sprintf("test server URL must be a postgres:// URL: %v", err))
	}
	u.Path = "/" + db
	return u.String()
}

// SharedData returns the path of a file under ../shared/data (real
// OpenStreetMap extracts and district boundaries). When it is absent the
// test is skipped with a message, except in CI (CI=true), where that is a
// failure.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(filepath.Dir(root), "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data %s is missing in CI: %v", rel, err)
		}
		t.Skipf("shared data %s not found beside the repository; skipping (it is required when CI=true)", rel)
	}
	return p
}

// Kept returns a migrated database named for its purpose that outlives the
// test run, and whether it already existed, so that benchmarks can build a
// large city once and reuse it. It lives on the throwaway test server.
func Kept(tb testing.TB, purpose string) (url string, existed bool) {
	tb.Helper()
	admin := ServerURL(tb)
	ctx := context.Background()
	tmpl := template(tb, admin)
	name := "cg_kept_" + purpose + "_" + migrationsHash()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&existed); err != nil {
		tb.Fatal(err)
	}
	if !existed {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+pgx.Identifier{tmpl}.Sanitize()); err != nil {
			tb.Fatal(err)
		}
	}
	return withDatabase(admin, name), existed
}

// Seeded creates a database for one test as New does, but copied from a
// template that seed filled once: a real city takes seconds to build and
// each test of a package would otherwise build it again. The template is
// made once per test binary (its name carries the binary's hash, so a
// changed seed never serves stale data), older ones of the same purpose
// are dropped, and seed must close its connections before it returns.
func Seeded(t testing.TB, purpose string, seed func(ctx context.Context, url string) error) string {
	t.Helper()
	admin := ServerURL(t)
	ctx := context.Background()
	base := template(t, admin)
	prefix := "cg_seed_" + purpose + "_"
	name := prefix + binaryHash(t)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(727273)`); err != nil {
		t.Fatal(err)
	}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		// Seeds of other builds are dropped, but the newest few are kept:
		// test binaries of other builds (a second checkout, a rebuilt
		// package) may be copying from theirs at this moment.
		rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY oid DESC OFFSET 3`, prefix)
		if err != nil {
			t.Fatal(err)
		}
		old, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range old {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{o}.Sanitize()+" WITH (FORCE)")
		}
		building := name + "_b"
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{building}.Sanitize()+" TEMPLATE "+pgx.Identifier{base}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		if err := seed(ctx, withDatabase(admin, building)); err != nil {
			conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{building}.Sanitize()+" WITH (FORCE)")
			t.Fatalf("seeding %s: %v", purpose, err)
		}
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+pgx.Identifier{building}.Sanitize()+" RENAME TO "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Fatal(err)
		}
	}
	// The copy is made under the lock too: another test binary (another
	// build) seeding the same purpose drops this template under it, and
	// would otherwise drop it between the check above and the copy.
	url := copyOf(t, admin, name)
	conn.Exec(ctx, `SELECT pg_advisory_unlock(727273)`)
	return url
}

// binaryHash names the running test binary's build.
func binaryHash(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}
