package notices

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
)

// CaseChannel is the NOTIFY channel on which the cases workflow announces,
// in the transaction of the change, each case change as a JSON CaseEvent.
const CaseChannel = "citygrid_cases"

// CaseEvent is the payload of CaseChannel, as the event stream shows it.
type CaseEvent struct {
	Code   string    `json:"code"`
	Status string    `json:"status"`
	Unit   string    `json:"unit"` // the unit's code, or ""
	Action string    `json:"action"`
	At     time.Time `json:"at"`
}

// Event is one message of the feed.
type Event struct {
	ID int64
	// Kind is "case", or "resync" after the feed lost its connection and
	// may have missed changes (the client should reload what it shows).
	Kind string
	Data []byte // the JSON payload
	unit string
}

// Feed fans the case changes of one LISTEN connection out to every
// subscriber. A subscriber that falls behind is dropped, never waited for.
type Feed struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	buffer int
	// Heartbeat is how often a stream sends a comment line when idle.
	Heartbeat time.Duration

	mu     sync.Mutex
	seq    int64
	subs   map[*Subscription]struct{}
	closed bool
}

// NewFeed builds the feed over pool; Run starts it.
func NewFeed(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Feed {
	cfg = cfg.withDefaults()
	return &Feed{pool: pool, log: log, buffer: cfg.EventBuffer, Heartbeat: cfg.Heartbeat, subs: map[*Subscription]struct{}{}}
}

// Run listens until ctx ends, then closes every subscription. A server
// that listens on other channels too hears the feed's on the same
// connection instead (Channel), and closes the feed itself.
func (f *Feed) Run(ctx context.Context) {
	grids.ListenAll(ctx, f.pool, f.log, f.Channel())
	f.Close()
}

// Channel is the feed's NOTIFY channel, for a listener shared with others.
func (f *Feed) Channel() grids.Channel {
	return grids.Channel{Name: CaseChannel, Fn: f.publish}
}

// Subscription receives the feed's events until it is closed or dropped.
type Subscription struct {
	C    <-chan Event // closed when the subscription ends
	c    chan Event
	unit string
}

// Subscribe starts a subscription: unit "" receives every case's events, a
// unit code only those of cases at that unit. On a closed feed it is ended
// at once.
func (f *Feed) Subscribe(unit string) *Subscription {
	c := make(chan Event, f.buffer)
	s := &Subscription{C: c, c: c, unit: unit}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(c)
		return s
	}
	f.subs[s] = struct{}{}
	return s
}

// Unsubscribe ends s.
func (f *Feed) Unsubscribe(s *Subscription) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.drop(s)
}

func (f *Feed) drop(s *Subscription) {
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.c)
	}
}

// Close ends every subscription, and later ones at once: the streams end
// so that the HTTP server can shut down.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for s := range f.subs {
		f.drop(s)
	}
}

func (f *Feed) publish(payload string) {
	f.mu.Lock()
	idle := len(f.subs) == 0
	f.mu.Unlock()
	if idle {
		return // nobody streams: most reports are filed with no map open
	}
	ev := Event{Kind: "case", Data: []byte(payload)}
	if payload == grids.AnyChange {
		ev = Event{Kind: "resync", Data: []byte(`{}`)}
	} else {
		var ce CaseEvent
		var compact bytes.Buffer
		// One line: an SSE data field ends at a newline.
		if err := json.Compact(&compact, ev.Data); err != nil {
			f.log.Error("unreadable case notice", "payload", payload, "err", err)
			return
		}
		if err := json.Unmarshal(ev.Data, &ce); err != nil {
			f.log.Error("unreadable case notice", "payload", payload, "err", err)
			return
		}
		ev.Data, ev.unit = compact.Bytes(), ce.Unit
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	ev.ID = f.seq
	for s := range f.subs {
		if ev.Kind == "case" && s.unit != "" && s.unit != ev.unit {
			continue
		}
		select {
		case s.c <- ev:
		default:
			f.log.Warn("dropping a slow event-stream subscriber", "unit", s.unit, "buffer", f.buffer)
			f.drop(s)
		}
	}
}
