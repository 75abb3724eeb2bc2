package cases

import (
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// Case is a case as the API shows it.
type Case struct {
	Code              string              `json:"code"`
	Status            Status              `json:"status"`
	SuspendedFrom     *Status             `json:"suspended_from,omitempty"`
	Category          string              `json:"category"`
	CategoryName      string              `json:"category_name"`
	Theme             *string             `json:"theme"`
	Source            string              `json:"source"`
	Description       string              `json:"description"`
	Address           *string             `json:"address,omitempty"`
	LocationQuality   string              `json:"location_quality"`
	NeedsConfirmation bool                `json:"needs_confirmation"`
	Point             grids.LonLat        `json:"point"`
	Input             *grids.InputPoint   `json:"input,omitempty"`
	Reporters         []Reporter          `json:"reporters,omitempty"` // personal data: admin and dispatcher only
	ReportedBy        string              `json:"reported_by"`
	ReportedAt        time.Time           `json:"reported_at"`
	ObjectID          *int64              `json:"object_id,omitempty"`
	Grid              *grids.AnswerGrid   `json:"grid"`
	Regions           grids.AnswerRegions `json:"regions"`
	Routing           Routing             `json:"routing"`
	ProposedUnit      *grids.CodeName     `json:"proposed_unit"`
	Unit              *grids.CodeName     `json:"unit"`
	ManualDispatch    bool                `json:"manual_dispatch"`
	Limit             *Limit              `json:"limit,omitempty"`
	Deadline          *time.Time          `json:"deadline"`
	RemainingS        *int64              `json:"remaining_s"`
	Warning           bool                `json:"warning"`
	Overdue           bool                `json:"overdue"`
	Dispatches        int                 `json:"dispatches"`
	Returns           int                 `json:"returns"`
	Reworks           int                 `json:"reworks"`
	Reopens           int                 `json:"reopens"`
	RegisteredAt      *time.Time          `json:"registered_at,omitempty"`
	DispatchedAt      *time.Time          `json:"dispatched_at,omitempty"`
	HandledAt         *time.Time          `json:"handled_at,omitempty"`
	HandledOnTime     *bool               `json:"handled_on_time,omitempty"`
	VerifiedAt        *time.Time          `json:"verified_at,omitempty"`
	ClosedAt          *time.Time          `json:"closed_at,omitempty"`
	MergedInto        *string             `json:"merged_into,omitempty"`
	UpdatedAt         time.Time           `json:"updated_at"`
	Actions           []string            `json:"actions"`
	// PossibleDuplicates are open cases of the same category nearby, on
	// intake and registration.
	PossibleDuplicates []Duplicate `json:"possible_duplicates,omitempty"`
	// Photos are the ones this request uploaded (intake, handled, verify).
	Photos []Photo `json:"photos,omitempty"`
	// CurrentGrid is the grid the case's point is in since the last
	// publish that changed its grid (Grid stays the grid and version it
	// was reported in); without such a publish, the report's grid.
	CurrentGrid *grids.AnswerGrid `json:"current_grid"`

	id         int64
	unitID     *int64
	proposedID *int64
	spentS     int64
	clockFrom  *time.Time
	warnAt     *time.Time
	limitHours *int
	limitDays  *int
	firstUnit  *int64
	handleS    *int64
	// registeredOnTime is written at registration only.
	registeredOnTime *bool
	warningSent      bool
	overdueSent      bool
	cells            *[5]int64 // new H3 cells after a move
	lastUnit         string    // the unit that just returned the case
	dupRadiusM       float64   // the category's duplicate radius and window
	dupWindowH       int
}

// Limit is a case's handling limit.
type Limit struct {
	Hours       int `json:"hours,omitempty"`
	WorkingDays int `json:"working_days,omitempty"`
}

// Reporter is who reported a case (merged duplicates bring theirs).
type Reporter struct {
	Name   string `json:"name,omitempty"`
	Phone  string `json:"phone,omitempty"`
	Source string `json:"source"`
	Case   string `json:"case"`
}

// Routing is the proposal of who should handle a case, and why.
type Routing struct {
	Theme      *string             `json:"theme"`
	Via        string              `json:"via"` // object, grid, region, fallback; none when nobody answers
	Leads      []grids.AnswerOwner `json:"leads"`
	Supporters []grids.AnswerOwner `json:"supporters"`
}

// Duplicate is an open case that may report the same problem.
type Duplicate struct {
	Code       string    `json:"code"`
	Status     Status    `json:"status"`
	DistanceM  float64   `json:"distance_m"`
	ReportedAt time.Time `json:"reported_at"`
	Summary    string    `json:"description"`
}

// Event is one step of a case's history.
type Event struct {
	At        time.Time      `json:"at"`
	Actor     string         `json:"actor"`
	ActorRole string         `json:"actor_role"`
	ActorUnit *string        `json:"actor_unit,omitempty"`
	Action    string         `json:"action"`
	From      *Status        `json:"from"`
	To        Status         `json:"to"`
	Note      string         `json:"note"`
	Data      map[string]any `json:"data,omitempty"`
}

// caseColumns and scanCase read a case; c is cases, cat categories, and
// the units pu (proposed) and du (dispatched) are joined.
const caseColumns = `c.id, c.code, c.status, c.suspended_from, c.category_code, cat.name_zh, c.theme_code, c.source,
	c.description, c.address, c.location_quality, c.needs_confirmation, ST_X(c.geom), ST_Y(c.geom), c.input,
	c.reporters, c.reported_by, c.reported_at, c.object_id, c.grid_code, c.grid_version,
	c.district_code, dr.name, c.subdistrict_code, sr.name, c.community_code, cr.name, c.routing,
	c.proposed_unit_id, pu.code, pu.name, c.unit_id, du.code, du.name, c.manual_dispatch,
	c.dispatch_count, c.return_count, c.rework_count, c.reopen_count, c.limit_hours, c.limit_days,
	c.spent_s, c.clock_from, c.due_at, c.warn_at, c.registered_at, c.dispatched_at, c.handled_at,
	c.handled_on_time, c.verified_at, c.closed_at, c.merged_into, c.updated_at, c.first_unit_id, g.name,
	c.handle_s, c.warning_sent, c.overdue_sent, c.current_grid_code, c.current_grid_version, cg.name`

const caseJoins = ` JOIN categories cat ON cat.code = c.category_code
	LEFT JOIN units pu ON pu.id = c.proposed_unit_id
	LEFT JOIN units du ON du.id = c.unit_id
	LEFT JOIN regions dr ON dr.code = c.district_code
	LEFT JOIN regions sr ON sr.code = c.subdistrict_code
	LEFT JOIN regions cr ON cr.code = c.community_code
	LEFT JOIN grids g ON g.code = c.grid_code AND g.version = c.grid_version
	LEFT JOIN grids cg ON cg.code = c.current_grid_code AND cg.version = c.current_grid_version`

func scanCase(row pgx.Row, c *Case) error {
	var (
		input, reporters, routing  []byte
		gridCode                   *string
		gridVersion                *int
		dCode, dName               *string
		sCode, sName, cCode, cName *string
		puCode, puName, duCode     *string
		duName, gridName           *string
		curCode, curName           *string
		curVersion                 *int
		lon, lat                   float64
	)
	err := row.Scan(&c.id, &c.Code, &c.Status, &c.SuspendedFrom, &c.Category, &c.CategoryName, &c.Theme, &c.Source,
		&c.Description, &c.Address, &c.LocationQuality, &c.NeedsConfirmation, &lon, &lat, &input,
		&reporters, &c.ReportedBy, &c.ReportedAt, &c.ObjectID, &gridCode, &gridVersion,
		&dCode, &dName, &sCode, &sName, &cCode, &cName, &routing,
		&c.proposedID, &puCode, &puName, &c.unitID, &duCode, &duName, &c.ManualDispatch,
		&c.Dispatches, &c.Returns, &c.Reworks, &c.Reopens, &c.limitHours, &c.limitDays,
		&c.spentS, &c.clockFrom, &c.Deadline, &c.warnAt, &c.RegisteredAt, &c.DispatchedAt, &c.HandledAt,
		&c.HandledOnTime, &c.VerifiedAt, &c.ClosedAt, &c.MergedInto, &c.UpdatedAt, &c.firstUnit, &gridName,
		&c.handleS, &c.warningSent, &c.overdueSent, &curCode, &curVersion, &curName)
	if err != nil {
		return err
	}
	c.Point = grids.LonLat{Lon: lon, Lat: lat}
	if len(input) > 0 {
		if err := json.Unmarshal(input, &c.Input); err != nil {
			return err
		}
	}
	if err := json.Unmarshal(reporters, &c.Reporters); err != nil {
		return err
	}
	if err := json.Unmarshal(routing, &c.Routing); err != nil {
		return err
	}
	if gridCode != nil {
		c.Grid = &grids.AnswerGrid{Code: *gridCode, Version: deref(gridVersion)}
		if gridName != nil {
			c.Grid.Name = *gridName
		}
	}
	c.CurrentGrid = c.Grid
	if curCode != nil {
		c.CurrentGrid = &grids.AnswerGrid{Code: *curCode, Version: deref(curVersion)}
		if curName != nil {
			c.CurrentGrid.Name = *curName
		}
	}
	c.Regions = grids.AnswerRegions{District: codeName(dCode, dName), Subdistrict: codeName(sCode, sName), Community: codeName(cCode, cName)}
	c.ProposedUnit = codeName(puCode, puName)
	c.Unit = codeName(duCode, duName)
	c.setLimit()
	return nil
}

// setLimit shows the stored limit.
func (c *Case) setLimit() {
	c.Limit = nil
	switch {
	case c.limitHours != nil:
		c.Limit = &Limit{Hours: *c.limitHours}
	case c.limitDays != nil:
		c.Limit = &Limit{WorkingDays: *c.limitDays}
	}
}

// columns are the case's JSON and grid columns as the writes store them.
func (c *Case) columns() (routing, input []byte, grid *string, version *int, err error) {
	if routing, err = json.Marshal(c.Routing); err != nil {
		return
	}
	if c.Input != nil {
		if input, err = json.Marshal(c.Input); err != nil {
			return
		}
	}
	if c.Grid != nil {
		grid, version = &c.Grid.Code, &c.Grid.Version
	}
	return
}

func codeName(code, name *string) *grids.CodeName {
	if code == nil {
		return nil
	}
	cn := &grids.CodeName{Code: *code}
	if name != nil {
		cn.Name = *name
	}
	return cn
}

// seeAs trims what the principal may not see and adds the clock's state
// and the actions allowed.
func (s *Store) seeAs(p grids.Principal, c *Case, now time.Time) {
	if p.Role != grids.RoleAdmin && p.Role != grids.RoleDispatcher {
		c.Reporters = nil
	}
	s.clockState(c, now)
	c.Actions = AllowedActions(p, c.Status)
}
