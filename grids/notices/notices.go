// Package notices holds what citygrid tells the outside world about cases:
// units' webhooks with a transactional outbox (river jobs inserted in the
// transaction of the change, delivered signed with retries, every attempt
// logged), the periodic work that runs beside them, and the live feed of
// case changes behind the event stream.
package notices

import (
	"context"
	"net/netip"
	"time"
)

// The kinds of notice a webhook may subscribe to.
const (
	KindDispatched         = "dispatched"
	KindReturned           = "returned"
	KindVerificationFailed = "verification_failed"
	KindDeadlineWarning    = "deadline_warning"
	KindOverdue            = "overdue"
)

// Kinds lists every notice kind, in the order the workflow meets them.
func Kinds() []string {
	return []string{KindDispatched, KindReturned, KindVerificationFailed, KindDeadlineWarning, KindOverdue}
}

// Notice is something a unit is told about one of its cases.
type Notice struct {
	Kind string
	Case string // case code
	Unit string // code of the unit told
	At   time.Time
	Data map[string]any
}

// Periodic is work run every so often by one server of the cluster (river's
// elected leader), such as the deadline scan that enqueues deadline
// warnings.
type Periodic struct {
	Name  string
	Every time.Duration
	Run   func(ctx context.Context) error
}

// Config says how deliveries are made and retried.
type Config struct {
	// Retry is the wait before each retry of a failed delivery; past its
	// end the last wait repeats until MaxAttempts (default: 10 s, 30 s,
	// 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h: about a day in all).
	Retry []time.Duration
	// MaxAttempts is how often a delivery is tried before it is given up
	// (default: one more than the waits of Retry).
	MaxAttempts int
	// Timeout bounds one delivery request (default 10 s).
	Timeout time.Duration
	// RescueStuckAfter is how long a delivery may stay running before it
	// is taken for lost (its server died mid-request) and retried
	// (default 2 min; at least Timeout plus a few seconds).
	RescueStuckAfter time.Duration
	// Workers is how many deliveries run at once on one server (default 10).
	Workers int
	// EventBuffer is how many case events a slow event-stream subscriber
	// may fall behind before it is dropped (default 64).
	EventBuffer int
	// Heartbeat is the interval of the event stream's comment lines that
	// keep proxies from closing an idle stream (default 15 s).
	Heartbeat time.Duration
	// Allow lists the loopback, link-local, multicast or unspecified
	// addresses webhooks may reach after all (guard.go): none by default.
	Allow []netip.Prefix
}

// timeoutMargin is the time a delivery job has beyond its request to log
// the attempt.
const timeoutMargin = 5 * time.Second

func (c Config) withDefaults() Config {
	if len(c.Retry) == 0 {
		c.Retry = []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
			time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 8 * time.Hour}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = len(c.Retry) + 1
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RescueStuckAfter <= 0 {
		c.RescueStuckAfter = 2 * time.Minute
	}
	// River refuses a rescue sooner than the job timeout.
	c.RescueStuckAfter = max(c.RescueStuckAfter, c.jobTimeout())
	if c.Workers <= 0 {
		c.Workers = 10
	}
	if c.EventBuffer <= 0 {
		c.EventBuffer = 64
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	return c
}

func (c Config) jobTimeout() time.Duration { return c.Timeout + timeoutMargin }
