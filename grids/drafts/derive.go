package drafts

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/load"
)

// DeriveInput asks for a proposal drawn along the streets, of grids of
// about TargetArea m² each or of about TargetLoad each: the load index of
// grids/load scored against the region's live grids, so that 1 is the load
// their average grid carries today (about as many grids as now, of even
// load), 2 twice that (about half as many). Exactly one is given (nil: not
// sent).
type DeriveInput struct {
	TargetArea *float64
	TargetLoad *float64
}

// Derive replaces a draft's grids with grids drawn along the streets (as
// grids/derive draws them), community by community. A proposed grid equal
// to one the draft has keeps its code; the others get new codes.
func (s *Store) Derive(ctx context.Context, by grids.Principal, id int64, etag string, in DeriveInput) (Draft, error) {
	var detail map[string]any
	switch {
	case in.TargetArea != nil && in.TargetLoad != nil:
		return Draft{}, grids.Invalid("target_load", "send target_area or target_load, not both")
	case in.TargetLoad != nil && (*in.TargetLoad < 0.1 || *in.TargetLoad > 10):
		return Draft{}, grids.Invalid("target_load", "want 0.1 to 10 (the load of one grid; 1 is the region's average live grid today), got %g", *in.TargetLoad)
	case in.TargetLoad != nil:
		detail = map[string]any{"target_load": *in.TargetLoad}
	case in.TargetArea == nil:
		return Draft{}, grids.Invalid("target_area", "required: the area of a grid in m² (about 10,000 for the 万米单元网格), or target_load")
	case *in.TargetArea < 1000 || *in.TargetArea > 1e6:
		return Draft{}, grids.Invalid("target_area", "want 1,000 to 1,000,000 m², got %g", *in.TargetArea)
	default:
		detail = map[string]any{"target_area": *in.TargetArea}
	}
	return s.change(ctx, by, id, etag, "derive", detail, func(tx pgx.Tx, st *step) error {
		propose := func(community int64) error { return derive.Propose(ctx, tx, community, *in.TargetArea) }
		if in.TargetLoad != nil {
			// One case window and one yardstick for every community: the
			// region's live grids as they are.
			opt := load.Options{Until: time.Now()}
			live, err := load.Region(ctx, tx, st.d.region, opt)
			if err != nil {
				return err
			}
			if len(live.Grids) == 0 {
				return grids.Invalid("target_load", "region %s has no live grids to measure a load against; send target_area", st.d.region)
			}
			propose = func(community int64) error {
				return derive.ProposeLoad(ctx, tx, community, *in.TargetLoad, live.Mean, opt)
			}
		}
		rows, err := tx.Query(ctx, `SELECT id, code FROM regions WHERE level = 'community' AND (id = @region OR parent_id = @region) ORDER BY code`,
			pgx.NamedArgs{"region": st.d.regionID})
		if err != nil {
			return err
		}
		type community struct {
			id   int64
			code string
		}
		cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (community, error) {
			var c community
			return c, r.Scan(&c.id, &c.code)
		})
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := propose(c.id); err != nil {
				return err
			}
			args := pgx.NamedArgs{"id": id, "community": c.id}
			// Cells equal to a grid of the draft keep its code and name.
			if _, err := tx.Exec(ctx, `
				UPDATE derive_cells d SET code = g.code FROM draft_grids g
				WHERE g.draft_id = @id AND g.community_id = @community AND g.geom ~= d.geom AND ST_Equals(g.geom, d.geom)`, args); err != nil {
				return err
			}
			var old []string
			rows, err := tx.Query(ctx, `SELECT code FROM draft_grids WHERE draft_id = @id AND community_id = @community
				AND code NOT IN (SELECT code FROM derive_cells WHERE code IS NOT NULL)`, args)
			if err != nil {
				return err
			}
			if old, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			if err := st.remove(ctx, tx, old); err != nil {
				return err
			}
			rows, err = tx.Query(ctx, `SELECT id FROM derive_cells WHERE code IS NULL
				ORDER BY ST_Y(ST_PointOnSurface(geom)) DESC, ST_X(ST_PointOnSurface(geom))`)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
			if err != nil {
				return err
			}
			codes, err := nextCodes(ctx, tx, id, c.code, len(ids))
			if err != nil {
				return err
			}
			names := make([]string, len(codes))
			for i, code := range codes {
				names[i] = gridName(code, "")
			}
			st.added = append(st.added, codes...)
			args["ids"], args["codes"], args["names"] = ids, codes, names
			if _, err := tx.Exec(ctx, `
				INSERT INTO draft_grids (draft_id, code, community_id, name, geom)
				SELECT @id, m.code, @community, m.name, d.geom
				FROM unnest(@ids::bigint[], @codes::text[], @names::text[]) AS m(cell, code, name) JOIN derive_cells d ON d.id = m.cell`, args); err != nil {
				return err
			}
		}
		return nil
	})
}
