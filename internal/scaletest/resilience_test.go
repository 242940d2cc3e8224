package scaletest_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// failMix is the mix of the failures a retry gets past: 30% of the requests fail, as
// VirusTotal (503 TransientError, 504 DeadlineExceededError, 429
// TooManyRequestsError) or a proxy in front of it (an HTML 502 page) answers.
var failMix = vtsim.FailMix{vtsim.Fault503: 0.15, vtsim.Fault504: 0.05, vtsim.Fault429: 0.05, vtsim.Fault502HTML: 0.05}

// TestFailRateAndLatencySpikes runs three replicas against an emulator that fails
// requests with the failures a retry gets past and delays one request in ten by 800ms. Every
// check-file-reputation command sent over REST ends Successful within at most three
// calls by the caller (each call retries a failed request itself, up to 4 attempts);
// asked again, each is answered from the cache without a request (no failure was
// cached, nothing lost); and every event is enriched.
func TestFailRateAndLatencySpikes(t *testing.T) {
	const (
		nCommands = 24
		perCmd    = 3
		maxCalls  = 3
	)
	c := newCluster(t, "", vtsim.Options{FailMix: failMix, Seed: 7}, faultEnv...)
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	c.rec.Delay = func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		if rng.IntN(10) == 0 {
			return 800 * time.Millisecond
		}
		return 0
	}
	c.start(3)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey, "quota": "premium"})

	arts := fileArtifacts("failrate", nCommands*perCmd)
	calls := make([]int, nCommands)
	results := make([]string, nCommands)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 6)
	started := time.Now()
	for i := range nCommands {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var inputs []string
			for _, a := range arts[i*perCmd : (i+1)*perCmd] {
				inputs = append(inputs, a.Value)
			}
			for calls[i] < maxCalls {
				calls[i]++
				r := c.replicas[(i+calls[i])%len(c.replicas)]
				var env struct {
					ReturnData string `json:"return_data"`
					Errors     []struct {
						Message string `json:"message"`
					} `json:"errors"`
				}
				if _, err := c.api.Do(c.ctx, "POST", r.URL+"/api/v1/commands/check-file-reputation",
					map[string]any{"connection": "vt", "inputs": inputs}, &env); err != nil {
					results[i] = err.Error()
					continue
				}
				results[i] = env.ReturnData
				if env.ReturnData == "Successful" {
					return
				}
			}
		}()
	}
	wg.Wait()
	hist := map[int]int{}
	for i, r := range results {
		hist[calls[i]]++
		if r != "Successful" {
			t.Errorf("command %d: %s after %d calls", i, r, calls[i])
		}
	}
	reqs := c.rec.Requests()
	st := scaletest.ByStatus(reqs)
	faults := c.sim.Stats().ByFault
	injected := 0
	for _, n := range faults {
		injected += n
	}
	t.Logf("%d commands of %d inputs in %s; calls per command %v; %d requests, %d failures injected %v (retried), emulator statuses %v",
		nCommands, perCmd, time.Since(started).Round(time.Millisecond), hist, len(reqs), injected, faults, st)
	for f := range failMix {
		if faults[string(f)] == 0 {
			t.Errorf("the emulator never answered %s: the test proves less than it says", f)
		}
	}

	// Asked again, every command is answered from the cache: what was stored are the
	// answers, not the failures met on the way; nothing is lost.
	before := len(c.rec.Requests())
	for i := range nCommands {
		var inputs []string
		for _, a := range arts[i*perCmd : (i+1)*perCmd] {
			inputs = append(inputs, a.Value)
		}
		var env struct {
			ReturnData string `json:"return_data"`
			RawData    []any  `json:"raw_data"`
		}
		if _, err := c.api.Do(c.ctx, "POST", c.replicas[i%len(c.replicas)].URL+"/api/v1/commands/check-file-reputation",
			map[string]any{"connection": "vt", "inputs": inputs}, &env); err != nil || env.ReturnData != "Successful" || len(env.RawData) != perCmd {
			t.Errorf("command %d asked again: %s, %d answers, %v", i, env.ReturnData, len(env.RawData), err)
		}
	}
	if n := len(c.rec.Requests()) - before; n != 0 {
		t.Errorf("%d requests to VirusTotal for commands already answered: an answer was lost or a failure cached", n)
	}

	// Events under the same faults: River retries what the client's retries did not.
	evArts := fileArtifacts("failrate-events", 40)
	evs := c.waitEvents(c.postEvents(split(evArts, 4), 3), 120*time.Second)
	checkEventsDone(t, evs)
	byEP := scaletest.ByEndpoint(c.rec.Requests())
	for _, a := range evArts {
		if n := byEP[filePath(a)]; n == 0 || n > 3*4 {
			t.Errorf("%s requested %d times", a.Value[:12], n)
		}
	}
}

// TestServerNeverAnswers points a client at a listener that accepts connections and
// never answers: the command fails with an error that says the attempt timed out,
// within the bound of its attempts, and leaves no goroutine behind.
func TestServerNeverAnswers(t *testing.T) {
	before := runtime.NumGoroutine()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn) // read nothing, answer nothing
			mu.Unlock()
		}
	}()

	const (
		key      = "never-answers-key-3f2e1d0c"
		timeout  = 300 * time.Millisecond
		attempts = 3
	)
	client, err := vt.New(key, vt.WithServerURL("http://"+ln.Addr().String()), vt.WithTimeout(timeout),
		vt.WithRetry(vt.RetryPolicy{MaxAttempts: attempts, BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("ab", 32)
	start := time.Now()
	_, err = client.GetFile(context.Background(), h)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a request to a server that never answers succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(strings.ToLower(err.Error()), "timeout") {
		t.Errorf("error %q (%T) does not say it timed out", err, err)
	}
	if strings.Contains(err.Error(), key) {
		t.Error("the error holds the API key")
	}
	if limit := attempts*timeout + 2*time.Second; took > limit {
		t.Errorf("gave up after %s, want under %s (%d attempts of %s)", took, limit, attempts, timeout)
	}
	t.Logf("client error after %s: %v", took.Round(time.Millisecond), err)

	// Through a command, as the CLI and the service run it.
	p, err := command.Prepare(command.Request{Command: "check-file-reputation", Inputs: []string{h}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := command.Run(context.Background(), command.Deps{Client: client, Cache: cache.NewMemory()}, p)
	if err != nil {
		t.Fatal(err)
	}
	if env.ReturnData != command.Failed || len(env.Errors) != 1 {
		t.Fatalf("envelope %+v", env)
	}
	msg := fmt.Sprint(env.Errors[0].Message)
	if !strings.Contains(strings.ToLower(msg), "timeout") && !strings.Contains(msg, "deadline exceeded") {
		t.Errorf("command error %q does not say it timed out", msg)
	}
	t.Logf("command error: %s", msg)

	ln.Close()
	wg.Wait()
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
