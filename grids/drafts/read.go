package drafts

import (
	"context"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/coverage"
	"github.com/citygrid/citygrid/grids/load"
)

// WriteGrids writes a draft's grids as a GeoJSON FeatureCollection: code,
// name, community, area and the live grid each was copied from.
func (s *Store) WriteGrids(ctx context.Context, id int64, w io.Writer) error {
	d, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	var body []byte
	err = s.pool.QueryRow(ctx, `
		SELECT json_build_object('type', 'FeatureCollection', 'draft', @id::bigint, 'etag', @etag::text, 'features', COALESCE(json_agg(json_build_object(
			'type', 'Feature', 'id', g.code, 'geometry', `+grids.GeoJSONOf("g.geom")+`::json,
			'properties', json_build_object('code', g.code, 'name', g.name, 'community', c.code, 'area_m2', round(g.area_m2::numeric, 2),
			                                'origin_code', g.origin_code, 'origin_version', g.origin_version)) ORDER BY g.code), '[]'))
		FROM draft_grids g JOIN regions c ON c.id = g.community_id WHERE g.draft_id = @id`,
		pgx.NamedArgs{"id": id, "etag": d.ETag}).Scan(&body)
	if err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// Check writes the tiling check of grids/coverage over the draft's grids
// (gaps, overlaps, grids leaving their community, size outside the
// guideline, bad codes) as GeoJSON with its summary, plus the draft's codes
// that are held by a grid elsewhere (duplicate_code): a live grid outside
// the draft, or a closed one, which a code must never take again.
func (s *Store) Check(ctx context.Context, id int64, opt coverage.GridCheckOptions, w io.Writer) error {
	d, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if opt.Source, err = source(ctx, s.pool, id); err != nil {
		return err
	}
	return s.cov.CheckGrids(ctx, d.Region, opt, w)
}

// source is a draft's grids as the tiling check reads them, with the
// draft's codes held by another grid: a code the draft made that a live or
// closed grid holds now (another draft published it first) is renumbered by
// a publish; any other is an error.
func source(ctx context.Context, q grids.Querier, id int64) (*coverage.GridSource, error) {
	rows, err := q.Query(ctx, `
		SELECT dg.code, CASE WHEN bool_or(g.valid_to IS NULL) THEN 'held by a live grid outside the draft'
		                     ELSE 'held by a closed grid; codes are never reused' END
		                || CASE WHEN dg.origin_code IS NULL THEN '; a publish gives the new grid the next free code' ELSE '' END
		FROM draft_grids dg JOIN grids g ON g.code = dg.code
		WHERE dg.draft_id = @id AND dg.origin_code IS DISTINCT FROM dg.code
		GROUP BY dg.code, dg.origin_code`, pgx.NamedArgs{"id": id})
	if err != nil {
		return nil, err
	}
	dups := map[string]string{}
	for rows.Next() {
		var code, why string
		if err := rows.Scan(&code, &why); err != nil {
			rows.Close()
			return nil, err
		}
		dups[code] = why
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return &coverage.GridSource{
		SQL:        `SELECT id, code, name, geom, area_m2, community_id FROM draft_grids WHERE draft_id = @src_draft`,
		Args:       pgx.NamedArgs{"src_draft": id},
		Duplicates: dups,
	}, nil
}

// Load measures a draft's grids (grids/load) and scores them against the
// live grids of its region (load.Report.ScoreAgainst): 1 is the load the
// region's average grid carries today, the unit of derive's target_load;
// the flags compare the draft's grids with their own median. A region
// without live grids leaves the draft scored against its own means.
func (s *Store) Load(ctx context.Context, id int64, opt load.Options) (load.Report, error) {
	if opt.Until.IsZero() {
		opt.Until = time.Now()
	}
	var r load.Report
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		d, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		live, err := load.Region(ctx, tx, d.Region, opt)
		if err != nil {
			return err
		}
		if r, err = load.Measure(ctx, tx, `SELECT code, geom FROM draft_grids WHERE draft_id = @draft`, pgx.NamedArgs{"draft": id}, opt); err != nil {
			return err
		}
		if len(live.Grids) > 0 {
			r.ScoreAgainst(live.Mean)
		}
		r.Region = d.Region
		return nil
	})
	return r, err
}
