package grids

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Theme is a duty that must reach full coverage (sanitation, frontage duty…).
type Theme struct {
	Code        string `json:"code"`
	NameZh      string `json:"name_zh"`
	NameEn      string `json:"name_en"`
	Description string `json:"description"`
}

// Category is a component (部件) or event (事件) class.
type Category struct {
	Code           string `json:"code"`
	Kind           string `json:"kind"`
	Parent         string `json:"parent,omitempty"`
	NameZh         string `json:"name_zh"`
	NameEn         string `json:"name_en"`
	Theme          string `json:"theme,omitempty"`
	TimeLimitHours *int   `json:"time_limit_hours,omitempty"`
}

// Layer is a kind of object, with its snap distance for locating.
type Layer struct {
	Code     string  `json:"code"`
	NameZh   string  `json:"name_zh"`
	NameEn   string  `json:"name_en"`
	GeomKind string  `json:"geom_kind"`
	SnapM    float64 `json:"snap_m"`
}

// Themes lists the duties.
func (s *Store) Themes(ctx context.Context) ([]Theme, error) {
	return Collect(ctx, s.pool, `SELECT code, name_zh, name_en, description FROM themes ORDER BY sort, code`,
		func(r pgx.Rows, t *Theme) error { return r.Scan(&t.Code, &t.NameZh, &t.NameEn, &t.Description) })
}

// Categories lists the component and event classes.
func (s *Store) Categories(ctx context.Context) ([]Category, error) {
	return Collect(ctx, s.pool, `SELECT code, kind, COALESCE(parent_code, ''), name_zh, name_en, COALESCE(theme_code, ''), time_limit_hours FROM categories ORDER BY code`,
		func(r pgx.Rows, c *Category) error {
			return r.Scan(&c.Code, &c.Kind, &c.Parent, &c.NameZh, &c.NameEn, &c.Theme, &c.TimeLimitHours)
		})
}

// Layers lists the object layers.
func (s *Store) Layers(ctx context.Context) ([]Layer, error) {
	return Collect(ctx, s.pool, `SELECT code, name_zh, name_en, geom_kind, snap_m FROM layers ORDER BY sort, code`,
		func(r pgx.Rows, l *Layer) error { return r.Scan(&l.Code, &l.NameZh, &l.NameEn, &l.GeomKind, &l.SnapM) })
}

// Collect runs a query and scans each row into a T.
func Collect[T any](ctx context.Context, q Querier, sql string, scan func(pgx.Rows, *T) error) ([]T, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var t T
		if err := scan(rows, &t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
