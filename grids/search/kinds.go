package search

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// bestLine picks, among the texts a row is found by (its name, name
// variants, code), the one that matches best, and says how: class 4 exact,
// 3 prefix, 2 substring, 1 fuzzy (as Match), with its trigram similarity.
func bestLine(texts string) string {
	return fmt.Sprintf(` CROSS JOIN LATERAL (
		SELECT l AS line,
		       CASE WHEN lower(l) = @lq THEN 4 WHEN lower(l) LIKE @prefix THEN 3
		            WHEN lower(l) LIKE @like THEN 2 ELSE 1 END AS class,
		       similarity(@lq, lower(l)) AS sim
		FROM unnest(%s) l WHERE l <> ''
		ORDER BY 2 DESC, 3 DESC, length(l) LIMIT 1) b`, texts)
}

// inRegion is true where no region limits the search or g lies in it.
func inRegion(g string) string {
	return `(@region = '' OR ST_Intersects(` + g + `, (SELECT geom FROM regions WHERE code = @region)))`
}

// The ancestors of a row, as (level, code, name) triples, placed by level.
const ancestorCols = `COALESCE(p1.level, ''), COALESCE(p1.code, ''), COALESCE(p1.name, ''),
	COALESCE(p2.level, ''), COALESCE(p2.code, ''), COALESCE(p2.name, ''),
	COALESCE(p3.level, ''), COALESCE(p3.code, ''), COALESCE(p3.name, '')`

type ancestors [3]struct{ level, code, name string }

func (a *ancestors) dest() []any {
	return []any{&a[0].level, &a[0].code, &a[0].name, &a[1].level, &a[1].code, &a[1].name, &a[2].level, &a[2].code, &a[2].name}
}

func (a *ancestors) place(r *Result) {
	for _, x := range a {
		switch x.level {
		case "district":
			r.District = &grids.CodeName{Code: x.code, Name: x.name}
		case "subdistrict":
			r.Subdistrict = &grids.CodeName{Code: x.code, Name: x.name}
		}
	}
}

// where holds a result's point and bounding box as scanned.
type where struct {
	x, y, w, s, e, n *float64
}

func (p *where) dest() []any { return []any{&p.x, &p.y, &p.w, &p.s, &p.e, &p.n} }

func (p *where) place(r *Result) {
	if p.x != nil && p.y != nil {
		r.Point = &orb.Point{*p.x, *p.y}
	}
	if p.w != nil {
		r.BBox = &[4]float64{*p.w, *p.s, *p.e, *p.n}
	}
}

const whereCols = `ST_X(pt), ST_Y(pt), ST_XMin(ext), ST_YMin(ext), ST_XMax(ext), ST_YMax(ext)`

func (s *Store) regions(ctx context.Context, q *query) ([]Result, error) {
	return s.find(ctx, q, `
		SELECT r.code, r.name, r.level, b.line, b.class, b.sim, `+whereCols+`, `+ancestorCols+`
		FROM regions r
		LEFT JOIN regions p2 ON p2.id = r.parent_id
		LEFT JOIN regions p3 ON p3.id = p2.parent_id
		CROSS JOIN LATERAL (SELECT r.level, r.code, r.name) p1
		CROSS JOIN LATERAL (SELECT ST_PointOnSurface(r.geom) AS pt, r.geom AS ext) g`+
		bestLine(`ARRAY[r.name, r.code]`)+`
		WHERE (lower(r.name) LIKE @like OR r.code LIKE @codeprefix OR (@fuzzy AND @q <% r.name))
		  AND `+inRegion(`g.pt`)+`
		ORDER BY b.class DESC, array_position(ARRAY['district', 'subdistrict', 'community'], r.level), b.sim DESC, length(b.line), r.code
		LIMIT @limit`, func(row pgx.Rows) (Result, error) {
		r := Result{Kind: "region"}
		var w where
		var a ancestors
		err := row.Scan(append(append([]any{&r.Code, &r.Name, &r.Level, &r.Matched, &r.Match, &r.Similarity}, w.dest()...), a.dest()...)...)
		w.place(&r)
		a.place(&r)
		r.weight = regionWeight(r.Level)
		return r, err
	})
}

func (s *Store) grids(ctx context.Context, q *query) ([]Result, error) {
	if !q.code {
		return nil, nil
	}
	return s.find(ctx, q, `
		SELECT g.code, g.name, CASE WHEN g.code = @q THEN 4 ELSE 3 END, `+whereCols+`, `+ancestorCols+`
		FROM grids g
		JOIN regions p1 ON p1.id = g.community_id
		LEFT JOIN regions p2 ON p2.id = p1.parent_id
		LEFT JOIN regions p3 ON p3.id = p2.parent_id
		CROSS JOIN LATERAL (SELECT ST_PointOnSurface(g.geom) AS pt, g.geom AS ext) x
		WHERE g.valid_to IS NULL AND (g.code LIKE @codeprefix OR g.code LIKE @codeupper) AND `+inRegion(`x.pt`)+`
		ORDER BY g.code = @q DESC, length(g.code), g.code
		LIMIT @limit`, func(row pgx.Rows) (Result, error) {
		r := Result{Kind: "grid", Level: "grid"}
		var w where
		var a ancestors
		err := row.Scan(append(append([]any{&r.Code, &r.Name, &r.Match}, w.dest()...), a.dest()...)...)
		r.Matched, r.Similarity = r.Code, 0
		if r.Match == Exact {
			r.Similarity = 1
		}
		w.place(&r)
		a.place(&r)
		r.weight = gridWeight
		return r, err
	})
}

func (s *Store) units(ctx context.Context, q *query) ([]Result, error) {
	return s.find(ctx, q, `
		SELECT u.code, u.name, u.kind, b.line, b.class, b.sim, `+whereCols+`, `+ancestorCols+`
		FROM units u
		LEFT JOIN regions p1 ON p1.id = u.region_id
		LEFT JOIN regions p2 ON p2.id = p1.parent_id
		LEFT JOIN regions p3 ON p3.id = p2.parent_id
		CROSS JOIN LATERAL (SELECT COALESCE(citygrid_middle(u.geom), ST_PointOnSurface(p1.geom)) AS pt,
		                           COALESCE(u.geom, p1.geom) AS ext) g`+
		bestLine(`ARRAY[u.name, u.code]`)+`
		WHERE (lower(u.name) LIKE @like OR u.code LIKE @codeprefix OR u.code LIKE @codeupper OR (@fuzzy AND @q <% u.name))
		  AND (@region = '' OR g.pt IS NOT NULL AND `+inRegion(`g.pt`)+`)
		ORDER BY b.class DESC, b.sim DESC, length(b.line), u.code
		LIMIT @limit`, func(row pgx.Rows) (Result, error) {
		r := Result{Kind: "unit"}
		var w where
		var a ancestors
		err := row.Scan(append(append([]any{&r.Code, &r.Name, &r.Level, &r.Matched, &r.Match, &r.Similarity}, w.dest()...), a.dest()...)...)
		w.place(&r)
		a.place(&r)
		r.weight = unitWeight
		return r, err
	})
}

// objects finds objects by their names and name variants. The stored
// objects of one name and layer that lie together (the ways of one street,
// the stop positions of one station) are one result; the same name far
// apart (two 学院路 in two districts) is two. Only the best names are
// grouped, so a query matching thousands stays cheap. A one-character
// query finds names that start with it: in a search box it is the start of
// a name being typed, and 路 is in 5,000 of Shanghai's names.
func (s *Store) objects(ctx context.Context, q *query) ([]Result, error) {
	return s.find(ctx, q, `
		WITH m AS (
			SELECT o.id, o.layer, o.name, o.geom, o.search_names,
			       CASE WHEN strpos(E'\n' || lower(o.search_names) || E'\n', E'\n' || @lq || E'\n') > 0 THEN 4
			            WHEN E'\n' || lower(o.search_names) LIKE '%' || E'\n' || @prefix THEN 3
			            WHEN lower(o.search_names) LIKE @like THEN 2 ELSE 1 END AS class
			FROM objects o
			WHERE o.name <> ''
			  AND (CASE WHEN @short THEN lower(o.name) LIKE @prefix
			            ELSE (o.search_grams @> @grams::text[] AND lower(o.search_names) LIKE @like)
			                 OR (@fuzzy AND @q <% o.search_names) END)
			  AND (@layers::text[] IS NULL OR o.layer = ANY (@layers))
			  AND `+inRegion(`o.geom`)+`
		), top AS (
			-- The best names by the cheap class alone; similarity (a
			-- trigram count per name) only for their rows.
			SELECT layer, name FROM m GROUP BY layer, name
			ORDER BY max(class) DESC, max(CASE WHEN class = 1 THEN word_similarity(@lq, search_names) END) DESC NULLS LAST,
			         coalesce(array_position(@layer_order::text[], layer), 99),
			         min(length(name)), name
			LIMIT @limit
		), parts AS (
			SELECT m.id, m.layer, m.name, m.geom, b.line, b.class, b.sim,
			       ST_ClusterDBSCAN(m.geom, 0.005, 1) OVER (PARTITION BY m.layer, m.name) AS k
			FROM m JOIN top USING (layer, name)`+bestLine(`string_to_array(m.search_names, E'\n')`)+`
		), grouped AS (
			SELECT layer, name, max(class) AS class, max(sim) AS sim,
			       (array_agg(line ORDER BY class DESC, sim DESC, length(line)))[1] AS line,
			       array_agg(id ORDER BY id) AS ids, ST_Collect(geom) AS ext
			FROM parts GROUP BY layer, name, k
		)
		SELECT g.ids, g.layer, g.name, g.line, g.class, g.sim, `+whereCols+`, `+ancestorCols+`
		FROM grouped g
		CROSS JOIN LATERAL (SELECT CASE WHEN ST_Dimension(g.ext) = 2 THEN ST_PointOnSurface(ST_CollectionExtract(g.ext, 3))
		                                ELSE ST_ClosestPoint(g.ext, ST_Centroid(g.ext)) END AS pt) x
		LEFT JOIN LATERAL (
			SELECT r.level, r.code, r.name, p.level AS plevel, p.code AS pcode, p.name AS pname
			FROM regions r LEFT JOIN regions p ON p.id = r.parent_id
			WHERE r.level IN ('subdistrict', 'district') AND ST_Intersects(r.geom, x.pt)
			ORDER BY r.level = 'subdistrict' DESC LIMIT 1) p1 ON true
		CROSS JOIN LATERAL (SELECT p1.plevel AS level, p1.pcode AS code, p1.pname AS name) p2
		CROSS JOIN LATERAL (SELECT NULL::text AS level, NULL::text AS code, NULL::text AS name) p3`, func(row pgx.Rows) (Result, error) {
		r := Result{Kind: "object"}
		var w where
		var a ancestors
		err := row.Scan(append(append([]any{&r.ids, &r.Layer, &r.Name, &r.Matched, &r.Match, &r.Similarity}, w.dest()...), a.dest()...)...)
		if len(r.ids) > 0 {
			r.ID, r.Parts = r.ids[0], len(r.ids)
		}
		w.place(&r)
		a.place(&r)
		r.weight = objectWeight(r.Layer)
		return r, err
	})
}

// fuzzyThreshold is the word similarity a fuzzy match needs. pg_trgm's
// default (0.6) suits words of Latin letters; a Chinese name has as many
// trigrams as characters, so one wrong character of five (中关村大街 for
// 中关村北大街) already scores 0.5.
const fuzzyThreshold = "0.45"

// find runs a kind's query. A fuzzy query runs in a read-only transaction
// that lowers the threshold of pg_trgm's <% for it alone.
func (s *Store) find(ctx context.Context, q *query, sql string, scan func(pgx.Rows) (Result, error)) ([]Result, error) {
	if !q.fuzzy {
		rows, err := s.pool.Query(ctx, sql, pgx.NamedArgs(q.args()))
		if err != nil {
			return nil, err
		}
		return collect(rows, scan)
	}
	var out []Result
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT set_config('pg_trgm.word_similarity_threshold', $1, true)`, fuzzyThreshold); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, pgx.NamedArgs(q.args()))
		if err != nil {
			return err
		}
		out, err = collect(rows, scan)
		return err
	})
	return out, err
}

func collect(rows pgx.Rows, scan func(pgx.Rows) (Result, error)) ([]Result, error) {
	defer rows.Close()
	var out []Result
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// caseCode is a case code or its start down to the date:
// 110108-20261201[-00042].
var caseCode = regexp.MustCompile(`^([0-9]{6})-([0-9]{8})(-[0-9]{0,5})?$`)

// cases finds cases by code. The date in the code bounds the report time,
// so the lookup reads one monthly partition.
func (s *Store) cases(ctx context.Context, q *query) ([]Result, error) {
	m := caseCode.FindStringSubmatch(q.text)
	if m == nil {
		return nil, nil
	}
	day, err := time.ParseInLocation("20060102", m[2], s.zone)
	if err != nil {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT c.code, cat.name_zh, c.status, c.code = @q, ST_X(c.geom), ST_Y(c.geom), d.code, d.name, sd.code, sd.name
		FROM cases c JOIN categories cat ON cat.code = c.category_code
		LEFT JOIN regions d ON d.code = c.district_code
		LEFT JOIN regions sd ON sd.code = c.subdistrict_code
		WHERE c.reported_at >= @from AND c.reported_at < @to AND c.code LIKE @codeprefix
		  AND (@region = '' OR @region IN (c.district_code, c.subdistrict_code, c.community_code))
		ORDER BY c.code = @q DESC, c.code LIMIT @limit`,
		pgx.NamedArgs(merge(q.args(), map[string]any{"from": day, "to": day.AddDate(0, 0, 1)})))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Result, error) {
		r := Result{Kind: "case", Match: Prefix, weight: caseWeight}
		var status string
		var exact bool
		var lon, lat float64
		var dc, dn, sc, sn *string
		if err := row.Scan(&r.Code, &r.Name, &status, &exact, &lon, &lat, &dc, &dn, &sc, &sn); err != nil {
			return r, err
		}
		r.Matched, r.Level = r.Code, status
		if exact {
			r.Match, r.Similarity = Exact, 1
		}
		pt := orb.Point{lon, lat}
		r.Point, r.BBox = &pt, &[4]float64{lon, lat, lon, lat}
		if dc != nil {
			r.District = &grids.CodeName{Code: *dc, Name: deref(dn)}
		}
		if sc != nil {
			r.Subdistrict = &grids.CodeName{Code: *sc, Name: deref(sn)}
		}
		return r, nil
	})
}

func merge(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
