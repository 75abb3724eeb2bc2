// Package pgrun runs a private PostgreSQL + PostGIS cluster in a folder of
// the project, listening on a loopback port. It is the embedded default
// database of `citygrid serve` and the database of the test suite, so that a
// fresh Debian or Ubuntu machine needs nothing but the two README commands.
//
// Layout of Config.Dir:
//
//	cluster/   PGDATA (owned by the postgres OS user when run as root)
//	password   the superuser password (0600), read by URL
//	lock       flock taken while starting or stopping
package pgrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/internal/apt"
)

// Config says where the cluster lives and how it runs.
type Config struct {
	Dir      string // folder holding the cluster, its password and lock
	Port     int    // loopback TCP port
	Database string // database created for the application
	// Install allows installing PostgreSQL and PostGIS with apt-get when
	// they are missing (as root, or through passwordless sudo).
	Install bool
	// Fast turns off durability (fsync, full page writes): for throwaway
	// test clusters only.
	Fast bool
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Cluster is a local cluster described by a Config.
type Cluster struct {
	cfg Config
}

// New returns the cluster for cfg, filling defaults.
func New(cfg Config) *Cluster {
	if cfg.Port == 0 {
		cfg.Port = 54329
	}
	if cfg.Database == "" {
		cfg.Database = "citygrid"
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if abs, err := filepath.Abs(cfg.Dir); err == nil {
		cfg.Dir = abs
	}
	return &Cluster{cfg: cfg}
}

// pgdata is Dir/cluster, unless initdb had to put it elsewhere because the
// postgres OS user cannot reach Dir (a clone under /root, say); then the
// file Dir/pgdata names the place.
func (c *Cluster) pgdata() string {
	if b, err := os.ReadFile(filepath.Join(c.cfg.Dir, "pgdata")); err == nil {
		return strings.TrimSpace(string(b))
	}
	return filepath.Join(c.cfg.Dir, "cluster")
}

func (c *Cluster) pwfile() string          { return filepath.Join(c.cfg.Dir, "password") }
func (c *Cluster) logfile() string         { return filepath.Join(c.pgdata(), "postmaster.log") }
func (c *Cluster) logf(f string, a ...any) { fmt.Fprintf(c.cfg.Log, "pgrun: "+f+"\n", a...) }

// Start installs what is missing, initialises the cluster on first use,
// starts it unless it already runs, and creates the application database.
// It is idempotent and safe to call from concurrent processes.
func (c *Cluster) Start(ctx context.Context) error {
	if err := os.MkdirAll(c.cfg.Dir, 0o755); err != nil {
		return err
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()

	bin, err := c.binaries(ctx)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.pgdata(), "PG_VERSION")); err != nil {
		if err := c.initdb(ctx, bin); err != nil {
			return err
		}
	}
	if running, _ := c.running(ctx, bin); !running {
		if err := c.checkPortFree(); err != nil {
			return err
		}
		c.logf("starting PostgreSQL on 127.0.0.1:%d (%s)", c.cfg.Port, c.pgdata())
		out, err := c.asOwner(ctx, filepath.Join(bin, "pg_ctl"), "start", "-w", "-t", "60",
			"-D", c.pgdata(), "-l", c.logfile(), "-o", "-p "+strconv.Itoa(c.cfg.Port))
		if err != nil {
			return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.logTail())
		}
	}
	return c.ensureDatabase(ctx)
}

// Stop stops the cluster if it runs.
func (c *Cluster) Stop(ctx context.Context) error {
	bin, err := findBinaries()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.pgdata(), "PG_VERSION")); err != nil {
		return nil // never initialised: nothing runs
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if running, _ := c.running(ctx, bin); !running {
		return nil
	}
	out, err := c.asOwner(ctx, filepath.Join(bin, "pg_ctl"), "stop", "-w", "-m", "fast", "-D", c.pgdata())
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

// Status reports whether the cluster runs.
func (c *Cluster) Status(ctx context.Context) (bool, error) {
	bin, err := findBinaries()
	if err != nil {
		return false, err
	}
	return c.running(ctx, bin)
}

// URL is the connection string of the application database.
func (c *Cluster) URL() (string, error) {
	return c.urlFor(c.cfg.Database)
}

// AdminURL is the connection string of the maintenance database "postgres".
func (c *Cluster) AdminURL() (string, error) {
	return c.urlFor("postgres")
}

func (c *Cluster) urlFor(db string) (string, error) {
	pw, err := os.ReadFile(c.pwfile())
	if err != nil {
		return "", fmt.Errorf("cluster in %s not initialised (run `citygrid db start`): %w", c.cfg.Dir, err)
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", strings.TrimSpace(string(pw))),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String(), nil
}

func (c *Cluster) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.cfg.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

func (c *Cluster) running(ctx context.Context, bin string) (bool, error) {
	if _, err := os.Stat(filepath.Join(c.pgdata(), "PG_VERSION")); err != nil {
		return false, nil
	}
	_, err := c.asOwner(ctx, filepath.Join(bin, "pg_ctl"), "status", "-D", c.pgdata())
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false, nil // 3: not running, 4: no data directory
	}
	return err == nil, err
}

func (c *Cluster) checkPortFree() error {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.cfg.Port)))
	if err != nil {
		return fmt.Errorf("port %d on 127.0.0.1 is taken by another program; choose another with --db-port: %w", c.cfg.Port, err)
	}
	return l.Close()
}

func (c *Cluster) initdb(ctx context.Context, bin string) error {
	if os.Geteuid() == 0 {
		if _, err := c.asOwner(ctx, "test", "-x", c.cfg.Dir); err != nil {
			sum := sha256.Sum256([]byte(c.cfg.Dir))
			alt := filepath.Join("/var/lib/postgresql", "citygrid-"+hex.EncodeToString(sum[:6]))
			c.logf("the postgres user cannot enter %s; keeping the cluster in %s", c.cfg.Dir, alt)
			if err := os.RemoveAll(alt); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(c.cfg.Dir, "pgdata"), []byte(alt+"\n"), 0o644); err != nil {
				return err
			}
		}
	}
	c.logf("initialising a new cluster in %s", c.pgdata())
	if err := os.MkdirAll(c.pgdata(), 0o700); err != nil {
		return err
	}
	pw := make([]byte, 18)
	if _, err := rand.Read(pw); err != nil {
		return err
	}
	password := hex.EncodeToString(pw)
	// initdb reads the password from a file the postgres user can read; it
	// is removed right after.
	f, err := os.CreateTemp("", "citygrid-initpw-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.WriteString(password + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := c.chownToPostgres(c.pgdata(), tmp); err != nil {
		return err
	}
	out, err := c.asOwner(ctx, filepath.Join(bin, "initdb"), "-D", c.pgdata(), "-U", "postgres",
		"--pwfile", tmp, "--auth-host=scram-sha-256", "--auth-local=peer",
		"--encoding=UTF8", "--locale=C.UTF-8")
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := []string{
		"# written by citygrid pgrun",
		"listen_addresses = '127.0.0.1'",
		"port = " + strconv.Itoa(c.cfg.Port),
		"unix_socket_directories = ''", // TCP only: no socket path length or permission trouble
		"max_connections = 200",
		"shared_buffers = 256MB",
		"work_mem = 32MB",
		"maintenance_work_mem = 256MB",
		"timezone = 'UTC'",
		// PostGIS functions declare high costs, so the planner JIT-compiles
		// even millisecond queries, adding 100-300 ms each.
		"jit = off",
	}
	if c.cfg.Fast {
		conf = append(conf, "fsync = off", "synchronous_commit = off", "full_page_writes = off")
	}
	f, err = os.OpenFile(filepath.Join(c.pgdata(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString("\n" + strings.Join(conf, "\n") + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The password file is written last: its presence means "initialised".
	return os.WriteFile(c.pwfile(), []byte(password+"\n"), 0o600)
}

func (c *Cluster) ensureDatabase(ctx context.Context) error {
	admin, err := c.AdminURL()
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to local cluster: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, c.cfg.Database).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	c.logf("creating database %s", c.cfg.Database)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.cfg.Database}.Sanitize())
	return err
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logfile())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// asOwner runs a PostgreSQL program as the cluster's owner: the postgres OS
// user when we are root (PostgreSQL refuses to run as root), else ourselves.
func (c *Cluster) asOwner(ctx context.Context, prog string, args ...string) ([]byte, error) {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", prog}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, prog, args...)
	}
	cmd.Dir = "/" // the postgres user may not be able to enter our folder
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves the postmaster running: give it its own session so
	// that a Ctrl-C on the caller does not take the database down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err := cmd.Run()
	return out.Bytes(), err
}

func (c *Cluster) chownToPostgres(paths ...string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("the postgres OS user is missing (is the postgresql package installed?): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// binaries finds the bin folder of a PostgreSQL that has PostGIS, installing
// both from the distribution when allowed.
func (c *Cluster) binaries(ctx context.Context) (string, error) {
	if bin, err := findBinaries(); err == nil {
		return bin, nil
	}
	if !c.cfg.Install {
		return "", errors.New("PostgreSQL with PostGIS 3 is not installed (install postgresql-15-postgis-3, or allow installing)")
	}
	if err := c.install(ctx); err != nil {
		return "", err
	}
	return findBinaries()
}

// findBinaries returns the newest /usr/lib/postgresql/V/bin whose version
// has the PostGIS extension installed.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	type cand struct {
		ver int
		bin string
	}
	var cands []cand
	for _, d := range dirs {
		bin := filepath.Dir(d)
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
		if err != nil {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/usr/share/postgresql/%d/extension/postgis.control", v)); err != nil {
			continue
		}
		cands = append(cands, cand{v, bin})
	}
	if len(cands) == 0 {
		return "", errors.New("no PostgreSQL with PostGIS found under /usr/lib/postgresql")
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
	return cands[0].bin, nil
}

func (c *Cluster) install(ctx context.Context) error {
	// First PostgreSQL itself (the distribution's default version), then the
	// PostGIS build for exactly that version.
	if dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl"); len(dirs) == 0 {
		if err := c.aptInstall(ctx, "postgresql"); err != nil {
			return err
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(dirs) == 0 {
		return errors.New("postgresql installed, but no /usr/lib/postgresql/*/bin/pg_ctl found")
	}
	sort.Strings(dirs)
	ver := filepath.Base(filepath.Dir(filepath.Dir(dirs[len(dirs)-1])))
	return c.aptInstall(ctx, "postgresql-"+ver+"-postgis-3")
}

func (c *Cluster) aptInstall(ctx context.Context, pkgs ...string) error {
	return apt.Install(ctx, c.cfg.Log, pkgs...)
}
