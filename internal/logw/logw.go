// Package logw writes a server's log lines from one goroutine, in batches,
// so that a request logs by copying a line into memory instead of making a
// write system call of its own while its client waits.
package logw

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer buffers whole lines and writes them to its destination every
// interval, as soon as a batch is large, or when Flush is called. A
// destination slower than the lines arrive slows the writers down once
// the buffer holds maxPending bytes, rather than holding unbounded memory
// or dropping lines an operator would miss.
type Writer struct {
	out      io.Writer
	mu       sync.Mutex
	room     *sync.Cond // signalled when a batch has been taken
	buf      []byte
	spare    []byte
	writeMu  sync.Mutex // one batch is written at a time, in order
	kick     chan struct{}
	stop     chan struct{}
	stopped  chan struct{}
	closeErr error
	once     sync.Once
}

const (
	batchBytes = 64 << 10 // a batch this large is written without waiting
	maxPending = 4 << 20  // writers wait beyond this
)

// New starts a writer to out that flushes at least every interval (0:
// 200 ms). Close it to write what is left.
func New(out io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	w := &Writer{out: out, buf: make([]byte, 0, batchBytes), spare: make([]byte, 0, batchBytes),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	w.room = sync.NewCond(&w.mu)
	go w.run(interval)
	return w
}

// Write copies p, which the caller may reuse at once (slog's handlers
// write one whole line per call), and returns without waiting for the
// destination.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for len(w.buf) >= maxPending {
		w.kickNow()
		w.room.Wait()
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= batchBytes
	w.mu.Unlock()
	if full {
		w.kickNow()
	}
	return len(p), nil
}

func (w *Writer) kickNow() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Flush writes what is buffered and waits until it is written.
func (w *Writer) Flush() error {
	w.writeMu.Lock()
	defer w.writeMu.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf, w.spare = w.spare[:0], nil
	w.room.Broadcast()
	w.mu.Unlock()
	var err error
	if len(batch) > 0 {
		_, err = w.out.Write(batch)
	}
	w.mu.Lock()
	if cap(batch) <= 2*batchBytes { // a burst's large buffer is not kept
		w.spare = batch[:0]
	} else {
		w.spare = make([]byte, 0, batchBytes)
	}
	w.mu.Unlock()
	return err
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.stopped)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-w.kick:
		case <-w.stop:
			w.closeErr = w.Flush()
			return
		}
		w.Flush() // a failed write of a log has nobody to tell but the log
	}
}

// Close writes what is left and stops the writer; later writes are
// buffered and never written.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.stopped
	return w.closeErr
}

// Urgent wraps h so that a record at warn level or above is written
// before the call returns: a warning or an error is read at once, and is
// not lost if the process dies within the next interval.
func Urgent(h slog.Handler, w *Writer) slog.Handler { return urgent{h, w} }

type urgent struct {
	slog.Handler
	w *Writer
}

func (u urgent) Handle(ctx context.Context, r slog.Record) error {
	err := u.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := u.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (u urgent) WithAttrs(as []slog.Attr) slog.Handler { return urgent{u.Handler.WithAttrs(as), u.w} }
func (u urgent) WithGroup(name string) slog.Handler    { return urgent{u.Handler.WithGroup(name), u.w} }
