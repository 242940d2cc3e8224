package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Metrics are the Prometheus metrics of a server:
//
//	vtsoar_vt_requests_total{endpoint,status}     requests sent to VirusTotal, by route pattern
//	                                              ("GET /files/{id}") and HTTP status ("error": no answer)
//	vtsoar_quota_left{connection,window}          units left in each budget window (-1: no limit)
//	vtsoar_cache_hits_total{server}, vtsoar_cache_misses_total{server}
//	                                              lookups of the answer cache, every process counted
//	vtsoar_cache_backlog_answers                  answers this process keeps in memory because the
//	                                              database did not take their write (yet)
//	vtsoar_cache_backlog_dropped_total            kept answers dropped because the backlog was full
//	vtsoar_queue_depth{state}                     background jobs by state
//	vtsoar_command_duration_seconds{command}      time to answer a command request
type Metrics struct {
	// Registry holds the metrics; GET /metrics serves it.
	Registry *prometheus.Registry

	vtRequests      *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec

	mu     sync.Mutex
	state  *Server
	enrich Enricher
}

// NewMetrics returns the metrics on a new registry (with the Go runtime and process
// collectors).
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		vtRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vtsoar_vt_requests_total",
			Help: "Requests sent to VirusTotal, by endpoint (route pattern) and HTTP status (\"error\" when no answer came).",
		}, []string{"endpoint", "status"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vtsoar_command_duration_seconds",
			Help:    "Time to answer a command request over REST.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"command"}),
	}
	m.Registry.MustRegister(m.vtRequests, m.commandDuration, (*stateCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// watch points the metrics read at scrape time at a server.
func (m *Metrics) watch(s *Server, e Enricher) {
	m.mu.Lock()
	m.state, m.enrich = s, e
	m.mu.Unlock()
}

// Transport wraps base so that every request to VirusTotal is counted.
func (m *Metrics) Transport(base http.RoundTripper) http.RoundTripper {
	return &countingTransport{base: base, m: m}
}

type countingTransport struct {
	base http.RoundTripper
	m    *Metrics
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	t.m.vtRequests.WithLabelValues(vt.Endpoint(r.Method, r.URL.Path), status).Inc()
	return resp, err
}

// stateCollector reads quota, cache and queue state from the store and the enrichment
// service when scraped.
type stateCollector Metrics

var (
	quotaLeftDesc = prometheus.NewDesc("vtsoar_quota_left",
		"Requests left in a connection's budget window (-1: no limit).", []string{"connection", "window"}, nil)
	cacheHitsDesc = prometheus.NewDesc("vtsoar_cache_hits_total",
		"Cache lookups that found a usable answer, by server (every process counted).", []string{"server"}, nil)
	cacheMissesDesc = prometheus.NewDesc("vtsoar_cache_misses_total",
		"Cache lookups that found no usable answer, by server (every process counted).", []string{"server"}, nil)
	backlogAnswersDesc = prometheus.NewDesc("vtsoar_cache_backlog_answers",
		"Cache answers this process keeps in memory until the database takes their write.", nil, nil)
	backlogDroppedDesc = prometheus.NewDesc("vtsoar_cache_backlog_dropped_total",
		"Cache answers dropped because too many waited for the database (they are asked for again).", nil, nil)
	queueDepthDesc = prometheus.NewDesc("vtsoar_queue_depth",
		"Background jobs by state.", []string{"state"}, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- quotaLeftDesc
	ch <- cacheHitsDesc
	ch <- cacheMissesDesc
	ch <- backlogAnswersDesc
	ch <- backlogDroppedDesc
	ch <- queueDepthDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	s, e := c.state, c.enrich
	c.mu.Unlock()
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := s.cfg.Store
	if conns, err := st.ListConnections(ctx); err == nil {
		for _, conn := range conns {
			cc, err := s.conns.Get(ctx, conn)
			if err != nil {
				continue
			}
			u, err := cc.Limiter.Usage(ctx)
			if err != nil {
				continue
			}
			for _, w := range u.Windows {
				ch <- prometheus.MustNewConstMetric(quotaLeftDesc, prometheus.GaugeValue, float64(w.Left), conn.Name, w.Window)
			}
		}
	}
	if servers, err := st.CacheServers(ctx); err == nil {
		for _, srv := range servers {
			cs, err := st.Cache(srv).Stats(ctx)
			if err != nil {
				continue
			}
			ch <- prometheus.MustNewConstMetric(cacheHitsDesc, prometheus.CounterValue, float64(cs.Hits), srv)
			ch <- prometheus.MustNewConstMetric(cacheMissesDesc, prometheus.CounterValue, float64(cs.Misses), srv)
		}
	}
	b := st.CacheBacklog()
	ch <- prometheus.MustNewConstMetric(backlogAnswersDesc, prometheus.GaugeValue, float64(b.Answers))
	ch <- prometheus.MustNewConstMetric(backlogDroppedDesc, prometheus.CounterValue, float64(b.Dropped))
	if e != nil {
		if counts, err := s.jobCounts(ctx); err == nil {
			for state, n := range counts {
				ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), state)
			}
		}
	}
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
