package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/server"
)

// runJSON is a run as the API answers it.
type runJSON struct {
	ID          string          `json:"id"`
	Command     string          `json:"command"`
	Connection  string          `json:"connection"`
	User        string          `json:"user"`
	State       string          `json:"state"`
	InputsTotal int             `json:"inputs_total"`
	InputsDone  int             `json:"inputs_done"`
	ResumesAt   *time.Time      `json:"resumes_at"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at"`
	Error       string          `json:"error"`
	Envelope    json.RawMessage `json:"envelope"`
}

// doPrefer sends a command as user with the Prefer header prefer.
func (e *env) doPrefer(t *testing.T, path, user, prefer string, body any) resp {
	t.Helper()
	j, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.http.URL+path, bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	return e.send(t, req, user)
}

// waitRun polls a run until it is in one of states.
func (e *env) waitRun(t *testing.T, id, user string, states ...string) runJSON {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var run runJSON
		r := e.do(t, "GET", "/api/v1/runs/"+id, user, nil)
		if r.status != 200 {
			t.Fatalf("GET run = %d %s\nlog:\n%s", r.status, r.body, e.logs.String())
		}
		r.json(t, &run)
		for _, s := range states {
			if run.State == s {
				return run
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still %s after 20s, want %v: %s\nlog:\n%s", run.State, states, r.body, e.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envelopeOf decodes an envelope without its raw data (whose bytes depend on when it
// was fetched: cached or not).
func envelopeOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("envelope %s: %v", b, err)
	}
	delete(env, "raw_data")
	for _, c := range env["context_data"].([]any) {
		delete(c.(map[string]any), "cached")
	}
	return env
}

// TestRunAnswersAtOnceAndEndsWithTheSynchronousEnvelope: Prefer: respond-async answers
// 202 at once with the run and its Location; the run ends done with the envelope the
// synchronous command answers; it is listed for its user, exported as STIX, and
// another user gets 404 where an admin sees it.
func TestRunAnswersAtOnceAndEndsWithTheSynchronousEnvelope(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	body := map[string]any{"connection": "emu", "inputs": []string{eicarMD5, "8.8.8.8", "0000000000000000000000000000000000000000000000000000000000000000"}}
	r := e.doPrefer(t, "/api/v1/commands/check-file-reputation", "paris", "respond-async", body)
	if r.status != 202 {
		t.Fatalf("status = %d %s", r.status, r.body)
	}
	var run runJSON
	r.json(t, &run)
	if loc := r.header.Get("Location"); loc != "/api/v1/runs/"+run.ID || run.ID == "" {
		t.Fatalf("Location = %q for run %q", loc, run.ID)
	}
	if pa := r.header.Get("Preference-Applied"); pa != "respond-async" {
		t.Fatalf("Preference-Applied = %q", pa)
	}
	if run.Command != "check-file-reputation" || run.Connection != "emu" || run.User != "paris" || run.InputsTotal != 3 ||
		(run.State != "queued" && run.State != "running" && run.State != "done") {
		t.Fatalf("run = %+v", run)
	}
	done := e.waitRun(t, run.ID, "paris", "done")
	if done.InputsDone != 3 || done.FinishedAt == nil || done.ResumesAt != nil {
		t.Fatalf("done run = %+v", done)
	}
	sync := e.do(t, "POST", "/api/v1/commands/check-file-reputation", "paris", body)
	if sync.status != 200 {
		t.Fatalf("sync = %d", sync.status)
	}
	got, want := envelopeOf(t, done.Envelope), envelopeOf(t, sync.body)
	if g, w := mustMarshal(got), mustMarshal(want); g != w {
		t.Fatalf("run's envelope\n%s\nsynchronous\n%s", g, w)
	}

	stix := e.do(t, "GET", "/api/v1/runs/"+run.ID+"?format=stix", "paris", nil)
	if stix.status != 200 || !strings.HasPrefix(stix.header.Get("Content-Type"), "application/stix+json") ||
		!bytes.Contains(stix.body, []byte(`"type": "bundle"`)) {
		t.Fatalf("STIX = %d %s %.200s", stix.status, stix.header.Get("Content-Type"), stix.body)
	}
	var list struct {
		Runs []runJSON `json:"runs"`
	}
	e.do(t, "GET", "/api/v1/runs", "paris", nil).json(t, &list)
	if len(list.Runs) != 1 || list.Runs[0].ID != run.ID || list.Runs[0].Envelope != nil {
		t.Fatalf("paris's runs = %+v", list.Runs)
	}
	e.do(t, "GET", "/api/v1/runs", "lyon", nil).json(t, &list)
	if len(list.Runs) != 0 {
		t.Fatalf("lyon sees %+v", list.Runs)
	}
	e.do(t, "GET", "/api/v1/runs/"+run.ID, "lyon", nil).problem(t, 404)
	e.do(t, "DELETE", "/api/v1/runs/"+run.ID, "lyon", nil).problem(t, 404)
	if r := e.do(t, "GET", "/api/v1/runs/"+run.ID, "admin", nil); r.status != 200 {
		t.Fatalf("admin GET = %d", r.status)
	}
	// Done: it cannot be cancelled.
	e.do(t, "DELETE", "/api/v1/runs/"+run.ID, "paris", nil).problem(t, 409)
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRunWithWaitAnswersTheEnvelope: Prefer: respond-async, wait=N answers the
// envelope (200) when the run is over within the wait.
func TestRunWithWaitAnswersTheEnvelope(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	r := e.doPrefer(t, "/api/v1/commands/check-ip-reputation", "paris", "respond-async, wait=20",
		map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}})
	if r.status != 200 {
		t.Fatalf("status = %d %s", r.status, r.body)
	}
	var run runJSON
	r.json(t, &run)
	if run.State != "done" || !bytes.Contains(run.Envelope, []byte(`"return_data":"Successful"`)) {
		t.Fatalf("run = %s", r.body)
	}
	if pa := r.header.Get("Preference-Applied"); pa != "wait=20" {
		t.Fatalf("Preference-Applied = %q", pa)
	}
}

// TestRunWaitingForTheBudgetIsCancelled: a run on a budget of 2 a minute does 2
// inputs, then waits with resumes_at a minute ahead; DELETE cancels it, nothing more
// is sent, and the 2 results stay readable.
func TestRunWaitingForTheBudgetIsCancelled(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	e.addConnection(t, "slow", e.sealKey(t, "slow", "slow-key"), "2/min")
	r := e.doPrefer(t, "/api/v1/commands/check-ip-reputation", "admin", "respond-async",
		map[string]any{"connection": "slow", "inputs": []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"}})
	if r.status != 202 {
		t.Fatalf("status = %d %s", r.status, r.body)
	}
	var run runJSON
	r.json(t, &run)
	waiting := e.waitRun(t, run.ID, "admin", "waiting")
	if waiting.ResumesAt == nil || waiting.InputsDone != 2 {
		t.Fatalf("waiting run = %+v", waiting)
	}
	if d := time.Until(*waiting.ResumesAt); d < 50*time.Second || d > 62*time.Second {
		t.Fatalf("resumes in %v, want about a minute", d)
	}
	before := e.sim.Stats().Requests
	c := e.do(t, "DELETE", "/api/v1/runs/"+run.ID, "admin", nil)
	if c.status != 200 {
		t.Fatalf("DELETE = %d %s", c.status, c.body)
	}
	var cancelled runJSON
	c.json(t, &cancelled)
	if cancelled.State != "cancelled" || cancelled.FinishedAt == nil || cancelled.ResumesAt != nil {
		t.Fatalf("cancelled = %+v", cancelled)
	}
	if again := e.do(t, "DELETE", "/api/v1/runs/"+run.ID, "admin", nil); again.status != 200 {
		t.Fatalf("second DELETE = %d", again.status)
	}
	got := e.waitRun(t, run.ID, "admin", "cancelled")
	var env struct {
		ContextData []map[string]any `json:"context_data"`
	}
	json.Unmarshal(got.Envelope, &env)
	if got.InputsDone != 2 || len(env.ContextData) != 2 {
		t.Fatalf("partial envelope: %d done, %d entries", got.InputsDone, len(env.ContextData))
	}
	if after := e.sim.Stats().Requests; after != before {
		t.Fatalf("%d requests sent after the cancel", after-before)
	}
}

// TestPreferWaitOnASpentMinuteIs429: a synchronous command whose budget has no
// request free within Prefer: wait answers 429 at once, with Retry-After and a
// problem that says when.
func TestPreferWaitOnASpentMinuteIs429(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.addConnection(t, "pub", e.sealKey(t, "pub", "pub-key"), "public")
	body := map[string]any{"connection": "pub", "inputs": []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"}}
	if r := e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "admin", body); r.status != 200 {
		t.Fatalf("spending the minute: %d %s", r.status, r.body)
	}
	start := time.Now()
	r := e.doPrefer(t, "/api/v1/commands/check-ip-reputation", "admin", "wait=1", map[string]any{"connection": "pub", "inputs": []string{"9.9.9.9"}})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("answered after %v", took)
	}
	p := r.problem(t, 429)
	if p.Type != server.ProblemQuotaExceeded || p.ResumesAt == nil || !strings.Contains(p.Detail, "public budget of connection pub") {
		t.Fatalf("problem = %+v", p)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 50 || ra > 62 {
		t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
	}
	if pa := r.header.Get("Preference-Applied"); pa != "wait=1" {
		t.Fatalf("Preference-Applied = %q", pa)
	}
	// A malformed wait is refused, not ignored.
	e.doPrefer(t, "/api/v1/commands/check-ip-reputation", "admin", "wait=soon", body).problem(t, 400)
}
