package features

import (
	"context"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/geo"
	"github.com/citygrid/citygrid/grids"
)

// commonParams have their own meaning in exports and OGC items alike;
// each caller adds its own (see ParseQuery). Every other parameter is an
// equality filter on a property.
var commonParams = []string{"bbox", "region", "at", "since", "until", "datetime", "f"}

// ParseQuery reads and checks the filters shared by exports and OGC items
// from request parameters, for principal p reading col; bbox is in crs.
// own lists the parameters the caller reads itself. Every refusal is a
// domain error: grids.MalformedError for a parameter that cannot be read or
// does not apply, grids.ValidationError for a region that does not exist,
// grids.ErrForbidden for a unit token without a unit.
func (s *Store) ParseQuery(ctx context.Context, params url.Values, own []string, p grids.Principal, col *Collection, crs geo.CRS) (FeatureQuery, error) {
	var q FeatureQuery
	var err error
	if col.cases {
		own = append(slices.Clone(own), caseParams...)
	}
	if q.BBox, err = ParseBBox(params.Get("bbox"), crs); err != nil {
		return q, err
	}
	q.Region = params.Get("region")
	if q.Region != "" {
		if !slices.Contains(col.FilterNames(), "region") {
			return q, grids.Malformed("region", "%s cannot be filtered by region", col.ID)
		}
		if _, err := s.core.Region(ctx, q.Region); err != nil {
			if nf := (*grids.NotFoundError)(nil); errors.As(err, &nf) {
				return q, grids.Invalid("region", "region %q does not exist", q.Region)
			}
			return q, err
		}
	}
	if err := q.parseTime(params, col); err != nil {
		return q, err
	}
	q.Equal = map[string]string{}
	for name, vals := range params {
		if slices.Contains(commonParams, name) || slices.Contains(own, name) {
			continue
		}
		prop, ok := col.Property(name)
		if !ok && slices.Contains(col.Filters, name) {
			q.Equal[name] = vals[0] // a filter that is not a property: gaps' theme
			continue
		}
		if !ok {
			return q, grids.Malformed(name, "unknown parameter: %s can be filtered by %s", col.ID, strings.Join(col.FilterNames(), ", "))
		}
		if err := checkValue(prop, vals[0]); err != nil {
			return q, err
		}
		q.Equal[name] = vals[0]
	}
	if col.compute != nil {
		if err := col.compute.check(&q, params); err != nil {
			return q, err
		}
	}
	if col.cases {
		// The case list's filters, bbox and region as it reads them.
		if q.Cases, err = parseCaseFilter(params, &q); err != nil {
			return q, err
		}
		q.BBox, q.Region = nil, ""
	}
	return q, col.scope(&q, p)
}

// parseTime reads at, since/until or datetime into q, as the collection
// sits in time.
func (q *FeatureQuery) parseTime(params url.Values, col *Collection) error {
	parse := func(name string) (*time.Time, error) {
		v := params.Get(name)
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, grids.Malformed(name, "want an RFC 3339 time such as 2026-01-31T08:00:00Z")
		}
		return &t, nil
	}
	var err error
	if q.At, err = parse("at"); err != nil {
		return err
	}
	if q.Since, err = parse("since"); err != nil {
		return err
	}
	if q.Until, err = parse("until"); err != nil {
		return err
	}
	if v := params.Get("datetime"); v != "" {
		if q.At != nil || q.Since != nil || q.Until != nil {
			return grids.Malformed("datetime", "give datetime, or at, or since/until, not two of them")
		}
		since, until, instant, err := parseDatetime(v)
		if err != nil {
			return err
		}
		switch {
		case instant != nil && col.Temporal == Versioned:
			q.At = instant // the versions valid at that moment
		case instant != nil:
			q.Since, q.Until = instant, instant // changed at that moment
		default:
			q.Since, q.Until = since, until
		}
	}
	switch {
	case q.At != nil && (q.Since != nil || q.Until != nil):
		return grids.Malformed("at", "give at, or since/until, not both")
	case (q.At != nil || q.Since != nil || q.Until != nil) && col.Temporal == Timeless:
		return grids.Malformed("datetime", "%s has no time", col.ID)
	case q.At != nil && col.Temporal != Versioned:
		return grids.Malformed("at", "%s keeps no history; datetime or since/until select by the time of the last change", col.ID)
	case q.Since != nil && q.Until != nil && q.Until.Before(*q.Since):
		return grids.Malformed("datetime", "the end is before the start")
	}
	return nil
}

// checkValue refuses an equality filter's value that does not parse as
// its property's type, which the SQL compares it as.
func checkValue(prop Property, v string) error {
	var err error
	switch prop.Type {
	case PropInteger:
		_, err = strconv.ParseInt(v, 10, 64)
	case PropNumber:
		var f float64
		if f, err = strconv.ParseFloat(v, 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("not finite")
		}
	case PropDateTime:
		_, err = time.Parse(time.RFC3339Nano, v)
	case PropBoolean:
		_, err = strconv.ParseBool(v)
	}
	if err != nil {
		article := "a"
		if prop.Type == PropInteger {
			article = "an"
		}
		return grids.Malformed(prop.Name, "%q is not %s %s", v, article, prop.Type)
	}
	return nil
}

// scope applies what p may see of the collection: a unit reads its own
// duties and the cases dispatched to it only, and a unit token without a unit (which token creation
// refuses) reads none.
func (c *Collection) scope(q *FeatureQuery, p grids.Principal) error {
	if p.Role != grids.RoleUnit || (c.ID != "assignments" && !c.cases) {
		return nil
	}
	if p.Unit == "" {
		return grids.ErrForbidden
	}
	q.OnlyUnit = p.Unit
	return nil
}

// parseDatetime reads an OGC datetime: an instant, or an interval a/b with
// ".." or "" for an open end.
func parseDatetime(v string) (since, until, at *time.Time, err error) {
	parse := func(s string) (*time.Time, error) {
		if s == "" || s == ".." {
			return nil, nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			if d, err2 := time.Parse(time.DateOnly, s); err2 == nil {
				return &d, nil
			}
			return nil, grids.Malformed("datetime", "%q is not an RFC 3339 time (2026-01-31T08:00:00Z) or date", s)
		}
		return &t, nil
	}
	a, b, interval := strings.Cut(v, "/")
	if !interval {
		at, err = parse(a)
		if at == nil && err == nil {
			err = grids.Malformed("datetime", "want an instant or an interval start/end")
		}
		return nil, nil, at, err
	}
	if since, err = parse(a); err != nil {
		return
	}
	if until, err = parse(b); err != nil {
		return
	}
	if since == nil && until == nil {
		// "../..": every version there ever was.
		since = &time.Time{}
	}
	return since, until, nil, nil
}

// ParseBBox reads minLon,minLat,maxLon,maxLat in crs into a WGS84 bound;
// empty is no bound. A bad box is a grids.MalformedError naming bbox.
func ParseBBox(v string, crs geo.CRS) (*orb.Bound, error) {
	if v == "" {
		return nil, nil
	}
	parts := strings.Split(v, ",")
	if len(parts) != 4 {
		return nil, grids.Malformed("bbox", "want minLon,minLat,maxLon,maxLat")
	}
	var f [4]float64
	for i, s := range parts {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, grids.Malformed("bbox", "%q is not a number", s)
		}
		f[i] = x
	}
	for _, x := range f {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, grids.Malformed("bbox", "%v is not a coordinate", x)
		}
	}
	if f[0] < -180 || f[2] > 180 || f[1] < -90 || f[3] > 90 || f[0] > f[2] || f[1] > f[3] {
		return nil, grids.Malformed("bbox", "want minLon ≤ maxLon within ±180 and minLat ≤ maxLat within ±90")
	}
	b := geo.Apply(orb.Bound{Min: orb.Point{f[0], f[1]}, Max: orb.Point{f[2], f[3]}}, crs.ToWGS84()).(orb.Bound)
	return &b, nil
}
