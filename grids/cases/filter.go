package cases

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/citygrid/citygrid/grids"
)

// ParseFilter reads the case filters of a query string (status as a comma
// list, unit, grid, region, category, source, overdue, warning, from and
// to as RFC 3339 times), for every route that lists, maps, exports or
// counts cases. The bounding box is the caller's: it needs the request's
// coordinate system. A bad value is refused naming its parameter.
func ParseFilter(params url.Values) (Filter, error) {
	f := Filter{Unit: params.Get("unit"), Grid: params.Get("grid"), Region: params.Get("region"),
		Category: params.Get("category"), Source: params.Get("source")}
	if v := params.Get("status"); v != "" {
		for _, s := range strings.Split(v, ",") {
			f.Status = append(f.Status, Status(strings.TrimSpace(s)))
		}
	}
	for name, dst := range map[string]**bool{"overdue": &f.Overdue, "warning": &f.Warning} {
		if v := params.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return f, grids.Malformed(name, "want true or false")
			}
			*dst = &b
		}
	}
	for name, dst := range map[string]**time.Time{"from": &f.From, "to": &f.To} {
		if v := params.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return f, grids.Malformed(name, "want an RFC 3339 time such as 2026-11-22T20:00:00+08:00")
			}
			*dst = &t
		}
	}
	return f, nil
}
