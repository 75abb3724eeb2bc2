package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/citygrid/citygrid/internal/db"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
)

// parseInterleaved lets flags come before, between or after positional
// arguments, as users type them: `import regions f.geojson --level district`.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

const importUsage = `Usage: citygrid import KIND FILE [flags]

KIND is regions, grids, units or objects (GeoJSON: a FeatureCollection or
one feature per line), or osm (an .osm or .osm.pbf file, mapped to objects by
the layer table in grids/ingest/osm_layers.yaml or --mapping).

Everything is imported in one transaction, or nothing is. Importing the same
file again updates records in place by code (OSM objects by their OSM id).
A re-import keeps a stored geometry that the new one would shorten or shrink
by more than 20%, make self-overlapping, or replace by a partial (clipped)
one, and keeps tags and names the new file lacks; it says so in warnings and
lists what changed. --dry-run shows all that without writing.

Flags:`

func runImport(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	commonFlags(fs, &cfg)
	level := fs.String("level", "", "regions: district, subdistrict or community")
	layer := fs.String("layer", "", "objects: the layer of every feature (default: each feature's \"layer\" property)")
	codeProp := fs.String("code-prop", "code", "property holding the code")
	nameProp := fs.String("name-prop", "name", "property holding the name")
	parentProp := fs.String("parent-prop", "", "property holding the parent's code (default: found spatially; units: \"parent\")")
	crs := fs.String("crs", "wgs84", "coordinate system of the file: wgs84, gcj02 or bd09")
	fix := fs.Bool("fix", false, "repair invalid geometries with ST_MakeValid and report what changed")
	region := fs.String("region", "", "objects, osm: keep only features touching this region (code)")
	mapping := fs.String("mapping", "", "osm: a layer mapping file replacing the built-in one")
	strict := fs.Bool("strict", false, "refuse lines that need a repair (repeated points, out-and-back ends) instead of repairing them")
	dryRun := fs.Bool("dry-run", false, "report what the import would do, and write nothing")
	allowShrink := fs.Bool("allow-shrink", false, "let a re-import shorten a line or shrink an area by more than 20%, or make a line overlap itself")
	replaceTags := fs.Bool("replace-tags", false, "drop stored tags and names the new file lacks (default: keep them)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		fs.Usage()
		return errors.New("want KIND and FILE")
	}
	kind, path := pos[0], pos[1]
	c, err := geo.ParseCRS(*crs)
	if err != nil {
		return err
	}
	opt := ingest.ImportOptions{Kind: kind, Level: grids.Level(*level), Layer: *layer, CodeProp: *codeProp,
		NameProp: *nameProp, ParentProp: *parentProp, CRS: c, Fix: *fix, Within: *region,
		Strict: *strict, DryRun: *dryRun, AllowShrink: *allowShrink, ReplaceTags: *replaceTags}

	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var in io.Reader = f
	if st, err := f.Stat(); err == nil && term.IsTerminal(int(os.Stderr.Fd())) {
		bar := progressbar.DefaultBytes(st.Size(), "reading "+path)
		r := progressbar.NewReader(f, bar)
		in = &r
		defer bar.Finish()
	}

	var src ingest.FeatureSource
	if kind == "osm" {
		var m []byte
		if *mapping != "" {
			if m, err = os.ReadFile(*mapping); err != nil {
				return err
			}
		}
		mp, err := ingest.ParseOSMMapping(m)
		if err != nil {
			return err
		}
		osmr, err := ingest.NewOSMReader(ctx, in, mp)
		if err != nil {
			return err
		}
		defer osmr.Close()
		src = osmr
		opt.Kind, opt.Source = "objects", "osm"
	} else {
		fr, err := geo.NewFeatureReader(in)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		src = fr
	}

	// A dry run writes nothing, the schema included: it needs a database
	// already at the current version.
	cfg.ReadOnlySchema = *dryRun
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	res, err := ingest.NewStore(store).Import(ctx, src, opt)
	fmt.Fprintln(os.Stderr)
	var ie *ingest.ImportError
	if errors.As(err, &ie) {
		fmt.Fprintf(os.Stderr, "nothing was imported: %d problem(s)\n", ie.Total)
		for _, p := range ie.Problems {
			fmt.Fprintf(os.Stderr, "  feature %d %s: %s\n", p.Index, p.Code, p.Reason)
		}
		if ie.Total > len(ie.Problems) {
			fmt.Fprintf(os.Stderr, "  … and %d more\n", ie.Total-len(ie.Problems))
		}
		return errors.New("import failed")
	}
	if err != nil {
		return err
	}
	printImportResult(os.Stdout, res)
	return nil
}

func printImportResult(w io.Writer, res ingest.ImportResult) {
	if res.DryRun {
		fmt.Fprint(w, "dry run, nothing written: ")
	}
	fmt.Fprintf(w, "%s: read %d, created %d, updated %d, unchanged %d", res.Kind, res.Read, res.Created, res.Updated, res.Unchanged)
	if res.Fixed > 0 {
		fmt.Fprintf(w, ", fixed %d", res.Fixed)
	}
	if res.Skipped > 0 {
		fmt.Fprintf(w, ", skipped %d outside the region", res.Skipped)
	}
	fmt.Fprintln(w)
	if len(res.Repairs) > 0 {
		kinds := slices.Sorted(maps.Keys(res.Repairs))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), res.Repairs[k])
		}
		fmt.Fprintln(w, "lines:", strings.Join(parts, ", "))
	}
	for _, f := range res.Fixes {
		fmt.Fprintf(w, "  fixed feature %d %s: %s\n", f.Index, f.Code, f.Reason)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, "warning:", strings.TrimSpace(warn))
	}
	printChanges(w, res)
}

// printChanges lists the changes one a line, for a planner to review:
// "updated   way/123  name, geom  length_m 351 → 30".
func printChanges(w io.Writer, res ingest.ImportResult) {
	if len(res.Changes) == 0 {
		return
	}
	fmt.Fprintln(w, "changes:")
	for _, c := range res.Changes {
		line := fmt.Sprintf("  %-13s %-20s %s", c.Action, c.ID, strings.Join(c.Fields, ", "))
		if c.Measure != "" && c.Before != nil && c.After != nil {
			line += fmt.Sprintf("  %s %.0f → %.0f", c.Measure, *c.Before, *c.After)
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	if res.ChangesOmitted > 0 {
		fmt.Fprintf(w, "  … and %d more changes\n", res.ChangesOmitted)
	}
}

// openStore connects, migrates and returns a store.
func openStore(ctx context.Context, cfg config) (*grids.Store, func(), error) {
	l, err := newLogger(cfg.LogLevel, io.Discard)
	if err != nil {
		return nil, nil, err
	}
	pool, err := openDatabase(ctx, cfg, l)
	if err != nil {
		return nil, nil, err
	}
	m, err := db.NewMigrator(pool)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	if cfg.ReadOnlySchema {
		var cur, latest int64
		if cur, latest, err = m.Versions(ctx); err == nil && cur < latest {
			err = fmt.Errorf("the database schema is at version %d of %d: run `citygrid migrate up` first", cur, latest)
		}
	} else {
		_, err = m.Up(ctx)
	}
	m.Close()
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	rules, err := cfg.codeRules()
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return grids.NewStore(pool, rules), pool.Close, nil
}
