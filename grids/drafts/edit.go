package drafts

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// step is a change in the making: the draft it changes, and its number.
type step struct {
	d     draftRow
	n     int
	added []string
}

// change runs one change of a draft in one transaction: the ETag checked
// under the draft's lock, the step recorded with the rows it replaces, the
// revision bumped. Nothing is written when fn fails.
func (s *Store) change(ctx context.Context, by grids.Principal, id int64, etag, kind string, detail map[string]any,
	fn func(tx pgx.Tx, st *step) error) (Draft, error) {
	var out Draft
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		d, err := s.lock(ctx, tx, id, etag)
		if err != nil {
			return err
		}
		st := &step{d: d, added: []string{}}
		args := pgx.NamedArgs{"id": id, "kind": kind, "detail": detail, "by": by.User}
		if err := tx.QueryRow(ctx, `
			INSERT INTO draft_steps (draft_id, step, kind, detail, made_by)
			SELECT @id, COALESCE(max(step), 0) + 1, @kind, @detail, @by FROM draft_steps WHERE draft_id = @id
			RETURNING step`, args).Scan(&st.n); err != nil {
			return err
		}
		if err := fn(tx, st); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE draft_steps SET added = @added WHERE draft_id = @id AND step = @step`,
			pgx.NamedArgs{"id": id, "step": st.n, "added": st.added}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE drafts SET revision = revision + 1, updated_at = now() WHERE id = @id`, args); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, id)
		return err
	})
	return out, err
}

// keep saves the rows of codes as they are before the step changes them.
func (st *step) keep(ctx context.Context, tx pgx.Tx, codes []string) error {
	_, err := tx.Exec(ctx, `
		INSERT INTO draft_step_grids (draft_id, step, code, community_id, name, geom, origin_code, origin_version)
		SELECT draft_id, @step, code, community_id, name, geom, origin_code, origin_version
		FROM draft_grids WHERE draft_id = @id AND code = ANY(@codes)`,
		pgx.NamedArgs{"id": st.d.id, "step": st.n, "codes": codes})
	return err
}

// remove keeps and deletes the rows of codes.
func (st *step) remove(ctx context.Context, tx pgx.Tx, codes []string) error {
	if err := st.keep(ctx, tx, codes); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM draft_grids WHERE draft_id = @id AND code = ANY(@codes)`, pgx.NamedArgs{"id": st.d.id, "codes": codes})
	return err
}

// draftGrid is a grid of the locked draft.
type draftGrid struct {
	code        string
	communityID int64
	community   string
	name        string
}

func (st *step) grid(ctx context.Context, tx pgx.Tx, field, code string) (draftGrid, error) {
	g := draftGrid{code: code}
	err := tx.QueryRow(ctx, `SELECT g.community_id, c.code, g.name FROM draft_grids g JOIN regions c ON c.id = g.community_id
		WHERE g.draft_id = @id AND g.code = @code`, pgx.NamedArgs{"id": st.d.id, "code": code}).Scan(&g.communityID, &g.community, &g.name)
	if errors.Is(err, pgx.ErrNoRows) {
		if field == "" {
			return g, &grids.NotFoundError{What: "grid of the draft", Key: code}
		}
		return g, grids.Invalid(field, "grid %q is not in the draft", code)
	}
	return g, err
}

// inRegion refuses a geometry that leaves the draft's region by more than
// a sliver (1 m²).
func (st *step) inRegion(ctx context.Context, tx pgx.Tx, field string, wkb []byte) error {
	var outside float64
	err := tx.QueryRow(ctx, `
		SELECT COALESCE(ST_Area(ST_Difference(ST_GeomFromWKB(@wkb, 4326), r.geom)::geography), 0)
		FROM regions r WHERE r.id = @region`, pgx.NamedArgs{"wkb": wkb, "region": st.d.regionID}).Scan(&outside)
	if err != nil {
		return err
	}
	if outside > 1 {
		return grids.Invalid(field, "the geometry leaves the draft's region %s by %.1f m²", st.d.region, outside)
	}
	return nil
}

// GridChange is a new geometry or name of a draft's grid; nil fields stay.
type GridChange struct {
	Name     *string
	Geometry orb.Geometry
}

// UpdateGrid reshapes or renames a grid of a draft; it keeps its code.
func (s *Store) UpdateGrid(ctx context.Context, by grids.Principal, id int64, etag, code string, in GridChange) (Draft, error) {
	if in.Name == nil && in.Geometry == nil {
		return Draft{}, grids.Invalid("body", "nothing to change: send name or geometry")
	}
	detail := map[string]any{"code": code, "geometry": in.Geometry != nil}
	if in.Name != nil {
		detail["name"] = *in.Name
	}
	return s.change(ctx, by, id, etag, "update", detail, func(tx pgx.Tx, st *step) error {
		if _, err := st.grid(ctx, tx, "", code); err != nil {
			return err
		}
		var wkb []byte
		if in.Geometry != nil {
			var err error
			if wkb, err = grids.PrepareGeometry(ctx, tx, "geometry", in.Geometry, "Polygon"); err != nil {
				return err
			}
			if err := st.inRegion(ctx, tx, "geometry", wkb); err != nil {
				return err
			}
		}
		if err := st.keep(ctx, tx, []string{code}); err != nil {
			return err
		}
		st.added = []string{code}
		_, err := tx.Exec(ctx, `
			UPDATE draft_grids SET name = COALESCE(@name, name),
			       geom = CASE WHEN @wkb::bytea IS NULL THEN geom ELSE ST_GeomFromWKB(@wkb, 4326) END
			WHERE draft_id = @id AND code = @code`, pgx.NamedArgs{"id": id, "code": code, "name": in.Name, "wkb": wkb})
		return err
	})
}

// NewGrid is a grid added to a draft. Its community is the draft's
// community holding most of it unless named; its code is the next free one.
type NewGrid struct {
	Name      string
	Community string
	Geometry  orb.Geometry
}

// AddGrid adds a grid to a draft.
func (s *Store) AddGrid(ctx context.Context, by grids.Principal, id int64, etag string, in NewGrid) (Draft, error) {
	return s.change(ctx, by, id, etag, "add", map[string]any{"community": in.Community}, func(tx pgx.Tx, st *step) error {
		wkb, err := grids.PrepareGeometry(ctx, tx, "geometry", in.Geometry, "Polygon")
		if err != nil {
			return err
		}
		if err := st.inRegion(ctx, tx, "geometry", wkb); err != nil {
			return err
		}
		var communityID int64
		var community string
		err = tx.QueryRow(ctx, `
			SELECT c.id, c.code FROM regions c
			WHERE c.level = 'community' AND (c.id = @region OR c.parent_id = @region) AND (@community = '' OR c.code = @community)
			ORDER BY ST_Area(ST_Intersection(c.geom, ST_GeomFromWKB(@wkb, 4326))) DESC LIMIT 1`,
			pgx.NamedArgs{"region": st.d.regionID, "community": in.Community, "wkb": wkb}).Scan(&communityID, &community)
		if errors.Is(err, pgx.ErrNoRows) {
			return grids.Invalid("community", "%q is not a community of the draft's region %s", in.Community, st.d.region)
		}
		if err != nil {
			return err
		}
		codes, err := nextCodes(ctx, tx, st.d.id, community, 1)
		if err != nil {
			return err
		}
		st.added = codes
		_, err = tx.Exec(ctx, `INSERT INTO draft_grids (draft_id, code, community_id, name, geom) VALUES (@id, @code, @community, @name, ST_GeomFromWKB(@wkb, 4326))`,
			pgx.NamedArgs{"id": id, "code": codes[0], "community": communityID, "name": gridName(codes[0], in.Name), "wkb": wkb})
		return err
	})
}

// gridName is the name given, or the one derive gives ("007网格").
func gridName(code, name string) string {
	if strings.TrimSpace(name) != "" {
		return strings.TrimSpace(name)
	}
	return code[len(code)-3:] + "网格"
}

// DeleteGrid removes a grid from a draft.
func (s *Store) DeleteGrid(ctx context.Context, by grids.Principal, id int64, etag, code string) (Draft, error) {
	return s.change(ctx, by, id, etag, "delete", map[string]any{"code": code}, func(tx pgx.Tx, st *step) error {
		if _, err := st.grid(ctx, tx, "", code); err != nil {
			return err
		}
		return st.remove(ctx, tx, []string{code})
	})
}

// Split cuts a draft's grid along a line; the parts are new grids with new
// codes (numbered north to south, west to east) and the old code goes.
func (s *Store) Split(ctx context.Context, by grids.Principal, id int64, etag, code string, line orb.Geometry) (Draft, error) {
	if code == "" {
		return Draft{}, grids.Invalid("code", "required: the grid to split")
	}
	return s.change(ctx, by, id, etag, "split", map[string]any{"code": code}, func(tx pgx.Tx, st *step) error {
		g, err := st.grid(ctx, tx, "code", code)
		if err != nil {
			return err
		}
		wkb, err := grids.PrepareGeometry(ctx, tx, "line", line, "LineString")
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT ST_AsBinary(p.geom) FROM draft_grids g
			CROSS JOIN LATERAL ST_Dump(ST_Split(g.geom, ST_GeomFromWKB(@line, 4326))) p
			WHERE g.draft_id = @id AND g.code = @code AND ST_Area(p.geom::geography) > 0
			ORDER BY ST_Y(ST_PointOnSurface(p.geom)) DESC, ST_X(ST_PointOnSurface(p.geom))`,
			pgx.NamedArgs{"id": id, "code": code, "line": wkb})
		if err != nil {
			return err
		}
		parts, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
		if err != nil {
			return err
		}
		if len(parts) < 2 {
			return grids.Invalid("line", "the line does not cut grid %s in two: it must cross the grid from edge to edge", code)
		}
		if err := st.remove(ctx, tx, []string{code}); err != nil {
			return err
		}
		codes, err := nextCodes(ctx, tx, id, g.community, len(parts))
		if err != nil {
			return err
		}
		st.added = codes
		names := make([]string, len(codes))
		for i, c := range codes {
			names[i] = gridName(c, "")
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO draft_grids (draft_id, code, community_id, name, geom)
			SELECT @id, p.code, @community, p.name, ST_GeomFromWKB(p.wkb, 4326)
			FROM unnest(@codes::text[], @names::text[], @parts::bytea[]) AS p(code, name, wkb)`,
			pgx.NamedArgs{"id": id, "community": g.communityID, "codes": codes, "names": names, "parts": parts})
		return err
	})
}

// Merge joins neighbouring grids of one community into a new grid with a
// new code; the old codes go.
func (s *Store) Merge(ctx context.Context, by grids.Principal, id int64, etag string, codes []string, name string) (Draft, error) {
	seen := map[string]bool{}
	for i, c := range codes {
		if seen[c] {
			return Draft{}, grids.Invalid("codes", "grid %s is listed twice (codes/%d)", c, i)
		}
		seen[c] = true
	}
	if len(codes) < 2 {
		return Draft{}, grids.Invalid("codes", "list at least two neighbouring grids to merge")
	}
	return s.change(ctx, by, id, etag, "merge", map[string]any{"codes": codes}, func(tx pgx.Tx, st *step) error {
		var first draftGrid
		for i, c := range codes {
			g, err := st.grid(ctx, tx, "codes", c)
			if err != nil {
				return err
			}
			if i == 0 {
				first = g
			} else if g.communityID != first.communityID {
				return grids.Invalid("codes", "grids %s (community %s) and %s (community %s) are in different communities", first.code, first.community, c, g.community)
			}
		}
		// Grids that touch along an edge union to one polygon; holes under
		// a square metre are seams of the inputs' vertices, not real holes.
		var kind string
		var wkb []byte
		err := tx.QueryRow(ctx, `
			WITH u AS (SELECT ST_UnaryUnion(ST_Collect(geom)) AS g FROM draft_grids WHERE draft_id = @id AND code = ANY(@codes))
			SELECT GeometryType(u.g), CASE WHEN GeometryType(u.g) = 'POLYGON' THEN ST_AsBinary(ST_MakePolygon(ST_ExteriorRing(u.g),
			       ARRAY(SELECT ST_ExteriorRing(r.geom) FROM ST_DumpRings(u.g) r WHERE r.path[1] > 0 AND ST_Area(r.geom::geography) >= 1))) END
			FROM u`, pgx.NamedArgs{"id": id, "codes": codes}).Scan(&kind, &wkb)
		if err != nil {
			return err
		}
		if kind != "POLYGON" {
			return grids.Invalid("codes", "grids %s do not form one piece: merge only grids that share an edge", strings.Join(codes, ", "))
		}
		if err := st.remove(ctx, tx, codes); err != nil {
			return err
		}
		newCodes, err := nextCodes(ctx, tx, id, first.community, 1)
		if err != nil {
			return err
		}
		st.added = newCodes
		_, err = tx.Exec(ctx, `INSERT INTO draft_grids (draft_id, code, community_id, name, geom) VALUES (@id, @code, @community, @name, ST_GeomFromWKB(@wkb, 4326))`,
			pgx.NamedArgs{"id": id, "code": newCodes[0], "community": first.communityID, "name": gridName(newCodes[0], name), "wkb": wkb})
		return err
	})
}

// Undo takes back the last n changes not yet undone, newest first.
func (s *Store) Undo(ctx context.Context, by grids.Principal, id int64, etag string, n int) (Draft, error) {
	if n < 1 || n > 100 {
		return Draft{}, grids.Invalid("steps", "want 1 to 100 steps")
	}
	var out Draft
	err := s.core.Tx(ctx, func(tx pgx.Tx) error {
		if _, err := s.lock(ctx, tx, id, etag); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT step, added FROM draft_steps WHERE draft_id = @id AND undone_at IS NULL AND kind <> 'create'
			ORDER BY step DESC LIMIT @n`, pgx.NamedArgs{"id": id, "n": n})
		if err != nil {
			return err
		}
		type undo struct {
			step  int
			added []string
		}
		steps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (undo, error) {
			var u undo
			return u, r.Scan(&u.step, &u.added)
		})
		if err != nil {
			return err
		}
		if len(steps) < n {
			return grids.Invalid("steps", "only %d change(s) can be undone", len(steps))
		}
		for _, u := range steps {
			args := pgx.NamedArgs{"id": id, "step": u.step, "added": u.added, "by": by.User}
			if _, err := tx.Exec(ctx, `DELETE FROM draft_grids WHERE draft_id = @id AND code = ANY(@added)`, args); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO draft_grids (draft_id, code, community_id, name, geom, origin_code, origin_version)
				SELECT draft_id, code, community_id, name, geom, origin_code, origin_version FROM draft_step_grids
				WHERE draft_id = @id AND step = @step`, args); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE draft_steps SET undone_at = now(), undone_by = @by WHERE draft_id = @id AND step = @step`, args); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE drafts SET revision = revision + 1, updated_at = now() WHERE id = @id`, pgx.NamedArgs{"id": id}); err != nil {
			return err
		}
		out, err = s.get(ctx, tx, id)
		return err
	})
	return out, err
}
