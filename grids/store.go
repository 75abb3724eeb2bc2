package grids

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the domain's access to PostGIS. All SQL of citygrid lives behind
// it; every method takes the caller's context so that a cancelled request
// cancels its query.
type Store struct {
	pool  *pgxpool.Pool
	codes CodeRules
}

// NewStore wraps an open pool.
func NewStore(pool *pgxpool.Pool, codes CodeRules) *Store {
	return &Store{pool: pool, codes: codes}
}

// Pool exposes the pool for health checks and metrics.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Codes are the code rules the store enforces.
func (s *Store) Codes() CodeRules { return s.codes }

// Tx runs fn in one transaction: every multi-row change is all or nothing.
func (s *Store) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// Page is a window on a list.
type Page struct {
	Limit  int
	Offset int
}

// List is one page of results and the total that matched.
type List[T any] struct {
	Items  []T `json:"items"`
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}
