package drafts

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/history"
)

// Rollback publishes the layout a region had at a moment as the new live
// layout, through the publish's own path and in one transaction: a draft
// of the region is made of the grid versions valid then (geometries and
// names as they were, byte for byte), and published with the same locks,
// check and impact. Codes that existed then come back as new versions of
// those codes (a closed code returning is the same grid's lineage, not a
// reuse); grids made since are closed. On any error nothing is written,
// not even the draft; on success the draft stays as the record, its
// rollback_to naming the moment.
func (s *Store) Rollback(ctx context.Context, by grids.Principal, region string, to time.Time, name string, opt PublishOptions) (Published, error) {
	var out Published
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		regionID, err := redrawable(ctx, tx, region, "a rollback", &grids.NotFoundError{What: "region", Key: region})
		if err != nil {
			return err
		}
		args := pgx.NamedArgs{"region": regionID, "to": to}
		var future bool
		var first *time.Time
		if err := tx.QueryRow(ctx, `SELECT @to::timestamptz > now(), (SELECT min(valid_from) FROM grids WHERE community_id IN (`+communitiesOf+`))`,
			args).Scan(&future, &first); err != nil {
			return err
		}
		switch {
		case future:
			return grids.Invalid("to", "%s is in the future: a rollback restores a layout the region had", to.Format(time.RFC3339))
		case first == nil:
			return grids.Invalid("to", "region %s has no grid history to roll back to", region)
		case to.Before(*first):
			return grids.Invalid("to", "%s is before any history of region %s: its first grids date from %s",
				to.Format(time.RFC3339), region, first.UTC().Format(time.RFC3339Nano))
		}
		// Locked before the draft copies the layout, so that the draft's
		// base is the layout the publish below finds.
		if err := lockRegion(ctx, tx, regionID); err != nil {
			return err
		}
		if strings.TrimSpace(name) == "" {
			name = "回滚 " + region + " 到 " + to.UTC().Format(time.RFC3339)
		}
		args["name"], args["by"] = strings.TrimSpace(name), by.User
		var id int64
		if err := tx.QueryRow(ctx, `
			INSERT INTO drafts (name, region_id, created_by, base_changed, rollback_to)
			SELECT @name, @region, @by, (SELECT max(GREATEST(g.valid_from, g.valid_to)) FROM grids g WHERE g.community_id IN (`+communitiesOf+`)), @to
			RETURNING id`, args).Scan(&id); err != nil {
			return err
		}
		args["id"] = id
		// Each code's origin is its live version if it has one (the
		// publish then reshapes, renames or keeps it), else the version
		// valid then (a closed code that returns).
		tag, err := tx.Exec(ctx, `
			INSERT INTO draft_grids (draft_id, code, community_id, name, geom, origin_code, origin_version)
			SELECT @id, g.code, g.community_id, g.name, g.geom, g.code, COALESCE(l.version, g.version)
			FROM grids g LEFT JOIN grids l ON l.code = g.code AND l.valid_to IS NULL
			WHERE g.community_id IN (`+communitiesOf+`) AND `+history.PeriodHolds("g", "@to")+`
			ORDER BY g.code`, args)
		if err != nil {
			return err
		}
		args["detail"] = map[string]any{"region": region, "rollback_to": to, "copied": tag.RowsAffected()}
		if _, err := tx.Exec(ctx, `INSERT INTO draft_steps (draft_id, step, kind, detail, made_by) VALUES (@id, 1, 'create', @detail, @by)`, args); err != nil {
			return err
		}
		// Fresh statistics for the check's plan, as Create gives them; in
		// the transaction, ANALYZE counts its own new rows.
		if _, err := tx.Exec(ctx, `ANALYZE draft_grids`); err != nil {
			return err
		}
		out, err = s.publish(ctx, tx, by, id, "*", opt)
		return err
	})
	return out, err
}
