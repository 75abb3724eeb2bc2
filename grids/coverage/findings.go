package coverage

import (
	"encoding/json"
	"io"

	"github.com/jackc/pgx/v5"
)

// Finding is one computed feature: a gap, an overlap, an unassigned object,
// an uncovered stretch, a grid-check problem.
type Finding struct {
	ID    string // as today's feature id ("gap-3", "object-17", …); empty where the feature has none (grid check, rule matches)
	Kind  string
	Props []byte // the feature's properties as a JSON object, as PostGIS built them (json_build_object), same members as today
	Geom  []byte // the geometry, rendered by the caller's geom function
}

// A geom function, as Gaps and GridProblems take it, turns a geometry SQL
// expression into the SQL that renders it: grids.GeoJSONOf for RFC 7946
// text, or an ST_AsText or ST_AsBinary variant. Its result may be text or
// bytea; it lands in Finding.Geom as sent.

// emitFindings passes each row (id, kind, properties, geometry) to emit
// as it arrives. Each finding is new: emit may keep it.
func emitFindings(rows pgx.Rows, emit func(*Finding) error) error {
	defer rows.Close()
	for rows.Next() {
		f := new(Finding)
		var id *string
		if err := rows.Scan(&id, &f.Kind, &f.Props, &f.Geom); err != nil {
			return err
		}
		if id != nil {
			f.ID = *id
		}
		if err := emit(f); err != nil {
			return err
		}
	}
	return rows.Err()
}

// featureCollection writes findings as the features of a GeoJSON
// FeatureCollection, each laid out as PostgreSQL's json_build_object lays
// out an object (`{"type" : "Feature", …}`), which is what these routes
// have always sent. Nothing is written before the first feature or close,
// so that an error found first can still become an error response.
type featureCollection struct {
	w       io.Writer
	started bool
	n       int
}

func (c *featureCollection) start() error {
	if c.started {
		return nil
	}
	c.started = true
	_, err := io.WriteString(c.w, `{"type":"FeatureCollection","features":[`)
	return err
}

func (c *featureCollection) write(f *Finding) error {
	if err := c.start(); err != nil {
		return err
	}
	b := make([]byte, 0, 64+len(f.ID)+len(f.Geom)+len(f.Props))
	if c.n > 0 {
		b = append(b, ",\n"...)
	}
	b = append(b, `{"type" : "Feature", `...)
	if f.ID != "" {
		id, _ := json.Marshal(f.ID)
		b = append(b, `"id" : `...)
		b = append(b, id...)
		b = append(b, ", "...)
	}
	b = append(b, `"geometry" : `...)
	b = appendJSON(b, f.Geom)
	b = append(b, `, "properties" : `...)
	b = appendJSON(b, f.Props)
	b = append(b, '}')
	c.n++
	_, err := c.w.Write(b)
	return err
}

// close ends the features and adds the collection's own member.
func (c *featureCollection) close(member string, value []byte) error {
	if err := c.start(); err != nil {
		return err
	}
	_, err := io.WriteString(c.w, `],"`+member+`":`+string(value)+"}\n")
	return err
}

// appendJSON appends a JSON value PostgreSQL rendered; SQL NULL is null.
func appendJSON(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	return append(b, v...)
}
