package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/features"
)

const exportUsage = `Usage: citygrid export LAYER.FORMAT [flags] [name=value …]

Writes a layer as the API's GET /api/v1/export does, straight from the
database: regions, grids, units, assignments, objects, an object layer
(street, alley, school …), gaps (theme=… required) or grid_check, as geojson
(RFC 7946), geojsonl or csv (UTF-8 with BOM, WKT). name=value arguments are
the export's query parameters: bbox=…, region=…, theme=…, at=…, crs=gcj02 …

Flags:`

func runExport(ctx context.Context, args []string) error {
	var cfg config
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), exportUsage)
		fs.PrintDefaults()
	}
	commonFlags(fs, &cfg)
	out := fs.String("out", "", "output `file` (default: standard output)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errors.New("want LAYER.FORMAT")
	}
	params := url.Values{}
	for _, p := range pos[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("%q: want name=value", p)
		}
		params.Add(k, v)
	}
	store, closeStore, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	x, err := features.NewStore(store).NewExport(ctx, pos[0], params, grids.Principal{User: "citygrid export", Role: grids.RoleAdmin})
	if err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	var each func()
	if *out != "" && term.IsTerminal(int(os.Stderr.Fd())) {
		bar := progressbar.NewOptions64(-1, progressbar.OptionSetDescription("exporting "+x.Layer),
			progressbar.OptionSetItsString("features"), progressbar.OptionShowIts(), progressbar.OptionShowCount(),
			progressbar.OptionSetWriter(os.Stderr), progressbar.OptionThrottle(100_000_000))
		defer bar.Finish()
		each = func() { bar.Add(1) }
	}
	if err := x.Write(ctx, w, nil, each); err != nil {
		return err
	}
	if x.CRSNote != "" {
		fmt.Fprintln(os.Stderr, "note:", x.CRSNote)
	}
	return nil
}
