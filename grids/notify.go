package grids

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ChangeChannel is the NOTIFY channel on which every committed change of
// regions, grids, units, objects, assignments, users and tokens is announced
// with the table's name.
const ChangeChannel = "citygrid_changed"

// AnyChange is passed to a listener after a reconnect: notices may have been
// missed, so everything must be treated as changed.
const AnyChange = "*"

// Listen calls fn with the table name of every committed change until ctx
// ends. It holds one connection of the pool, reconnects with backoff when the
// connection drops, and reports AnyChange once it listens, the first time
// too: what a server read at start-up (the locate snapshot, the calendar)
// was read before its LISTEN, and a change committed in between would
// otherwise stay unseen until the next one (a second server starting during
// a publish answered from the old layout).
func Listen(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, fn func(table string)) {
	ListenAll(ctx, pool, log, Channel{Name: ChangeChannel, Fn: fn, ResyncFirst: true})
}

// Channel is one NOTIFY channel a listener hears, and what it does with
// each notice's payload.
type Channel struct {
	Name string
	Fn   func(payload string)
	// ResyncFirst passes AnyChange once the first LISTEN holds, as after
	// every reconnect, for a reader that loaded its state before listening.
	ResyncFirst bool
}

// ListenAll listens on every channel over one connection until ctx ends,
// calling each channel's Fn with its notices' payloads, and with AnyChange
// after each reconnect. One connection rather than one a channel: every
// NOTIFY wakes every listening backend of the database, whatever its
// channels, so each more listener costs PostgreSQL a signal, a wake-up and a
// queue read on every commit that notifies (each case report does).
func ListenAll(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, chans ...Channel) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, func() {
			for _, c := range chans {
				if !first || c.ResyncFirst {
					c.Fn(AnyChange)
				}
			}
			first = false
			backoff = 100 * time.Millisecond
		}, chans)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listener lost its connection; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, connected func(), chans []Channel) error {
	pooled, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries a LISTEN: take it out of the pool for good.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	fns := make(map[string]func(string), len(chans))
	for _, c := range chans {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{c.Name}.Sanitize()); err != nil {
			return err
		}
		fns[c.Name] = c.Fn
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if fn := fns[n.Channel]; fn != nil {
			fn(n.Payload)
		}
	}
}
