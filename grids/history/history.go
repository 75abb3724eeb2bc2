// Package history answers what the unit grids looked like and how they
// changed: a grid's versions with who opened and closed them and its
// lineage across codes, the layout as of a moment, and what changed in a
// region between two moments.
package history

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citygrid/citygrid/grids"
)

// Store reads the grids' history over the shared pool.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore makes a history store over the core store's pool.
func NewStore(store *grids.Store) *Store { return &Store{pool: store.Pool()} }

// SetActor names the user of a transaction that writes grids: the versions
// it opens record them as created_by, the ones it closes as closed_by
// (migration 17's default and trigger). A writer calls it first in its
// transaction; it lasts until the transaction ends.
func SetActor(ctx context.Context, tx pgx.Tx, user string) error {
	_, err := tx.Exec(ctx, `SELECT set_config('citygrid.user', @user, true)`, pgx.NamedArgs{"user": user})
	return err
}

// Link is one step of lineage between versions of different codes. The
// next version of the same code is a grid's successor by definition and
// has no link.
type Link struct {
	PredecessorCode    string `json:"-"`
	PredecessorVersion int    `json:"-"`
	SuccessorCode      string `json:"-"`
	SuccessorVersion   int    `json:"-"`
	// Kind is split (one grid into parts), merge (parts into one grid) or
	// redraw (any other handing over of area).
	Kind string `json:"kind"`
	// Share is the part of the predecessor's area that went to the
	// successor (0..1), where the writer knew it.
	Share *float64 `json:"share,omitempty"`
}

// RecordLineage writes links in the caller's transaction (a publish that
// splits or merges grids, after inserting the new versions). A link to a
// version that does not exist is refused by the foreign keys.
func RecordLineage(ctx context.Context, q grids.Querier, links []Link) error {
	if len(links) == 0 {
		return nil
	}
	var pc, sc, kind []string
	var pv, sv []int32
	var share []*float64
	for _, l := range links {
		pc, pv, sc, sv = append(pc, l.PredecessorCode), append(pv, int32(l.PredecessorVersion)), append(sc, l.SuccessorCode), append(sv, int32(l.SuccessorVersion))
		kind, share = append(kind, l.Kind), append(share, l.Share)
	}
	_, err := q.Exec(ctx, `
		INSERT INTO grid_lineage (predecessor_code, predecessor_version, successor_code, successor_version, kind, share)
		SELECT * FROM unnest(@pc::text[], @pv::int[], @sc::text[], @sv::int[], @kind::text[], @share::float8[])`,
		pgx.NamedArgs{"pc": pc, "pv": pv, "sc": sc, "sv": sv, "kind": kind, "share": share})
	if name, _ := grids.PgConstraint(err); name != "" {
		return grids.Invalid("lineage", "link refused by %s", name)
	}
	return err
}

// Ref names a version of another code in a grid's lineage.
type Ref struct {
	Code    string `json:"code"`
	Version int    `json:"version"`
	Link
}

// Version is one version of a grid.
type Version struct {
	Version   int             `json:"version"`
	Name      string          `json:"name"`
	Community string          `json:"community"`
	AreaM2    float64         `json:"area_m2"`
	ValidFrom time.Time       `json:"valid_from"`
	ValidTo   *time.Time      `json:"valid_to,omitempty"`
	CreatedBy *string         `json:"created_by"` // null: not recorded
	ClosedBy  *string         `json:"closed_by,omitempty"`
	Geometry  json.RawMessage `json:"geometry"`
	// Predecessors are the versions of other codes this one came from (the
	// grid it was split from, the grids merged into it), Successors those
	// it went to.
	Predecessors []Ref `json:"predecessors"`
	Successors   []Ref `json:"successors"`
}

// GridHistory is every version of a code, oldest first.
type GridHistory struct {
	Code     string    `json:"code"`
	Live     bool      `json:"live"`
	Versions []Version `json:"versions"`
}

// Grid answers a code's history; a code that never existed is not found.
func (s *Store) Grid(ctx context.Context, code string) (GridHistory, error) {
	h := GridHistory{Code: code, Versions: []Version{}}
	rows, err := s.pool.Query(ctx, `
		SELECT g.version, g.name, c.code, g.area_m2, g.valid_from, g.valid_to, g.created_by, g.closed_by, `+grids.GeoJSONOf("g.geom")+`
		FROM grids g JOIN regions c ON c.id = g.community_id
		WHERE g.code = @code ORDER BY g.version`, pgx.NamedArgs{"code": code})
	if err != nil {
		return h, err
	}
	byVersion := map[int]int{}
	for rows.Next() {
		v := Version{Predecessors: []Ref{}, Successors: []Ref{}}
		var geom string
		if err := rows.Scan(&v.Version, &v.Name, &v.Community, &v.AreaM2, &v.ValidFrom, &v.ValidTo, &v.CreatedBy, &v.ClosedBy, &geom); err != nil {
			rows.Close()
			return h, err
		}
		v.Geometry = json.RawMessage(geom)
		h.Live = h.Live || v.ValidTo == nil
		byVersion[v.Version] = len(h.Versions)
		h.Versions = append(h.Versions, v)
	}
	if err := rows.Err(); err != nil {
		return h, err
	}
	if len(h.Versions) == 0 {
		return h, &grids.NotFoundError{What: "grid", Key: code}
	}
	// Both directions in one pass: succ tells which side is this code.
	rows, err = s.pool.Query(ctx, `
		SELECT true, predecessor_version, successor_code, successor_version, kind, share FROM grid_lineage WHERE predecessor_code = @code
		UNION ALL
		SELECT false, successor_version, predecessor_code, predecessor_version, kind, share FROM grid_lineage WHERE successor_code = @code
		ORDER BY 1, 2, 3, 4`, pgx.NamedArgs{"code": code})
	if err != nil {
		return h, err
	}
	defer rows.Close()
	for rows.Next() {
		var succ bool
		var own int
		var r Ref
		if err := rows.Scan(&succ, &own, &r.Code, &r.Version, &r.Kind, &r.Share); err != nil {
			return h, err
		}
		v := &h.Versions[byVersion[own]]
		if succ {
			v.Successors = append(v.Successors, r)
		} else {
			v.Predecessors = append(v.Predecessors, r)
		}
	}
	return h, rows.Err()
}

// communitiesSQL is the ids of the communities in @region (any level; ”
// is the whole city), as today's hierarchy has them.
const communitiesSQL = `
	SELECT c.id FROM regions c LEFT JOIN regions sd ON sd.id = c.parent_id LEFT JOIN regions d ON d.id = sd.parent_id
	WHERE c.level = 'community' AND (@region = '' OR c.code = @region OR sd.code = @region OR d.code = @region)`

// PeriodHolds is true for the versions valid at the moment at (an SQL
// expression); it is the expression of the grids_period index (migration
// 17), so a query that names the community too is answered from it.
func PeriodHolds(alias, at string) string {
	return `tstzrange(` + alias + `.valid_from, ` + alias + `.valid_to, '[)') @> ` + at + `::timestamptz`
}

// At lists the grids of a region (any level, ” the whole city) as they
// were at a moment: the version valid then of each code, in the list's
// usual shape. Region membership is today's hierarchy.
func (s *Store) At(ctx context.Context, at time.Time, region string, withGeom bool, page grids.Page) (grids.List[grids.GridRecord], error) {
	args := pgx.NamedArgs{"region": region, "at": at, "limit": page.Limit, "offset": page.Offset}
	from := ` FROM grids g JOIN regions c ON c.id = g.community_id
		WHERE g.community_id IN (` + communitiesSQL + `) AND ` + PeriodHolds("g", "@at")
	out := grids.List[grids.GridRecord]{Items: []grids.GridRecord{}, Limit: page.Limit, Offset: page.Offset}
	if err := s.pool.QueryRow(ctx, `SELECT count(*)`+from, args).Scan(&out.Total); err != nil {
		return out, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+grids.GridRecordColumns(withGeom)+from+` ORDER BY g.code LIMIT @limit OFFSET @offset`, args)
	if err != nil {
		return out, err
	}
	out.Items, err = grids.CollectGridRecords(rows)
	return out, err
}
