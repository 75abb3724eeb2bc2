package notices_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids/gridstest"
	"github.com/citygrid/citygrid/grids/notices"
)

// BenchmarkEnqueue measures what Enqueue adds to a case transition's
// transaction: the lookup alone for a unit without webhooks, and the lookup
// plus river's insert for a unit with one. Each op is a whole transaction
// (begin, Enqueue, commit), next to an empty one for the baseline.
func BenchmarkEnqueue(b *testing.B) {
	s := gridstest.NewStore(b)
	ctx := context.Background()
	unit(b, s, "CG-HD")
	unit(b, s, "CG-XC")
	ns, err := notices.NewStore(s.Pool(), notices.Config{}, quiet)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ns.CreateWebhook(ctx, "CG-XC", notices.WebhookInput{URL: "http://127.0.0.1:9/never-delivered"}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, fn func(tx pgx.Tx) error) {
		for b.Loop() {
			if err := pgx.BeginFunc(ctx, s.Pool(), fn); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("empty-transaction", func(b *testing.B) {
		run(b, func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `SELECT 1`); return err })
	})
	b.Run("no-webhook", func(b *testing.B) {
		run(b, func(tx pgx.Tx) error {
			return ns.Enqueue(ctx, tx, notices.Notice{Kind: "dispatched", Case: "110108-20261201-00001", Unit: "CG-HD"})
		})
	})
	b.Run("one-webhook", func(b *testing.B) {
		run(b, func(tx pgx.Tx) error {
			return ns.Enqueue(ctx, tx, notices.Notice{Kind: "dispatched", Case: "110108-20261201-00001", Unit: "CG-XC"})
		})
	})
}
