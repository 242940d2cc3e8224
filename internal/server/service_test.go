package server_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

// metric returns the value of the sample of a Prometheus text exposition whose name
// and labels start with prefix ("name{a=\"b\"" or "name "), or -1 when absent.
func metric(t *testing.T, text, prefix string) float64 {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			f := strings.Fields(line)
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				t.Fatalf("sample %q: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	// Metrics tell what the service spends: admins only (TestMetricsAccess).
	e.do(t, "GET", "/metrics", "", nil).problem(t, 401)

	for range 2 { // the second answer comes from the cache
		r := e.do(t, "POST", "/api/v1/commands/check-file-reputation", "paris", map[string]any{"inputs": []string{eicarMD5}})
		if r.status != 200 {
			t.Fatalf("command = %d %s", r.status, r.body)
		}
	}
	ev := e.do(t, "POST", "/api/v1/events", "paris", map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}})
	var evj eventJSON
	ev.json(t, &evj)
	e.waitEvent(t, evj.ID, "paris")

	// The job is marked completed just after the event is done: scrape until it is.
	var r resp
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		r = e.do(t, "GET", "/metrics", "admin", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics = %d %s", r.status, r.header.Get("Content-Type"))
		}
		if metric(t, string(r.body), `vtsoar_queue_depth{state="completed"}`) >= 1 || time.Now().After(deadline) {
			break
		}
	}
	text := string(r.body)
	// The emulator counted what was sent; the metrics say the same.
	res, err := http.Get(e.simURL + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		ByEndpoint map[string]float64 `json:"by_endpoint"`
	}
	json.NewDecoder(res.Body).Decode(&stats)
	res.Body.Close()
	if got, want := metric(t, text, `vtsoar_vt_requests_total{endpoint="GET /files/{id}",status="200"}`), stats.ByEndpoint["GET /files/{id}"]; got != 1 || want != 1 {
		t.Errorf("GET /files/{id} requests: metrics %v, emulator %v; want 1 (the second lookup is cached)", got, want)
	}
	if got := metric(t, text, `vtsoar_command_duration_seconds_count{command="check-file-reputation"}`); got != 2 {
		t.Errorf("command latency count = %v, want 2", got)
	}
	if got := metric(t, text, `vtsoar_cache_hits_total{`); got < 1 {
		t.Errorf("cache hits = %v, want >= 1", got)
	}
	if got := metric(t, text, `vtsoar_quota_left{connection="emu",window="day"}`); got != -1 && got < 0 {
		t.Errorf("quota left = %v", got)
	}
	if !strings.Contains(text, `vtsoar_quota_left{connection="emu"`) {
		t.Errorf("no quota gauge for emu:\n%s", grepLines(text, "vtsoar_quota"))
	}
	if got := metric(t, text, `vtsoar_queue_depth{state="completed"}`); got < 1 {
		t.Errorf("queue depth completed = %v, want >= 1:\n%s", got, grepLines(text, "vtsoar_queue"))
	}
	if metric(t, text, "go_goroutines ") < 1 {
		t.Error("no Go runtime metrics")
	}
}

// GET /metrics names every connection with its budget: an analyst, who may not use
// every connection, is refused (403) and learns nothing; admins and the scrape token
// read it; the scrape token opens nothing else.
func TestMetricsAccess(t *testing.T) {
	const scrape = "scrape-token-0123456789abcdef"
	e := newEnv(t, envOpts{metricsToken: scrape})
	if r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "lyon-only", "api_key": "lyon-key",
		"server_url": e.simURL, "quota": "7/min,70/day", "sites": []string{"lyon"}}); r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	for _, who := range []string{"paris", "lyon", "both"} {
		r := e.do(t, "GET", "/metrics", who, nil)
		r.problem(t, 403)
		if strings.Contains(string(r.body), "lyon-only") || strings.Contains(string(r.body), "vtsoar_quota_left") {
			t.Errorf("%s: the refusal names a connection or a quota: %s", who, r.body)
		}
	}
	for _, who := range []string{"admin", scrape} {
		r := e.do(t, "GET", "/metrics", who, nil)
		if r.status != 200 || metric(t, string(r.body), `vtsoar_quota_left{connection="lyon-only",window="minute"}`) != 7 {
			t.Errorf("%.8s...: %d, quota of lyon-only:\n%s", who, r.status, grepLines(string(r.body), "vtsoar_quota_left"))
		}
	}
	e.do(t, "GET", "/metrics", scrape+"x", nil).problem(t, 401)
	e.do(t, "GET", "/metrics", scrape[:len(scrape)-1], nil).problem(t, 401)
	for _, path := range []string{"/api/v1/connections", "/api/v1/jobs"} {
		e.do(t, "GET", path, scrape, nil).problem(t, 401)
	}
	if strings.Contains(e.logs.String(), scrape) {
		t.Error("the log holds the scrape token")
	}
	// Without a metrics token configured, no token but an admin's reads them.
	e2 := newEnv(t, envOpts{})
	e2.do(t, "GET", "/metrics", scrape, nil).problem(t, 401)
	e2.do(t, "GET", "/metrics", "paris", nil).problem(t, 403)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestHealthz(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "GET", "/healthz", "", nil)
	var h struct{ Status string }
	r.json(t, &h)
	if r.status != 200 || h.Status != "ok" {
		t.Fatalf("healthz = %d %s", r.status, r.body)
	}
	// A store that does not answer makes the service unready.
	e.st.Close()
	r = e.do(t, "GET", "/healthz", "", nil)
	r.json(t, &h)
	if r.status != 503 || h.Status != "unavailable" {
		t.Fatalf("healthz with the store closed = %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "closed") {
		t.Fatalf("healthz gives the store's error away: %s", r.body)
	}
}

func TestJobsCountTheQueue(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	e.do(t, "GET", "/api/v1/jobs", "", nil).problem(t, 401)
	r := e.do(t, "POST", "/api/v1/events", "lyon", map[string]any{"artifacts": []map[string]string{
		{"type": "ip", "value": "8.8.8.8"}, {"type": "domain", "value": "example.com"}, {"type": "url", "value": "http://example.com/"}}})
	var ev eventJSON
	r.json(t, &ev)
	e.waitEvent(t, ev.ID, "lyon")
	var out struct {
		Counts map[string]int `json:"counts"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.do(t, "GET", "/api/v1/jobs", "lyon", nil).json(t, &out)
		if out.Counts["completed"] >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs = %+v, want at least the 3 enrichment jobs completed", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Without the background service there is nothing to count.
	e2 := newEnv(t, envOpts{})
	e2.do(t, "GET", "/api/v1/jobs", "admin", nil).problem(t, 503)
}

func TestConsoleAndUnknownPaths(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "GET", "/", "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(r.body), "/api/v1/openapi.json") || r.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("console = %d %s %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	p := e.do(t, "GET", "/api/v1/nothing", "admin", nil).problem(t, 404)
	if !strings.Contains(p.Detail, "openapi.json") {
		t.Fatalf("unknown path detail = %q", p.Detail)
	}
	// Another method on a known path: 405 as a problem, with Allow.
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/events", "POST, GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"GET", "/api/v1/connections/emu/test", "POST"},
	} {
		r := e.do(t, tc.method, tc.path, "admin", nil)
		r.problem(t, 405)
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow = %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
}

// TestEveryEndpointNeverReturnsTheKey drives every route of the server to a success
// and checks, through e.send, that no answer holds the connection's API key, and that
// neither the key nor a bearer token is ever logged. It fails when a route is added
// without being driven here.
func TestEveryEndpointNeverReturnsTheKey(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	const admin = "admin"
	ok := func(method, path string, body any, want int) resp {
		t.Helper()
		r := e.do(t, method, path, admin, body)
		if r.status != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.body)
		}
		return r
	}
	ok("GET", "/", nil, 200)
	ok("GET", "/healthz", nil, 200)
	ok("GET", "/api/v1/openapi.json", nil, 200)
	for _, cmd := range []string{"check-file-reputation", "get-file-reports", "test-connection"} {
		in := []string{eicarMD5}
		if cmd == "test-connection" {
			in = nil
		}
		ok("POST", "/api/v1/commands/"+cmd, map[string]any{"connection": "emu", "inputs": in}, 200)
	}
	ok("GET", "/api/v1/connections", nil, 200)
	ok("GET", "/api/v1/connections/emu", nil, 200)
	const key2 = "second-key-that-must-never-leak-000000"
	ok("POST", "/api/v1/connections", map[string]any{"name": "vt2", "api_key": key2, "server_url": e.simURL}, 201)
	ok("PUT", "/api/v1/connections/vt2", map[string]any{"api_key": key2, "server_url": e.simURL, "quota": "premium"}, 200)
	ok("PATCH", "/api/v1/connections/vt2", map[string]any{"health_check_minutes": 5}, 200)
	ok("POST", "/api/v1/connections/emu/test", nil, 200)
	ok("POST", "/api/v1/connections/vt2/test", nil, 200)
	ok("GET", "/api/v1/connections/emu/health", nil, 200)
	r := ok("POST", "/api/v1/events", map[string]any{"artifacts": []map[string]string{{"type": "file", "value": eicarMD5}}}, 201)
	var ev eventJSON
	r.json(t, &ev)
	e.waitEvent(t, ev.ID, admin)
	ok("GET", "/api/v1/events", nil, 200)
	ok("GET", "/api/v1/events/"+ev.ID, nil, 200)
	r = e.upload(t, admin, "a.bin", []byte("a file"), map[string]string{"source": "playbook"})
	var f fileJSON
	r.json(t, &f)
	ok("GET", "/api/v1/files/"+f.ID, nil, 200)
	r = ok("POST", "/api/v1/incidents", map[string]any{"title": "Phishing"}, 201)
	var inc store.IncidentView
	r.json(t, &inc)
	ok("GET", "/api/v1/incidents", nil, 200)
	ok("GET", "/api/v1/incidents/"+inc.ID, nil, 200)
	if r := e.attach(t, inc.ID, admin, "mail.eml", []byte("From: x")); r.status != 201 {
		t.Fatalf("attach = %d %s", r.status, r.body)
	}
	ok("GET", "/api/v1/files?incident="+inc.ID, nil, 200)
	ok("GET", "/api/v1/jobs", nil, 200)
	ok("GET", "/api/v1/users", nil, 200)
	r = ok("POST", "/api/v1/gateway-keys", map[string]any{"name": "misp", "connection": "emu", "priority": "batch", "max_wait": "5s"}, 201)
	var gk struct{ Key string }
	r.json(t, &gk)
	ok("GET", "/api/v1/gateway-keys", nil, 200)
	ok("GET", "/api/v1/gateway-keys/misp", nil, 200)
	// The gateway, with the key: a report, the key's user (the real key replaced).
	for _, p := range []string{"files/" + eicarMD5, "users/" + gk.Key, "users/" + gk.Key + "/overall_quotas"} {
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v3/"+p, nil)
		req.Header.Set("x-apikey", gk.Key)
		if r := e.send(t, req, ""); r.status != 200 {
			t.Fatalf("GET /api/v3/%s = %d %s", p, r.status, r.body)
		}
	}
	// Runs: one done, one waiting for its budget and cancelled.
	var run runJSON
	e.doPrefer(t, "/api/v1/commands/check-file-reputation", admin, "respond-async", map[string]any{"connection": "emu", "inputs": []string{eicarMD5}}).json(t, &run)
	e.waitRun(t, run.ID, admin, "done")
	ok("GET", "/api/v1/runs", nil, 200)
	e.addConnection(t, "slow", e.sealKey(t, "slow", "slow-key-0000"), "1/min")
	e.doPrefer(t, "/api/v1/commands/check-ip-reputation", admin, "respond-async", map[string]any{"connection": "slow", "inputs": []string{"1.1.1.1", "1.1.1.2"}}).json(t, &run)
	e.waitRun(t, run.ID, admin, "waiting")
	ok("DELETE", "/api/v1/runs/"+run.ID, nil, 200)
	ok("GET", "/metrics", nil, 200)
	ok("DELETE", "/api/v1/gateway-keys/misp", nil, 204)
	ok("DELETE", "/api/v1/connections/vt2", nil, 204)

	// Every route was driven to a success (and, in e.send, validated against the
	// document and searched for the key).
	for _, rt := range e.srv.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		op := method + " " + docPath(path)
		var success bool
		for _, st := range e.seen[op] {
			success = success || st < 300
		}
		if !success {
			t.Errorf("%s was not driven to a success here (answers seen: %v)", op, e.seen[op])
		}
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "request") {
		t.Fatal("nothing logged: the log check below would prove nothing")
	}
	for _, secret := range append([]string{apiKey, key2, gk.Key}, tokenValues(e)...) {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains a secret (%.12s...)", secret)
		}
	}
	// The key is sealed in the store, not in clear.
	if c, err := e.st.GetConnection(t.Context(), "emu"); err != nil || strings.Contains(string(c.SealedAPIKey), apiKey) {
		t.Fatalf("stored key in clear, or %v", err)
	}
	if regexp.MustCompile(`key[^\n]*` + regexp.QuoteMeta(apiKey[:8])).MatchString(logs) {
		t.Error("the log holds the start of the key")
	}
}

func tokenValues(e *env) []string {
	var out []string
	for _, tok := range e.tokens {
		out = append(out, tok)
	}
	return out
}
