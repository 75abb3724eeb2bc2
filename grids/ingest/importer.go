package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// kinds returns what an import can load; "osm" is not among them: an
// OpenStreetMap extract is read by an OSMReader and imported as objects.
func kinds() []string { return []string{"regions", "grids", "units", "objects"} }

// ImportOptions say how features map onto citygrid's records.
type ImportOptions struct {
	Kind       string      // regions, grids, units or objects
	Level      grids.Level // regions: the level of every feature
	Layer      string      // objects: the layer; empty reads each feature's "layer" property
	CodeProp   string      // property holding the code (default "code")
	NameProp   string      // property holding the name (default "name")
	ParentProp string      // property holding the parent's code; empty finds regions' and grids' parents spatially
	CRS        geo.CRS     // coordinate system of the file
	Fix        bool        // repair invalid geometries with ST_MakeValid instead of failing
	Source     string      // objects: where the data comes from (default "geojson")
	Within     string      // objects: keep only features that touch this region (code)
	// Progress, when set, is called after every feature read.
	Progress func(read int)
	// Strict refuses lines that need a repair (repeated points, retraced
	// ends) instead of repairing them.
	Strict bool
	// DryRun runs the whole import and rolls it back: the result is what a
	// real run would report, and nothing is written or announced.
	DryRun bool
	// AllowShrink lets a re-import replace a stored geometry by one more
	// than 20% shorter or smaller, or a simple line by a self-overlapping one.
	AllowShrink bool
	// ReplaceTags drops stored attributes (OSM tags) and names the new
	// source lacks, instead of keeping them.
	ReplaceTags bool
}

// ImportProblem is one thing wrong with one feature.
type ImportProblem struct {
	Index  int    `json:"index"`
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason"`
}

// ImportError fails a whole import: nothing was written.
type ImportError struct {
	Problems []ImportProblem `json:"problems"`
	Total    int             `json:"total"` // problems found; only the first 100 are listed
}

func (e *ImportError) Error() string {
	if len(e.Problems) == 0 {
		return "import failed"
	}
	p := e.Problems[0]
	more := ""
	if e.Total > 1 {
		more = fmt.Sprintf(" (and %d more problems)", e.Total-1)
	}
	return fmt.Sprintf("feature %d %s: %s%s", p.Index, p.Code, p.Reason, more)
}

// ImportResult summarises a committed import, or what a dry run would do.
type ImportResult struct {
	Kind      string          `json:"kind"`
	Read      int             `json:"read"`
	Created   int             `json:"created"`
	Updated   int             `json:"updated"`
	Unchanged int             `json:"unchanged"`
	Fixed     int             `json:"fixed"`
	Skipped   int             `json:"skipped,omitempty"` // outside the --region
	Fixes     []ImportProblem `json:"fixes,omitempty"`
	Warnings  []string        `json:"warnings,omitempty"`
	// Repairs counts lines by what CheckLine found: repeated_points and
	// retraced (repaired, or refused with Strict), zero_length and
	// self_overlapping (refused).
	Repairs map[string]int `json:"repairs,omitempty"`
	// Changes lists by code or source id what was created or updated, or
	// whose stored geometry was kept; the first maxChanges of them.
	Changes        []ImportChange `json:"changes,omitempty"`
	ChangesOmitted int            `json:"changes_omitted,omitempty"`
	DryRun         bool           `json:"dry_run,omitempty"`
}

// maxProblems is how many problems an import lists.
const maxProblems = 100

// FeatureSource yields features to import; geo.FeatureReader is one.
type FeatureSource interface {
	Next() (geo.Feature, error)
}

// problemList collects problems up to maxProblems and counts the rest.
type problemList struct {
	list  []ImportProblem
	total int
}

func (p *problemList) add(idx int, code, format string, args ...any) {
	p.total++
	if len(p.list) < maxProblems {
		p.list = append(p.list, ImportProblem{Index: idx, Code: code, Reason: fmt.Sprintf(format, args...)})
	}
}

func (p *problemList) err() error {
	if p.total == 0 {
		return nil
	}
	return &ImportError{Problems: p.list, Total: p.total}
}

// Import loads features in one transaction: all of them, or none. Features
// are checked in Go as they stream in, copied into a staging table, checked
// again by PostGIS (validity, parents, duplicates), and then upserted by
// code, so that importing the same file twice changes nothing.
func (s *Store) Import(ctx context.Context, src FeatureSource, opt ImportOptions) (ImportResult, error) {
	if err := s.checkOptions(ctx, &opt); err != nil {
		return ImportResult{}, err
	}
	var res ImportResult
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		var probs problemList
		n, err := s.stage(ctx, tx, src, opt, &res, &probs)
		res.Read = n
		if err != nil {
			return err
		}
		if w, ok := src.(interface{ Warnings() []string }); ok { // what a reader left out
			res.Warnings = append(res.Warnings, w.Warnings()...)
		}
		if err := probs.err(); err != nil {
			return err
		}
		if opt.Within != "" {
			tag, err := tx.Exec(ctx, `
				DELETE FROM import_stage s USING regions r
				WHERE r.code = @within AND NOT (r.geom && s.geom AND ST_Intersects(r.geom, s.geom))`,
				pgx.NamedArgs{"within": opt.Within})
			if err != nil {
				return err
			}
			res.Skipped = int(tag.RowsAffected())
		}
		if err := checkStagedGeometry(ctx, tx, opt, &res, &probs); err != nil {
			return err
		}
		if err := checkDuplicates(ctx, tx, &probs); err != nil {
			return err
		}
		if err := probs.err(); err != nil {
			return err
		}
		switch opt.Kind {
		case "regions":
			err = s.importRegions(ctx, tx, opt, &res, &probs)
		case "units":
			err = s.importUnits(ctx, tx, opt, &res, &probs)
		case "grids":
			err = s.importGrids(ctx, tx, opt, &res, &probs)
		case "objects":
			err = s.importObjects(ctx, tx, opt, &res, &probs)
		}
		if err != nil {
			return err
		}
		if err := probs.err(); err != nil {
			return err
		}
		if opt.DryRun {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	res.Kind, res.DryRun = opt.Kind, opt.DryRun
	return res, err
}

// errDryRun rolls a dry run's transaction back. The change notices the
// triggers send (pg_notify) are transactional and go with it.
var errDryRun = errors.New("dry run: rolled back")

// Check refuses options that no file could satisfy: a kind that cannot be
// imported, regions without a level. It needs no database, so a caller can
// refuse a request before reading its body; Import checks again.
func (o ImportOptions) Check() error {
	if !slices.Contains(kinds(), o.Kind) {
		return fmt.Errorf("%w (one of %s)", &grids.NotFoundError{What: "import kind", Key: o.Kind}, strings.Join(kinds(), ", "))
	}
	if o.Kind == "regions" {
		if _, ok := grids.ParseLevel(string(o.Level)); !ok {
			return grids.Malformed("level", "regions need a level (district, subdistrict or community)")
		}
	}
	return nil
}

// checkOptions adds to Check what needs the database, and fills in the
// defaults.
func (s *Store) checkOptions(ctx context.Context, opt *ImportOptions) error {
	if err := opt.Check(); err != nil {
		return err
	}
	if opt.CodeProp == "" {
		opt.CodeProp = "code"
	}
	if opt.NameProp == "" {
		opt.NameProp = "name"
	}
	if opt.Source == "" {
		opt.Source = "geojson"
	}
	if opt.Within != "" {
		if _, err := s.core.Region(ctx, opt.Within); err != nil {
			return grids.Invalid("region", "region %q does not exist", opt.Within)
		}
	}
	if opt.Kind == "objects" && opt.Layer != "" {
		var ok bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM layers WHERE code = @layer)`, pgx.NamedArgs{"layer": opt.Layer}).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return grids.Invalid("layer", "layer %q does not exist (see /api/v1/layers)", opt.Layer)
		}
	}
	return nil
}

// stagedRow is one feature on its way into the staging table.
type stagedRow struct {
	idx                                            int
	fid, code, name, parent, layer, kind, category string
	wkb                                            []byte
	props                                          map[string]any
}

// stageSource feeds pgx's COPY from the feature stream, checking each
// feature in Go and skipping (but recording) the bad ones.
type stageSource struct {
	s     *Store
	src   FeatureSource
	opt   ImportOptions
	res   *ImportResult // for the line repairs
	probs *problemList
	row   stagedRow
	err   error
	read  int
}

func (ss *stageSource) Next() bool {
	for {
		f, err := ss.src.Next()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			ss.err = &ImportError{Problems: []ImportProblem{{Index: ss.read, Reason: err.Error()}}, Total: 1}
			return false
		}
		ss.read++
		if ss.opt.Progress != nil {
			ss.opt.Progress(ss.read)
		}
		row, ok := ss.check(f)
		if ok {
			ss.row = row
			return true
		}
	}
}

func (ss *stageSource) Values() ([]any, error) {
	r := ss.row
	return []any{r.idx, r.fid, r.code, r.name, r.parent, r.layer, r.kind, r.category, r.wkb, r.props}, nil
}

func (ss *stageSource) Err() error { return ss.err }

// Property reads a feature property as trimmed text; a whole number reads
// without a decimal point, since codes often come as JSON numbers.
func Property(props map[string]any, key string) string {
	v, ok := props[key]
	if !ok || v == nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

func (ss *stageSource) check(f geo.Feature) (stagedRow, bool) {
	opt, p := ss.opt, f.Properties
	r := stagedRow{idx: f.Index, fid: f.ID, code: Property(p, opt.CodeProp), name: Property(p, opt.NameProp), props: p}
	if opt.ParentProp != "" {
		r.parent = Property(p, opt.ParentProp)
	}
	bad := func(format string, args ...any) (stagedRow, bool) {
		ss.probs.add(f.Index, r.code, format, args...)
		return r, false
	}
	if f.GeometryErr != nil {
		return bad("%v", f.GeometryErr)
	}
	codes := ss.s.core.Codes()
	switch opt.Kind {
	case "regions":
		if r.code == "" {
			return bad("no %q property: every region needs a code", opt.CodeProp)
		}
		if msg := codes.CheckRegionCode(opt.Level, r.code); msg != "" {
			return bad("%s", msg)
		}
		if r.name == "" {
			return bad("no %q property: every region needs a name", opt.NameProp)
		}
		if opt.ParentProp != "" && opt.Level != grids.District && r.parent == "" {
			return bad("no %q property: the parent's code is missing", opt.ParentProp)
		}
		if err := wantTypes(f.Geometry, "Polygon", "MultiPolygon"); err != nil {
			return bad("%v", err)
		}
		if pg, ok := f.Geometry.(orb.Polygon); ok {
			f.Geometry = orb.MultiPolygon{pg}
		}
	case "grids":
		if r.code == "" {
			return bad("no %q property: every grid needs a code", opt.CodeProp)
		}
		if codes.Grid != nil && !codes.Grid.MatchString(r.code) {
			return bad("%q is not a grid code (15 digits: the community's 12 and a 3-digit number)", r.code)
		}
		if err := wantTypes(f.Geometry, "Polygon"); err != nil {
			if mp, ok := f.Geometry.(orb.MultiPolygon); ok && len(mp) == 1 {
				f.Geometry = mp[0]
			} else {
				return bad("%v", err)
			}
		}
	case "units":
		if r.code == "" {
			return bad("no %q property: every unit needs a code", opt.CodeProp)
		}
		if msg := codes.CheckUnitCode(r.code); msg != "" {
			return bad("%s", msg)
		}
		if r.name == "" {
			return bad("no %q property: every unit needs a name", opt.NameProp)
		}
		parentProp := opt.ParentProp
		if parentProp == "" {
			parentProp = "parent"
		}
		r.parent = Property(p, parentProp)
		r.kind = Property(p, "kind")
		if r.kind == "" {
			r.kind = "other"
		}
		if !slices.Contains(grids.UnitKinds(), r.kind) {
			return bad("kind %q is not a unit kind (one of %s)", r.kind, strings.Join(grids.UnitKinds(), ", "))
		}
	case "objects":
		r.layer = opt.Layer
		if r.layer == "" {
			r.layer = Property(p, "layer")
		}
		if r.layer == "" {
			return bad("no layer: pass --layer or give each feature a \"layer\" property")
		}
		r.category = Property(p, "category")
		if r.code == "" && r.fid == "" {
			return bad("neither a %q property nor a feature id: a re-import could not find the object again", opt.CodeProp)
		}
		if f.Geometry == nil {
			return bad("geometry is missing")
		}
		if _, ok := f.Geometry.(orb.Collection); ok {
			return bad("a GeometryCollection cannot be an object; split it")
		}
	}
	g, ok := ss.checkLines(f, r.code)
	if !ok {
		return r, false
	}
	f.Geometry = g
	if f.Geometry != nil {
		if err := geo.Validate(f.Geometry); err != nil {
			return bad("%v", err)
		}
		g := geo.Convert(f.Geometry, opt.CRS, geo.WGS84)
		b, err := wkb.Marshal(g)
		if err != nil {
			return bad("cannot encode geometry: %v", err)
		}
		r.wkb = b
	} else if opt.Kind != "units" {
		return bad("geometry is missing")
	}
	return r, true
}

func wantTypes(g orb.Geometry, types ...string) error {
	if g == nil {
		return errors.New("geometry is missing")
	}
	for _, t := range types {
		if g.GeoJSONType() == t {
			return nil
		}
	}
	return fmt.Errorf("a %s where a %s is needed", g.GeoJSONType(), strings.Join(types, " or "))
}

// stage copies the checked features into import_stage (dropped at commit).
func (s *Store) stage(ctx context.Context, tx pgx.Tx, src FeatureSource, opt ImportOptions, res *ImportResult, probs *problemList) (int, error) {
	_, err := tx.Exec(ctx, `
		CREATE TEMP TABLE import_raw (
			idx int, fid text, code text, name text, parent text, layer text, kind text, category text,
			wkb bytea, props jsonb) ON COMMIT DROP`)
	if err != nil {
		return 0, err
	}
	ss := &stageSource{s: s, src: src, opt: opt, res: res, probs: probs}
	cols := []string{"idx", "fid", "code", "name", "parent", "layer", "kind", "category", "wkb", "props"}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_raw"}, cols, ss); err != nil {
		if ss.err != nil { // the file broke off, not the database
			return ss.read, ss.err
		}
		return ss.read, err
	}
	_, err = tx.Exec(ctx, `
		CREATE TEMP TABLE import_stage ON COMMIT DROP AS
		SELECT idx, NULLIF(fid, '') AS fid, NULLIF(code, '') AS code, name, NULLIF(parent, '') AS parent,
		       NULLIF(layer, '') AS layer, NULLIF(kind, '') AS kind, NULLIF(category, '') AS category,
		       ST_GeomFromWKB(wkb, 4326) AS geom, props, false AS fixed
		FROM import_raw;
		DROP TABLE import_raw;
		CREATE INDEX ON import_stage USING gist (geom);
		CREATE INDEX ON import_stage (code);
		ANALYZE import_stage`)
	return ss.read, err
}

// checkStagedGeometry asks PostGIS about every staged geometry's validity,
// and repairs the invalid ones when asked to.
func checkStagedGeometry(ctx context.Context, tx pgx.Tx, opt ImportOptions, res *ImportResult, probs *problemList) error {
	type bad struct {
		idx    int
		code   *string
		reason string
	}
	rows, err := tx.Query(ctx, `
		SELECT idx, code, ST_IsValidReason(geom) FROM import_stage
		WHERE geom IS NOT NULL AND NOT ST_IsValid(geom) ORDER BY idx`)
	if err != nil {
		return err
	}
	bads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bad, error) {
		var b bad
		return b, r.Scan(&b.idx, &b.code, &b.reason)
	})
	if err != nil {
		return err
	}
	if len(bads) == 0 {
		return nil
	}
	if !opt.Fix {
		for _, b := range bads {
			probs.add(b.idx, deref(b.code), "invalid geometry: %s (import with --fix to repair with ST_MakeValid)", b.reason)
		}
		return nil
	}
	// Repair keeping the dimension the record needs: polygons stay polygons.
	_, err = tx.Exec(ctx, `
		UPDATE import_stage SET fixed = true, geom = CASE
			WHEN ST_Dimension(geom) = 2 AND @kind IN ('regions') THEN ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3))
			WHEN ST_Dimension(geom) = 2 THEN ST_CollectionExtract(ST_MakeValid(geom), 3)
			WHEN ST_Dimension(geom) = 1 THEN ST_CollectionExtract(ST_MakeValid(geom), 2)
			ELSE ST_MakeValid(geom) END
		WHERE geom IS NOT NULL AND NOT ST_IsValid(geom)`, pgx.NamedArgs{"kind": opt.Kind})
	if err != nil {
		return err
	}
	for _, b := range bads {
		res.Fixed++
		if len(res.Fixes) < maxProblems {
			res.Fixes = append(res.Fixes, ImportProblem{Index: b.idx, Code: deref(b.code), Reason: "repaired: " + b.reason})
		}
	}
	// A repair can leave nothing, or split a grid into several polygons.
	rows, err = tx.Query(ctx, `
		SELECT idx, code, CASE WHEN ST_IsEmpty(geom) THEN 'nothing is left after repair'
		                       ELSE 'repair gives a ' || GeometryType(geom) || '; fix it by hand' END
		FROM import_stage
		WHERE fixed AND (ST_IsEmpty(geom) OR (@kind = 'grids' AND GeometryType(geom) <> 'POLYGON'))
		ORDER BY idx`, pgx.NamedArgs{"kind": opt.Kind})
	if err != nil {
		return err
	}
	left, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (bad, error) {
		var b bad
		return b, r.Scan(&b.idx, &b.code, &b.reason)
	})
	for _, b := range left {
		probs.add(b.idx, deref(b.code), "%s", b.reason)
	}
	return err
}

// checkDuplicates refuses a file that names the same code twice.
func checkDuplicates(ctx context.Context, tx pgx.Tx, probs *problemList) error {
	rows, err := tx.Query(ctx, `
		SELECT code, array_agg(idx ORDER BY idx) FROM import_stage
		WHERE code IS NOT NULL GROUP BY code HAVING count(*) > 1 ORDER BY min(idx)`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var idx []int32
		if err := rows.Scan(&code, &idx); err != nil {
			return err
		}
		for _, i := range idx[1:] {
			probs.add(int(i), code, "code %q already appears at feature %d", code, idx[0])
		}
	}
	return rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// collectProblems turns rows of (idx, code, reason) into problems.
func collectProblems(ctx context.Context, tx pgx.Tx, probs *problemList, sql string, args pgx.NamedArgs) error {
	rows, err := tx.Query(ctx, sql, args)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var code *string
		var reason string
		if err := rows.Scan(&idx, &code, &reason); err != nil {
			return err
		}
		probs.add(idx, deref(code), "%s", reason)
	}
	return rows.Err()
}

// upsertCounts turns the "inserted" flags RETURNED by an upsert into counts;
// rows left alone because nothing changed return nothing.
func upsertCounts(ctx context.Context, tx pgx.Tx, res *ImportResult, staged int, sql string, args pgx.NamedArgs) error {
	rows, err := tx.Query(ctx, sql, args)
	if err != nil {
		return err
	}
	inserted, err := pgx.CollectRows(rows, pgx.RowTo[bool])
	if err != nil {
		return err
	}
	for _, ins := range inserted {
		if ins {
			res.Created++
		} else {
			res.Updated++
		}
	}
	res.Unchanged += staged - len(inserted)
	return nil
}

func stagedCount(ctx context.Context, tx pgx.Tx, where string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM import_stage WHERE `+where).Scan(&n)
	return n, err
}
