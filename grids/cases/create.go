package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// MaxText is the longest description or note, in characters.
const MaxText = 4000

// CreateInput is a new report.
type CreateInput struct {
	Lon           *float64 `json:"lon"`
	Lat           *float64 `json:"lat"`
	CRS           string   `json:"crs"`
	Address       string   `json:"address"`
	Region        string   `json:"region"` // narrows the address search
	Category      string   `json:"category"`
	Source        string   `json:"source"`
	Description   string   `json:"description"`
	ReporterName  string   `json:"reporter_name"`
	ReporterPhone string   `json:"reporter_phone"`
	ObjectID      *int64   `json:"object_id"`
	PhotoURLs     []string `json:"photo_urls"`
	// Photos are uploads (multipart intake), stored at the report stage.
	Photos []PhotoInput `json:"-"`
	// ReportedAt backdates a report (demo data, imports from another
	// system); admin only, never in the future.
	ReportedAt *time.Time `json:"reported_at"`
}

// check validates the fields that need no database.
func (in *CreateInput) check(p grids.Principal, now time.Time) (geo.CRS, error) {
	var pr grids.Problems
	crs, err := geo.ParseCRS(in.CRS)
	if err != nil {
		pr.Add("crs", "%v", err)
	}
	switch {
	case (in.Lon == nil) != (in.Lat == nil):
		pr.Add("lat", "give both lon and lat, or neither and an address")
	case in.Lon == nil && strings.TrimSpace(in.Address) == "":
		pr.Add("lon", "required: a location (lon, lat) or an address")
	case in.Lon != nil:
		if *in.Lon < -180 || *in.Lon > 180 {
			pr.Add("lon", "%g is outside -180..180", *in.Lon)
		}
		if *in.Lat < -90 || *in.Lat > 90 {
			pr.Add("lat", "%g is outside -90..90", *in.Lat)
		}
	}
	if in.Category == "" {
		pr.Add("category", "required (see /api/v1/categories)")
	}
	if !slices.Contains(Sources(), in.Source) {
		pr.Add("source", "%q is not a source (one of %s)", in.Source, strings.Join(Sources(), ", "))
	}
	if n := utf8.RuneCountInString(in.Description); n > MaxText {
		pr.Add("description", "%d characters; at most %d", n, MaxText)
	}
	if utf8.RuneCountInString(in.Address) > 500 {
		pr.Add("address", "at most 500 characters")
	}
	if utf8.RuneCountInString(in.ReporterName) > 100 {
		pr.Add("reporter_name", "at most 100 characters")
	}
	if utf8.RuneCountInString(in.ReporterPhone) > 40 {
		pr.Add("reporter_phone", "at most 40 characters")
	}
	if len(in.PhotoURLs) > 10 {
		pr.Add("photo_urls", "at most 10 photos")
	}
	for i, u := range in.PhotoURLs {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			pr.Add(fmt.Sprintf("photo_urls[%d]", i), "%q is not an http(s) URL", u)
		}
	}
	if in.ReportedAt != nil {
		if p.Role != grids.RoleAdmin {
			pr.Add("reported_at", "only an admin may backdate a report")
		} else if in.ReportedAt.After(now) {
			pr.Add("reported_at", "is in the future")
		}
	}
	return crs, pr.Err()
}

// Create files a report: it places and routes it, looks for duplicates,
// and writes the case, its first event, its photo links and the
// idempotency key in one transaction. With an idempotency key already
// used by the same user, it returns that case (replayed true) when the
// body is the same, and refuses a different body.
func (s *Store) Create(ctx context.Context, p grids.Principal, in CreateInput, key string, bodyHash []byte) (Case, bool, error) {
	now := time.Now()
	crs, err := in.check(p, now)
	if err != nil {
		return Case{}, false, err
	}
	photos, err := s.preparePhotos(in.Photos, len(in.PhotoURLs))
	if err != nil {
		return Case{}, false, err
	}
	if key != "" {
		if c, ok, err := s.replay(ctx, p, key, bodyHash); ok || err != nil {
			return c, ok, err
		}
	}
	reportedAt := now
	if in.ReportedAt != nil {
		reportedAt = *in.ReportedAt
	}
	c := Case{Status: Reported, Category: in.Category, Source: in.Source, Description: in.Description,
		LocationQuality: "gps", ReportedBy: p.User, ReportedAt: reportedAt, ObjectID: in.ObjectID, UpdatedAt: now}
	if a := strings.TrimSpace(in.Address); a != "" {
		c.Address = &a
	}
	var pt orb.Point
	var placed map[string]any // how an address was placed, for the first event
	field := "lon"
	if in.Lon != nil {
		raw := orb.Point{*in.Lon, *in.Lat}
		pt = crs.ToWGS84()(raw)
		if crs != geo.WGS84 {
			c.Input = &grids.InputPoint{Lon: raw[0], Lat: raw[1], CRS: crs.String()}
		}
	} else {
		if s.cfg.Geocode == nil {
			return Case{}, false, grids.Invalid("address", "placing an address is not available on this server; give lon and lat")
		}
		pl, err := s.cfg.Geocode(ctx, *c.Address, in.Region)
		if err != nil {
			return Case{}, false, err
		}
		pt = orb.Point{pl.Lon, pl.Lat}
		c.LocationQuality, c.NeedsConfirmation, field = "address", pl.Ambiguous, "address"
		placed = map[string]any{"address_match": pl.Match, "ambiguous": pl.Ambiguous}
	}
	c.Point = grids.LonLat{Lon: pt[0], Lat: pt[1]}
	loc, release, err := s.locate(ctx, pt, in.Category, field)
	if err != nil {
		return Case{}, false, err
	}
	defer release()
	s.place(&c, loc)
	if in.ReporterName != "" || in.ReporterPhone != "" {
		c.Reporters = []Reporter{{Name: in.ReporterName, Phone: in.ReporterPhone, Source: in.Source}}
	}
	cells, err := h3Cells(pt)
	if err != nil {
		return Case{}, false, err
	}
	if err := s.limitOf(&c); err != nil {
		return Case{}, false, err
	}
	if err := s.newCode(ctx, &c); err != nil {
		return Case{}, false, err
	}
	if len(c.Reporters) > 0 {
		c.Reporters[0].Case = c.Code
	}
	// One round trip for the statements that need nothing from each
	// other; the later ones find the case by its code. Sent alone, a batch
	// is one implicit transaction, committed at its end: no BEGIN and
	// COMMIT round trips. Uploaded photos need the case's id first: they
	// take an explicit transaction.
	b := &pgx.Batch{}
	// Generic plans for the batch: the duplicate search names its
	// partitions for them, and the insert's plan does not depend on its
	// values.
	b.Queue(`SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`)
	if err := s.queueDuplicates(ctx, s.pool, b, &c.PossibleDuplicates, &c, pt, reportedAt); err != nil {
		return Case{}, false, err
	}
	if err := s.queueInsert(b, &c, cells, p, placed); err != nil {
		return Case{}, false, err
	}
	const thisCase = `(SELECT id FROM cases WHERE code = @code AND reported_at = @at)`
	for _, u := range in.PhotoURLs {
		b.Queue(`INSERT INTO case_photos (case_id, case_code, stage, url, uploaded_by)
			VALUES (`+thisCase+`, @code, 'report', @url, @by)`,
			pgx.NamedArgs{"code": c.Code, "at": c.ReportedAt, "url": u, "by": p.User})
	}
	if key != "" {
		// A key already taken fails the batch (case_requests_pkey): the
		// case goes with it, and the answer is the earlier case.
		b.Queue(`INSERT INTO case_requests (principal, key, body_sha256, case_id, case_code)
			VALUES (@p, @k, @h, `+thisCase+`, @code)`,
			pgx.NamedArgs{"p": principalKey(p), "k": key, "h": bodyHash, "code": c.Code, "at": c.ReportedAt})
	}
	if len(photos) == 0 {
		err = s.pool.SendBatch(ctx, b).Close()
	} else {
		err = s.core.Tx(ctx, func(tx pgx.Tx) error {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			c.Photos, err = s.insertPhotos(ctx, tx, p, &c, StageReport, photos)
			return err
		})
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "case_requests_pkey":
		err = errReplay // a concurrent retry won: answer with its case
	case errors.Is(err, pgx.ErrNoRows) && c.ObjectID != nil: // the insert's condition: the object exists
		return Case{}, false, grids.Invalid("object_id", "no object %d", *c.ObjectID)
	}
	if errors.Is(err, errReplay) {
		c, _, err := s.replay(ctx, p, key, bodyHash)
		return c, true, err
	}
	if err != nil {
		return Case{}, false, err
	}
	s.seeAs(p, &c, now)
	return c, false, nil
}

var errReplay = errors.New("idempotency key used concurrently")

// principalKey scopes idempotency keys to the user.
func principalKey(p grids.Principal) string { return p.User }

// replay answers a retried intake from its idempotency key.
func (s *Store) replay(ctx context.Context, p grids.Principal, key string, bodyHash []byte) (Case, bool, error) {
	var hash []byte
	var code string
	err := s.pool.QueryRow(ctx, `SELECT body_sha256, case_code FROM case_requests WHERE principal = $1 AND key = $2`,
		principalKey(p), key).Scan(&hash, &code)
	if errors.Is(err, pgx.ErrNoRows) {
		return Case{}, false, nil
	}
	if err != nil {
		return Case{}, false, err
	}
	if !bytes.Equal(hash, bodyHash) {
		return Case{}, false, grids.Invalid("Idempotency-Key", "this key was used for case %s with a different body; use a new key for a new report", code)
	}
	c, err := s.Get(ctx, p, code)
	return c, true, err
}

// place copies where a point is and who should take it into the case.
func (s *Store) place(c *Case, loc *located) {
	c.Routing = loc.routing
	c.Theme = loc.routing.Theme
	c.Regions = loc.regions()
	c.Grid = nil
	if code, v := loc.grid(); code != nil {
		g := loc.snap.Grids[loc.l.Grid]
		c.Grid = &grids.AnswerGrid{Code: *code, Name: g.Name, Version: *v}
	}
	c.CurrentGrid = c.Grid // placed now: the report's grid is the current one
	c.ProposedUnit = nil
	if loc.proposed != "" {
		for _, o := range loc.routing.Leads {
			if o.Unit.Code == loc.proposed {
				c.ProposedUnit = &grids.CodeName{Code: o.Unit.Code, Name: o.Unit.Name}
				break
			}
		}
	} else {
		c.NeedsConfirmation = true // nobody answers here: the dispatcher chooses
	}
}

// limitOf copies the category's name, handling limit and duplicate rules
// into the case, from the locate snapshot.
func (s *Store) limitOf(c *Case) error {
	r, ok := s.resolver.Snapshot().Category(c.Category)
	if !ok {
		return grids.Invalid("category", "unknown category %q", c.Category)
	}
	c.CategoryName, c.limitHours, c.limitDays = r.Name, r.LimitHours, r.LimitDays
	c.dupRadiusM, c.dupWindowH = r.DuplicateRadiusM, r.DuplicateWindowHours
	c.setLimit()
	return nil
}

// newCode takes the next code of the district and local day: district
// code, date, and a five-digit sequence (110108-20261201-00042). It runs
// in its own short transaction before the case's, so that the counter's
// row (one a district and day, shared by every report there) is locked
// for one statement rather than until the case commits. Its commit is
// asynchronous, which is safe: the case's durable commit comes later in
// the WAL and flushes it too, so no stored case can lose its number to a
// crash. A case whose transaction fails leaves a gap in the sequence,
// never a repeat.
func (s *Store) newCode(ctx context.Context, c *Case) error {
	prefix := s.CodePrefix(c.Regions.District.Code, c.ReportedAt)
	var n int
	// A statement sent alone is its own transaction: the function's
	// asynchronous commit is that of this statement only.
	if err := s.pool.QueryRow(ctx, `SELECT citygrid_next_case_number($1)`, prefix).Scan(&n); err != nil {
		return err
	}
	c.Code = CaseCode(prefix, n)
	return nil
}

// queueInsert queues the statement that writes the case row, its first
// event and its announcement: intake's round trips are most of its time.
// It writes nothing when the case names an object that does not exist
// (the statement's QueryRow then fails with pgx.ErrNoRows), which needs
// no round trip of its own to check.
func (s *Store) queueInsert(b *pgx.Batch, c *Case, cells [5]int64, p grids.Principal, placed map[string]any) error {
	routing, input, grid, version, err := c.columns()
	if err != nil {
		return err
	}
	reporters, err := json.Marshal(c.reportersOrEmpty())
	if err != nil {
		return err
	}
	msg, err := announcement(c, actReport)
	if err != nil {
		return err
	}
	args := pgx.NamedArgs{"code": c.Code, "at": c.ReportedAt, "status": c.Status, "category": c.Category, "theme": c.Theme,
		"source": c.Source, "description": c.Description, "address": c.Address, "quality": c.LocationQuality,
		"confirm": c.NeedsConfirmation, "lon": c.Point.Lon, "lat": c.Point.Lat, "input": input, "reporters": reporters,
		"by": c.ReportedBy, "object": c.ObjectID, "grid": grid, "version": version,
		"district": regionCode(c.Regions.District), "sub": regionCode(c.Regions.Subdistrict),
		"community": regionCode(c.Regions.Community), "routing": routing, "proposed": unitCode(c.ProposedUnit),
		"hours": c.limitHours, "days": c.limitDays,
		"h6": cells[0], "h7": cells[1], "h8": cells[2], "h9": cells[3], "h10": cells[4], "now": c.UpdatedAt,
		"channel": EventChannel, "msg": msg}
	if err := eventArgs(args, c, p, actReport, nil, "", placed, c.ReportedAt); err != nil {
		return err
	}
	sql, pos, err := s.intake.Args(args)
	if err != nil {
		return err
	}
	b.Queue(sql, pos...).
		QueryRow(func(r pgx.Row) error {
			var notified bool
			return r.Scan(&c.id, &c.proposedID, &notified)
		})
	return nil
}

// intakeSQL writes a case row, its first event and its announcement in one
// statement (queueInsert).
const intakeSQL = `
		WITH c AS (INSERT INTO cases (code, reported_at, status, category_code, theme_code, source, description, address,
			location_quality, needs_confirmation, geom, input, reporters, reported_by, object_id, grid_code, grid_version,
			district_code, subdistrict_code, community_code, routing, proposed_unit_id, limit_hours, limit_days,
			h3_r6, h3_r7, h3_r8, h3_r9, h3_r10, updated_at)
		SELECT @code, @at, @status, @category, @theme, @source, @description, @address,
			@quality, @confirm, ST_SetSRID(ST_Point(@lon, @lat), 4326), @input, @reporters, @by, @object::bigint, @grid, @version,
			@district, @sub, @community, @routing, (SELECT id FROM units WHERE code = @proposed), @hours, @days,
			@h6, @h7, @h8, @h9, @h10, @now
		WHERE @object::bigint IS NULL OR EXISTS (SELECT 1 FROM objects WHERE id = @object::bigint)
			RETURNING id, proposed_unit_id),
		e AS (INSERT INTO case_events ` + eventColumns + ` SELECT c.id, ` + eventValues + ` FROM c)
		SELECT id, proposed_unit_id, pg_notify(@channel, @msg) IS NULL FROM c`

func (c *Case) reportersOrEmpty() []Reporter {
	if c.Reporters == nil {
		return []Reporter{}
	}
	return c.Reporters
}

func regionCode(cn *grids.CodeName) *string {
	if cn == nil {
		return nil
	}
	return &cn.Code
}

func unitCode(cn *grids.CodeName) *string {
	if cn == nil {
		return nil
	}
	return &cn.Code
}
