package features

import (
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The properties of a GeoJSON feature were built in PostgreSQL with
// json_build_object, which costs more than the rest of a page's query put
// together (its type lookups per value: 5.5 ms for 1,000 grids). The
// query now sends each property as text (propColumn) and appendProps
// writes the object here, byte for byte as json_build_object wrote it
// (TestPropsAsJSONBuildObject holds the two together on every collection).

// propColumn is the SQL of property p of the row f as the text that
// appendProps reads: the value's text, or for a time its JSON string
// (to_json), whose form follows the session's time zone.
func propColumn(p Property) string {
	col := "f." + pgx.Identifier{p.Name}.Sanitize()
	if p.Type == PropDateTime {
		return "to_json(" + col + ")::text"
	}
	return col + "::text"
}

// appendProps appends the JSON object of the properties props, whose
// values vals are as propColumn sent them (nil for NULL), as
// json_build_object writes it: `{"name" : value, …}`.
func appendProps(b []byte, props []Property, vals []pgtype.DriverBytes) []byte {
	b = append(b, '{')
	for i, p := range props {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendPGJSONString(b, p.Name)
		b = append(b, " : "...)
		v := vals[i]
		switch {
		case v == nil:
			b = append(b, "null"...)
		case p.Type == PropDateTime, p.Type == PropBoolean:
			b = append(b, v...) // JSON already (to_json), or true / false
		case p.Type == PropInteger, p.Type == PropNumber:
			// NaN and the infinities are no JSON numbers: PostgreSQL quotes
			// them.
			if jsonNumber(v) {
				b = append(b, v...)
			} else {
				b = appendPGJSONString(b, string(v))
			}
		default:
			b = appendPGJSONString(b, string(v))
		}
	}
	return append(b, '}')
}

// appendPGJSONString appends s quoted as PostgreSQL's escape_json does:
// the two-character escapes for \b \f \n \r \t " and \, \u00xx (lower
// case) for the other control characters, everything else as it is.
func appendPGJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= ' ' && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		default:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonNumber reports whether s is a JSON number (RFC 8259), as
// PostgreSQL's IsValidJsonNumber decides before writing a number bare.
func jsonNumber(s []byte) bool {
	i, n := 0, len(s)
	if i < n && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < n && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < n && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n
}
