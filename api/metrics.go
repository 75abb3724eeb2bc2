package api

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/citygrid/citygrid/grids"
)

// metrics are the server's Prometheus series, in a registry of its own (no
// global state: two servers in one test process keep separate counts).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inflight prometheus.Gauge
	// routes holds each registered route's series, so that a request
	// counts itself with atomic loads and adds: no label hashing, no
	// lock of the vectors and no status string. Filled by prepare before
	// the server serves, read-only after.
	routes map[routeKey]*routeSeries
}

type routeKey struct{ route, method string }

// routeSeries are one route's children of the vectors, each made on its
// first request, as the vectors would, so that /metrics lists only the
// series that have counted something.
type routeSeries struct {
	mu       sync.Mutex // taken only to make a series
	latency  atomic.Pointer[latencySeries]
	statuses atomic.Pointer[[]statusSeries] // copied on write; a route answers with few statuses
}

type latencySeries struct{ prometheus.Observer }

type statusSeries struct {
	status int
	count  prometheus.Counter
}

func newMetrics(store *grids.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citygrid_http_requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "citygrid_http_request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citygrid_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.inflight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&poolCollector{store: store})
	return m
}

// prepare makes room for the series of every route the server has.
func (m *metrics) prepare(routes []*echo.Route) {
	m.routes = make(map[routeKey]*routeSeries, len(routes))
	for _, r := range routes {
		m.routes[routeKey{r.Path, r.Method}] = &routeSeries{}
	}
}

func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		m.inflight.Inc()
		defer m.inflight.Dec()
		if err := next(c); err != nil {
			c.Error(err) // write the error now so its status is counted
		}
		route := c.Path()
		if route == "" {
			route = "unmatched" // keeps random URLs from exploding the label set
		}
		method := c.Request().Method
		status := c.Response().Status
		if rs := m.routes[routeKey{route, method}]; rs != nil {
			rs.count(m, route, method, status)
			rs.observe(m, route, method, time.Since(start))
			return nil
		}
		m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, method).Observe(time.Since(start).Seconds())
		return nil
	}
}

func (rs *routeSeries) count(m *metrics, route, method string, status int) {
	if p := rs.statuses.Load(); p != nil {
		for _, s := range *p {
			if s.status == status {
				s.count.Inc()
				return
			}
		}
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	var have []statusSeries
	if p := rs.statuses.Load(); p != nil {
		have = *p
	}
	for _, s := range have {
		if s.status == status { // made while this request waited for the lock
			s.count.Inc()
			return
		}
	}
	s := statusSeries{status, m.requests.WithLabelValues(route, method, strconv.Itoa(status))}
	next := append(append(make([]statusSeries, 0, len(have)+1), have...), s)
	rs.statuses.Store(&next)
	s.count.Inc()
}

func (rs *routeSeries) observe(m *metrics, route, method string, d time.Duration) {
	l := rs.latency.Load()
	if l == nil {
		rs.mu.Lock()
		if l = rs.latency.Load(); l == nil {
			l = &latencySeries{m.latency.WithLabelValues(route, method)}
			rs.latency.Store(l)
		}
		rs.mu.Unlock()
	}
	l.Observe(d.Seconds())
}

func (m *metrics) handler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
}

// poolCollector reports the database pool's state at scrape time.
type poolCollector struct{ store *grids.Store }

var (
	poolTotal    = prometheus.NewDesc("citygrid_db_pool_connections", "Open database connections by state.", []string{"state"}, nil)
	poolMax      = prometheus.NewDesc("citygrid_db_pool_max_connections", "Largest pool size.", nil, nil)
	poolAcquires = prometheus.NewDesc("citygrid_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil)
	poolWaits    = prometheus.NewDesc("citygrid_db_pool_empty_acquires_total", "Acquires that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("citygrid_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
)

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolTotal, poolMax, poolAcquires, poolWaits, poolWaitTime} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p.store.Pool().Stat()
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquires, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, st.AcquireDuration().Seconds())
}
