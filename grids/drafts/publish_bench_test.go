package drafts_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/citygrid/citygrid/grids"
	"github.com/citygrid/citygrid/grids/drafts"
	"github.com/citygrid/citygrid/internal/db"
)

// benchWritableCity opens the database CITYGRID_BENCH_DATABASE_URL names: a
// generated city (`citygrid demo generated --grids 20000`) migrated by
// this build. Every run of the publish benchmark writes to it (a publish
// per iteration), so it must be a database of one's own, never a shared
// one. Without the variable the benchmark is skipped.
func benchWritableCity(b *testing.B) *pgxpool.Pool {
	url := os.Getenv("CITYGRID_BENCH_DATABASE_URL")
	if url == "" {
		b.Skip("CITYGRID_BENCH_DATABASE_URL names no benchmark city (it writes to it: use a database of your own)")
	}
	pool, err := db.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}

// prepared is a draft ready to publish, and a point inside one of the
// parts its split made.
type prepared struct {
	id   int64
	etag string
	part orb.Point
	code string // the part's code
	opt  drafts.PublishOptions
}

// prepare makes a draft of the subdistrict with a split, a merge and a
// redraw of two neighbours (a strip of one along the other goes to it),
// chosen among the live grids of the moment.
func prepare(b *testing.B, ctx context.Context, s *drafts.Store, pool *pgxpool.Pool, sd string) prepared {
	by := grids.Principal{User: "bench", Role: grids.RolePlanner}
	d, err := s.Create(ctx, by, sd, "bench")
	if err != nil {
		b.Fatal(err)
	}
	var a, bb, c, dd, e string
	var line []byte
	err = pool.QueryRow(ctx, `
		WITH g AS MATERIALIZED (SELECT code, geom FROM draft_grids WHERE draft_id = $1),
		pairs AS (SELECT x.code AS p, y.code AS q FROM g x JOIN g y ON x.code < y.code AND x.geom && y.geom
		          AND ST_Length(ST_Intersection(ST_Boundary(x.geom), ST_Boundary(y.geom))::geography) > 20),
		bc AS (SELECT p AS b, q AS c FROM pairs ORDER BY p, q LIMIT 1),
		de AS (SELECT p AS d, q AS e FROM pairs, bc WHERE p NOT IN (b, c) AND q NOT IN (b, c) ORDER BY p, q LIMIT 1),
		a AS (SELECT code, geom FROM g, bc, de WHERE code NOT IN (b, c, d, e) ORDER BY code LIMIT 1)
		SELECT a.code, bc.b, bc.c, de.d, de.e,
		       ST_AsBinary(ST_MakeLine(ST_MakePoint(ST_X(ST_Centroid(a.geom)), ST_YMin(a.geom) - 0.0005), ST_MakePoint(ST_X(ST_Centroid(a.geom)), ST_YMax(a.geom) + 0.0005)))
		FROM a, bc, de`, d.ID).Scan(&a, &bb, &c, &dd, &e, &line)
	if err != nil {
		b.Fatalf("grids to work on: %v", err)
	}
	l, err := wkb.Unmarshal(line)
	if err != nil {
		b.Fatal(err)
	}
	etag := d.ETag
	step := func(d drafts.Draft, err error) {
		if err != nil {
			b.Fatal(err)
		}
		etag = d.ETag
	}
	step(s.Split(ctx, by, d.ID, etag, a, l))
	step(s.Merge(ctx, by, d.ID, etag, []string{bb, c}, ""))
	var dg, eg []byte
	if err := pool.QueryRow(ctx, `
		WITH x AS (SELECT d.geom AS d, e.geom AS e, ST_Intersection(e.geom, ST_Buffer(d.geom::geography, 5)::geometry) AS strip
		           FROM draft_grids d, draft_grids e WHERE d.draft_id = $1 AND d.code = $2 AND e.draft_id = $1 AND e.code = $3)
		SELECT ST_AsBinary(ST_UnaryUnion(ST_Collect(d, strip))), ST_AsBinary(ST_Difference(e, strip)) FROM x`, d.ID, dd, e).Scan(&dg, &eg); err != nil {
		b.Fatal(err)
	}
	for code, g := range map[string][]byte{dd: dg, e: eg} {
		geom, err := wkb.Unmarshal(g)
		if err != nil {
			b.Fatal(err)
		}
		step(s.UpdateGrid(ctx, by, d.ID, etag, code, drafts.GridChange{Geometry: geom}))
	}
	// Two units leading one duty on the merged grid: the planner keeps the
	// first, as a publish asks.
	im, err := s.Impact(ctx, d.ID)
	if err != nil {
		b.Fatal(err)
	}
	p := prepared{id: d.ID, etag: etag, opt: drafts.PublishOptions{Assignments: map[int64][]string{}}}
	leads := map[[2]string]string{}
	for _, a := range im.Assignments {
		if a.Role != "lead" || a.Proposal == nil {
			continue
		}
		k := [2]string{a.Theme, a.Proposal.Code}
		if u, ok := leads[k]; ok && u != a.Unit {
			p.opt.Assignments[a.ID] = nil
		} else {
			leads[k] = a.Unit
		}
	}
	if err := pool.QueryRow(ctx, `SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM draft_grids
		WHERE draft_id = $1 AND origin_code IS NULL ORDER BY code LIMIT 1`, d.ID).Scan(&p.code, &p.part[0], &p.part[1]); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPublishSubdistrict publishes a draft of the subdistrict with
// about 500 live grids (a split, a merge and a redraw of two neighbours),
// and measures how long a second server's locate index takes to answer
// the new grid after the publish's commit: a resolver on its own pool,
// fed by the change listener as `citygrid serve` is (refresh-ms).
func BenchmarkPublishSubdistrict(b *testing.B) {
	pool := benchWritableCity(b)
	ctx := context.Background()
	s := drafts.NewStore(grids.NewStore(pool, grids.DefaultCodeRules()))
	sd, n := subdistrictOf500(b, pool)
	// The second server: its own pool, index and listener.
	other, err := db.Connect(ctx, pool.Config().ConnString())
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	res, err := grids.NewResolver(ctx, other, log)
	if err != nil {
		b.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go grids.Listen(lctx, other, log, res.Changed)
	go res.Run(lctx)
	time.Sleep(200 * time.Millisecond) // the listener is connected

	var refresh time.Duration
	var regridded, carried int
	var out grids.Located
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := prepare(b, ctx, s, pool, sd)
		b.StartTimer()
		pub, err := s.Publish(ctx, grids.Principal{User: "bench", Role: grids.RolePlanner}, p.id, p.etag, p.opt)
		if err != nil {
			b.Fatal(err)
		}
		if i == b.N-1 {
			b.Logf("the last publish: %v", pub.Summary)
		}
		regridded += len(pub.Cases)
		carried += len(pub.Assignments.Carried)
		b.StopTimer()
		committed := time.Now()
		for {
			snap := res.Snapshot()
			snap.Locate(p.part, -1, &out)
			if out.Grid >= 0 && snap.Grids[out.Grid].Code == p.code {
				break
			}
			if time.Since(committed) > 30*time.Second {
				b.Fatalf("the second index did not answer %s within 30 s", p.code)
			}
			time.Sleep(2 * time.Millisecond)
		}
		refresh += time.Since(committed)
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(refresh.Milliseconds())/float64(b.N), "refresh-ms")
	b.ReportMetric(float64(n), "grids")
	b.ReportMetric(float64(regridded)/float64(b.N), "cases/op")
	b.ReportMetric(float64(carried)/float64(b.N), "carried/op")
}
