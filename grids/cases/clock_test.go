package cases

import (
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
)

// replayClock over a case's history ends where the workflow's transitions
// leave the clock: the deadline a suspension kept, from whichever stretch
// of running time the limit ran out in.
func TestReplayClock(t *testing.T) {
	s := NewStore(grids.NewStore(nil, grids.CodeRules{}), nil, Config{Location: time.UTC})
	mon := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC) // a Monday; the calendar has weekends only
	h := func(n float64) time.Time { return mon.Add(time.Duration(n * float64(time.Hour))) }
	ev := func(action string, to Status, at time.Time) clockEvent { return clockEvent{action, to, at} }
	four, one := 4, 1
	for _, tc := range []struct {
		name         string
		hours, days  *int
		events       []clockEvent
		wantDeadline *time.Time
		wantSpent    time.Duration
	}{
		{"suspended late", &four, nil, []clockEvent{
			ev(actReport, Reported, h(-1)), ev(ActRegister, Registered, h(-0.5)),
			ev(ActDispatch, Dispatched, h(0)), ev(ActHandle, Handling, h(1)), ev(ActSuspend, Suspended, h(6)),
		}, ptr(h(4)), 6 * time.Hour},
		{"suspended in time", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActSuspend, Suspended, h(1)),
		}, nil, time.Hour},
		{"ran out after a resume", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActSuspend, Suspended, h(1)),
			ev(ActResume, Dispatched, h(10)), ev(ActSuspend, Suspended, h(15)),
		}, ptr(h(13)), 6 * time.Hour},
		{"late, resumed and suspended again: the first miss stays", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActSuspend, Suspended, h(5)),
			ev(ActResume, Handling, h(8)), ev(ActSuspend, Suspended, h(9)),
		}, ptr(h(4)), 6 * time.Hour},
		{"a return starts afresh", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActReturn, Registered, h(5)),
			ev(ActDispatch, Dispatched, h(6)), ev(ActSuspend, Suspended, h(7)),
		}, nil, time.Hour},
		{"a failed verification runs on from what was spent", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActHandled, Handled, h(2)),
			ev(ActVerify, Handling, h(3)), ev(ActSuspend, Suspended, h(6)),
		}, ptr(h(5)), 5 * time.Hour},
		{"a passed verification does not start it", &four, nil, []clockEvent{
			ev(ActDispatch, Dispatched, h(0)), ev(ActHandled, Handled, h(2)), ev(ActVerify, Verified, h(3)),
		}, ptr(h(4)), 2 * time.Hour},
		{"resumed before dispatch: no clock", &four, nil, []clockEvent{
			ev(ActSuspend, Suspended, h(0)), ev(ActResume, Registered, h(1)),
		}, nil, 0},
		// Friday 16:00 plus one working day of 24 h: Friday's 8 h, then
		// Monday until 16:00; suspended Tuesday 08:00, 40 h counted.
		{"working days skip the weekend", nil, &one, []clockEvent{
			ev(ActDispatch, Dispatched, h(4*24+8)), ev(ActSuspend, Suspended, h(8*24)),
		}, ptr(h(7*24 + 8)), 40 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Case{limitHours: tc.hours, limitDays: tc.days}
			s.replayClock(&c, tc.events)
			if (c.Deadline == nil) != (tc.wantDeadline == nil) || c.Deadline != nil && !c.Deadline.Equal(*tc.wantDeadline) {
				t.Errorf("deadline %v, want %v", c.Deadline, tc.wantDeadline)
			}
			if got := time.Duration(c.spentS) * time.Second; got != tc.wantSpent {
				t.Errorf("spent %v, want %v", got, tc.wantSpent)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
