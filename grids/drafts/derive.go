package drafts

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
)

// DeriveInput asks for a proposal drawn along the streets.
type DeriveInput struct {
	TargetArea float64 // m² per grid
	TargetLoad float64 // not offered yet: load figures are another job's
}

// Derive replaces a draft's grids with grids drawn along the streets (as
// grids/derive draws them), community by community. A proposed grid equal
// to one the draft has keeps its code; the others get new codes.
func (s *Store) Derive(ctx context.Context, by grids.Principal, id int64, etag string, in DeriveInput) (Draft, error) {
	switch {
	case in.TargetLoad != 0:
		return Draft{}, grids.Invalid("target_load", "not offered yet: grids of balanced load need the load figures; send target_area")
	case in.TargetArea == 0:
		return Draft{}, grids.Invalid("target_area", "required: the area of a grid in m² (about 10,000 for the 万米单元网格)")
	case in.TargetArea < 1000 || in.TargetArea > 1e6:
		return Draft{}, grids.Invalid("target_area", "want 1,000 to 1,000,000 m², got %g", in.TargetArea)
	}
	return s.change(ctx, by, id, etag, "derive", map[string]any{"target_area": in.TargetArea}, func(tx pgx.Tx, st *step) error {
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
			if err := derive.Propose(ctx, tx, c.id, in.TargetArea); err != nil {
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
