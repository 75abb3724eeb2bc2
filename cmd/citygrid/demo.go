package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/citygen"
	"github.com/citygrid/citygrid/grids/derive"
)

const demoUsage = `Usage:
  citygrid demo beijing [--shared ../shared/data]    Haidian from the real data
  citygrid demo shanghai [--shared ../shared/data]   central Shanghai from the real data
  citygrid demo generated [--grids 2000] [--seed 1]  a generated city, any size
  citygrid demo cases --n N [--seed 1] [--months 12] fill the loaded city with a year of cases

Each builds a working city: districts converted from GCJ-02, subdistricts
derived from their centre points, OpenStreetMap objects, communities and
grids drawn along the streets, and the default duties.`

func runDemo(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "beijing", "shanghai", "generated", "cases")
	if err != nil {
		fmt.Fprintln(os.Stderr, demoUsage)
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("demo "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), demoUsage+"\n\nFlags:"); fs.PrintDefaults() }
	commonFlags(fs, &cfg)
	shared := fs.String("shared", "../shared/data", "folder holding the real data (beijing/, shanghai/)")
	gridsN := fs.Int("grids", 2000, "generated: about this many unit grids (20000 is the scale benchmark city)")
	seed := fs.Uint64("seed", 1, "generated: the same seed gives the same city")
	out := fs.String("out", "", "generated: write the objects to this GeoJSON file instead of loading the city")
	n := fs.Int("n", 0, "cases: how many cases to write (1000000 is the scale benchmark)")
	months := fs.Int("months", 12, "cases: reported over this many months up to now")
	if _, err := parseInterleaved(fs, rest); err != nil {
		return err
	}
	start := time.Now()
	if sub == "generated" && *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		n, err := citygen.WriteObjects(f, citygen.Config{Grids: *gridsN, Seed: *seed})
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Printf("%d objects written to %s in %s\n", n, *out, time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	if sub == "cases" {
		return demoCases(ctx, store, cfg, citygen.CasesConfig{N: *n, Seed: *seed, Months: *months}, start)
	}
	if sub == "generated" {
		sum, err := citygen.Load(ctx, store, citygen.Config{Grids: *gridsN, Seed: *seed}, func(s string) { fmt.Println(s) })
		if err != nil {
			return err
		}
		fmt.Printf("generated city: %d districts, %d subdistricts, %d communities, %d grids, %d objects, %d units, %d assignments in %s\n",
			sum.Districts, sum.Subdistricts, sum.Communities, sum.Grids, sum.Objects, sum.Units, sum.Assignments, time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	city := derive.RealCities()[sub]
	if _, err := os.Stat(*shared); err != nil {
		return errors.New("the real data is not at " + *shared + " (pass --shared DIR)")
	}
	if err := derive.NewStore(store).BuildRealCity(ctx, city, *shared, func(s string) { fmt.Println(s) }); err != nil {
		return err
	}
	fmt.Printf("demo %s (%s) built in %s\n", sub, city.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// demoCases fills the loaded city with generated cases, routed from the
// same snapshot as intake.
func demoCases(ctx context.Context, store *grids.Store, cfg config, cc citygen.CasesConfig, start time.Time) error {
	if cc.N <= 0 {
		return errors.New("demo cases: give --n, the number of cases")
	}
	l, err := newLogger(cfg.LogLevel, io.Discard)
	if err != nil {
		return err
	}
	res, err := grids.NewResolver(ctx, store.Pool(), l)
	if err != nil {
		return err
	}
	cs := cases.NewStore(store, res, cases.Config{Log: l})
	sum, err := citygen.LoadCases(ctx, store, cs, cc, progress("cases"))
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("%d cases, %d events in %s (%.0f cases/s); %d overdue now; %d new monthly partitions\n",
		sum.Cases, sum.Events, el.Round(100*time.Millisecond), float64(sum.Cases)/el.Seconds(), sum.Overdue, sum.Partitions)
	for _, st := range cases.Statuses() {
		fmt.Printf("  %-10s %8d\n", st, sum.Statuses[st])
	}
	return nil
}
