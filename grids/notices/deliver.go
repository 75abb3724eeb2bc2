package notices

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// noticeBody is the JSON posted to a webhook.
type noticeBody struct {
	ID   string         `json:"id"`
	Kind string         `json:"kind"`
	Case string         `json:"case"`
	Unit string         `json:"unit"`
	At   time.Time      `json:"at"`
	Data map[string]any `json:"data"`
}

// deliveryArgs is one notice for one webhook: a river job. Delivery is the
// X-Citygrid-Delivery id, fixed at enqueue so every retry repeats it.
type deliveryArgs struct {
	Webhook  int64      `json:"webhook"`
	Delivery string     `json:"delivery"`
	Notice   noticeBody `json:"notice"`
}

func (deliveryArgs) Kind() string { return "citygrid_webhook_delivery" }

// Headers of a delivery.
const (
	HeaderEvent     = "X-Citygrid-Event"
	HeaderDelivery  = "X-Citygrid-Delivery"
	HeaderSignature = "X-Citygrid-Signature"
)

// Sign is the X-Citygrid-Signature of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Store
}

func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration { return w.s.cfg.jobTimeout() }

// Work posts the notice once and logs the attempt; an error makes river
// retry on the schedule of the config.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	a := job.Args
	var url, secret string
	var deleted bool
	err := w.s.pool.QueryRow(ctx, `SELECT url, secret, deleted_at IS NOT NULL FROM webhooks WHERE id = @id`,
		pgx.NamedArgs{"id": a.Webhook}).Scan(&url, &secret, &deleted)
	if errors.Is(err, pgx.ErrNoRows) || deleted {
		return river.JobCancel(fmt.Errorf("webhook %d was deleted", a.Webhook))
	}
	if err != nil {
		return err
	}
	// encoding/json writes map keys in order, so every attempt posts (and
	// signs) the same bytes.
	body, err := json.Marshal(a.Notice)
	if err != nil {
		return river.JobCancel(err)
	}
	start := time.Now()
	status, postErr := w.post(ctx, url, secret, a, body)
	took := time.Since(start)
	errText := ""
	if postErr != nil {
		errText = postErr.Error()
	}
	var code *int
	if status != 0 {
		code = &status
	}
	// The attempt is logged even when the job's context is ending.
	logCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := w.s.pool.Exec(logCtx, `
		INSERT INTO webhook_deliveries (webhook_id, delivery_id, notice_id, kind, case_code, attempt, status_code, error, duration_ms)
		VALUES (@webhook, @delivery, @notice, @kind, @case, @attempt, @status, @error, @ms)`,
		pgx.NamedArgs{"webhook": a.Webhook, "delivery": a.Delivery, "notice": a.Notice.ID, "kind": a.Notice.Kind,
			"case": a.Notice.Case, "attempt": job.Attempt, "status": code, "error": errText,
			"ms": float64(took.Microseconds()) / 1000}); err != nil {
		w.s.log.Error("logging a webhook delivery", "webhook", a.Webhook, "delivery", a.Delivery, "err", err)
	}
	if postErr != nil {
		w.s.log.Warn("webhook delivery failed", "webhook", a.Webhook, "delivery", a.Delivery, "attempt", job.Attempt,
			"of", job.MaxAttempts, "err", postErr)
	}
	return postErr
}

func (w *deliveryWorker) post(ctx context.Context, url, secret string, a deliveryArgs, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "citygrid-webhooks")
	req.Header.Set(HeaderEvent, a.Notice.Kind)
	req.Header.Set(HeaderDelivery, a.Delivery)
	req.Header.Set(HeaderSignature, Sign(secret, body))
	res, err := w.s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, fmt.Errorf("receiver answered %s", res.Status)
	}
	return res.StatusCode, nil
}

// retrySchedule waits the n-th wait before the n-th retry, repeating the
// last one past the end.
type retrySchedule []time.Duration

func (r retrySchedule) NextRetry(job *rivertype.JobRow) time.Time {
	i := min(max(job.Attempt-1, 0), len(r)-1)
	return time.Now().Add(r[i])
}

// periodicArgs names the registered Periodic a job runs.
type periodicArgs struct {
	Name string `json:"name"`
}

func (periodicArgs) Kind() string { return "citygrid_periodic" }

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	s *Store
}

func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	w.s.mu.Lock()
	p, ok := w.s.periodic[job.Args.Name]
	w.s.mu.Unlock()
	if !ok {
		// Another server, newer or older, registered work this one lacks.
		return river.JobCancel(fmt.Errorf("no periodic work %q on this server", job.Args.Name))
	}
	if err := p.Run(ctx); err != nil {
		w.s.log.Error("periodic work failed", "name", p.Name, "err", err)
		return err
	}
	return nil
}

func (w *periodicWorker) Timeout(job *river.Job[periodicArgs]) time.Duration {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return max(w.s.periodic[job.Args.Name].Every, w.s.cfg.jobTimeout())
}
