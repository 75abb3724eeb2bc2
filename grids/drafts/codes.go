package drafts

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// nextCodes gives n new grid codes of a community: its 12 digits and the
// next 3-digit sequences after every one it ever had. Closed versions count
// (grids keeps them), so a code is never given twice to different places;
// so do the draft's own grids and the rows its steps keep, so that an
// undone step's codes are not reused either while the draft lives.
func nextCodes(ctx context.Context, tx pgx.Tx, draft int64, community string, n int) ([]string, error) {
	var last int
	err := tx.QueryRow(ctx, `
		SELECT COALESCE(max(right(code, 3)::int), 0) FROM (
			SELECT code FROM grids WHERE code LIKE @prefix
			UNION ALL SELECT code FROM draft_grids WHERE draft_id = @draft AND code LIKE @prefix
			UNION ALL SELECT code FROM draft_step_grids WHERE draft_id = @draft AND code LIKE @prefix
			UNION ALL SELECT unnest(added) FROM draft_steps WHERE draft_id = @draft) c
		WHERE length(code) = @len AND code LIKE @prefix AND right(code, 3) ~ '^[0-9]{3}$'`,
		pgx.NamedArgs{"prefix": community + "___", "draft": draft, "len": len(community) + 3}).Scan(&last)
	if err != nil {
		return nil, err
	}
	if last+n > 999 {
		return nil, &grids.ConflictError{Field: "code", Message: fmt.Sprintf("community %s has used %d of its 999 grid sequences; %d more do not fit", community, last, n)}
	}
	codes := make([]string, n)
	for i := range codes {
		codes[i] = fmt.Sprintf("%s%03d", community, last+1+i)
	}
	return codes, nil
}
