package derive

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/ingest"
)

// RealCity describes how to build a demo from ../shared/data: district
// boundaries and subdistrict centres in GCJ-02, streets from OpenStreetMap.
type RealCity struct {
	Name       string
	Dir        string   // folder under the data root
	Districts  []string // districts to derive subdistricts and grids for
	OSM        []string // OSM files, imported into those districts
	TargetArea float64
}

// RealCities returns the demos built from the shared data, by name; each
// call gives a fresh table, so no caller can change another's demo.
func RealCities() map[string]RealCity {
	return map[string]RealCity{
		"beijing": {Name: "北京 海淀", Dir: "beijing", Districts: []string{"110108"},
			OSM: []string{"zhongguancun.osm", "cau_east.osm"}},
		"shanghai": {Name: "上海 中心城区", Dir: "shanghai",
			Districts: []string{"310101", "310104", "310105", "310106", "310107", "310109", "310110", "310115"},
			OSM:       []string{"center.osm"}},
	}
}

// BuildRealCity runs the whole pipeline: import the districts (converted
// from GCJ-02), derive their subdistricts, import the OSM objects, derive
// communities and grids where there are streets, and write the default
// duties. Each step is its own transaction; re-running repeats nothing.
func (s *Store) BuildRealCity(ctx context.Context, c RealCity, dataRoot string, say func(string)) error {
	dir := filepath.Join(dataRoot, c.Dir)
	step := func(what string, fn func() (string, error)) error {
		t := time.Now()
		msg, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		say(fmt.Sprintf("%-40s %-50s %6.1fs", what, msg, time.Since(t).Seconds()))
		return nil
	}
	open := func(name string) (*os.File, error) { return os.Open(filepath.Join(dir, name)) }
	geojsonFile := func(name string, fn func(*geo.FeatureReader) (string, error)) func() (string, error) {
		return func() (string, error) {
			f, err := open(name)
			if err != nil {
				return "", err
			}
			defer f.Close()
			fr, err := geo.NewFeatureReader(f)
			if err != nil {
				return "", fmt.Errorf("%s: %w", name, err)
			}
			return fn(fr)
		}
	}
	if err := step("districts (GCJ-02 → WGS84)", geojsonFile("districts_gcj02.geojson", func(fr *geo.FeatureReader) (string, error) {
		res, err := s.ingest.Import(ctx, fr, ingest.ImportOptions{Kind: "regions", Level: grids.District, CodeProp: "adcode", CRS: geo.GCJ02})
		return fmt.Sprintf("%d created, %d updated, %d unchanged", res.Created, res.Updated, res.Unchanged), err
	})); err != nil {
		return err
	}
	var points []SubdistrictPoint
	if err := step("subdistrict centres", geojsonFile("subdistrict_points_gcj02.geojson", func(fr *geo.FeatureReader) (string, error) {
		var err error
		points, err = SubdistrictPointsFrom(fr, geo.GCJ02)
		return fmt.Sprintf("%d points", len(points)), err
	})); err != nil {
		return err
	}
	for _, d := range c.Districts {
		if err := step("subdistricts of "+d+" (Voronoi)", func() (string, error) {
			res, err := s.DeriveSubdistricts(ctx, d, points)
			return fmt.Sprintf("%d subdistricts", res.Subdistrict), err
		}); err != nil {
			return err
		}
	}
	for _, name := range c.OSM {
		if err := step("OpenStreetMap "+name, func() (string, error) {
			f, err := open(name)
			if err != nil {
				return "", err
			}
			defer f.Close()
			m, err := ingest.ParseOSMMapping(nil)
			if err != nil {
				return "", err
			}
			r, err := ingest.NewOSMReader(ctx, f, m)
			if err != nil {
				return "", err
			}
			defer r.Close()
			res, err := s.ingest.Import(ctx, r, ingest.ImportOptions{Kind: "objects", Source: "osm"})
			return fmt.Sprintf("%d objects created, %d updated, %d unchanged", res.Created, res.Updated, res.Unchanged), err
		}); err != nil {
			return err
		}
	}
	for _, d := range c.Districts {
		if err := step("communities and grids of "+d, func() (string, error) {
			res, err := s.DeriveGrids(ctx, d, DeriveOptions{TargetArea: c.TargetArea, OnlyNear: true})
			return fmt.Sprintf("%d communities, %d grids", res.Communities, res.Grids), err
		}); err != nil {
			return err
		}
	}
	return step("default assignments", func() (string, error) {
		d, err := ParseDefaultAssignments(nil)
		if err != nil {
			return "", err
		}
		res, err := s.DeriveDefaultAssignments(ctx, d)
		return fmt.Sprintf("%d units, %d assignments", res.UnitsCreated, res.AssignmentsCreated), err
	})
}
