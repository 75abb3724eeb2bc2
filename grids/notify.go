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
	listen(ctx, pool, log, ChangeChannel, fn, true)
}

// ListenOn is Listen on another channel: fn gets each notice's payload, and
// AnyChange after each reconnect.
func ListenOn(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, channel string, fn func(payload string)) {
	listen(ctx, pool, log, channel, fn, false)
}

func listen(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, channel string, fn func(payload string), resyncFirst bool) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := listenOnce(ctx, pool, func() {
			if !first || resyncFirst {
				fn(AnyChange)
			}
			first = false
			backoff = 100 * time.Millisecond
		}, channel, fn)
		if ctx.Err() != nil {
			return
		}
		log.Warn("listener lost its connection; reconnecting", "channel", channel, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func listenOnce(ctx context.Context, pool *pgxpool.Pool, connected func(), channel string, fn func(string)) error {
	pooled, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries a LISTEN: take it out of the pool for good.
	conn := pooled.Hijack()
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}
