package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/citygrid/citygrid/grids"
)

// events streams case changes as Server-Sent Events: `event: case` with the
// change as JSON, `event: resync` when changes may have been missed, and a
// comment line as heartbeat; a client reconnecting with Last-Event-ID is
// told to resync at once. A unit token sees only its unit's cases. The
// stream ends when the client goes, when it falls too far behind, or when
// the server shuts down; EventSource clients reconnect by themselves.
func (s *noticesAPI) events(c echo.Context) error {
	p := principalOf(c)
	unit := ""
	if p.Role == grids.RoleUnit {
		if p.Unit == "" {
			return grids.ErrForbidden
		}
		unit = p.Unit
	}
	sub := s.feed.Subscribe(unit)
	defer s.feed.Unsubscribe(sub)

	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx would hold the events back
	w.WriteHeader(http.StatusOK)
	// The retry hint and a first comment reach the client at once, so it
	// knows the stream is open before any case changes.
	if _, err := fmt.Fprint(w, "retry: 3000\n: connected\n\n"); err != nil {
		return nil
	}
	// A reconnecting client names the last event it saw; the feed keeps
	// no history, so what happened while it was away is a resync (the map
	// reloads its queue), not silence.
	if c.Request().Header.Get("Last-Event-ID") != "" {
		if _, err := fmt.Fprint(w, "event: resync\ndata: {\"reason\":\"reconnected\"}\n\n"); err != nil {
			return nil
		}
	}
	w.Flush()
	beat := time.NewTicker(s.feed.Heartbeat)
	defer beat.Stop()
	ctx := c.Request().Context()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C:
			if !ok {
				return nil
			}
			_, err = fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, ev.Data)
		case <-beat.C:
			_, err = fmt.Fprint(w, ": heartbeat\n\n")
		}
		if err != nil {
			return nil // the client went away
		}
		w.Flush()
	}
}
