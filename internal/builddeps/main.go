// Command builddeps makes sure a machine can build citygrid's cgo
// dependencies before `go build` runs, installing what is missing with
// apt-get the way the project installs PostGIS and GDAL. The Makefile runs
// it with CGO_ENABLED=0 (it is pure Go, so it builds where the C side
// cannot yet).
//
// What the C side needs is read from the module itself: a C compiler with
// the C library's headers for any cgo package, and for every `#cgo
// pkg-config:` name that `go list` reports, pkg-config and the package
// that ships the name's .pc file. A new cgo dependency with an unknown
// pkg-config name fails here with a message saying where to add it, not
// at a user's first build.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citygrid/citygrid/internal/apt"
)

// pcPackages maps a pkg-config name to the Debian/Ubuntu package that
// ships its .pc file.
func pcPackage(name string) (string, bool) {
	switch name {
	case "zlib":
		return "zlib1g-dev", true
	}
	return "", false
}

// minNode is the oldest Node.js that builds the map (Vite 8).
var minNode = [3]int{20, 19, 0}

type config struct {
	dir    string   // module root, for go list
	goTool string   // the go command
	cc     string   // the C compiler cgo uses
	pkg    string   // the pkg-config program cgo uses
	env    []string // environment of the commands run
	node   bool     // also check Node.js and npm for the map build
	log    io.Writer
}

func main() {
	cfg := config{dir: ".", goTool: "go", env: os.Environ(), log: os.Stderr}
	flag.StringVar(&cfg.dir, "C", ".", "module root")
	flag.BoolVar(&cfg.node, "node", false, "check Node.js and npm (to build the map app) instead of the C toolchain")
	flag.Parse()
	if v := os.Getenv("GO"); v != "" {
		cfg.goTool = v
	}
	cfg.cc = envOr("CC", "gcc")
	cfg.pkg = envOr("PKG_CONFIG", "pkg-config")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	check := checkC
	if cfg.node {
		check = checkNode
	}
	if err := check(ctx, cfg); err != nil {
		fmt.Fprintf(os.Stderr, "builddeps: %v\n", err)
		os.Exit(2)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// checkC makes sure cgo can build every package of the module: it finds
// what is missing, installs it in one apt-get call, and checks again.
func checkC(ctx context.Context, cfg config) error {
	names, err := pkgConfigNames(ctx, cfg)
	if err != nil {
		return err
	}
	missing, err := missingC(ctx, cfg, names)
	if err != nil || len(missing) == 0 {
		return err
	}
	if err := apt.Install(ctx, cfg.log, missing...); err != nil {
		return fmt.Errorf("the C build of citygrid's dependencies needs %s; %w", strings.Join(missing, ", "), err)
	}
	still, err := missingC(ctx, cfg, names)
	if err != nil {
		return err
	}
	if len(still) > 0 {
		return fmt.Errorf("%s installed, but the C build still cannot find them (check CC, PKG_CONFIG, PKG_CONFIG_PATH and PKG_CONFIG_LIBDIR)", strings.Join(still, ", "))
	}
	return nil
}

// pkgConfigNames lists the `#cgo pkg-config:` names of the module's
// dependencies, as the build will ask for them.
func pkgConfigNames(ctx context.Context, cfg config) ([]string, error) {
	cmd := exec.CommandContext(ctx, cfg.goTool, "list", "-deps", "-f", `{{join .CgoPkgConfig "\n"}}`, "./...")
	cmd.Dir, cmd.Env = cfg.dir, append(slices.Clone(cfg.env), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	var names []string
	for _, n := range strings.Fields(string(out)) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names, nil
}

// missingC returns the packages that would supply what the C build lacks.
func missingC(ctx context.Context, cfg config, names []string) ([]string, error) {
	var pkgs []string
	add := func(p ...string) {
		for _, x := range p {
			if !slices.Contains(pkgs, x) {
				pkgs = append(pkgs, x)
			}
		}
	}
	if _, err := exec.LookPath(cfg.cc); err != nil {
		if cfg.cc != "gcc" {
			return nil, fmt.Errorf("CC=%s is not a program", cfg.cc)
		}
		add("gcc", "libc6-dev")
	} else if err := compiles(ctx, cfg); err != nil {
		add("libc6-dev")
	}
	if len(names) == 0 {
		return pkgs, nil
	}
	if _, err := exec.LookPath(cfg.pkg); err != nil {
		if cfg.pkg != "pkg-config" {
			return nil, fmt.Errorf("PKG_CONFIG=%s is not a program: unset it, or point it at pkg-config", cfg.pkg)
		}
		add("pkg-config")
	}
	for _, n := range names {
		deb, ok := pcPackage(n)
		if !ok {
			return nil, fmt.Errorf("a cgo dependency asks pkg-config for %q, which internal/builddeps does not know: add the Debian package that ships %s.pc to pcPackage", n, n)
		}
		if slices.Contains(pkgs, "pkg-config") {
			add(deb)
			continue
		}
		cmd := exec.CommandContext(ctx, cfg.pkg, "--exists", n)
		cmd.Env = cfg.env
		if cmd.Run() != nil {
			add(deb)
		}
	}
	return pkgs, nil
}

// compiles checks that the C compiler finds the C library's headers and
// links against libm, as h3-go and czlib need.
func compiles(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "builddeps")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := "#include <stdlib.h>\n#include <math.h>\nint main(void) { return (int)sqrt(atof(\"0\")); }\n"
	cmd := exec.CommandContext(ctx, cfg.cc, "-x", "c", "-o", dir+"/a.out", "-", "-lm")
	cmd.Stdin, cmd.Env = strings.NewReader(src), cfg.env
	return cmd.Run()
}

// checkNode makes sure Node.js and npm are recent enough to build the map.
// Node is a prerequisite the user brings: the distributions' own Node.js
// packages are too old for Vite, so nothing is installed here.
func checkNode(ctx context.Context, cfg config) error {
	want := fmt.Sprintf("%d.%d", minNode[0], minNode[1])
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return fmt.Errorf("the map app (web/) needs Node.js %s or newer, and there is no node on the PATH", want)
	}
	v, err := parseVersion(string(out))
	if err != nil {
		return err
	}
	if slices.Compare(v[:], minNode[:]) < 0 {
		return fmt.Errorf("the map app (web/) needs Node.js %s or newer; this is %s", want, strings.TrimSpace(string(out)))
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("npm is needed to build the map app (web/), and there is none on the PATH")
	}
	return nil
}

var versionRE = regexp.MustCompile(`v?(\d+)\.(\d+)\.(\d+)`)

func parseVersion(s string) ([3]int, error) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return [3]int{}, fmt.Errorf("cannot read a version from %q", strings.TrimSpace(s))
	}
	var v [3]int
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	return v, nil
}
