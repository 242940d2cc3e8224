package gateway

import "github.com/prometheus/client_golang/prometheus"

// metrics are the gateway's counters, by gateway key name ("" for a request without
// a valid key):
//
//	vtsoar_gateway_requests_total{key}              requests with a valid key
//	vtsoar_gateway_cache_hits_total{key}            answered from the cache
//	vtsoar_gateway_shared_flights_total{key}        answered by another request's upstream answer
//	vtsoar_gateway_upstream_requests_total{key}     units of the budget spent (requests sent to VirusTotal)
//	vtsoar_gateway_waits_total{key}                 requests that waited for the budget (100 ms or more)
//	vtsoar_gateway_wait_seconds_total{key}          the time they waited
//	vtsoar_gateway_refusals_total{key,reason}       answered by the gateway itself: budget (429),
//	                                                premium (403), credentials (401), unavailable or
//	                                                upstream (503, 504), request (400)
type metrics struct {
	requests, hits, shared, upstream, waits, waitSeconds *prometheus.CounterVec
	refusals                                             *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vtsoar_gateway_" + name, Help: help}, append([]string{"key"}, labels...))
	}
	m := &metrics{
		requests:    counter("requests_total", "Requests to the VirusTotal gateway with a valid key, by gateway key."),
		hits:        counter("cache_hits_total", "Gateway requests answered from the cache, by gateway key."),
		shared:      counter("shared_flights_total", "Gateway requests answered by another request's upstream answer, by gateway key."),
		upstream:    counter("upstream_requests_total", "Requests the gateway sent to VirusTotal (budget units spent), by gateway key."),
		waits:       counter("waits_total", "Gateway requests that waited 100 ms or more for the budget, by gateway key."),
		waitSeconds: counter("wait_seconds_total", "Time gateway requests waited for the budget, by gateway key."),
		refusals: counter("refusals_total", "Gateway requests answered by the gateway itself, by gateway key and reason "+
			"(budget: 429; premium: 403; credentials: 401; unavailable, upstream: 503 or 504; request: 400).", "reason"),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.hits, m.shared, m.upstream, m.waits, m.waitSeconds, m.refusals} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
