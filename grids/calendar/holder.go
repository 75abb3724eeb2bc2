package calendar

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citygrid/citygrid/grids"
)

// Holder keeps the current calendar for callers that read it on every
// transition, reloading it when a change notification names the calendar's
// table. Readers never wait: Current is one atomic load.
type Holder struct {
	store *Store
	log   *slog.Logger
	cur   atomic.Pointer[Calendar]
	dirty chan struct{}

	// Loads may overlap (a notification and Reload); the one started last
	// wins, as it read the newest committed rows.
	mu               sync.Mutex
	started, applied uint64
}

// NewHolder loads the calendar and keeps it fresh until ctx ends; the
// caller passes the changes it hears to Changed.
func NewHolder(ctx context.Context, store *Store, log *slog.Logger) (*Holder, error) {
	h := &Holder{store: store, log: log, dirty: make(chan struct{}, 1)}
	if err := h.Reload(ctx); err != nil {
		return nil, err
	}
	go h.run(ctx)
	return h, nil
}

// Current is the calendar as last loaded.
func (h *Holder) Current() *Calendar { return h.cur.Load() }

// Store is the store the holder loads from.
func (h *Holder) Store() *Store { return h.store }

// Changed schedules a reload when table is the calendar's, or after a
// reconnect (grids.AnyChange); it never blocks.
func (h *Holder) Changed(table string) {
	if table != Table && table != grids.AnyChange {
		return
	}
	select {
	case h.dirty <- struct{}{}:
	default: // a reload is already due
	}
}

// Reload loads the calendar now, so that a writer reads its own write
// without waiting for the notification.
func (h *Holder) Reload(ctx context.Context) error {
	h.mu.Lock()
	h.started++
	seq := h.started
	h.mu.Unlock()
	c, err := h.store.Load(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if seq > h.applied {
		h.applied = seq
		h.cur.Store(c)
	}
	return nil
}

func (h *Holder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.dirty:
		}
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 10*time.Second) {
			err := h.Reload(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			h.log.Warn("reloading the working calendar; keeping the one loaded before", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
	}
}
