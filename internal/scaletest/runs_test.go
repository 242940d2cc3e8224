package scaletest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/vtsim"
)

// run is a run as the REST API answers it.
type run struct {
	ID          string     `json:"id"`
	State       string     `json:"state"`
	InputsTotal int        `json:"inputs_total"`
	InputsDone  int        `json:"inputs_done"`
	ResumesAt   *time.Time `json:"resumes_at"`
	Envelope    struct {
		ReturnData  string `json:"return_data"`
		ContextData []struct {
			Input  string `json:"input"`
			Status string `json:"status"`
		} `json:"context_data"`
	} `json:"envelope"`
}

// answer is an answer of a replica.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// prefer posts a command to a replica with the Prefer header prefer ("" for none).
func (c *cluster) prefer(base, command, prefer string, body any) answer {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(c.ctx, "POST", base+"/api/v1/commands/"+command, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.api.Token)
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	start := time.Now()
	res, err := c.api.Client.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return answer{status: res.StatusCode, header: res.Header, body: out, took: time.Since(start)}
}

// getRun reads a run through one of the live replicas; ok is false when none answers
// (one restarting).
func (c *cluster) getRun(id string) (run, bool) {
	var r run
	for _, rep := range c.live() {
		if _, err := c.api.Do(c.ctx, "GET", rep.URL+"/api/v1/runs/"+id, nil, &r); err == nil {
			return r, true
		}
	}
	return r, false
}

// waitRun polls a run until ok says it is as wanted, for up to timeout.
func (c *cluster) waitRun(id string, timeout time.Duration, what string, ok func(run) bool) run {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, read := c.getRun(id)
		if read && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("run %s not %s after %s: %+v", id, what, timeout, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hashes returns n new sha256 hashes the emulator knows.
func hashes(prefix string, n int) []string {
	var out []string
	for _, a := range fileArtifacts(prefix, n) {
		out = append(out, a.Value)
	}
	return out
}

// startEmulator starts `vtsoar emulate --quota-minute 4` in a process of its own,
// its minute as long as the replicas' (the knobs in env).
func (c *cluster) startEmulator(env []string) *scaletest.Emulator {
	c.t.Helper()
	log := filepath.Join(c.dir, "emulator.log")
	emu, err := scaletest.StartEmulatorEnv(c.ctx, c.bin, log, env, "--quota-minute", "4")
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(emu.Stop)
	c.logs = append(c.logs, log)
	return emu
}

// emulatorRequests is how many API requests the emulator answered.
func emulatorRequests(t *testing.T, emu *scaletest.Emulator) int {
	t.Helper()
	st, err := emu.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.Requests
}

// checkDone checks a run done with every one of its n inputs successful.
func checkDone(t *testing.T, r run, n int) {
	t.Helper()
	ok := 0
	for _, e := range r.Envelope.ContextData {
		if e.Status == "ok" {
			ok++
		}
	}
	if r.State != "done" || r.InputsDone != n || ok != n || r.Envelope.ReturnData != "Successful" {
		t.Fatalf("run %s: %s, %d of %d done, %d successful entries, %s", r.ID, r.State, r.InputsDone, r.InputsTotal, ok, r.Envelope.ReturnData)
	}
}

// TestRunSurvivesAKilledService: against `vtsoar emulate --quota-minute 4` and a
// connection on the public budget (both minutes shortened to 10 s by the test knobs),
// on SQLite, a run of 6 new hashes answers 202 in under 100 ms; within 5 s it shows 4
// done and waits, resuming a window ahead; `vtsoar serve` killed with SIGKILL and
// started again, the run ends done with 6 successful entries, and the emulator was
// asked exactly 6 times. Then, on the spent minute, a synchronous command with
// Prefer: wait=1 is 429 with Retry-After; and a second run, cancelled while it waits,
// sends nothing more and keeps what it did readable.
func TestRunSurvivesAKilledService(t *testing.T) {
	const window = 10 * time.Second
	knobs := []string{"VTSOAR_QUOTA_WINDOW=" + window.String(), "VTSOAR_QUOTA_MARGIN=200ms",
		"VTSOAR_JOB_TIMEOUT=4s", "VTSOAR_RESCUE_AFTER=6s", "VTSOAR_FETCH_POLL=200ms"}
	c := newCluster(t, filepath.Join(t.TempDir(), "vtsoar.db"), vtsim.Options{}, knobs...)
	emu := c.startEmulator(knobs)
	c.start(1)
	c.addConnection(map[string]any{"name": "pub", "api_key": "public-key-0123456789", "server_url": emu.URL, "quota": "public"})

	in := hashes("run-killed", 6)
	a := c.prefer(c.replicas[0].URL, "check-file-reputation", "respond-async", map[string]any{"connection": "pub", "inputs": in})
	if a.status != 202 || a.took > 100*time.Millisecond {
		t.Fatalf("Prefer: respond-async = %d after %v, want 202 in under 100 ms: %s", a.status, a.took, a.body)
	}
	submitted := time.Now()
	var r run
	json.Unmarshal(a.body, &r)
	if a.header.Get("Location") != "/api/v1/runs/"+r.ID {
		t.Fatalf("Location = %q", a.header.Get("Location"))
	}
	r = c.waitRun(r.ID, 5*time.Second, "4 done and waiting", func(r run) bool { return r.InputsDone == 4 && r.State == "waiting" })
	if r.ResumesAt == nil {
		t.Fatal("a waiting run without resumes_at")
	}
	if ahead := r.ResumesAt.Sub(submitted); ahead < window/2 || ahead > window+2*time.Second {
		t.Fatalf("resumes %v after the submission, want about a window (%v)", ahead, window)
	}

	c.replicas[0].Kill()
	c.start(1)
	r = c.waitRun(r.ID, 90*time.Second, "done", func(r run) bool { return r.State == "done" })
	checkDone(t, r, 6)
	if n := emulatorRequests(t, emu); n != 6 {
		t.Fatalf("the emulator was asked %d times for a run of 6 new hashes", n)
	}

	// A second run spends the minute and waits; a synchronous command that will not
	// wait a second is refused at once.
	base := c.live()[0].URL
	a = c.prefer(base, "check-file-reputation", "respond-async", map[string]any{"connection": "pub", "inputs": hashes("run-cancelled", 6)})
	json.Unmarshal(a.body, &r)
	r = c.waitRun(r.ID, 3*window, "waiting", func(r run) bool { return r.State == "waiting" && r.InputsDone > 0 })
	sync := c.prefer(base, "check-file-reputation", "wait=1", map[string]any{"connection": "pub", "inputs": hashes("sync", 1)})
	if sync.status != 429 || sync.took > 2*time.Second {
		t.Fatalf("Prefer: wait=1 on a spent minute = %d after %v: %s", sync.status, sync.took, sync.body)
	}
	if ra, err := strconv.Atoi(sync.header.Get("Retry-After")); err != nil || ra < 1 || time.Duration(ra)*time.Second > window+2*time.Second {
		t.Fatalf("Retry-After = %q", sync.header.Get("Retry-After"))
	}
	if !strings.Contains(string(sync.body), "quota-exceeded") {
		t.Fatalf("problem = %s", sync.body)
	}

	// Cancel it while it waits: nothing more is sent, what it did stays.
	if _, err := c.api.Do(c.ctx, "DELETE", base+"/api/v1/runs/"+r.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	sent := emulatorRequests(t, emu)
	time.Sleep(window + 2*time.Second) // past the time it would have resumed
	if n := emulatorRequests(t, emu); n != sent {
		t.Fatalf("%d requests sent after the cancel", n-sent)
	}
	r, _ = c.getRun(r.ID)
	if r.State != "cancelled" || r.InputsDone == 0 || len(r.Envelope.ContextData) != r.InputsDone {
		t.Fatalf("the cancelled run: %s, %d done, %d entries", r.State, r.InputsDone, len(r.Envelope.ContextData))
	}
}

// TestRunSurvivesItsReplicaKilled: the same run on two replicas over PostgreSQL; the
// replica that holds it while it waits for the budget is killed with SIGKILL, and the
// other one ends it: done, with 6 successful entries, the emulator asked exactly 6
// times.
func TestRunSurvivesItsReplicaKilled(t *testing.T) {
	const window = 5 * time.Second
	// A job's slice (half of its 12 s) is longer than the wait for the budget: the
	// worker holds the run while it waits.
	knobs := []string{"VTSOAR_QUOTA_WINDOW=" + window.String(), "VTSOAR_QUOTA_MARGIN=200ms",
		"VTSOAR_JOB_TIMEOUT=12s", "VTSOAR_RESCUE_AFTER=15s", "VTSOAR_FETCH_POLL=200ms"}
	c := newCluster(t, "", vtsim.Options{}, knobs...)
	emu := c.startEmulator(knobs)
	c.start(2)
	c.addConnection(map[string]any{"name": "pub", "api_key": "public-key-0123456789", "server_url": emu.URL, "quota": "public"})

	a := c.prefer(c.replicas[1].URL, "check-file-reputation", "respond-async", map[string]any{"connection": "pub", "inputs": hashes("replica-killed", 6)})
	if a.status != 202 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var r run
	json.Unmarshal(a.body, &r)
	c.waitRun(r.ID, 5*time.Second, "4 done and waiting", func(r run) bool { return r.InputsDone == 4 && r.State == "waiting" })
	held, err := c.st.GetRun(c.ctx, r.ID)
	if err != nil || held.Worker == "" {
		t.Fatalf("no worker holds the waiting run: %+v, %v", held, err)
	}
	var killed *scaletest.Replica
	for _, rep := range c.replicas {
		if strings.Contains(held.Worker, fmt.Sprintf("/%d/", rep.Pid())) {
			killed = rep
		}
	}
	if killed == nil {
		t.Fatalf("the worker %q is none of the replicas", held.Worker)
	}
	killed.Kill()
	r = c.waitRun(r.ID, 120*time.Second, "done", func(r run) bool { return r.State == "done" })
	checkDone(t, r, 6)
	if n := emulatorRequests(t, emu); n != 6 {
		t.Fatalf("the emulator was asked %d times for a run of 6 new hashes", n)
	}
}
