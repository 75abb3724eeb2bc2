package search

import (
	"context"
	"slices"
	"testing"

	"github.com/citygrid/citygrid/grids/gridstest"
)

// queryGrams must cut a query as citygrid_query_grams does, or a query
// would miss names the index holds.
func TestQueryGramsMatchSQL(t *testing.T) {
	s := gridstest.NewStore(t)
	for _, q := range []string{"中关", "海", "中关村北大街", "Zhongguancun North Street", "南京西路 石门一路", "People's  Square", "路路通", "x"} {
		var want []string
		if err := s.Pool().QueryRow(context.Background(), `SELECT citygrid_query_grams($1)`, q).Scan(&want); err != nil {
			t.Fatal(err)
		}
		got := queryGrams(q)
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: Go %q, SQL %q", q, got, want)
		}
	}
}
