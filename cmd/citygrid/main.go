// Command citygrid is the grid-management service and its tools.
//
//	citygrid serve     run the HTTP API and the map
//	citygrid migrate   apply or roll back database migrations
//	citygrid db        run the local PostGIS cluster (start|stop|status|url)
//	citygrid token     create, list and revoke API tokens
//
// Without DATABASE_URL every command uses the local cluster in .data/pg,
// installing PostgreSQL and PostGIS from the distribution when missing.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/citygrid/citygrid/grids"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// config is everything a command may be told, from flags and environment.
type config struct {
	DatabaseURL string
	Addr        string
	AdminToken  string
	LogLevel    string
	DataDir     string
	DBPort      int
	Migrate     bool
	// ReadOnlySchema keeps openStore from migrating (a dry run writes
	// nothing); it refuses a database whose schema is behind instead.
	ReadOnlySchema bool
	// Code patterns (regular expressions) replacing the national formats,
	// for cities whose own data uses other codes; empty keeps the default.
	CodeDistrict, CodeSubdistrict, CodeCommunity, CodeGrid, CodeUnit string
	CodeNested                                                       bool
}

// codeRules builds the store's code rules from the configuration.
func (c config) codeRules() (grids.CodeRules, error) {
	r := grids.DefaultCodeRules()
	r.Nested = c.CodeNested
	for _, p := range []struct {
		flag, pattern string
		dst           **regexp.Regexp
	}{
		{"code-district", c.CodeDistrict, &r.District}, {"code-subdistrict", c.CodeSubdistrict, &r.Subdistrict},
		{"code-community", c.CodeCommunity, &r.Community}, {"code-grid", c.CodeGrid, &r.Grid}, {"code-unit", c.CodeUnit, &r.Unit},
	} {
		if p.pattern == "" {
			continue
		}
		re, err := regexp.Compile("^(?:" + p.pattern + ")$")
		if err != nil {
			return r, fmt.Errorf("--%s: %w", p.flag, err)
		}
		*p.dst = re
	}
	return r, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

// commonFlags binds the flags every database-using command shares.
func commonFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("DATABASE_URL", ""), "PostGIS 3 database `URL` (env DATABASE_URL); empty runs the local cluster")
	fs.StringVar(&cfg.DataDir, "data", envOr("CITYGRID_DATA", ".data/pg"), "folder of the local cluster (env CITYGRID_DATA)")
	fs.IntVar(&cfg.DBPort, "db-port", envInt("CITYGRID_DB_PORT", 54329), "loopback port of the local cluster (env CITYGRID_DB_PORT)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr("CITYGRID_LOG_LEVEL", "info"), "debug, info, warn or error (env CITYGRID_LOG_LEVEL)")
	fs.StringVar(&cfg.CodeDistrict, "code-district", envOr("CITYGRID_CODE_DISTRICT", ""), "district code `regexp` (default 6 digits, GB/T 2260; env CITYGRID_CODE_DISTRICT)")
	fs.StringVar(&cfg.CodeSubdistrict, "code-subdistrict", envOr("CITYGRID_CODE_SUBDISTRICT", ""), "subdistrict code `regexp` (default 12 digits ending 000)")
	fs.StringVar(&cfg.CodeCommunity, "code-community", envOr("CITYGRID_CODE_COMMUNITY", ""), "community code `regexp` (default 12 digits)")
	fs.StringVar(&cfg.CodeGrid, "code-grid", envOr("CITYGRID_CODE_GRID", ""), "grid code `regexp` (default 15 digits)")
	fs.StringVar(&cfg.CodeUnit, "code-unit", envOr("CITYGRID_CODE_UNIT", ""), "unit code `regexp`")
	fs.BoolVar(&cfg.CodeNested, "code-nested", envOr("CITYGRID_CODE_NESTED", "true") == "true", "child codes must start with their parent's (env CITYGRID_CODE_NESTED)")
}

func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

const usage = `citygrid — grid management for city governments (城市网格化管理)

Usage: citygrid <command> [flags]

Commands:
  serve     run the HTTP API and the map (migrates first)
  migrate   up | down [--to N] | status: manage the database schema
  db        start | stop | status | url: the local PostGIS cluster
  token     create | list | revoke: API tokens
  import    regions | grids | units | objects | osm FILE: load a city
  derive    subdistricts | grids | assignments: draw what a city lacks
  export    LAYER.FORMAT: write a layer as GeoJSON, GeoJSONL or CSV
  demo      beijing | shanghai: build a demo city from the real data
  version   print the version

Run 'citygrid <command> --help' for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args)
	case "migrate":
		err = runMigrate(ctx, args)
	case "db":
		err = runDB(ctx, args)
	case "token":
		err = runToken(ctx, args)
	case "import":
		err = runImport(ctx, args)
	case "derive":
		err = runDerive(ctx, args)
	case "export":
		err = runExport(ctx, args)
	case "demo":
		err = runDemo(ctx, args)
	case "version", "--version":
		fmt.Println(version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "citygrid: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "citygrid:", strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
