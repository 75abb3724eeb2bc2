package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/citygrid/citygrid/internal/db"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/internal/pgrun"
)

func subcommand(args []string, names ...string) (string, []string, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		return "", nil, flag.ErrHelp
	}
	for _, n := range names {
		if args[0] == n {
			return n, args[1:], nil
		}
	}
	return "", nil, fmt.Errorf("unknown subcommand %q (want one of %v)", args[0], names)
}

func runDB(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "start", "stop", "status", "url")
	if err != nil {
		fmt.Fprintln(os.Stderr, "Usage: citygrid db start|stop|status|url [--data DIR] [--db-port N]\n\nThe local PostgreSQL + PostGIS cluster: installed from the distribution\nwhen missing, kept in DIR, listening on 127.0.0.1.")
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("db "+sub, flag.ContinueOnError)
	commonFlags(fs, &cfg)
	fast := fs.Bool("fast", false, "with start on a new cluster: no fsync (throwaway test clusters only)")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	c := localCluster(cfg)
	if *fast {
		c = pgrun.New(pgrun.Config{Dir: cfg.DataDir, Port: cfg.DBPort, Install: true, Fast: true, Log: os.Stderr})
	}
	switch sub {
	case "start":
		if err := c.Start(ctx); err != nil {
			return err
		}
		u, err := c.URL()
		if err != nil {
			return err
		}
		fmt.Println(u)
	case "stop":
		return c.Stop(ctx)
	case "status":
		running, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if !running {
			fmt.Println("stopped")
			os.Exit(3)
		}
		fmt.Println("running on 127.0.0.1:" + strconv.Itoa(cfg.DBPort))
	case "url":
		u, err := c.URL()
		if err != nil {
			return err
		}
		fmt.Println(u)
	}
	return nil
}

func runMigrate(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "up", "down", "status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "Usage: citygrid migrate up|down|status [--to VERSION] [flags]\n\nup applies every pending migration; down rolls back one (or to --to).")
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("migrate "+sub, flag.ContinueOnError)
	commonFlags(fs, &cfg)
	to := fs.Int64("to", -1, "with down: roll back to this version (0 removes everything)")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, os.Stderr)
	if err != nil {
		return err
	}
	pool, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := db.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer m.Close()
	switch sub {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("applied %d migration(s)\n", n)
	case "down":
		cur, _, err := m.Versions(ctx)
		if err != nil {
			return err
		}
		target := *to
		if target < 0 {
			target = max(cur-1, 0)
		}
		n, err := m.DownTo(ctx, target)
		if err != nil {
			return err
		}
		fmt.Printf("rolled back %d migration(s)\n", n)
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tSTATE\tAPPLIED\tFILE")
		for _, s := range st {
			applied := ""
			if !s.AppliedAt.IsZero() {
				applied = s.AppliedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", s.Source.Version, s.State, applied, s.Source.Path)
		}
		w.Flush()
	}
	return nil
}

func runToken(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "create", "list", "revoke")
	if err != nil {
		fmt.Fprintln(os.Stderr, "Usage:\n  citygrid token create --role ROLE [--unit CODE] [--name NAME] [--user USER] [--expires 720h]\n  citygrid token list\n  citygrid token revoke ID\n\nRoles: admin, planner, dispatcher, analyst, unit (a unit token needs --unit).")
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	commonFlags(fs, &cfg)
	role := fs.String("role", "", "admin, planner, dispatcher, analyst or unit")
	unit := fs.String("unit", "", "unit code (required for the unit role)")
	name := fs.String("name", "", "a name for the token")
	user := fs.String("user", "", "user name (the token name when empty)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	if err := fs.Parse(rest); err != nil {
		return err
	}
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	switch sub {
	case "create":
		in := grids.TokenInput{Role: *role, Unit: *unit, Name: *name, User: *user}
		if *expires > 0 {
			t := time.Now().Add(*expires)
			in.ExpiresAt = &t
		}
		tok, secret, err := grids.NewTokenStore(store.Pool()).Create(ctx, in)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "token %d (%s, role %s) created; it is shown only once:\n", tok.ID, tok.Name, tok.Role)
		fmt.Println(secret)
	case "list":
		toks, err := grids.NewTokenStore(store.Pool()).List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tNAME\tUSER\tROLE\tUNIT\tPREFIX\tCREATED\tSTATE")
		for _, t := range toks {
			state := "active"
			if t.RevokedAt != nil {
				state = "revoked"
			} else if t.ExpiresAt != nil && t.ExpiresAt.Before(time.Now()) {
				state = "expired"
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s…\t%s\t%s\n", t.ID, t.Name, t.User, t.Role, t.Unit, t.Prefix, t.CreatedAt.Format(time.DateTime), state)
		}
		w.Flush()
	case "revoke":
		if fs.NArg() != 1 {
			return errors.New("usage: citygrid token revoke ID")
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fmt.Errorf("token id %q is not a number", fs.Arg(0))
		}
		if err := grids.NewTokenStore(store.Pool()).Revoke(ctx, id); err != nil {
			return err
		}
		fmt.Printf("token %d revoked\n", id)
	}
	return nil
}
