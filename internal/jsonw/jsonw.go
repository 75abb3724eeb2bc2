// Package jsonw appends JSON values to byte slices exactly as
// encoding/json writes them, for the few hot answers that encode
// thousands of small records without reflection.
package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendString appends s as a JSON string, escaped as encoding/json does
// (HTML characters and U+2028/U+2029 included).
func AppendString(b []byte, s string) []byte {
	if plain(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// AppendStringKeepHTML appends s as a JSON string, escaped as an
// encoding/json Encoder with SetEscapeHTML(false) does: <, > and & stay as
// they are; control characters, invalid UTF-8 and U+2028/U+2029 do not.
func AppendStringKeepHTML(b []byte, s string) []byte {
	if plainKeepHTML(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// plainKeepHTML is one pass over s, with the three-byte sequences of
// Chinese text checked in place: the locate answer runs it on about a
// hundred names.
func plainKeepHTML(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c < utf8.RuneSelf:
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
			i++
			continue
		case c >= 0xE1 && c <= 0xEC || c >= 0xEE: // U+1000..U+CFFF, U+E000..U+FFFF
			if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && c <= 0xEF {
				if c == 0xE2 && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
					return false // U+2028, U+2029
				}
				i += 3
				continue
			}
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false
		}
		i += size
	}
	return true
}

// plain reports whether s needs no escaping: valid UTF-8 without control
// characters, quotes, backslashes, <, >, & or the two line separators.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9):
			return false
		}
	}
	return utf8.ValidString(s)
}

// AppendStringPtr appends *s, or null.
func AppendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendString(b, *s)
}

// AppendTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds where there are any).
func AppendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// AppendTimePtr appends *t, or null.
func AppendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return AppendTime(b, *t)
}

// AppendFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back exactly, in exponent form only below 1e-6 or
// from 1e21. NaN and infinities, which JSON cannot hold, are null.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs, format := math.Abs(f), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
