package logw

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a destination that tests may read while the writer runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestEveryLineWrittenWholeAndInOrder(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Millisecond)
	log := slog.New(slog.NewJSONHandler(w, nil))
	var wg sync.WaitGroup
	const writers, lines = 8, 5000 // over maxPending in all, so writers wait too
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				log.Info("request", "writer", g, "line", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines written, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l[strings.Index(l, `"writer":`):], `"writer":%d,"line":%d`, &g, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
}

func TestUrgentRecordsWrittenAtOnce(t *testing.T) {
	var out lockedBuffer
	w := New(&out, time.Hour)
	defer w.Close()
	log := slog.New(Urgent(slog.NewTextHandler(w, nil), w)).With("server", "a")
	log.Info("request")
	if s := out.String(); s != "" {
		t.Fatalf("an info line was written before a flush: %q", s)
	}
	log.Error("database down")
	s := out.String()
	if !strings.Contains(s, "msg=request server=a") || !strings.Contains(s, `msg="database down" server=a`) {
		t.Fatalf("after an error: %q", s)
	}
}
