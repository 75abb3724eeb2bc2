package cases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// ActionInput is what a transition may carry.
type ActionInput struct {
	Note string `json:"note"`
	// Unit dispatches to another unit than the proposed one (a manual choice).
	Unit string `json:"unit"`
	// Category, Lon, Lat and CRS correct a report at registration, which
	// routes it again.
	Category string   `json:"category"`
	Lon      *float64 `json:"lon"`
	Lat      *float64 `json:"lat"`
	CRS      string   `json:"crs"`
	// Passed is the verification's result: false sends the case back.
	Passed *bool `json:"passed"`
	// Into is the case a duplicate is merged into.
	Into string `json:"into"`
	// Photos are uploads with handled (after photos) or verify.
	Photos []PhotoInput `json:"-"`
}

// Act takes a workflow action on a case, writing its event, its notices
// and its announcement in one transaction. A role that may not take the
// action is refused (403), a case in a status the action does not start
// from is a conflict (409), and a unit-role principal sees only its own
// cases (404 for others); nothing is written for a refused action.
func (s *Store) Act(ctx context.Context, p grids.Principal, code, action string, in ActionInput) (Case, error) {
	r, ok := ruleOf(action)
	if !ok {
		return Case{}, &grids.NotFoundError{What: "case action", Key: action, Hint: "the actions are " + strings.Join(Actions(), ", ")}
	}
	if n := utf8.RuneCountInString(in.Note); n > MaxText {
		return Case{}, grids.Invalid("note", "%d characters; at most %d", n, MaxText)
	}
	var photos []readyPhoto
	if len(in.Photos) > 0 {
		if action != ActHandled && action != ActVerify {
			return Case{}, grids.Invalid("photo", "only handled and verify take photos; add others with POST /api/v1/cases/%s/photos", code)
		}
		var err error
		if photos, err = s.preparePhotos(in.Photos, 0); err != nil {
			return Case{}, err
		}
	}
	now := time.Now()
	var c Case
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		var err error
		if c, err = s.get(ctx, tx, p, code, true); err != nil {
			return err
		}
		if !r.allows(p.Role) {
			return fmt.Errorf("%w: %s may not %s a case", grids.ErrForbidden, p.Role, action)
		}
		if !slices.Contains(r.from, c.Status) {
			return &grids.ConflictError{Field: "status", Message: fmt.Sprintf("cannot %s case %s: it is %s (%s is taken from %s)",
				action, c.Code, c.Status, action, statusList(r.from))}
		}
		if r.noteNeeded && strings.TrimSpace(in.Note) == "" {
			return grids.Invalid("note", "required: say why (or, for handled, what was done)")
		}
		from := c.Status
		data, notice, err := s.apply(ctx, tx, p, &c, action, in, now)
		if err != nil {
			return err
		}
		c.UpdatedAt = now
		if err := s.save(ctx, tx, &c); err != nil {
			return err
		}
		if len(photos) > 0 {
			stage := StageHandled
			if action == ActVerify {
				stage = StageVerify
			}
			if c.Photos, err = s.insertPhotos(ctx, tx, p, &c, stage, photos); err != nil {
				return err
			}
			data["photos"] = photoIDs(c.Photos)
		}
		if err := writeEvent(ctx, tx, &c, p, action, &from, in.Note, data, now); err != nil {
			return err
		}
		if notice != "" && s.cfg.Notify != nil && c.unitCodeForNotice() != "" {
			n := Notice{Kind: notice, Case: c.Code, Unit: c.unitCodeForNotice(), At: now,
				Data: map[string]any{"status": c.Status, "category": c.Category, "note": in.Note, "deadline": c.Deadline}}
			if err := s.cfg.Notify(ctx, tx, n); err != nil {
				return err
			}
		}
		return announce(ctx, tx, &c, action)
	})
	if err != nil {
		return Case{}, err
	}
	s.seeAs(p, &c, now)
	return c, nil
}

func statusList(st []Status) string {
	out := make([]string, len(st))
	for i, s := range st {
		out[i] = string(s)
	}
	return strings.Join(out, " or ")
}

// unitCodeForNotice is the unit a notice goes to: the case's unit, or the
// unit that just returned it.
func (c *Case) unitCodeForNotice() string {
	if c.Unit != nil {
		return c.Unit.Code
	}
	return c.lastUnit
}

// apply changes the case for an action; it answers the event's data and
// the notice to send, if any.
func (s *Store) apply(ctx context.Context, tx pgx.Tx, p grids.Principal, c *Case, action string, in ActionInput, now time.Time) (map[string]any, string, error) {
	data := map[string]any{}
	switch action {
	case ActRegister:
		changed, err := s.correct(ctx, tx, c, in, data)
		if err != nil {
			return nil, "", err
		}
		c.Status, c.RegisteredAt = Registered, &now
		onTime := s.RegisteredOnTime(c.ReportedAt, now)
		c.registeredOnTime = &onTime
		if changed {
			if c.PossibleDuplicates, err = s.duplicates(ctx, tx, c, orb.Point{c.Point.Lon, c.Point.Lat}, c.ReportedAt); err != nil {
				return nil, "", err
			}
		}
	case ActDispatch:
		unit := in.Unit
		if unit == "" {
			if c.ProposedUnit == nil {
				return nil, "", grids.Invalid("unit", "required: nobody is proposed for this place and duty; choose the unit")
			}
			unit = c.ProposedUnit.Code
		}
		var id int64
		var name string
		err := tx.QueryRow(ctx, `SELECT id, name FROM units WHERE code = $1`, unit).Scan(&id, &name)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, "", grids.Invalid("unit", "no unit %q", unit)
		}
		if err != nil {
			return nil, "", err
		}
		c.unitID, c.Unit = &id, &grids.CodeName{Code: unit, Name: name}
		c.ManualDispatch = c.ProposedUnit == nil || c.ProposedUnit.Code != unit
		if c.firstUnit == nil {
			c.firstUnit = &id
		}
		c.Dispatches++
		c.Status, c.DispatchedAt = Dispatched, &now
		c.warningSent, c.overdueSent = false, false
		if err := s.limitOf(c); err != nil {
			return nil, "", err
		}
		s.stepClock(c, ActDispatch, c.Status, now)
		data["unit"], data["manual"] = unit, c.ManualDispatch
		return data, NoticeDispatched, nil
	case ActHandle:
		c.Status = Handling
	case ActHandled:
		s.stepClock(c, ActHandled, Handled, now)
		c.Status, c.HandledAt = Handled, &now
		onTime := c.Deadline == nil || !now.After(*c.Deadline)
		c.HandledOnTime = &onTime
		spent := c.spentS
		c.handleS = &spent
	case ActVerify:
		if in.Passed == nil {
			return nil, "", grids.Invalid("passed", "required: true when the problem is fixed, false to send the case back")
		}
		data["passed"] = *in.Passed
		if *in.Passed {
			c.Status, c.VerifiedAt = Verified, &now
			break
		}
		if strings.TrimSpace(in.Note) == "" {
			return nil, "", grids.Invalid("note", "required when verification fails: say what is still wrong")
		}
		c.Status, c.Reworks = Handling, c.Reworks+1
		c.HandledAt, c.HandledOnTime, c.handleS = nil, nil, nil
		s.stepClock(c, ActVerify, c.Status, now)
		return data, NoticeVerificationFailed, nil
	case ActClose:
		c.Status, c.ClosedAt = Closed, &now
	case ActReturn:
		c.lastUnit = c.Unit.Code
		data["unit"] = c.Unit.Code
		c.Status, c.Returns = Registered, c.Returns+1
		c.unitID, c.Unit = nil, nil
		s.stepClock(c, ActReturn, c.Status, now)
		return data, NoticeReturned, nil
	case ActCancel:
		c.Status = Cancelled
	case ActMerge:
		if err := s.merge(ctx, tx, p, c, in, now); err != nil {
			return nil, "", err
		}
		data["into"] = in.Into
	case ActSuspend:
		st := c.Status
		c.SuspendedFrom, c.Status = &st, Suspended
		s.stepClock(c, ActSuspend, c.Status, now)
	case ActResume:
		c.Status, c.SuspendedFrom = *c.SuspendedFrom, nil
		s.stepClock(c, ActResume, c.Status, now)
	case ActReopen:
		c.Status, c.Reopens = Registered, c.Reopens+1
		c.unitID, c.Unit = nil, nil
		c.HandledAt, c.HandledOnTime, c.handleS, c.VerifiedAt, c.ClosedAt = nil, nil, nil, nil, nil
		s.stepClock(c, ActReopen, c.Status, now)
	}
	return data, "", nil
}

// correct applies a registration's corrections of category and location,
// and routes the case again when either changed.
func (s *Store) correct(ctx context.Context, tx pgx.Tx, c *Case, in ActionInput, data map[string]any) (bool, error) {
	category, pt := c.Category, orb.Point{c.Point.Lon, c.Point.Lat}
	moved := false
	if in.Category != "" && in.Category != c.Category {
		data["category"] = map[string]string{"from": c.Category, "to": in.Category}
		category = in.Category
	}
	if (in.Lon == nil) != (in.Lat == nil) {
		return false, grids.Invalid("lat", "give both lon and lat to move the case")
	}
	if in.Lon != nil {
		crs, err := geo.ParseCRS(in.CRS)
		if err != nil {
			return false, grids.Invalid("crs", "%v", err)
		}
		if *in.Lon < -180 || *in.Lon > 180 || *in.Lat < -90 || *in.Lat > 90 {
			return false, grids.Invalid("lon", "%g,%g is outside -180..180, -90..90", *in.Lon, *in.Lat)
		}
		np := crs.ToWGS84()(orb.Point{*in.Lon, *in.Lat})
		if np != pt {
			data["moved"] = map[string]any{"from": []float64{pt[0], pt[1]}, "to": []float64{np[0], np[1]}}
			pt, moved = np, true
			if crs != geo.WGS84 {
				c.Input = &grids.InputPoint{Lon: *in.Lon, Lat: *in.Lat, CRS: crs.String()}
			} else {
				c.Input = nil
			}
			c.LocationQuality = "gps"
		}
	}
	if category == c.Category && !moved {
		return false, nil
	}
	loc, release, err := s.locate(ctx, pt, category, "lon")
	if err != nil {
		return false, err
	}
	defer release()
	before := unitCode(c.ProposedUnit)
	c.Category, c.Point = category, grids.LonLat{Lon: pt[0], Lat: pt[1]}
	c.NeedsConfirmation = false
	s.place(c, loc)
	if err := s.limitOf(c); err != nil {
		return false, err
	}
	if moved {
		cells, err := h3Cells(pt)
		if err != nil {
			return false, err
		}
		c.cells = &cells
	}
	data["rerouted"] = map[string]any{"from": before, "to": unitCode(c.ProposedUnit), "via": c.Routing.Via}
	return true, nil
}

// merge closes a duplicate into the surviving case, whose reporters it
// joins; the survivor's history records it too.
func (s *Store) merge(ctx context.Context, tx pgx.Tx, p grids.Principal, c *Case, in ActionInput, now time.Time) error {
	if in.Into == "" {
		return grids.Invalid("into", "required: the code of the case this one duplicates")
	}
	if in.Into == c.Code {
		return grids.Invalid("into", "a case cannot be merged into itself")
	}
	sv, err := s.get(ctx, tx, p, in.Into, true)
	var nf *grids.NotFoundError
	if errors.As(err, &nf) {
		return grids.Invalid("into", "no case %s", in.Into)
	}
	if err != nil {
		return err
	}
	if !sv.Status.Open() {
		return grids.Invalid("into", "case %s is %s: merge into an open case", sv.Code, sv.Status)
	}
	for _, r := range c.Reporters {
		if r.Case == "" {
			r.Case = c.Code
		}
		sv.Reporters = append(sv.Reporters, r)
	}
	if len(c.Reporters) == 0 {
		sv.Reporters = append(sv.Reporters, Reporter{Source: c.Source, Case: c.Code})
	}
	raw, err := json.Marshal(sv.Reporters)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE cases SET reporters = $1, updated_at = $2 WHERE id = $3 AND reported_at = $4`,
		raw, now, sv.id, sv.ReportedAt); err != nil {
		return err
	}
	from := sv.Status
	if err := writeEvent(ctx, tx, &sv, p, "merged_in", &from, in.Note, map[string]any{"case": c.Code}, now); err != nil {
		return err
	}
	c.Status, c.MergedInto, c.ClosedAt = Merged, &sv.Code, &now
	return nil
}

// save writes the case's mutable columns.
func (s *Store) save(ctx context.Context, tx pgx.Tx, c *Case) error {
	routing, input, grid, version, err := c.columns()
	if err != nil {
		return err
	}
	args := pgx.NamedArgs{"id": c.id, "at": c.ReportedAt, "status": c.Status, "susp": c.SuspendedFrom,
		"category": c.Category, "theme": c.Theme, "quality": c.LocationQuality, "confirm": c.NeedsConfirmation,
		"lon": c.Point.Lon, "lat": c.Point.Lat, "input": input, "grid": grid, "version": version,
		"district": regionCode(c.Regions.District), "sub": regionCode(c.Regions.Subdistrict),
		"community": regionCode(c.Regions.Community), "routing": routing, "proposed": unitCode(c.ProposedUnit),
		"unit": c.unitID, "first": c.firstUnit, "manual": c.ManualDispatch, "dispatches": c.Dispatches,
		"returns": c.Returns, "reworks": c.Reworks, "reopens": c.Reopens, "hours": c.limitHours, "days": c.limitDays,
		"spent": c.spentS, "clock": c.clockFrom, "due": c.Deadline, "warn": c.warnAt,
		"wsent": c.warningSent, "osent": c.overdueSent, "registered": c.RegisteredAt, "regontime": c.registeredOnTime,
		"dispatched": c.DispatchedAt, "handled": c.HandledAt, "ontime": c.HandledOnTime, "handle_s": c.handleS,
		"verified": c.VerifiedAt, "closed": c.ClosedAt, "merged": c.MergedInto, "now": c.UpdatedAt}
	cells := ""
	if c.cells != nil {
		cells = `, h3_r6 = @h6, h3_r7 = @h7, h3_r8 = @h8, h3_r9 = @h9, h3_r10 = @h10`
		args["h6"], args["h7"], args["h8"], args["h9"], args["h10"] = c.cells[0], c.cells[1], c.cells[2], c.cells[3], c.cells[4]
	}
	_, err = tx.Exec(ctx, `UPDATE cases SET status = @status, suspended_from = @susp, category_code = @category,
		theme_code = @theme, location_quality = @quality, needs_confirmation = @confirm,
		geom = ST_SetSRID(ST_Point(@lon, @lat), 4326), input = @input, grid_code = @grid, grid_version = @version,
		current_grid_code = CASE WHEN (grid_code, grid_version) IS NOT DISTINCT FROM (@grid::text, @version::int) THEN current_grid_code END,
		current_grid_version = CASE WHEN (grid_code, grid_version) IS NOT DISTINCT FROM (@grid::text, @version::int) THEN current_grid_version END,
		district_code = @district, subdistrict_code = @sub, community_code = @community, routing = @routing,
		proposed_unit_id = (SELECT id FROM units WHERE code = @proposed), unit_id = @unit, first_unit_id = @first,
		manual_dispatch = @manual, dispatch_count = @dispatches, return_count = @returns, rework_count = @reworks,
		reopen_count = @reopens, limit_hours = @hours, limit_days = @days, spent_s = @spent, clock_from = @clock,
		due_at = @due, warn_at = @warn, warning_sent = @wsent, overdue_sent = @osent,
		registered_at = @registered, registered_on_time = coalesce(@regontime, registered_on_time),
		dispatched_at = @dispatched, handled_at = @handled, handled_on_time = @ontime, handle_s = @handle_s,
		verified_at = @verified, closed_at = @closed, merged_into = @merged, updated_at = @now`+cells+`
		WHERE id = @id AND reported_at = @at`, args)
	return err
}
