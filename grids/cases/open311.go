package cases

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citygrid/citygrid/grids"
)

// What the Open311 adapter (api/open311.go) reads besides cases: the
// services (minor classes), cases by a list of codes, and each case's last
// note and report photo.

// Service is a minor class of the categories with what a citizen's app
// shows of it.
type Service struct {
	Code       string
	Name       string // Chinese
	NameEn     string
	Kind       string // component or event
	Group      string // the major class's Chinese name
	Theme      string // the duty's Chinese name, "" when none
	LimitHours *int
	LimitDays  *int
}

// Services lists the minor classes, by code.
func (s *Store) Services(ctx context.Context) ([]Service, error) {
	return grids.Collect(ctx, s.pool, `
		SELECT c.code, c.name_zh, c.name_en, c.kind, p.name_zh, COALESCE(t.name_zh, ''), c.time_limit_hours, c.time_limit_days
		FROM categories c JOIN categories p ON p.code = c.parent_code
		LEFT JOIN themes t ON t.code = c.theme_code
		ORDER BY c.code`,
		func(r pgx.Rows, v *Service) error {
			return r.Scan(&v.Code, &v.Name, &v.NameEn, &v.Kind, &v.Group, &v.Theme, &v.LimitHours, &v.LimitDays)
		})
}

// ByCodes returns the cases of the codes that the principal may see, in
// the order given; unknown codes are left out. The report days in the
// codes bound the scan to their monthly partitions.
func (s *Store) ByCodes(ctx context.Context, p grids.Principal, codes []string) ([]Case, error) {
	var from, to time.Time
	var valid []string
	for _, code := range codes {
		f, t, ok := s.codeDay(code)
		if !ok {
			continue
		}
		if len(valid) == 0 || f.Before(from) {
			from = f
		}
		if len(valid) == 0 || t.After(to) {
			to = t
		}
		valid = append(valid, code)
	}
	out := []Case{}
	if len(valid) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+caseColumns+` FROM cases c`+caseJoins+`
		WHERE c.code = ANY(@codes) AND c.reported_at >= @from AND c.reported_at < @to`,
		pgx.NamedArgs{"codes": valid, "from": from, "to": to})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := map[string]Case{}
	for rows.Next() {
		var c Case
		if err := scanCase(rows, &c); err != nil {
			return nil, err
		}
		if visible(p, &c) {
			found[c.Code] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	for _, code := range valid {
		if c, ok := found[code]; ok {
			s.seeAs(p, &c, now)
			out = append(out, c)
			delete(found, code) // a code given twice is answered once
		}
	}
	return out, nil
}

// Extra is what a case's summary for citizens adds to the case: the note
// of its last event and the first photo of the report given as a URL.
type Extra struct {
	LastNote string
	PhotoURL string
}

// Extras reads the extras of cases in one query, keyed by case code.
func (s *Store) Extras(ctx context.Context, cs []Case) (map[string]Extra, error) {
	out := make(map[string]Extra, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	ids := make([]int64, len(cs))
	at := make([]time.Time, len(cs))
	codes := make([]string, len(cs))
	for i, c := range cs {
		ids[i], at[i], codes[i] = c.id, c.ReportedAt, c.Code
	}
	// The report time bounds the events to the partitions from the report on.
	rows, err := s.pool.Query(ctx, `
		SELECT k.code,
			COALESCE((SELECT e.note FROM case_events e WHERE e.case_id = k.id AND e.at >= k.at
			          ORDER BY e.at DESC, e.id DESC LIMIT 1), ''),
			COALESCE((SELECT p.url FROM case_photos p WHERE p.case_id = k.id AND p.stage = 'report' AND p.url IS NOT NULL
			          ORDER BY p.id LIMIT 1), '')
		FROM unnest(@ids::bigint[], @at::timestamptz[], @codes::text[]) AS k(id, at, code)`,
		pgx.NamedArgs{"ids": ids, "at": at, "codes": codes})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		var x Extra
		if err := rows.Scan(&code, &x.LastNote, &x.PhotoURL); err != nil {
			return nil, err
		}
		out[code] = x
	}
	return out, rows.Err()
}

// ObjectPoint is a point on an object (a compound, a market, a street),
// where a report that names only the object is placed.
func (s *Store) ObjectPoint(ctx context.Context, id int64) (lon, lat float64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM objects WHERE id = $1) o`, id).
		Scan(&lon, &lat)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, grids.Invalid("object_id", "no object %d", id)
	}
	return lon, lat, err
}
