package derive

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids/load"
)

// ProposeLoad draws, in tx, cells that tile a community along its streets
// and alleys as Propose does, balanced by load instead of area: each cell's
// load (grids/load's index, scored against norm, the means of the grids it
// is compared with) near target. Load adds up over the street blocks a
// cell is made of, so the blocks are grouped until their load is near the
// target and heavy blocks cut. The cells are left in derive_cells (geom,
// area, load); opt sets the case window.
func ProposeLoad(ctx context.Context, tx pgx.Tx, communityID int64, target float64, norm load.Measures, opt load.Options) error {
	return partition(ctx, tx, communityID, []string{"street", "alley"}, byLoad(target, norm, opt))
}

// byLoad balances cells' loads. The bounds are tighter than by area's,
// where a grid may hold anything from 0.3 to 3 times the target: grids/load
// flags a grid over twice or under half the median load, so cells are cut
// above 1.5 times the target and merged below half of it while the result
// stays within 1.5 times.
func byLoad(target float64, norm load.Measures, opt load.Options) balance {
	return balance{col: "load", target: target, split: 1.5, under: 0.5, limit: 1.5, splitRounds: 3,
		weigh: func(ctx context.Context, tx pgx.Tx) error { return weighCells(ctx, tx, norm, opt) }}
}

// weighCells gives the cells of derive_cells their load, measured by
// grids/load and scored against norm, when any has none (pieces of a cut
// cell). All cells are measured again, as one set: an object or a case on
// a border (a station on the street between two cells) then counts in one
// cell only, as in the grids the cells become; measured apart, the new
// pieces counted it again, and a cell's load was one object off (in a
// Beijing community, where one object weighs about 1). A merged cell's
// load is its parts' sum, so merges need no measuring.
func weighCells(ctx context.Context, tx pgx.Tx, norm load.Measures, opt load.Options) error {
	var unweighed bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM derive_cells WHERE load IS NULL)`).Scan(&unweighed); err != nil || !unweighed {
		return err
	}
	r, err := load.Measure(ctx, tx, `SELECT id::text AS code, geom FROM derive_cells`, nil, opt)
	if err != nil {
		return err
	}
	ids := make([]int64, len(r.Grids))
	loads := make([]float64, len(r.Grids))
	for i, g := range r.Grids {
		if ids[i], err = strconv.ParseInt(g.Code, 10, 64); err != nil {
			return err
		}
		loads[i] = norm.LoadOf(g.Figures)
	}
	_, err = tx.Exec(ctx, `UPDATE derive_cells d SET load = m.load FROM unnest(@ids::bigint[], @loads::float8[]) AS m (id, load) WHERE d.id = m.id`,
		pgx.NamedArgs{"ids": ids, "loads": loads})
	return err
}

// pickByLoad chooses one round's merges from the candidates: the lightest
// small cells first, each into the neighbour (not across a street while
// another is left) that makes the lightest cell, counting the merges
// already chosen, within limit where one is; a cell that has reached
// under (by an earlier merge into it) merges no further this round.
func pickByLoad(cands []mergeCandidate, under, limit float64) []mergeCandidate {
	sets := unionFind{}
	weight := map[int64]float64{}
	bySmall := map[int64][]mergeCandidate{}
	var smalls []int64
	for _, c := range cands {
		weight[c.small], weight[c.into] = c.wSmall, c.wInto
		if len(bySmall[c.small]) == 0 {
			smalls = append(smalls, c.small)
		}
		bySmall[c.small] = append(bySmall[c.small], c)
	}
	slices.SortFunc(smalls, func(a, b int64) int {
		if c := cmp.Compare(weight[a], weight[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	var picked []mergeCandidate
	for _, s := range smalls {
		rs := sets.find(s)
		if weight[rs] >= under {
			continue
		}
		// Within the limit if it can; else into the lightest neighbour
		// all the same: a sliver of a cut cell beside heavy neighbours
		// (a cluster of bus stops) is no grid of its own, and the heavy
		// one it joins is over whatever it holds.
		var best *mergeCandidate
		var bestW float64
		var bestOver bool
		for i := range bySmall[s] {
			c := &bySmall[s][i]
			rn := sets.find(c.into)
			w := weight[rs] + weight[rn]
			if rn == rs {
				continue
			}
			over := w > limit
			if best == nil || (bestOver && !over) || (over == bestOver && better(c, w, best, bestW)) {
				best, bestW, bestOver = c, w, over
			}
		}
		if best != nil {
			weight[sets.union(rs, best.into)] = bestW
			picked = append(picked, *best)
		}
	}
	return picked
}

// better orders merge candidates: not across a street first, then the
// lighter result, then the longer shared border, then the smaller id.
func better(c *mergeCandidate, w float64, best *mergeCandidate, bestW float64) bool {
	switch {
	case c.onStreet != best.onStreet:
		return !c.onStreet
	case w != bestW:
		return w < bestW
	case c.shared != best.shared:
		return c.shared > best.shared
	default:
		return c.into < best.into
	}
}
