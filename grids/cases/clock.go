package cases

import "time"

// The handling clock runs from dispatch to handled and stops while a case
// is suspended. spentS is what it counted before clockFrom; the deadline is
// where the rest of the limit ends on the limit's clock (natural time for
// hours, the working calendar for working days), and the warning (黄牌)
// where 80% of it is gone.

// warnShare is the part of the limit after which a case is flagged.
const warnShare = 0.8

// clockState fills the deadline flags and the remaining time as of now.
// It is OverdueSQL and WarningSQL over a case in memory: the stored
// deadline and warning decide, as they decided handled_on_time, so that a
// case's flags, the overdue queue and the counts agree even after the
// calendar was edited under a running clock; and a suspended case whose
// time ran out before the suspension stays overdue (LateSQL).
func (s *Store) clockState(c *Case, now time.Time) {
	clk, limit, ok := s.clock(c.limitHours, c.limitDays)
	if !ok {
		return
	}
	switch {
	case c.clockFrom != nil && c.Deadline != nil:
		due := *c.Deadline
		c.Overdue = now.After(due)
		c.Warning = !c.Overdue && c.warnAt != nil && !now.Before(*c.warnAt)
		secs := int64(clk.Between(now, due) / time.Second) // negative once past
		c.RemainingS = &secs
	case c.HandledOnTime != nil:
		c.Overdue = !*c.HandledOnTime
	case c.Status == Suspended:
		rem := int64((limit - time.Duration(c.spentS)*time.Second) / time.Second)
		c.Overdue = rem < 0
		if c.DispatchedAt != nil {
			c.RemainingS = &rem
		}
	}
}

// startClock starts (or resumes) the handling clock at now.
func (s *Store) startClock(c *Case, now time.Time) {
	clk, limit, ok := s.clock(c.limitHours, c.limitDays)
	if !ok {
		return
	}
	spent := time.Duration(c.spentS) * time.Second
	c.clockFrom = &now
	due := clk.Add(now, limit-spent)
	warn := now
	if w := time.Duration(warnShare*float64(limit)) - spent; w > 0 {
		warn = clk.Add(now, w)
	}
	c.Deadline, c.warnAt = &due, &warn
}

// stopClock stops the clock at now and counts what it ran; a suspension
// keeps of the deadline what SuspendedDeadline says.
func (s *Store) stopClock(c *Case, now time.Time, suspend bool) {
	if c.clockFrom == nil {
		return
	}
	clk, _, ok := s.clock(c.limitHours, c.limitDays)
	if ok {
		c.spentS += int64(clk.Between(*c.clockFrom, now) / time.Second)
	}
	c.clockFrom = nil
	if suspend {
		c.Deadline, c.warnAt = SuspendedDeadline(c.Deadline, now), nil
	}
}

// SuspendedDeadline is what a suspension at `at` keeps of the deadline
// due. One still ahead goes: the clock stops, and resuming sets it again
// from the time left. One already passed stays, as the deadline the case
// missed: the evaluation of its period counts it due and not handled on
// time (a suspension must not take a late case out of a unit's on-time
// rate), and resuming keeps it (resumeClock).
func SuspendedDeadline(due *time.Time, at time.Time) *time.Time {
	if due != nil && at.After(*due) {
		return due
	}
	return nil
}

// resumeClock starts the clock of a suspended case again at now: with the
// deadline it kept, or one set afresh from the time left.
func (s *Store) resumeClock(c *Case, now time.Time) {
	if c.Deadline == nil {
		s.startClock(c, now)
		return
	}
	if _, _, ok := s.clock(c.limitHours, c.limitDays); ok {
		c.clockFrom, c.warnAt = &now, c.Deadline
	}
}

// resetClock forgets the clock: a returned case starts afresh at its next
// dispatch, with the limit of its (possibly corrected) category.
func (c *Case) resetClock() {
	c.spentS, c.clockFrom, c.Deadline, c.warnAt = 0, nil, nil, nil
}

// clockEvent is one transition of a case's history as the clock sees it.
type clockEvent struct {
	action string
	to     Status
	at     time.Time
}

// stepClock is what the transition action, to status to at now, does to
// the handling clock: the one home of the clock's part of the workflow,
// which apply takes step by step and replayClock over a case's history.
// Dispatch starts it; handled stops it; a failed verification (back to
// handling) starts it again; a suspension stops it, keeping a deadline
// already missed; a resume into dispatched or handling restarts it; a
// return or a reopen forgets it. Other actions leave it.
func (s *Store) stepClock(c *Case, action string, to Status, now time.Time) {
	switch action {
	case ActDispatch:
		s.startClock(c, now)
	case ActHandled:
		s.stopClock(c, now, false)
	case ActVerify:
		if to == Handling {
			s.startClock(c, now)
		}
	case ActSuspend:
		s.stopClock(c, now, true)
	case ActResume:
		if to == Dispatched || to == Handling {
			s.resumeClock(c, now)
		}
	case ActReturn, ActReopen:
		c.resetClock()
	}
}

// replayClock runs the handling clock of c over its history (c carries
// the case's limit); the clock fields it ends with are what the workflow
// would have stored under today's rules and calendar.
func (s *Store) replayClock(c *Case, events []clockEvent) {
	c.resetClock()
	for _, e := range events {
		s.stepClock(c, e.action, e.to, e.at)
	}
}
