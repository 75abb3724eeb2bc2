package api_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/paulmach/orb"
)

// oneCM is the last shown centimetre of two rounded distances, whose
// difference in floating point may be a hair over 0.01.
const oneCM = 0.01 + 1e-9

// engine=db and the index give the same answer JSON at random points over
// the city and its outskirts, for every duty and for one: what a client
// compares when it checks one engine against the other. Distances are
// allowed their measuring dust: 1 cm for objects, as the answers round them
// (TestLocateEngineDBAgrees), and for the nearest grid, which the index
// measures on a local plane and PostGIS on the spheroid, a ten-thousandth
// (3 cm at 1 km measured) or the last shown centimetre.
func TestLocateEngineDBAgreesAtRandomPoints(t *testing.T) {
	e := cityEnv(t)
	var b orb.Bound
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (SELECT ST_Extent(geom) x FROM grids) g`).
		Scan(&b.Min[0], &b.Min[1], &b.Max[0], &b.Max[1]); err != nil {
		t.Fatal(err)
	}
	w, h := b.Max[0]-b.Min[0], b.Max[1]-b.Min[1]
	r := rand.New(rand.NewPCG(16, 4))
	inside, outside, owners := 0, 0, 0
	for i := range 600 {
		p := orb.Point{b.Min[0] - w/10 + r.Float64()*w*1.2, b.Min[1] - h/10 + r.Float64()*h*1.2}
		extra := ""
		if i%3 == 0 {
			extra = "&theme=sanitation"
		}
		idx, db := e.locate(q(p, extra)), e.locate(q(p, extra+"&engine=db"))
		if idx.Engine != "index" || db.Engine != "db" {
			t.Fatalf("engines %q and %q", idx.Engine, db.Engine)
		}
		for i := range idx.Objects {
			if i < len(db.Objects) && abs(idx.Objects[i].DistanceM-db.Objects[i].DistanceM) <= oneCM {
				db.Objects[i].DistanceM = idx.Objects[i].DistanceM
			}
		}
		if idx.NearestGrid != nil && db.NearestGrid != nil &&
			abs(idx.NearestGrid.DistanceM-db.NearestGrid.DistanceM) <= max(oneCM, 1e-4*idx.NearestGrid.DistanceM) {
			db.NearestGrid.DistanceM = idx.NearestGrid.DistanceM
		}
		idx.Engine, db.Engine = "", ""
		a, _ := json.Marshal(idx)
		c, _ := json.Marshal(db)
		if string(a) != string(c) {
			t.Fatalf("point %v%s:\nindex %s\n   db %s", p, extra, a, c)
		}
		if idx.Grid != nil {
			inside++
		} else {
			outside++
		}
		owners += len(idx.Owners)
	}
	// The points must reach both the grids and the outskirts, and the
	// owners must be there to compare.
	if inside < 300 || outside < 50 || owners < 1000 {
		t.Fatalf("%d points in grids, %d outside, %d owners: the test misses what it compares", inside, outside, owners)
	}
	t.Logf("600 random points agree (%d in grids, %d outside, %d owners)", inside, outside, owners)
}
