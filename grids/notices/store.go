package notices

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/citygrid/citygrid/grids"
)

// The river queues: deliveries, and the periodic work, which must not wait
// behind a backlog of deliveries to a slow receiver.
const (
	queueWebhooks = "webhooks"
	queuePeriodic = "periodic"
)

// Store keeps webhooks and their delivery log, enqueues deliveries and runs
// them: it holds the river client over the pool, which inserts jobs at
// once and works them between Start and Stop.
type Store struct {
	pool   *pgxpool.Pool
	cfg    Config
	log    *slog.Logger
	river  *river.Client[pgx.Tx]
	client *http.Client

	mu       sync.Mutex
	started  bool
	periodic map[string]Periodic
}

// NewStore builds the store and its river client over pool (not started).
func NewStore(pool *pgxpool.Pool, cfg Config, log *slog.Logger) (*Store, error) {
	cfg = cfg.withDefaults()
	s := &Store{pool: pool, cfg: cfg, log: log, periodic: map[string]Periodic{},
		client: cfg.httpClient()}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliveryWorker{s: s}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &periodicWorker{s: s}); err != nil {
		return nil, err
	}
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			queueWebhooks: {MaxWorkers: cfg.Workers},
			queuePeriodic: {MaxWorkers: 2},
		},
		Workers:              workers,
		JobTimeout:           cfg.jobTimeout(),
		RescueStuckJobsAfter: cfg.RescueStuckAfter,
		MaxAttempts:          cfg.MaxAttempts,
		RetryPolicy:          retrySchedule(cfg.Retry),
		Logger:               log,
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	s.river = client
	return s, nil
}

// Register adds periodic work; it must come before Start.
func (s *Store) Register(p Periodic) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.started:
		return fmt.Errorf("periodic %q registered after the job queue started", p.Name)
	case p.Name == "" || p.Every <= 0 || p.Run == nil:
		return fmt.Errorf("periodic %q needs a name, an interval and a function", p.Name)
	case s.periodic[p.Name].Run != nil:
		return fmt.Errorf("periodic %q registered twice", p.Name)
	}
	s.periodic[p.Name] = p
	name, every := p.Name, p.Every
	s.river.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(every),
		func() (river.JobArgs, *river.InsertOpts) {
			// Unique per period: a leader that changes mid-period does not
			// run the work twice.
			return periodicArgs{Name: name}, &river.InsertOpts{Queue: queuePeriodic, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: every}}
		}, &river.PeriodicJobOpts{ID: name, RunOnStart: true}))
	return nil
}

// Start works deliveries and periodic jobs until Stop or until ctx ends
// (which cancels running deliveries; they are retried later).
func (s *Store) Start(ctx context.Context) error {
	s.mu.Lock()
	s.started = true
	s.mu.Unlock()
	return s.river.Start(ctx)
}

// Stop lets running deliveries finish and stops; when ctx ends first it
// cancels them (river retries them after a restart).
func (s *Store) Stop(ctx context.Context) error {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	err := s.river.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return errors.Join(err, s.river.StopAndCancel(hard))
	}
	return err
}

// Enqueue inserts, in the caller's transaction, one delivery job per active
// webhook of n.Unit that subscribes to n.Kind, so that a delivery is
// committed with the change it announces or not at all. Without such a
// webhook it costs one indexed lookup.
func (s *Store) Enqueue(ctx context.Context, tx pgx.Tx, n Notice) error {
	if !slices.Contains(Kinds(), n.Kind) {
		return fmt.Errorf("notice kind %q is not one of %s", n.Kind, strings.Join(Kinds(), ", "))
	}
	if n.Unit == "" {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT w.id FROM webhooks w JOIN units u ON u.id = w.unit_id
		WHERE u.code = @unit AND w.deleted_at IS NULL AND @kind = ANY (w.events)
		ORDER BY w.id`, pgx.NamedArgs{"unit": n.Unit, "kind": n.Kind})
	if err != nil {
		return err
	}
	hooks, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(hooks) == 0 {
		return err
	}
	if n.At.IsZero() {
		n.At = time.Now()
	}
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	body := noticeBody{ID: rand.Text(), Kind: n.Kind, Case: n.Case, Unit: n.Unit, At: n.At.UTC(), Data: n.Data}
	params := make([]river.InsertManyParams, len(hooks))
	for i, id := range hooks {
		params[i] = river.InsertManyParams{Args: deliveryArgs{Webhook: id, Delivery: rand.Text(), Notice: body},
			InsertOpts: &river.InsertOpts{Queue: queueWebhooks}}
	}
	_, err = s.river.InsertManyTx(ctx, tx, params)
	return err
}

// Webhook is a unit's subscription to notices.
type Webhook struct {
	ID     int64    `json:"id"`
	Unit   string   `json:"unit"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
	// Secret is shown only in the answer that generated it.
	Secret    string     `json:"secret,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
}

// WebhookInput is a webhook to create. Empty Events subscribes to every
// kind; an empty Secret is generated.
type WebhookInput struct {
	URL       string
	Events    []string
	Secret    string
	CreatedBy string
}

// MayManage tells whether p may create, list and delete the webhooks of
// unit: an admin, or a token of that unit.
func MayManage(p grids.Principal, unit string) bool {
	return p.Role == grids.RoleAdmin || (p.Role == grids.RoleUnit && p.Unit != "" && p.Unit == unit)
}

func (in *WebhookInput) check(cfg Config) error {
	var p grids.Problems
	u, err := url.Parse(in.URL)
	switch {
	case in.URL == "":
		p.Add("url", "required: the http(s) address deliveries are posted to")
	case err != nil:
		p.Add("url", "not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.Add("url", "must be an http or https URL, not %q", u.Scheme)
	case u.Hostname() == "":
		p.Add("url", "has no host")
	default:
		// A literal address is checked now; a name, when it is dialled.
		host := u.Hostname()
		if host == "localhost" {
			host = "127.0.0.1"
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if err := cfg.allowed(a); err != nil {
				p.Add("url", "%v", err)
			}
		}
	}
	if len(in.Events) == 0 {
		in.Events = Kinds()
	}
	seen := map[string]bool{}
	events := []string{}
	for i, k := range in.Events {
		switch {
		case !slices.Contains(Kinds(), k):
			p.Add(fmt.Sprintf("events[%d]", i), "%q is not a notice kind (one of %s)", k, strings.Join(Kinds(), ", "))
		case !seen[k]:
			seen[k] = true
			events = append(events, k)
		}
	}
	in.Events = events
	if in.Secret != "" && (len(in.Secret) < 16 || len(in.Secret) > 256) {
		p.Add("secret", "must be 16 to 256 characters (leave it out to have one generated)")
	}
	return p.Err()
}

const webhookColumns = `w.id, u.code, w.url, w.events, w.created_by, w.created_at, w.deleted_at`

func scanWebhook(row pgx.Row) (Webhook, error) {
	var w Webhook
	err := row.Scan(&w.ID, &w.Unit, &w.URL, &w.Events, &w.CreatedBy, &w.CreatedAt, &w.DeletedAt)
	return w, err
}

// CreateWebhook subscribes unit to notices. The answer carries the secret
// only when it was generated.
func (s *Store) CreateWebhook(ctx context.Context, unit string, in WebhookInput) (Webhook, error) {
	if err := in.check(s.cfg); err != nil {
		return Webhook{}, err
	}
	generated := in.Secret == ""
	if generated {
		in.Secret = "whsec_" + rand.Text() + rand.Text()
	}
	w, err := scanWebhook(s.pool.QueryRow(ctx, `
		WITH w AS (
			INSERT INTO webhooks (unit_id, url, events, secret, created_by)
			SELECT id, @url, @events, @secret, @by FROM units WHERE code = @unit
			RETURNING *)
		SELECT `+webhookColumns+` FROM w JOIN units u ON u.id = w.unit_id`,
		pgx.NamedArgs{"unit": unit, "url": in.URL, "events": in.Events, "secret": in.Secret, "by": in.CreatedBy}))
	if errors.Is(err, pgx.ErrNoRows) {
		return w, &grids.NotFoundError{What: "unit", Key: unit}
	}
	if generated {
		w.Secret = in.Secret
	}
	return w, err
}

// Webhooks lists the active webhooks of unit.
func (s *Store) Webhooks(ctx context.Context, unit string) ([]Webhook, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = @unit)`, pgx.NamedArgs{"unit": unit}).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, &grids.NotFoundError{What: "unit", Key: unit}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks w JOIN units u ON u.id = w.unit_id
		WHERE u.code = @unit AND w.deleted_at IS NULL ORDER BY w.id`, pgx.NamedArgs{"unit": unit})
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Webhook, error) { return scanWebhook(r) })
}

// Webhook returns one webhook, deleted ones included.
func (s *Store) Webhook(ctx context.Context, id int64) (Webhook, error) {
	w, err := scanWebhook(s.pool.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks w JOIN units u ON u.id = w.unit_id
		WHERE w.id = @id`, pgx.NamedArgs{"id": id}))
	if errors.Is(err, pgx.ErrNoRows) {
		return w, &grids.NotFoundError{What: "webhook", Key: fmt.Sprint(id)}
	}
	return w, err
}

// DeleteWebhook ends a webhook for p: its pending deliveries are cancelled
// when they come up, its log stays. Another unit's webhook is not found.
func (s *Store) DeleteWebhook(ctx context.Context, p grids.Principal, id int64) error {
	w, err := s.Webhook(ctx, id)
	if err != nil {
		return err
	}
	if w.DeletedAt != nil || !MayManage(p, w.Unit) {
		return &grids.NotFoundError{What: "webhook", Key: fmt.Sprint(id)}
	}
	_, err = s.pool.Exec(ctx, `UPDATE webhooks SET deleted_at = now() WHERE id = @id AND deleted_at IS NULL`, pgx.NamedArgs{"id": id})
	return err
}

// Delivery is one attempt to deliver a notice to a webhook.
type Delivery struct {
	ID         int64     `json:"id"`
	Webhook    int64     `json:"webhook"`
	DeliveryID string    `json:"delivery_id"`
	Notice     string    `json:"notice"`
	Kind       string    `json:"kind"`
	Case       string    `json:"case"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	Error      string    `json:"error,omitempty"`
	DurationMS float64   `json:"duration_ms"`
	At         time.Time `json:"at"`
}

// Deliveries lists a webhook's delivery attempts, newest first.
func (s *Store) Deliveries(ctx context.Context, webhook int64, page grids.Page) (grids.List[Delivery], error) {
	out := grids.List[Delivery]{Items: []Delivery{}, Limit: page.Limit, Offset: page.Offset}
	if _, err := s.Webhook(ctx, webhook); err != nil {
		return out, err
	}
	args := pgx.NamedArgs{"id": webhook, "limit": page.Limit, "offset": page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE webhook_id = @id`, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, webhook_id, delivery_id, notice_id, kind, case_code, attempt, status_code, error, duration_ms, at
		FROM webhook_deliveries WHERE webhook_id = @id ORDER BY id DESC LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.ID, &d.Webhook, &d.DeliveryID, &d.Notice, &d.Kind, &d.Case, &d.Attempt, &d.StatusCode, &d.Error, &d.DurationMS, &d.At)
		return d, err
	})
	if err != nil {
		return out, err
	}
	out.Items = items
	return out, nil
}
