package cases

import (
	"slices"

	"github.com/citygrid/citygrid/grids"
)

// Status is where a case stands in the loop.
type Status string

// The statuses of the loop. Closed, cancelled and merged are final, except
// that a closed case may be reopened.
const (
	Reported   Status = "reported"
	Registered Status = "registered"
	Dispatched Status = "dispatched"
	Handling   Status = "handling"
	Handled    Status = "handled"
	Verified   Status = "verified"
	Closed     Status = "closed"
	Cancelled  Status = "cancelled"
	Merged     Status = "merged"
	Suspended  Status = "suspended"
)

// Statuses lists every status in loop order.
func Statuses() []Status {
	return []Status{Reported, Registered, Dispatched, Handling, Handled, Verified, Closed, Cancelled, Merged, Suspended}
}

// Open says whether a case still needs work.
func (s Status) Open() bool { return s != Closed && s != Cancelled && s != Merged }

// Sources lists where reports come from.
func Sources() []string {
	return []string{"inspector", "hotline", "secret_inspection", "citizen", "supervisor", "patrol"}
}

// Actions, each a POST /api/v1/cases/{code}/{action}.
const (
	ActRegister = "register"
	ActDispatch = "dispatch"
	ActHandle   = "handle"
	ActHandled  = "handled"
	ActVerify   = "verify"
	ActClose    = "close"
	ActReturn   = "return"
	ActCancel   = "cancel"
	ActMerge    = "merge"
	ActSuspend  = "suspend"
	ActResume   = "resume"
	ActReopen   = "reopen"
	// actReport is the first event, written by intake.
	actReport = "report"
)

// rule says who may take an action from which statuses. Admin may take
// every action; a unit-role token only acts on cases dispatched to its
// unit. The target status is decided by the action (transition).
type rule struct {
	from       []Status
	roles      []grids.Role
	noteNeeded bool // a reason or result is required
}

// ruleOf is the state machine.
func ruleOf(action string) (rule, bool) {
	d, u, i := grids.RoleDispatcher, grids.RoleUnit, grids.RoleInspector
	switch action {
	case ActRegister:
		return rule{from: []Status{Reported}, roles: []grids.Role{d}}, true
	case ActDispatch:
		return rule{from: []Status{Registered}, roles: []grids.Role{d}}, true
	case ActHandle:
		return rule{from: []Status{Dispatched}, roles: []grids.Role{u}}, true
	case ActHandled:
		return rule{from: []Status{Dispatched, Handling}, roles: []grids.Role{u}, noteNeeded: true}, true
	case ActVerify:
		return rule{from: []Status{Handled}, roles: []grids.Role{d, i}}, true
	case ActClose:
		return rule{from: []Status{Verified}, roles: []grids.Role{d}}, true
	case ActReturn:
		return rule{from: []Status{Dispatched, Handling}, roles: []grids.Role{u}, noteNeeded: true}, true
	case ActCancel:
		return rule{from: []Status{Reported, Registered}, roles: []grids.Role{d}, noteNeeded: true}, true
	case ActMerge:
		return rule{from: []Status{Reported, Registered}, roles: []grids.Role{d}}, true
	case ActSuspend:
		return rule{from: []Status{Registered, Dispatched, Handling}, roles: []grids.Role{d}, noteNeeded: true}, true
	case ActResume:
		return rule{from: []Status{Suspended}, roles: []grids.Role{d}}, true
	case ActReopen:
		return rule{from: []Status{Closed}, roles: []grids.Role{d}, noteNeeded: true}, true
	}
	return rule{}, false
}

// Actions lists every action.
func Actions() []string {
	return []string{ActRegister, ActDispatch, ActHandle, ActHandled, ActVerify, ActClose,
		ActReturn, ActCancel, ActMerge, ActSuspend, ActResume, ActReopen}
}

func (r rule) allows(role grids.Role) bool {
	return role == grids.RoleAdmin || slices.Contains(r.roles, role)
}

// AllowedActions lists what a principal may do with a case in its status,
// for the map's case panel.
func AllowedActions(p grids.Principal, st Status) []string {
	out := []string{}
	for _, a := range Actions() {
		r, _ := ruleOf(a)
		if r.allows(p.Role) && slices.Contains(r.from, st) {
			out = append(out, a)
		}
	}
	return out
}
