package cases_test

import (
	"context"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/cases"
	"github.com/citygrid/citygrid/internal/testdb"
)

// Every grouping's query runs on an empty database and answers no rows.
func TestStatsEmpty(t *testing.T) {
	pool := testdb.Pool(t)
	s := cases.NewStore(grids.NewStore(pool, grids.DefaultCodeRules()), nil, cases.Config{})
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, s.Location())
	for _, by := range []string{cases.ByUnit, cases.ByGrid, cases.ByRegion, cases.ByCategory} {
		st, err := s.Stats(context.Background(), grids.Principal{Role: grids.RoleAnalyst}, cases.StatsQuery{From: from, To: from.AddDate(0, 1, 0), By: by})
		if err != nil || len(st.Rows) != 0 {
			t.Errorf("%s: %v %+v", by, err, st.Rows)
		}
	}
}
