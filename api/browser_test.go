//go:build linux

// The browser tests run on Linux, where internal/apt installs chromium.

package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/citygrid/citygrid/api"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/internal/apt"
	"github.com/citygrid/citygrid/web"
)

// TestBrowser runs the map app's browser tests (web/e2e/run.mjs, with
// playwright-core driving Debian's chromium headless, WebGL through
// SwiftShader) against a real citygrid on the Beijing demo with the built
// app at / and /m. The scripts get the server's URL, a token per role they
// sign in as, the browser and a folder for their screenshots, print a line
// per test and exit non-zero when one failed.
func TestBrowser(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if !web.Built() {
		msg := "the map app is not built into this test binary: run `make build` (or `make web`), then go test again"
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	chromium := browser(t, ci)
	node := playwright(t, ci, root)
	tookDeps := time.Since(start)

	start = time.Now()
	e := serverWith(t, beijingPool(t), func(c *api.Config) { c.Web = web.Handler() })
	tokens := browserTokens(e)
	tookServer := time.Since(start)

	shots := filepath.Join(root, ".data", "screenshots") // .data/ is git-ignored
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	tj, _ := json.Marshal(tokens)
	// run.mjs must finish in 3 minutes; the rest is room for a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("web", "e2e", "run.mjs"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CITYGRID_URL="+e.url, "CITYGRID_TOKENS="+string(tj), "CHROMIUM="+chromium, "SCREENSHOTS="+shots)
	// Chromium's processes are node's children: a timeout ends them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second // nor may one left behind hold the pipe open
	start = time.Now()
	err = stream(t, cmd)
	t.Logf("browser tests took %s (chromium and playwright-core ready in %s, the Beijing server with its tokens in %s); screenshots in %s",
		time.Since(start).Round(100*time.Millisecond), tookDeps.Round(100*time.Millisecond), tookServer.Round(100*time.Millisecond), shots)
	if ctx.Err() != nil {
		t.Fatalf("web/e2e/run.mjs did not finish in %s", 6*time.Minute)
	}
	if err != nil {
		t.Fatalf("web/e2e/run.mjs: %v (the FAIL lines above say which tests)", err)
	}
}

// browser finds chromium and a CJK font for the labels, installing
// chromium and fonts-noto-cjk once per machine when missing. Only a
// machine where nothing may be installed skips, and never in CI.
func browser(t *testing.T, ci bool) string {
	t.Helper()
	var missing []string
	if _, err := exec.LookPath("chromium"); err != nil {
		missing = append(missing, "chromium")
	}
	if !hasCJKFont() {
		missing = append(missing, "fonts-noto-cjk") // or the map's Chinese labels are boxes
	}
	if len(missing) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		if err := apt.Install(ctx, t.Output(), missing...); err != nil {
			if ci || !errors.Is(err, apt.ErrNotAllowed) {
				t.Fatalf("the browser tests need %s: %v", strings.Join(missing, " and "), err)
			}
			t.Skipf("%s not installed and cannot be installed here: %v", strings.Join(missing, " and "), err)
		}
		t.Logf("installed %s in %s", strings.Join(missing, " "), time.Since(start).Round(time.Second))
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium installed but not on the PATH: %v", err)
	}
	if !hasCJKFont() {
		t.Fatal("fonts-noto-cjk installed but no Noto CJK font found under /usr/share/fonts")
	}
	return path
}

func hasCJKFont() bool {
	for _, pat := range []string{"/usr/share/fonts/opentype/noto/NotoSansCJK*", "/usr/share/fonts/*/*/NotoSansCJK*", "/usr/share/fonts/*/*/NotoSerifCJK*"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return true
		}
	}
	return false
}

// playwright returns node, making sure web/node_modules holds the
// playwright-core that web/package.json pins (make build's npm ci puts it
// there; a bare go test may come first).
func playwright(t *testing.T, ci bool, root string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		msg := "the browser tests need Node.js 20.19+ (make build checks it)"
		if ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	have := func() bool {
		_, err := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core", "package.json"))
		return err == nil
	}
	if have() {
		return node
	}
	npm := exec.Command("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	npm.Dir = filepath.Join(root, "web")
	start := time.Now()
	if err := stream(t, npm); err != nil {
		t.Fatalf("npm ci in web/: %v", err)
	}
	t.Logf("npm ci in web/ took %s", time.Since(start).Round(100*time.Millisecond))
	if !have() {
		t.Fatal("web/node_modules has no playwright-core after npm ci: web/package.json must list it (exact version) in devDependencies")
	}
	return node
}

// browserTokens makes a token for each role the scripts sign in as, and
// checks the facts of the demo they rely on: the traffic police JJ lead
// illegal parking (E0504) at Zhongguancun, and the expired token is
// refused.
func browserTokens(e *env) map[string]string {
	e.t.Helper()
	a := e.locate(fmt.Sprintf("lon=%g&lat=%g&category=E0504", zgcLon, zgcLat))
	if a.Grid == nil || !leads(a, "JJ") {
		e.t.Fatalf("the Beijing demo changed: JJ does not lead E0504 at %g,%g: %+v", zgcLon, zgcLat, a)
	}
	tokens := map[string]string{
		"admin":      e.token("admin", ""),
		"dispatcher": e.token("dispatcher", ""),
		"unit":       e.token("unit", "JJ"),
		"unit_code":  "JJ",
		"inspector":  e.token("inspector", ""),
	}
	tok, secret, err := grids.NewTokenStore(e.store.Pool()).Create(context.Background(), grids.TokenInput{Role: "dispatcher", Name: "expired"})
	if err != nil {
		e.t.Fatal(err)
	}
	if r := e.do("DELETE", "/api/v1/tokens/"+strconv.FormatInt(tok.ID, 10), tokens["admin"], nil); r.status != 204 && r.status != 200 {
		e.t.Fatalf("revoking the expired token: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/api/v1/me", secret, nil); r.status != 401 {
		e.t.Fatalf("the revoked token still signs in: %d %s", r.status, r.body)
	}
	tokens["expired"] = secret
	return tokens
}

// leads says whether unit leads a duty of the answer.
func leads(a grids.Answer, unit string) bool {
	for _, o := range a.Owners {
		if o.Role == "lead" && o.Unit.Code == unit {
			return true
		}
	}
	return false
}

// stream runs cmd with its output, line by line, in the test's log.
func stream(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	return cmd.Wait()
}
