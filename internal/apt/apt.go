// Package apt installs Debian and Ubuntu packages with apt-get, as root or
// through passwordless sudo: the one way the project brings what a fresh
// machine lacks (the C build's packages, PostGIS, GDAL, chromium).
package apt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// NoInstallEnv names the environment variable that forbids installing
// anything: set to 1, every install fails with ErrNotAllowed and the
// command to run by hand. Operators of managed machines set it; the tests
// use it to see the message a user without root would get.
const NoInstallEnv = "CITYGRID_NO_INSTALL"

// ErrNotAllowed is returned when nothing may be installed here.
var ErrNotAllowed = errors.New("packages cannot be installed here")

// NotAllowedError names the packages a user must install by hand.
type NotAllowedError struct {
	Packages []string
	Why      string
}

func (e *NotAllowedError) Error() string {
	return fmt.Sprintf("cannot install %s here (%s); install by hand with:\n  sudo apt-get install %s",
		strings.Join(e.Packages, ", "), e.Why, strings.Join(e.Packages, " "))
}

func (e *NotAllowedError) Unwrap() error { return ErrNotAllowed }

// CanInstall says whether Install may run here, and why not.
func CanInstall(ctx context.Context) (bool, string) {
	if os.Getenv(NoInstallEnv) == "1" {
		return false, NoInstallEnv + "=1"
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return false, "no apt-get on this machine"
	}
	if os.Geteuid() == 0 {
		return true, ""
	}
	if _, err := exec.LookPath("sudo"); err != nil {
		return false, "not root and no sudo"
	}
	if err := exec.CommandContext(ctx, "sudo", "-n", "true").Run(); err != nil {
		return false, "not root and sudo asks for a password"
	}
	return true, ""
}

// Install installs pkgs with apt-get, through sudo -n when not root,
// updating the package lists once if the first try fails (a fresh machine
// often has none). Progress lines go to log.
func Install(ctx context.Context, log io.Writer, pkgs ...string) error {
	if ok, why := CanInstall(ctx); !ok {
		return &NotAllowedError{Packages: pkgs, Why: why}
	}
	if log == nil {
		log = io.Discard
	}
	logf := func(f string, a ...any) { fmt.Fprintf(log, "apt: "+f+"\n", a...) }
	logf("installing %s with apt-get (this happens once)", strings.Join(pkgs, " "))
	run := func(args ...string) error {
		if os.Geteuid() != 0 {
			args = append([]string{"sudo", "-n"}, args...)
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, tail(out.String(), 1500))
		}
		logf("%s took %s", strings.Join(args, " "), time.Since(start).Round(time.Second))
		return nil
	}
	// Another install may be running (a person's, or a second test's):
	// wait for its lock rather than fail at once.
	install := append([]string{"apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends"}, pkgs...)
	if err := run(install...); err == nil {
		return nil
	}
	if err := run("apt-get", "update"); err != nil {
		return err
	}
	return run(install...)
}

// EnsureCommand returns the path of prog, installing pkg first when prog
// is not on the PATH.
func EnsureCommand(ctx context.Context, log io.Writer, prog, pkg string) (string, error) {
	if path, err := exec.LookPath(prog); err == nil {
		return path, nil
	}
	if err := Install(ctx, log, pkg); err != nil {
		return "", err
	}
	return exec.LookPath(prog)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
