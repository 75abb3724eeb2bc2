package drafts

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/history"
)

// PublishOptions are a planner's choices at a publish.
type PublishOptions struct {
	// Assignments overrides the impact's proposal for grid assignments, by
	// assignment id: the draft grids to carry it to (usually one; several
	// give each part of a split grid the duty), none to end it.
	Assignments map[int64][]string
	// Check is the size guideline of the draft check; its size findings
	// are warnings, every other finding stops the publish.
	Check coverage.GridCheckOptions
}

// How a publish opened or closed a grid version.
const (
	Renamed  = "renamed"  // same geometry, new name: a new version, so history shows who renamed it
	Restored = "restored" // a rollback brought back a closed code: its next version, the same grid's lineage
)

// GridVersion is one grid version a publish opened or closed.
type GridVersion struct {
	Code    string `json:"code"`
	Version int    `json:"version"`
	Kind    string `json:"kind"` // added, reshaped, renamed, restored (opened); removed, reshaped, renamed (closed)
}

// LineageLink is one link a publish recorded between versions of two codes.
type LineageLink struct {
	From        string   `json:"from"`
	FromVersion int      `json:"from_version"`
	To          string   `json:"to"`
	ToVersion   int      `json:"to_version"`
	Kind        string   `json:"kind"` // split, merge, redraw
	Share       *float64 `json:"share,omitempty"`
}

// CarriedAssignment is a grid assignment ended on its old grid and started
// on a grid of the published layout.
type CarriedAssignment struct {
	ID     int64  `json:"id"`     // the ended assignment
	NewID  int64  `json:"new_id"` // its successor
	Theme  string `json:"theme"`
	Unit   string `json:"unit"`
	Role   string `json:"role"`
	From   string `json:"from"`
	To     string `json:"to"`
	Chosen bool   `json:"chosen"` // the planner's choice rather than the impact's proposal
}

// Why a publish ended an assignment without carrying it.
const (
	EndOrphaned  = "orphaned"  // its grid went and no grid of the draft holds any of it
	EndDropped   = "dropped"   // the planner chose to end it
	EndDuplicate = "duplicate" // the same unit already has the same duty on the grid it would go to
)

// EndedAssignment is a grid assignment a publish ended.
type EndedAssignment struct {
	ID    int64  `json:"id"`
	Theme string `json:"theme"`
	Unit  string `json:"unit"`
	Role  string `json:"role"`
	Grid  string `json:"grid"`
	Why   string `json:"why"`
	Into  string `json:"into,omitempty"` // a duplicate's grid
}

// RegriddedCase is an open case whose grid a publish changed: the grid and
// version of its report stay, the current ones are the published layout's.
type RegriddedCase struct {
	Code               string  `json:"code"`
	GridCode           *string `json:"grid_code"`
	GridVersion        *int    `json:"grid_version"`
	CurrentGridCode    *string `json:"current_grid_code"`
	CurrentGridVersion *int    `json:"current_grid_version"`
}

// Published is what a publish wrote.
type Published struct {
	Draft       int64          `json:"draft"`
	ETag        string         `json:"etag"`
	Region      string         `json:"region"`
	PublishedAt time.Time      `json:"published_at"` // valid_to of the closed versions, valid_from of the opened ones
	PublishedBy string         `json:"published_by"`
	RollbackTo  *time.Time     `json:"rollback_to,omitempty"`
	Summary     map[string]int `json:"summary"`
	Opened      []GridVersion  `json:"opened"`
	Closed      []GridVersion  `json:"closed"`
	Unchanged   int            `json:"unchanged"` // live grids kept as they are (same version)
	Lineage     []LineageLink  `json:"lineage"`
	Assignments struct {
		Carried []CarriedAssignment `json:"carried"`
		Ended   []EndedAssignment   `json:"closed"`
	} `json:"assignments"`
	Cases []RegriddedCase `json:"cases"`
	// Renumbered are the draft's new codes that another publish took first,
	// and the codes they got instead.
	Renumbered map[string]string `json:"renumbered"`
	// Warnings are the check's size findings (too_small, too_large), which
	// do not stop a publish.
	Warnings []json.RawMessage `json:"warnings"`
}

// warningKinds are the check's findings that do not stop a publish: the
// size guideline is advice to the planner, the tiling and the codes are
// rules of the live city.
var warningKinds = map[string]bool{"too_small": true, "too_large": true}

// Publish replaces the live grids of the draft's region with the draft's
// in one transaction: the draft's ETag checked under its lock, the
// region's publishes serialised, refused (409, nothing written) when the
// live layout moved since the draft was made, the draft check run (422 on
// an error), then the grids, their lineage, the grid assignments and the
// open cases written as the impact says, and the draft marked published.
// gridBeforeSQL is the live grid that holds point m.p by the ownership
// rule (grids/ownership.go: the covering grid with the smallest code).
const gridBeforeSQL = `(SELECT g.code FROM grids g WHERE g.valid_to IS NULL AND g.geom && m.p AND ST_Covers(g.geom, m.p) ORDER BY g.code COLLATE "C" LIMIT 1)`

func (s *Store) Publish(ctx context.Context, by grids.Principal, id int64, etag string, opt PublishOptions) (Published, error) {
	var out Published
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.publish(ctx, tx, by, id, etag, opt)
		return err
	})
	return out, err
}

func (s *Store) publish(ctx context.Context, tx pgx.Tx, by grids.Principal, id int64, etag string, opt PublishOptions) (Published, error) {
	out := Published{Draft: id, PublishedBy: by.User, Summary: map[string]int{}, Opened: []GridVersion{}, Closed: []GridVersion{},
		Lineage: []LineageLink{}, Cases: []RegriddedCase{}, Renumbered: map[string]string{}, Warnings: []json.RawMessage{}}
	out.Assignments.Carried, out.Assignments.Ended = []CarriedAssignment{}, []EndedAssignment{}
	if err := history.SetActor(ctx, tx, by.User); err != nil {
		return out, err
	}
	d, err := s.lock(ctx, tx, id, etag)
	if err != nil {
		return out, err
	}
	out.Region, out.RollbackTo = d.region, d.rollbackTo
	if err := lockRegion(ctx, tx, d.regionID); err != nil {
		return out, err
	}
	if err := s.unmoved(ctx, tx, d); err != nil {
		return out, err
	}
	if err := s.renumber(ctx, tx, d, &out); err != nil {
		return out, err
	}
	if err := s.checkForPublish(ctx, tx, d, opt.Check, &out); err != nil {
		return out, err
	}
	im, err := s.impact(ctx, tx, id)
	if err != nil {
		return out, err
	}
	plan, err := s.planAssignments(ctx, tx, id, im, opt.Assignments, out.Renumbered)
	if err != nil {
		return out, err
	}
	if err := s.writeGrids(ctx, tx, d, im, &out); err != nil {
		return out, err
	}
	if err := s.carry(ctx, tx, plan, &out); err != nil {
		return out, err
	}
	if err := regridCases(ctx, tx, im, &out); err != nil {
		return out, err
	}
	var revision int
	if err := tx.QueryRow(ctx, `UPDATE drafts SET published_at = now(), published_by = @by, revision = revision + 1, updated_at = now()
		WHERE id = @id RETURNING published_at, revision`, pgx.NamedArgs{"id": id, "by": by.User}).Scan(&out.PublishedAt, &revision); err != nil {
		return out, err
	}
	out.ETag = ETag(id, revision)
	out.Summary["opened"], out.Summary["closed"], out.Summary["unchanged"] = len(out.Opened), len(out.Closed), out.Unchanged
	out.Summary["lineage"], out.Summary["renumbered"], out.Summary["cases"] = len(out.Lineage), len(out.Renumbered), len(out.Cases)
	out.Summary["assignments_carried"], out.Summary["assignments_closed"] = len(out.Assignments.Carried), len(out.Assignments.Ended)
	return out, nil
}

// communitiesOf is the ids of the communities a draft of @region covers
// (the region itself, or a subdistrict's communities), as Create copies them.
const communitiesOf = `SELECT id FROM regions WHERE (id = @region OR parent_id = @region) AND level = 'community'`

// lockRegion serialises the publishes (and rollbacks) that write the
// grids of a region's communities: a transaction-level advisory lock per
// community, taken in id order so that a community's draft and its
// subdistrict's wait for each other without deadlock, then the live grid
// rows, so that other writers (an import) wait too. Taken before the live
// layout is read, so the second publish reads the first one's grids.
func lockRegion(ctx context.Context, tx pgx.Tx, regionID int64) error {
	args := pgx.NamedArgs{"region": regionID}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('citygrid.publish'), c.id::int)
		FROM (`+communitiesOf+` ORDER BY id OFFSET 0) c`, args); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT 1 FROM grids WHERE valid_to IS NULL AND community_id IN (`+communitiesOf+`) FOR UPDATE`, args)
	return err
}

// unmoved refuses a draft whose live layout changed since it was made:
// a version of the region's grids opened or closed after the draft's base,
// or a grid the draft was copied from that is no longer the live version
// (409, naming them). A rollback's draft restores closed codes, whose
// origin is the closed version, not a live one.
func (s *Store) unmoved(ctx context.Context, tx pgx.Tx, d draftRow) error {
	rows, err := tx.Query(ctx, `
		SELECT g.code, format('version %s %s at %s%s', g.version,
		       CASE WHEN g.valid_to > @base OR (@base::timestamptz IS NULL AND g.valid_to IS NOT NULL) THEN 'closed' ELSE 'opened' END,
		       to_char(COALESCE(g.valid_to, g.valid_from) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
		       ' by ' || COALESCE(CASE WHEN g.valid_to IS NOT NULL THEN g.closed_by ELSE g.created_by END, 'someone unrecorded'))
		FROM grids g
		WHERE g.community_id IN (`+communitiesOf+`)
		  AND (@base::timestamptz IS NULL OR g.valid_from > @base OR g.valid_to > @base)
		UNION ALL
		SELECT dg.origin_code, format('the draft copied version %s; %s', dg.origin_version,
		       COALESCE('the live version is ' || l.version, 'it is no longer live'))
		FROM draft_grids dg LEFT JOIN grids l ON l.code = dg.origin_code AND l.valid_to IS NULL
		WHERE dg.draft_id = @id AND dg.origin_code IS NOT NULL AND l.version IS DISTINCT FROM dg.origin_version
		  AND NOT (@rollback AND l.version IS NULL)
		ORDER BY 1, 2`,
		pgx.NamedArgs{"id": d.id, "region": d.regionID, "base": d.baseChanged, "rollback": d.rollbackTo != nil})
	if err != nil {
		return err
	}
	details, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (grids.FieldError, error) {
		var f grids.FieldError
		return f, r.Scan(&f.Field, &f.Message)
	})
	if err != nil || len(details) == 0 {
		return err
	}
	codes := map[string]bool{}
	for _, f := range details {
		codes[f.Field] = true
	}
	return &grids.ConflictError{Field: "draft", Details: details, Message: fmt.Sprintf(
		"the live grids of %s changed since the draft was made (%d grid(s): %s); nothing was published: make a new draft from the live layout",
		d.region, len(codes), listCodes(details))}
}

func listCodes(fs []grids.FieldError) string {
	var codes []string
	for _, f := range fs {
		if len(codes) == 0 || codes[len(codes)-1] != f.Field {
			codes = append(codes, f.Field)
		}
	}
	if len(codes) > 10 {
		return strings.Join(codes[:10], ", ") + fmt.Sprintf(" and %d more", len(codes)-10)
	}
	return strings.Join(codes, ", ")
}

// renumber gives the draft's new grids whose code a live or closed grid
// holds by now the community's next free codes: a code is never given to
// two places. Two drafts of one region that counted the same sequence do
// not get here (the first publish moves the second's base: 409); a grid
// its base does not see does (older layouts loaded as closed versions, a
// code from outside the region). The draft's rows take the new codes, so the check
// and the impact that follow see them.
func (s *Store) renumber(ctx context.Context, tx pgx.Tx, d draftRow, out *Published) error {
	rows, err := tx.Query(ctx, `
		SELECT dg.code, c.code FROM draft_grids dg JOIN regions c ON c.id = dg.community_id
		WHERE dg.draft_id = @id AND dg.origin_code IS NULL AND EXISTS (SELECT 1 FROM grids g WHERE g.code = dg.code)
		ORDER BY c.code, dg.code`, pgx.NamedArgs{"id": d.id})
	if err != nil {
		return err
	}
	type taken struct{ code, community string }
	all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (taken, error) {
		var t taken
		return t, r.Scan(&t.code, &t.community)
	})
	if err != nil || len(all) == 0 {
		return err
	}
	var from, to []string
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].community == all[i].community {
			j++
		}
		codes, err := nextCodes(ctx, tx, d.id, all[i].community, j-i)
		if err != nil {
			return err
		}
		for k := i; k < j; k++ {
			from, to = append(from, all[k].code), append(to, codes[k-i])
			out.Renumbered[all[k].code] = codes[k-i]
		}
		i = j
	}
	// A name derive or a split gave ("007网格") follows the code.
	_, err = tx.Exec(ctx, `
		UPDATE draft_grids dg SET code = m.new, name = CASE WHEN dg.name = right(m.old, 3) || '网格' THEN right(m.new, 3) || '网格' ELSE dg.name END
		FROM unnest(@from::text[], @to::text[]) AS m(old, new)
		WHERE dg.draft_id = @id AND dg.code = m.old`, pgx.NamedArgs{"id": d.id, "from": from, "to": to})
	return err
}

// checkForPublish runs the draft check in the publish's transaction: any
// finding but the size guideline's stops the publish (422, each named).
func (s *Store) checkForPublish(ctx context.Context, tx pgx.Tx, d draftRow, opt coverage.GridCheckOptions, out *Published) error {
	var err error
	if opt.Source, err = source(ctx, tx, d.id); err != nil {
		return err
	}
	var p grids.Problems
	n := 0
	err = s.cov.GridProblemsIn(ctx, tx, d.region, opt, func(string) string { return "NULL::text" }, func(f *coverage.Finding) error {
		if warningKinds[f.Kind] {
			out.Warnings = append(out.Warnings, json.RawMessage(f.Props))
			return nil
		}
		if n++; n <= 50 {
			p.Add("check."+f.Kind, "%s", describeFinding(f))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n > 50 {
		p.Add("check", "and %d more problems: see GET /api/v1/drafts/%d/check", n-50, d.id)
	}
	if n > 0 {
		p = append(grids.Problems{{Field: "check", Message: fmt.Sprintf(
			"the draft check found %d problem(s); nothing was published: fix them in the draft (GET /api/v1/drafts/%d/check shows where)", n, d.id)}}, p...)
	}
	return p.Err()
}

// describeFinding says one finding of the check in words.
func describeFinding(f *coverage.Finding) string {
	var p struct {
		Community string   `json:"community"`
		Grid      string   `json:"grid"`
		Grids     []string `json:"grids"`
		AreaM2    float64  `json:"area_m2"`
		Reason    string   `json:"reason"`
	}
	_ = json.Unmarshal(f.Props, &p)
	switch f.Kind {
	case "gap":
		return fmt.Sprintf("a gap of %.1f m² in community %s that no grid covers", p.AreaM2, p.Community)
	case "overlap":
		return fmt.Sprintf("grids %s overlap by %.1f m²", strings.Join(p.Grids, " and "), p.AreaM2)
	case "outside_community":
		return fmt.Sprintf("grid %s leaves community %s by %.1f m²", p.Grid, p.Community, p.AreaM2)
	case "bad_code", "duplicate_code":
		return fmt.Sprintf("grid %s: %s", p.Grid, p.Reason)
	}
	return string(f.Props)
}

// writeGrids closes and opens the grid versions the impact names, and
// records the lineage between codes. Unchanged grids keep their version;
// a grid whose only change is its name gets a new version.
func (s *Store) writeGrids(ctx context.Context, tx pgx.Tx, d draftRow, im Impact, out *Published) error {
	// Not nil: a NULL array matches nothing, not even in <> ALL.
	closing, opening := []string{}, []string{}
	kind := map[string]string{} // by code: the impact's kind, or Renamed
	byCode := map[string]*ImpactGrid{}
	for i := range im.Grids {
		g := &im.Grids[i]
		byCode[g.Code], kind[g.Code] = g, g.Kind
		if g.Kind != Added {
			closing = append(closing, g.Code)
		}
		if g.Kind != Removed {
			opening = append(opening, g.Code)
		}
	}
	rows, err := tx.Query(ctx, `
		SELECT dg.code FROM draft_grids dg JOIN grids l ON l.code = dg.origin_code AND l.valid_to IS NULL
		WHERE dg.draft_id = @id AND dg.code <> ALL(@changed) AND dg.name <> l.name`, pgx.NamedArgs{"id": d.id, "changed": append(closing, opening...)})
	if err != nil {
		return err
	}
	renamed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, c := range renamed {
		kind[c] = Renamed
	}
	closing, opening = append(closing, renamed...), append(opening, renamed...)
	args := pgx.NamedArgs{"id": d.id, "closing": closing, "opening": opening}
	var live int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM grids WHERE valid_to IS NULL AND community_id IN (`+communitiesOf+`)`,
		pgx.NamedArgs{"region": d.regionID}).Scan(&live); err != nil {
		return err
	}
	rows, err = tx.Query(ctx, `UPDATE grids SET valid_to = now() WHERE valid_to IS NULL AND code = ANY(@closing) RETURNING code, version`, args)
	if err != nil {
		return err
	}
	closed, err := pgx.CollectRows(rows, pgx.RowToStructByPos[codeVersion])
	if err != nil {
		return err
	}
	out.Unchanged = live - len(closed)
	// The geometry is the draft's, byte for byte: a rollback's is the old
	// version's own. The attributes follow from the version it was copied
	// from.
	rows, err = tx.Query(ctx, `
		INSERT INTO grids (code, community_id, name, geom, version, attrs)
		SELECT dg.code, dg.community_id, dg.name, dg.geom, COALESCE((SELECT max(g.version) FROM grids g WHERE g.code = dg.code), 0) + 1,
		       COALESCE((SELECT g.attrs FROM grids g WHERE g.code = dg.origin_code AND g.version = dg.origin_version), '{}')
		FROM draft_grids dg WHERE dg.draft_id = @id AND dg.code = ANY(@opening)
		RETURNING code, version`, args)
	if err != nil {
		return err
	}
	opened, err := pgx.CollectRows(rows, pgx.RowToStructByPos[codeVersion])
	if err != nil {
		return err
	}
	newVersion := map[string]int{}
	for _, o := range opened {
		newVersion[o.Code] = o.Version
		k := kind[o.Code]
		if k == Added && o.Version > 1 {
			k = Restored
		}
		out.Opened = append(out.Opened, GridVersion{Code: o.Code, Version: o.Version, Kind: k})
	}
	for _, c := range closed {
		out.Closed = append(out.Closed, GridVersion{Code: c.Code, Version: c.Version, Kind: kind[c.Code]})
	}
	sortVersions(out.Opened)
	sortVersions(out.Closed)
	var links []history.Link
	for _, g := range im.Grids {
		if g.Kind == Added || g.LiveVersion == nil {
			continue
		}
		for _, sh := range g.Successors {
			to, ok := newVersion[sh.Code]
			if sh.Code == g.Code || !ok {
				continue // the same code's next version, or an unchanged grid
			}
			l := history.Link{PredecessorCode: g.Code, PredecessorVersion: *g.LiveVersion, SuccessorCode: sh.Code, SuccessorVersion: to,
				Kind: linkKind(&g, byCode[sh.Code])}
			if sh.Share > 0 {
				share := min(sh.Share, 1)
				l.Share = &share
			}
			links = append(links, l)
			out.Lineage = append(out.Lineage, LineageLink{From: l.PredecessorCode, FromVersion: l.PredecessorVersion, To: l.SuccessorCode,
				ToVersion: l.SuccessorVersion, Kind: l.Kind, Share: l.Share})
		}
	}
	return history.RecordLineage(ctx, tx, links)
}

type codeVersion struct {
	Code    string
	Version int
}

func sortVersions(v []GridVersion) {
	sort.Slice(v, func(i, j int) bool { return v[i].Code < v[j].Code })
}

// linkKind names a link from a live grid to a grid of another code: a
// removed grid whose area went to two or more new grids, each from it
// alone, was split; removed grids that went whole into one new grid were
// merged; any other handing over of area is a redraw.
func linkKind(from, to *ImpactGrid) string {
	if from.Kind != Removed || to == nil || to.Kind != Added {
		return "redraw"
	}
	switch {
	case len(from.Successors) >= 2 && len(to.Predecessors) == 1:
		return "split"
	case len(from.Successors) == 1 && len(to.Predecessors) >= 2:
		return "merge"
	}
	return "redraw"
}

// assignmentPlan is what a publish does with one grid assignment.
type assignmentPlan struct {
	a      ImpactAssignment
	to     []string // grids to carry it to; none: end it
	why    string   // why it ends, when to is empty
	into   string
	chosen bool
}

// planAssignments decides every changed grid assignment's fate before
// anything is written, so that a choice naming a grid outside the draft,
// or two units that would lead one duty on one grid, stop the publish
// (422) with nothing written. Carried as the impact proposed unless the
// planner chose; an assignment on a reshaped grid that keeps its code
// stays; one whose grid leaves without successor ends.
func (s *Store) planAssignments(ctx context.Context, tx pgx.Tx, id int64, im Impact, choices map[int64][]string, renumbered map[string]string) ([]assignmentPlan, error) {
	var p grids.Problems
	rows, err := tx.Query(ctx, `SELECT code FROM draft_grids WHERE draft_id = @id`, pgx.NamedArgs{"id": id})
	if err != nil {
		return nil, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	inDraft := map[string]bool{}
	for _, c := range codes {
		inDraft[c] = true
	}
	kinds := map[string]string{}
	for _, g := range im.Grids {
		kinds[g.Code] = g.Kind
	}
	listed := map[int64]bool{}
	var plan []assignmentPlan
	for _, a := range im.Assignments {
		listed[a.ID] = true
		field := "assignments." + strconv.FormatInt(a.ID, 10)
		pl := assignmentPlan{a: a}
		choice, chosen := choices[a.ID]
		switch {
		case chosen:
			pl.chosen = true
			for _, c := range choice {
				if n, ok := renumbered[c]; ok {
					c = n
				}
				if !inDraft[c] {
					p.Add(field, "grid %q is not in the draft: carry assignment %d to a grid of the draft, or send \"drop\"", c, a.ID)
				}
				pl.to = append(pl.to, c)
			}
			if len(pl.to) == 0 {
				pl.why = EndDropped
			}
		case kinds[a.Grid] == Reshaped:
			continue // its grid keeps its code: the assignment stays
		case a.Proposal == nil:
			pl.why = EndOrphaned
		default:
			pl.to = []string{a.Proposal.Code}
		}
		if len(pl.to) == 1 && pl.to[0] == a.Grid && kinds[a.Grid] == Reshaped {
			continue // carried to its own grid: it stays
		}
		plan = append(plan, pl)
	}
	var unknown []int64
	for id := range choices {
		if !listed[id] {
			unknown = append(unknown, id)
		}
	}
	sort.Slice(unknown, func(i, j int) bool { return unknown[i] < unknown[j] })
	for _, id := range unknown {
		p.Add("assignments."+strconv.FormatInt(id, 10),
			"assignment %d is not a live grid assignment on a grid this draft changes (the impact lists those)", id)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return plan, s.settleDuties(ctx, tx, plan)
}

// settleDuties finds, among the carried assignments and the ones already
// on the grids they go to, the same unit's same duty twice (the later one
// ends instead: merged grids had the same office leading both) and two
// units that would lead one duty on one grid, which the planner must
// settle (422).
func (s *Store) settleDuties(ctx context.Context, tx pgx.Tx, plan []assignmentPlan) error {
	var targets []string
	moving := []int64{}
	for _, pl := range plan {
		targets = append(targets, pl.to...)
		moving = append(moving, pl.a.ID)
	}
	rows, err := tx.Query(ctx, `
		SELECT a.id, a.theme, u.code, a.role, a.grid_code FROM live_assignments a JOIN units u ON u.id = a.unit_id
		WHERE a.target_kind = 'grid' AND a.grid_code = ANY(@targets) AND a.id <> ALL(@moving)`,
		pgx.NamedArgs{"targets": targets, "moving": moving})
	if err != nil {
		return err
	}
	type duty struct{ theme, role, grid string }
	type holder struct {
		id   int64
		unit string
	}
	held := map[duty][]holder{}
	for rows.Next() {
		var h holder
		var d duty
		if err := rows.Scan(&h.id, &d.theme, &h.unit, &d.role, &d.grid); err != nil {
			rows.Close()
			return err
		}
		held[d] = append(held[d], h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var p grids.Problems
	for i := range plan {
		pl := &plan[i]
		kept := pl.to[:0:0]
		for _, to := range pl.to {
			d := duty{pl.a.Theme, pl.a.Role, to}
			dup, clash := false, ""
			for _, h := range held[d] {
				if h.unit == pl.a.Unit {
					dup = true
				} else if pl.a.Role == "lead" {
					clash = fmt.Sprintf("assignment %d (unit %s)", h.id, h.unit)
				}
			}
			switch {
			case dup:
				if len(pl.to) == 1 {
					pl.why, pl.into = EndDuplicate, to
				}
			case clash != "":
				p.Add("assignments."+strconv.FormatInt(pl.a.ID, 10),
					"carried to grid %s, assignment %d (unit %s) would lead %s there beside %s: choose one, sending {\"assignments\": {\"%d\": \"drop\"}} or another grid",
					to, pl.a.ID, pl.a.Unit, pl.a.Theme, clash, pl.a.ID)
			default:
				kept = append(kept, to)
				held[d] = append(held[d], holder{pl.a.ID, pl.a.Unit})
			}
		}
		if len(kept) == 0 && pl.why == "" && len(pl.to) > 0 {
			pl.why, pl.into = EndDuplicate, pl.to[0]
		}
		pl.to = kept
	}
	return p.Err()
}

// carry writes the plan through the assignments' own writer: carried =
// ended on the old grid and started on the new one (each further grid of a
// choice gets the same duty too), the others ended.
func (s *Store) carry(ctx context.Context, tx pgx.Tx, plan []assignmentPlan, out *Published) error {
	for _, pl := range plan {
		a := pl.a
		if len(pl.to) == 0 {
			if _, err := s.asg.EndAssignmentIn(ctx, tx, a.ID); err != nil {
				return err
			}
			out.Assignments.Ended = append(out.Assignments.Ended, EndedAssignment{ID: a.ID, Theme: a.Theme, Unit: a.Unit, Role: a.Role,
				Grid: a.Grid, Why: pl.why, Into: pl.into})
			continue
		}
		first, err := s.asg.CarryAssignment(ctx, tx, a.ID, pl.to[0])
		if err != nil {
			return err
		}
		out.Assignments.Carried = append(out.Assignments.Carried, CarriedAssignment{ID: a.ID, NewID: first.ID, Theme: a.Theme, Unit: a.Unit,
			Role: a.Role, From: a.Grid, To: pl.to[0], Chosen: pl.chosen})
		for _, to := range pl.to[1:] {
			n, err := s.asg.CreateAssignmentIn(ctx, tx, grids.NewAssignment{Theme: first.Theme, Unit: first.Unit, Role: first.Role,
				TargetKind: "grid", Target: to, FromM: first.FromM, ToM: first.ToM, Note: first.Note})
			if err != nil {
				return err
			}
			out.Assignments.Carried = append(out.Assignments.Carried, CarriedAssignment{ID: a.ID, NewID: n.ID, Theme: a.Theme, Unit: a.Unit,
				Role: a.Role, From: a.Grid, To: to, Chosen: true})
		}
	}
	return nil
}

// regridCases gives the open cases whose grid the publish changed their
// current grid: the covering live grid by the ownership rule (the same
// expression the impact uses), after the grids were written. Looked at
// are the cases the impact lists (their code changes) and those whose
// current grid got a new version or was closed. A case whose current grid
// is again the one of its report goes back to none (NULL).
func regridCases(ctx context.Context, tx pgx.Tx, im Impact, out *Published) error {
	ids := make([]int64, 0, len(im.Cases))
	for _, c := range im.Cases {
		ids = append(ids, c.ID)
	}
	closed := make([]string, 0, len(out.Closed))
	for _, c := range out.Closed {
		closed = append(closed, c.Code)
	}
	rows, err := tx.Query(ctx, `
		WITH k AS (
			SELECT c.id, c.reported_at, c.grid_code, c.grid_version, c.current_grid_code, c.current_grid_version, c.geom AS p FROM cases c
			WHERE c.status NOT IN `+cases.FinalSQL+`
			  AND (c.id = ANY(@ids) OR (c.current_grid_code IS NULL AND c.grid_code = ANY(@closed)) OR c.current_grid_code = ANY(@closed))),
		n AS (
			SELECT k.id, k.reported_at, CASE WHEN (g.code, g.version) IS NOT DISTINCT FROM (k.grid_code, k.grid_version) THEN NULL ELSE g.code END AS code,
			       CASE WHEN (g.code, g.version) IS NOT DISTINCT FROM (k.grid_code, k.grid_version) THEN NULL ELSE g.version END AS version,
			       k.current_grid_code AS was_code, k.current_grid_version AS was_version
			FROM k CROSS JOIN LATERAL (SELECT k.p) m
			LEFT JOIN LATERAL `+gridBeforeSQL+` b (code) ON true
			LEFT JOIN grids g ON g.code = b.code AND g.valid_to IS NULL)
		UPDATE cases c SET current_grid_code = n.code, current_grid_version = n.version
		FROM n WHERE c.id = n.id AND c.reported_at = n.reported_at AND (n.code, n.version) IS DISTINCT FROM (n.was_code, n.was_version)
		RETURNING c.code, c.grid_code, c.grid_version, c.current_grid_code, c.current_grid_version`,
		pgx.NamedArgs{"ids": ids, "closed": closed})
	if err != nil {
		return err
	}
	out.Cases, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (RegriddedCase, error) {
		var c RegriddedCase
		return c, r.Scan(&c.Code, &c.GridCode, &c.GridVersion, &c.CurrentGridCode, &c.CurrentGridVersion)
	})
	sort.Slice(out.Cases, func(i, j int) bool { return out.Cases[i].Code < out.Cases[j].Code })
	return err
}
