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

// FoldChunk is the most deltas one fold transaction takes: about a second
// of work on two cores, well inside the periodic job's timeout.
const FoldChunk = 100_000

// FoldTiles moves the tile counts' pending changes (case_tile_deltas,
// which every write of cases appends to) into the counts the clustered
// tiles read (case_tile_cells), and merges the deadline buckets that are
// over; it answers how many counts changed. Tiles are exact whether or
// not it has run: it keeps what they read small. It folds chunk deltas a
// transaction (FoldChunk when chunk is 0) until none are left, so a
// backlog of any size (a bulk load's) drains, and a call cancelled
// midway keeps the chunks it folded. One fold runs at a time across
// servers (the others return 0).
func (s *Store) FoldTiles(ctx context.Context, chunk int) (int, error) {
	if chunk <= 0 {
		chunk = FoldChunk
	}
	total := 0
	for {
		var folded, taken int
		if err := s.pool.QueryRow(ctx, `SELECT folded, taken FROM citygrid_fold_case_tiles($1)`, chunk).Scan(&folded, &taken); err != nil {
			return total, err
		}
		total += folded
		if taken < chunk {
			return total, nil
		}
	}
}

// KeepMissedDeadlines mends the suspended cases stored before a
// suspension kept the deadline it missed (migration 22 and
// SuspendedDeadline): late when suspended, they are overdue everywhere,
// but without their deadline the evaluation of its period does not count
// them due. Each one's clock is replayed over its events on today's
// calendar; the deadline is written only where the replay agrees with the
// stored clock to within a second (a calendar edited since may have moved it:
// such a case is left as it is rather than given a deadline it never
// had). Servers run it at start; it answers how many cases it mended.
func (s *Store) KeepMissedDeadlines(ctx context.Context) (int, error) {
	type stored struct {
		c      Case
		at     time.Time // reported, the partition key
		spentS int64
		events []clockEvent
	}
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.reported_at, c.limit_hours, c.limit_days, c.spent_s FROM cases c
		WHERE c.status = 'suspended' AND c.due_at IS NULL AND `+LateSQL)
	if err != nil {
		return 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*stored, error) {
		var st stored
		err := r.Scan(&st.c.id, &st.at, &st.c.limitHours, &st.c.limitDays, &st.spentS)
		return &st, err
	})
	if err != nil || len(list) == 0 {
		return 0, err
	}
	byID := make(map[int64]*stored, len(list))
	ids := make([]int64, 0, len(list))
	for _, st := range list {
		byID[st.c.id] = st
		ids = append(ids, st.c.id)
	}
	rows, err = s.pool.Query(ctx, `SELECT case_id, action, to_status, at FROM case_events
		WHERE case_id = ANY(@ids) ORDER BY case_id, at, id`, pgx.NamedArgs{"ids": ids})
	if err != nil {
		return 0, err
	}
	var id int64
	var e clockEvent
	if _, err := pgx.ForEachRow(rows, []any{&id, &e.action, &e.to, &e.at}, func() error {
		byID[id].events = append(byID[id].events, e)
		return nil
	}); err != nil {
		return 0, err
	}
	var mend struct {
		ids       []int64
		at, dueAt []time.Time
	}
	for _, st := range list {
		s.replayClock(&st.c, st.events)
		if st.c.Deadline != nil && abs(st.c.spentS-st.spentS) <= 1 { // seconds truncated from µs apart
			mend.ids, mend.at, mend.dueAt = append(mend.ids, st.c.id), append(mend.at, st.at), append(mend.dueAt, *st.c.Deadline)
		}
	}
	if len(mend.ids) == 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE cases c SET due_at = m.due
		FROM unnest(@ids::bigint[], @at::timestamptz[], @due::timestamptz[]) m(id, at, due)
		WHERE c.id = m.id AND c.reported_at = m.at AND c.status = 'suspended' AND c.due_at IS NULL`,
		pgx.NamedArgs{"ids": mend.ids, "at": mend.at, "due": mend.dueAt})
	return int(tag.RowsAffected()), err
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
