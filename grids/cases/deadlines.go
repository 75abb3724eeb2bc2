package cases

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ScanDeadlines sends the deadline notices that are due: a warning once 80%
// of a running clock is gone (黄牌) and an overdue notice once it has run
// out (红牌), each once per dispatch, to the case's unit. It runs
// periodically on every server; SKIP LOCKED lets servers share the work
// and never send a notice twice. It answers how many it sent.
func (s *Store) ScanDeadlines(ctx context.Context) (int, error) {
	if s.cfg.Notify == nil {
		return 0, nil
	}
	sent := 0
	for {
		n, err := s.scanBatch(ctx, 500)
		sent += n
		if err != nil || n < 500 {
			return sent, err
		}
	}
}

func (s *Store) scanBatch(ctx context.Context, limit int) (int, error) {
	sent := 0
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT c.id, c.reported_at, c.code, u.code, c.status, c.category_code, c.due_at,
			       c.due_at <= now() AND NOT c.overdue_sent
			FROM cases c JOIN units u ON u.id = c.unit_id
			WHERE c.clock_from IS NOT NULL
			  AND ((c.warn_at <= now() AND NOT c.warning_sent) OR (c.due_at <= now() AND NOT c.overdue_sent))
			ORDER BY c.due_at LIMIT $1
			FOR UPDATE OF c SKIP LOCKED`, limit)
		if err != nil {
			return err
		}
		type due struct {
			id          int64
			at          time.Time
			code, unit  string
			status, cat string
			deadline    *time.Time
			overdue     bool
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (due, error) {
			var d due
			err := r.Scan(&d.id, &d.at, &d.code, &d.unit, &d.status, &d.cat, &d.deadline, &d.overdue)
			return d, err
		})
		if err != nil {
			return err
		}
		now := time.Now()
		for _, d := range list {
			kind := NoticeDeadlineWarning
			if d.overdue {
				kind = NoticeOverdue
			}
			if err := s.cfg.Notify(ctx, tx, Notice{Kind: kind, Case: d.code, Unit: d.unit, At: now,
				Data: map[string]any{"status": d.status, "category": d.cat, "deadline": d.deadline}}); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE cases SET warning_sent = true, overdue_sent = overdue_sent OR $3
				WHERE id = $1 AND reported_at = $2`, d.id, d.at, d.overdue); err != nil {
				return err
			}
			sent++
		}
		return nil
	})
	return sent, err
}

// EnsurePartitions makes the monthly partitions of cases and their events
// from this month to three months ahead, so that reports never land in the
// default partition. Servers call it at start and daily.
func (s *Store) EnsurePartitions(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT citygrid_case_partitions(date_trunc('month', now())::date,
		(date_trunc('month', now()) + interval '4 months')::date)`)
	return err
}

// FoldTiles moves the tile counts' pending changes (case_tile_deltas,
// which every write of cases appends to) into the counts the clustered
// tiles read (case_tile_cells), and merges the deadline buckets that are
// over; it answers how many counts changed. Tiles are exact whether or
// not it has run: it keeps what they read small. One fold runs at a time
// across servers (the others return 0).
func (s *Store) FoldTiles(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT citygrid_fold_case_tiles()`).Scan(&n)
	return n, err
}
