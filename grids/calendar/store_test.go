package calendar_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/calendar"
	"github.com/citygrid/citygrid/grids/gridstest"
)

// The migration seeds 2026 as the State Council published it; a year
// replaced is replaced whole, other years untouched; the holder follows
// through the change notification.
func TestStoreAndHolder(t *testing.T) {
	pool := gridstest.NewStore(t).Pool()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := calendar.NewStore(pool)
	c, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seeded := cal2026()
	if got, want := c.Days(2026), seeded.Days(2026); len(got) != len(want) {
		t.Fatalf("seeded 2026 has %d days, want %d", len(got), len(want))
	} else {
		for i := range want {
			if got[i].Date != want[i].Date || got[i].Kind != want[i].Kind {
				t.Errorf("seed %d: %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	if c.WorkingDays(2026) != 248 || c.Zone().String() != "Asia/Shanghai" {
		t.Errorf("seeded: %d working days in %s", c.WorkingDays(2026), c.Zone())
	}

	h, err := calendar.NewHolder(ctx, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go grids.Listen(ctx, pool, slog.New(slog.NewTextHandler(io.Discard, nil)), h.Changed)
	if h.Current().IsWorkdate(must(calendar.ParseDate("2027-02-08"))) != true {
		t.Fatal("2027-02-08 (a Monday) is not a working day before any change")
	}
	time.Sleep(100 * time.Millisecond) // let the listener's LISTEN start

	days2027, err := calendar.CheckYear(2027, []calendar.Entry{
		{Row: "days/0", Date: "2027-02-06", Kind: "workday", Name: "春节调休上班"},
		{Row: "days/1", Date: "2027-02-08", Kind: "holiday", Name: "春节"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.ReplaceYear(ctx, 2027, days2027); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.Current().IsWorkdate(must(calendar.ParseDate("2027-02-08"))) {
		if time.Now().After(deadline) {
			t.Fatal("the holder never saw 2027's change")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cur := h.Current()
	if !cur.IsWorkdate(must(calendar.ParseDate("2027-02-06"))) || len(cur.Days(2026)) != 39 {
		t.Errorf("after the change: 2027 %v, 2026 kept %d days", cur.Days(2027), len(cur.Days(2026)))
	}

	// Replacing with nothing empties the year.
	if err := store.ReplaceYear(ctx, 2027, nil); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.Current().Days(2027)); n != 0 {
		t.Errorf("2027 still has %d days", n)
	}
	// The database refuses what CheckYear refuses, should a caller skip it.
	bad := []calendar.Day{{Date: must(calendar.ParseDate("2027-03-03")), Kind: calendar.Workday}}
	if err := store.ReplaceYear(ctx, 2027, bad); err == nil {
		t.Error("a workday on a Wednesday was stored")
	}
	if err := store.ReplaceYear(ctx, 2026, days2027); err == nil {
		t.Error("2027's days were stored as 2026's")
	}
	if n := len(must(store.Load(ctx)).Days(2026)); n != 39 {
		t.Errorf("a refused replacement changed 2026: %d days", n)
	}
}

// A store in another zone reads the same days in that zone.
func TestStoreZone(t *testing.T) {
	pool := gridstest.NewStore(t).Pool()
	utc := calendar.NewStore(pool).WithZone(time.UTC)
	c, err := utc.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 17:00 UTC on the worked Saturday 14 February is already 01:00 on the
	// 15th, a holiday, in Shanghai.
	sat := time.Date(2026, 2, 14, 17, 0, 0, 0, time.UTC)
	if c.Zone() != time.UTC || !c.IsWorkday(sat) {
		t.Errorf("a UTC calendar: %s is not a working day", sat)
	}
	if must(calendar.NewStore(pool).Load(context.Background())).IsWorkday(sat) {
		t.Errorf("a Shanghai calendar: %s is a working day", sat)
	}
}
