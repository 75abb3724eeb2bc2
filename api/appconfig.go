package api

import (
	"context"
	"math"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/paulmach/orb"

	"github.com/citygrid/citygrid/grids"
)

// Basemap is an external map drawn under citygrid's own tiles (for
// example 天地图 with a key). The browser loads it, so the URL, with any
// key in it, is public: /api/v1/config serves it without a token.
type Basemap struct {
	// URL is a MapLibre style URL or a raster tile template
	// ({z}/{x}/{y}); empty draws the map from citygrid's tiles only.
	URL         string `json:"url"`
	Attribution string `json:"attribution"`
}

// appConfigAPI answers the map app's first request: what to draw under
// the tiles and where to look before the user signs in.
type appConfigAPI struct {
	store *grids.Store
	cfg   Config

	mu   sync.Mutex
	gen  uint64 // bumped by changes of regions and grids
	have uint64 // the generation view was measured at, plus one
	view mapView
}

// mapView is where the map opens.
type mapView struct {
	Center [2]float64 `json:"center"`
	Zoom   float64    `json:"zoom"`
}

type appConfig struct {
	Basemap Basemap `json:"basemap"`
	Version string  `json:"version"`
	mapView
}

func (a *appConfigAPI) config(c echo.Context) error {
	v, err := a.cityView(c.Request().Context())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, appConfig{Basemap: a.cfg.Basemap, Version: a.cfg.Version, mapView: v})
}

func (a *appConfigAPI) changed(table string) {
	switch table {
	case "regions", "grids", grids.AnyChange:
		a.mu.Lock()
		a.gen++
		a.mu.Unlock()
	}
}

// cityView is the view of the whole city, measured once per change of
// its regions or grids.
func (a *appConfigAPI) cityView(ctx context.Context) (mapView, error) {
	a.mu.Lock()
	gen, have, v := a.gen, a.have, a.view
	a.mu.Unlock()
	if have == gen+1 {
		return v, nil
	}
	b, ok, err := a.store.CityExtent(ctx)
	if err != nil {
		return v, err
	}
	// An empty database opens on China; its city will be somewhere there.
	v = mapView{Center: [2]float64{104.2, 35.9}, Zoom: 3}
	if ok {
		v = fitView(b, 1024, 768)
	}
	a.mu.Lock()
	if a.gen == gen { // nothing changed while measuring
		a.view, a.have = v, gen+1
	}
	a.mu.Unlock()
	return v, nil
}

// fitView is the centre and zoom that show b whole in a viewport of w×h
// pixels on MapLibre's Web Mercator (512-pixel tiles), rounded down to a
// tenth of a zoom level.
func fitView(b orb.Bound, w, h float64) mapView {
	mercY := func(lat float64) float64 { return math.Log(math.Tan(math.Pi/4 + lat*math.Pi/360)) }
	dx := (b.Max[0] - b.Min[0]) / 360
	dy := (mercY(b.Max[1]) - mercY(b.Min[1])) / (2 * math.Pi)
	zoom := 18.0
	if dx > 0 {
		zoom = math.Min(zoom, math.Log2(w/512/dx))
	}
	if dy > 0 {
		zoom = math.Min(zoom, math.Log2(h/512/dy))
	}
	zoom = math.Max(0, math.Floor(zoom*10)/10)
	// The centre of the box as drawn, which in Mercator lies north of the
	// mean latitude.
	cy := (mercY(b.Min[1]) + mercY(b.Max[1])) / 2
	lat := (2*math.Atan(math.Exp(cy)) - math.Pi/2) * 180 / math.Pi
	round := func(x float64) float64 { return math.Round(x*1e5) / 1e5 }
	return mapView{Center: [2]float64{round((b.Min[0] + b.Max[0]) / 2), round(lat)}, Zoom: zoom}
}
