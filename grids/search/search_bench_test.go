package search_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/derive"
	"github.com/citygrid/citygrid/grids/search"
	"github.com/citygrid/citygrid/internal/db"
	"github.com/citygrid/citygrid/internal/testdb"
)

// shanghai is the Shanghai demo (eight central districts, 17,000 grids,
// 5,800 OSM objects) in a kept database, built when missing.
func shanghai(b *testing.B) *search.Store {
	url, existed := testdb.Kept(b, "shanghai_demo")
	ctx := context.Background()
	pool, err := db.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	core := grids.NewStore(pool, grids.DefaultCodeRules())
	var count int
	pool.QueryRow(ctx, `SELECT count(*) FROM grids`).Scan(&count)
	if !existed || count == 0 {
		root := filepath.Dir(filepath.Dir(testdb.SharedData(b, "shanghai/districts_gcj02.geojson")))
		if err := derive.NewStore(core).BuildRealCity(ctx, derive.RealCities()["shanghai"], root, func(string) {}); err != nil {
			b.Fatal(err)
		}
	}
	return search.NewStore(core)
}

// What a search box gets: one and two characters, whole names, typos,
// pinyin, grid and unit codes, and a region limit.
var benchQueries = []search.Query{
	{Text: "路"}, {Text: "南京"}, {Text: "人民"}, {Text: "徐汇"}, {Text: "陆家嘴"}, {Text: "南京西路"},
	{Text: "淮海中路"}, {Text: "南京东路步行街"}, {Text: "人民广场"}, {Text: "静安寺"}, {Text: "复旦大学"},
	{Text: "南京西陆"}, {Text: "Nanjing"}, {Text: "People's Square"}, {Text: "310101"}, {Text: "310104007"},
	{Text: "JD3101"}, {Text: "街道办事处"}, {Text: "中山"}, {Text: "花园"},
	{Text: "路", Region: "310101"}, {Text: "中山", Kinds: []string{"object"}, Region: "310104"},
}

// p95 reports the 50th and 95th percentile of the measured calls.
func percentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	at := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// BenchmarkSearch runs the search box's queries round-robin on the
// Shanghai demo, limit 10, and reports the latency percentiles.
func BenchmarkSearch(b *testing.B) {
	s := shanghai(b)
	ctx := context.Background()
	var d []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q := benchQueries[i%len(benchQueries)]
		t := time.Now()
		if _, err := s.Search(ctx, q); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(t))
	}
	percentiles(b, d)
}

// BenchmarkGeocode places hotline addresses on the Shanghai demo: crossings,
// streets with house numbers, places, and one that matches nothing.
func BenchmarkGeocode(b *testing.B) {
	s := shanghai(b)
	ctx := context.Background()
	addresses := []string{"南京西路与石门一路交叉口", "淮海中路和陕西南路路口", "黄浦区南京东路100号", "人民广场附近",
		"静安区南京西路/铜仁路", "复旦大学东门", "火星路1号"}
	var d []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t := time.Now()
		_, err := s.Geocode(ctx, addresses[i%len(addresses)], "")
		var nm *search.NoMatchError
		if err != nil && !errors.As(err, &nm) {
			b.Fatal(err)
		}
		d = append(d, time.Since(t))
	}
	percentiles(b, d)
}

// BenchmarkSearchEach measures each query of BenchmarkSearch alone, to
// show which kinds of query cost most.
func BenchmarkSearchEach(b *testing.B) {
	s := shanghai(b)
	ctx := context.Background()
	for _, q := range benchQueries {
		name := q.Text
		if q.Region != "" {
			name += "@" + q.Region
		}
		b.Run(name, func(b *testing.B) {
			var d []time.Duration
			for b.Loop() {
				t := time.Now()
				if _, err := s.Search(ctx, q); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(t))
			}
			percentiles(b, d)
		})
	}
}
