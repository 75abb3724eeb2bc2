package jsonw

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"
)

func TestSameAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "E0504", "暴露垃圾", "a\"b", `back\slash`, "<b>&", "tab\there", "line\u2028sep", "bad\xffutf8", "路边 ≥ 3 辆"} {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range []string{"", "E0504", "暴露垃圾", "a\"b", `back\slash`, "<b>&", "tab\there", "line\u2028sep", "bad\xffutf8", "路边 ≥ 3 辆 & <x>",
		"\xed\xa0\x80", "\xe0\x80\xaf", "a😀b", "网\xe4\xb8", "\xe4\xb8\x41", "p\u2029", "\ufffd", "\x7f\x1f", "\U0010FFFF\xf4\x90\x80\x80"} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := AppendStringKeepHTML(nil, s); string(got) != string(want) {
			t.Errorf("AppendStringKeepHTML(%q) = %s, want %s", s, got, want)
		}
	}
	for _, f := range []float64{0, 1, -1, 116.3975123, 39.9, 1e-7, -3.2e-9, 1e21, 123456789012345678, 0.000001, math.MaxFloat64} {
		want, _ := json.Marshal(f)
		if got := AppendFloat(nil, f); string(got) != string(want) {
			t.Errorf("AppendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	for _, tm := range []time.Time{time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.FixedZone("CST", 8*3600))} {
		want, _ := json.Marshal(tm)
		if got := AppendTime(nil, tm); string(got) != string(want) {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
	if got := AppendStringPtr(nil, nil); string(got) != "null" {
		t.Errorf("nil string: %s", got)
	}
	if got := AppendTimePtr(nil, nil); string(got) != "null" {
		t.Errorf("nil time: %s", got)
	}
}

func BenchmarkAppendString(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = AppendString(buf[:0], "暴露垃圾 110108-20261201-00042")
	}
}
