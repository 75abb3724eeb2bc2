package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the folder holding go.mod, two levels up from here.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// pathWithout makes a PATH folder holding every program of the current
// PATH except those named, as symlinks: the machine as it would be without
// the packages that ship them.
func pathWithout(t *testing.T, drop ...string) string {
	t.Helper()
	bin := t.TempDir()
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			name := e.Name()
			if strings.Contains(name, "pkg-config") || strings.Contains(name, "pkgconf") {
				continue
			}
			skip := false
			for _, d := range drop {
				skip = skip || name == d
			}
			if skip {
				continue
			}
			link := filepath.Join(bin, name)
			if _, err := os.Lstat(link); err == nil {
				continue // the first on the PATH wins, as for a shell
			}
			_ = os.Symlink(filepath.Join(dir, name), link)
		}
	}
	return bin
}

// env is the current environment with the given variables replaced.
func env(kv ...string) []string {
	out := []string{}
	for _, e := range os.Environ() {
		k, _, _ := strings.Cut(e, "=")
		keep := k != "PKG_CONFIG" && k != "PKG_CONFIG_PATH" && k != "PKG_CONFIG_LIBDIR"
		for i := 0; i < len(kv); i += 2 {
			keep = keep && k != kv[i]
		}
		if keep {
			out = append(out, e)
		}
	}
	for i := 0; i < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

// TestWithoutPkgConfig takes pkg-config and the .pc files off the search
// paths: the real cgo build then fails, and builddeps, forbidden to
// install, says which packages to install instead of letting the build
// fail on a missing pkg-config.
func TestWithoutPkgConfig(t *testing.T) {
	root := moduleRoot(t)
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	tool := filepath.Join(t.TempDir(), "builddeps")
	build := exec.Command(goTool, "build", "-o", tool, ".")
	build.Env = env("CGO_ENABLED", "0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building builddeps: %v\n%s", err, out)
	}

	bare := env("PATH", pathWithout(t), "GOCACHE", t.TempDir(), "CGO_ENABLED", "1")
	// The build itself: a fresh cache, so nothing C is taken from before.
	cgo := exec.Command(goTool, "build", "github.com/datadog/czlib")
	cgo.Dir, cgo.Env = root, bare
	out, err := cgo.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pkg-config") {
		t.Fatalf("the cgo build without pkg-config should fail naming it; got err=%v\n%s", err, out)
	}

	cmd := exec.Command(tool, "-C", root)
	cmd.Env = append(bare, "CITYGRID_NO_INSTALL=1")
	out, err = cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("builddeps should exit 2, got %v\n%s", err, out)
	}
	for _, want := range []string{"pkg-config", "zlib1g-dev", "sudo apt-get install pkg-config zlib1g-dev", "CITYGRID_NO_INSTALL=1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
}

// TestWithoutZlibHeaders keeps pkg-config but hides every .pc file: the
// message names only the zlib headers' package.
func TestWithoutZlibHeaders(t *testing.T) {
	if _, err := exec.LookPath("pkg-config"); err != nil {
		t.Fatalf("pkg-config should be here: make test runs builddeps first: %v", err)
	}
	cfg := config{dir: moduleRoot(t), goTool: "go", cc: "gcc", pkg: "pkg-config",
		env: env("PKG_CONFIG_LIBDIR", t.TempDir(), "PKG_CONFIG_PATH", "")}
	names, err := pkgConfigNames(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := missingC(context.Background(), cfg, names)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(missing, " ") != "zlib1g-dev" {
		t.Errorf("missing = %q, want [zlib1g-dev]", missing)
	}
	// And with the real search paths, nothing is missing.
	cfg.env = os.Environ()
	if missing, err := missingC(context.Background(), cfg, names); err != nil || len(missing) > 0 {
		t.Errorf("on this machine nothing should be missing: %q, %v", missing, err)
	}
}

// TestEveryPkgConfigNameIsKnown fails when a new cgo dependency asks
// pkg-config for a name builddeps cannot install.
func TestEveryPkgConfigNameIsKnown(t *testing.T) {
	cfg := config{dir: moduleRoot(t), goTool: "go", env: os.Environ()}
	names, err := pkgConfigNames(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("go list found no pkg-config names; the OSM PBF reader's zlib was expected")
	}
	for _, n := range names {
		if _, ok := pcPackage(n); !ok {
			t.Errorf("pkg-config name %q has no package in pcPackage", n)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want [3]int
	}{
		{"v20.20.2\n", [3]int{20, 20, 2}},
		{"v18.19.0", [3]int{18, 19, 0}},
		{"22.12.0", [3]int{22, 12, 0}},
	} {
		got, err := parseVersion(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseVersion(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	if _, err := parseVersion("node"); err == nil {
		t.Error("parseVersion(node) should fail")
	}
}
