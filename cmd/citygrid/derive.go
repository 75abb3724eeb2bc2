package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids/derive"
)

const deriveUsage = `Usage:
  citygrid derive subdistricts --district CODE --points FILE [--crs gcj02]
  citygrid derive grids --region CODE [--target-area 10000] [--community-area 500000] [--replace] [--only-near-streets]
  citygrid derive assignments --defaults [--table FILE]

subdistricts: Voronoi cells of subdistrict centre points, clipped to the district.
grids:        unit grids drawn along streets and alleys, tiling each community
              exactly; communities are derived first where a subdistrict has none.
assignments:  the starting duties from the documented defaults table.`

func runDerive(ctx context.Context, args []string) error {
	sub, rest, err := subcommand(args, "subdistricts", "grids", "assignments")
	if err != nil {
		fmt.Fprintln(os.Stderr, deriveUsage)
		return err
	}
	var cfg config
	fs := flag.NewFlagSet("derive "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), deriveUsage+"\n\nFlags:"); fs.PrintDefaults() }
	commonFlags(fs, &cfg)
	district := fs.String("district", "", "subdistricts: the district code")
	points := fs.String("points", "", "subdistricts: GeoJSON file of subdistrict centre points (code, name)")
	crs := fs.String("crs", "wgs84", "subdistricts: coordinate system of the points file")
	region := fs.String("region", "", "grids: region code (community, subdistrict or district)")
	target := fs.Float64("target-area", 10000, "grids: target grid area in m²")
	community := fs.Float64("community-area", 500000, "grids: target area of derived communities in m²")
	replace := fs.Bool("replace", false, "grids: redraw communities that already have grids")
	onlyNear := fs.Bool("only-near-streets", false, "grids: skip subdistricts without any street or alley")
	defaults := fs.Bool("defaults", false, "assignments: write the default duties")
	table := fs.String("table", "", "assignments: a defaults table replacing the built-in one")
	if _, err := parseInterleaved(fs, rest); err != nil {
		return err
	}
	core, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	store := derive.NewStore(core)
	start := time.Now()
	switch sub {
	case "subdistricts":
		if *district == "" || *points == "" {
			return errors.New("want --district CODE and --points FILE")
		}
		c, err := geo.ParseCRS(*crs)
		if err != nil {
			return err
		}
		res, err := deriveSubdistricts(ctx, store, *district, *points, c)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d subdistricts drawn in %s\n", *district, res.Subdistrict, time.Since(start).Round(time.Millisecond))
	case "grids":
		if *region == "" {
			return errors.New("want --region CODE")
		}
		res, err := store.DeriveGrids(ctx, *region, derive.DeriveOptions{TargetArea: *target, CommunityTargetArea: *community,
			Replace: *replace, OnlyNear: *onlyNear, Progress: progress("gridding communities")})
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d communities derived, %d grids drawn (%d replaced) in %s\n", *region, res.Communities, res.Grids, res.Replaced, time.Since(start).Round(time.Millisecond))
	case "assignments":
		if !*defaults {
			return errors.New("want --defaults (the only source of derived assignments so far)")
		}
		var b []byte
		if *table != "" {
			if b, err = os.ReadFile(*table); err != nil {
				return err
			}
		}
		d, err := derive.ParseDefaultAssignments(b)
		if err != nil {
			return err
		}
		res, err := store.DeriveDefaultAssignments(ctx, d)
		if err != nil {
			return err
		}
		fmt.Printf("%d units and %d assignments created in %s\n", res.UnitsCreated, res.AssignmentsCreated, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func deriveSubdistricts(ctx context.Context, store *derive.Store, district, path string, crs geo.CRS) (derive.DeriveResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return derive.DeriveResult{}, err
	}
	defer f.Close()
	fr, err := geo.NewFeatureReader(f)
	if err != nil {
		return derive.DeriveResult{}, fmt.Errorf("%s: %w", path, err)
	}
	pts, err := derive.SubdistrictPointsFrom(fr, crs)
	if err != nil {
		return derive.DeriveResult{}, fmt.Errorf("%s: %w", path, err)
	}
	return store.DeriveSubdistricts(ctx, district, pts)
}

// progress returns a callback drawing a bar on a terminal, nil elsewhere.
func progress(what string) func(done, total int) {
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil
	}
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total, progressbar.OptionSetDescription(what), progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
		}
		bar.Set(done)
	}
}
