package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/citygrid/citygrid/grids"
)

const demoUsage = `Usage:
  citygrid demo beijing [--shared ../shared/data]    Haidian from the real data
  citygrid demo shanghai [--shared ../shared/data]   central Shanghai from the real data

Each builds a working city: districts converted from GCJ-02, subdistricts
derived from their centre points, OpenStreetMap objects, communities and
grids drawn along the streets, and the default duties.`

func runDemo(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "beijing", "shanghai")
	if err != nil {
		fmt.Fprintln(os.Stderr, demoUsage)
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("demo "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), demoUsage+"\n\nFlags:"); fs.PrintDefaults() }
	commonFlags(fs, &cfg)
	shared := fs.String("shared", "../shared/data", "folder holding the real data (beijing/, shanghai/)")
	if _, err := parseInterleaved(fs, rest); err != nil {
		return err
	}
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	start := time.Now()
	city := grids.RealCities[sub]
	if _, err := os.Stat(*shared); err != nil {
		return errors.New("the real data is not at " + *shared + " (pass --shared DIR)")
	}
	if err := store.BuildRealCity(ctx, city, *shared, func(s string) { fmt.Println(s) }); err != nil {
		return err
	}
	fmt.Printf("demo %s (%s) built in %s\n", sub, city.Name, time.Since(start).Round(100*time.Millisecond))
	return nil
}
