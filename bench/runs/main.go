// Command runs benchmarks the runs of `vtsoar serve` (commands asked with Prefer:
// respond-async) as a playbook platform uses them: it builds the vtsoar binary,
// starts `vtsoar emulate --latency L` and `vtsoar serve` (a fresh SQLite database, or
// -db postgres://..., with a connection on the premium budget of the emulator and a
// user), each a process of its own, and is itself the load, over real sockets:
//
//   - cached: -runs runs (default 1000) of one input each, every input answered from
//     the cache (fetched once before), submitted by -c clients at once (default 16);
//     it prints the submissions per second and, from each submission to the moment
//     the run is seen done (the runs listed every 20 ms), the p50 and p99. Goals on
//     2 cores: >= 200 submissions a second, p99 <= 5 s.
//   - new: one run of -inputs new hashes (default 1000) at the unlimited budget, from
//     its submission until it is seen done, beside the same command answered
//     synchronously (other new hashes), twice each, alternately. Goal: the run's wall
//     time within 1.3 x the synchronous command's.
//
// It prints the machine's load with the figures (on shared cores they are provisional)
// and exits 1 when a goal is missed.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
)

// Goals.
const (
	goalSubmitRate = 200
	goalDoneP99    = 5 * time.Second
	goalRunRatio   = 1.3
)

// masterKey is the benchmark's throwaway master key.
const masterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func main() {
	runs := flag.Int("runs", 1000, "runs of the cached case")
	clients := flag.Int("c", 16, "clients submitting the runs of the cached case at once")
	inputs := flag.Int("inputs", 1000, "new hashes of the run (and of the synchronous command) of the new case")
	concurrency := flag.Int("concurrency", 16, "the commands' concurrency (inputs in flight)")
	latency := flag.Duration("latency", 20*time.Millisecond, "the emulator's latency")
	db := flag.String("db", "", "the database (default: a fresh SQLite file; a postgres:// URL of an empty database)")
	bin := flag.String("bin", "", "the vtsoar binary (default: build ./cmd/vtsoar)")
	keep := flag.Bool("keep", false, "keep the work directory (database, logs)")
	waits := flag.Bool("waits", false, "on PostgreSQL, sample pg_stat_activity during the new case's synchronous command and run, and print what the sessions wait for")
	flag.Parse()

	b := &bench{runs: *runs, clients: *clients, inputs: *inputs, concurrency: *concurrency, latency: *latency, db: *db, waits: *waits}
	ok, err := b.run(*bin, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/runs:", err)
		os.Exit(1)
	}
	if !ok {
		fmt.Println("\nFAIL: a goal was missed")
		os.Exit(1)
	}
	fmt.Println("\nok: every goal met")
}

type bench struct {
	runs, clients, inputs, concurrency int
	latency                            time.Duration
	waits                              bool

	dir, bin, db string
	emu          *scaletest.Emulator
	serve        *scaletest.Replica
	token        string
	client       *http.Client
	missed       bool
}

func (b *bench) run(bin string, keep bool) (bool, error) {
	ctx := context.Background()
	w, err := scaletest.NewWorkdir(ctx, "runs", bin, false, keep)
	if err != nil {
		return false, err
	}
	defer w.Close()
	dir, bin := w.Dir, w.Bin
	b.dir = dir
	b.bin = bin
	if b.db == "" {
		b.db = filepath.Join(dir, "vtsoar.db")
	}
	if b.emu, err = scaletest.StartEmulator(ctx, bin, filepath.Join(dir, "emulator.log"), "--latency", b.latency.String()); err != nil {
		return false, err
	}
	defer b.emu.Stop()
	if err := b.setUp(ctx); err != nil {
		return false, err
	}
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o700)
	if b.serve, err = scaletest.StartReplica(ctx, scaletest.ReplicaConfig{Binary: bin, DB: b.db, MasterKey: masterKey,
		DataDir: data, LogPath: filepath.Join(dir, "serve.log")}); err != nil {
		return false, err
	}
	defer b.serve.Stop()
	b.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.clients * 2}, Timeout: 5 * time.Minute}

	kind := "SQLite"
	if strings.HasPrefix(b.db, "postgres") {
		kind = "PostgreSQL"
	}
	fmt.Printf("vtsoar serve (%s) and vtsoar emulate --latency %s, each a process of its own; the load here. %d CPUs, load %s\n\n",
		kind, b.latency, runtime.NumCPU(), scaletest.LoadAvg())
	if err := b.cached(ctx); err != nil {
		return false, err
	}
	if err := b.fresh(ctx); err != nil {
		return false, err
	}
	fmt.Printf("\nload at the end: %s\n", scaletest.LoadAvg())
	return !b.missed, nil
}

// vtsoar runs the binary on the benchmark's database and returns its stdout.
func (b *bench) vtsoar(ctx context.Context, stdin string, args ...string) (string, error) {
	return b.cli().Run(ctx, stdin, args...)
}

// cli runs the binary's commands on the benchmark's database.
func (b *bench) cli() scaletest.CLI {
	return scaletest.CLI{Bin: b.bin, DB: b.db, MasterKey: masterKey, DataHome: b.dir}
}

// setUp stores the connection on the emulator and makes the user.
func (b *bench) setUp(ctx context.Context) error {
	if err := b.cli().AddEmulatorConnection(ctx, b.emu.URL); err != nil {
		return err
	}
	out, err := b.vtsoar(ctx, "", "user", "add", "bench", "--role", "analyst", "-o", "json")
	if err != nil {
		return err
	}
	var u struct{ Token string }
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Token == "" {
		return fmt.Errorf("user add printed %q", out)
	}
	b.token = u.Token
	return nil
}

// run is what the benchmark reads of a run.
type run struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// post sends a command with the Prefer header prefer and decodes the answer into out.
func (b *bench) post(ctx context.Context, prefer string, body any, out any) (int, error) {
	j, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", b.serve.URL+"/api/v1/commands/check-file-reputation", bytes.NewReader(j))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.token)
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	return b.do(req, out)
}

func (b *bench) get(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", b.serve.URL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	return b.do(req, out)
}

func (b *bench) do(req *http.Request, out any) (int, error) {
	res, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, res.StatusCode, bytes.TrimSpace(body))
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(body, out)
	}
	return res.StatusCode, nil
}

// hashes returns n sha256 hashes the emulator knows, named by prefix.
func hashes(prefix string, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		v := hex.EncodeToString(h[:])
		if d := sha256.Sum256([]byte(v)); d[0]>>4 == 0 {
			continue // the emulator does not know it
		}
		out = append(out, v)
	}
	return out
}

func (b *bench) cached(ctx context.Context) error {
	in := hashes("cached", b.runs)
	if _, err := b.post(ctx, "", map[string]any{"connection": "emu", "inputs": in, "concurrency": b.concurrency}, nil); err != nil {
		return fmt.Errorf("caching the inputs: %w", err)
	}
	submitted := make([]time.Time, b.runs)
	ids := make([]string, b.runs)
	var (
		wg    sync.WaitGroup
		next  = make(chan int)
		errMu sync.Mutex
		first error
	)
	cpu0 := scaletest.ProcessCPU(b.serve.Pid())
	start := time.Now()
	for range b.clients {
		wg.Go(func() {
			for i := range next {
				var r run
				t := time.Now()
				st, err := b.post(ctx, "respond-async", map[string]any{"connection": "emu", "inputs": in[i : i+1]}, &r)
				if err == nil && st != http.StatusAccepted {
					err = fmt.Errorf("status %d", st)
				}
				if err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					continue
				}
				submitted[i], ids[i] = t, r.ID
			}
		})
	}
	for i := range b.runs {
		next <- i
	}
	close(next)
	wg.Wait()
	submitWall := time.Since(start)
	if first != nil {
		return fmt.Errorf("submitting a run: %w", first)
	}
	rate := float64(b.runs) / submitWall.Seconds()

	// Seen done: the runs listed every 20 ms, newest first, until every one is done.
	seen := map[string]time.Time{}
	server := map[string]time.Duration{}
	deadline := time.Now().Add(5 * time.Minute)
	for len(seen) < b.runs {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d runs done after 5 minutes", len(seen), b.runs)
		}
		var page struct {
			Runs []run `json:"runs"`
		}
		if _, err := b.get(ctx, fmt.Sprintf("/api/v1/runs?limit=%d", min(b.runs, 1000)), &page); err != nil {
			return err
		}
		now := time.Now()
		for _, r := range page.Runs {
			if _, ok := seen[r.ID]; !ok && r.State == "done" {
				seen[r.ID] = now
				server[r.ID] = r.FinishedAt.Sub(r.CreatedAt)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	allDone := time.Since(start)
	cpu := scaletest.ProcessCPU(b.serve.Pid()) - cpu0
	var lats, srv []time.Duration
	for i, id := range ids {
		lats = append(lats, seen[id].Sub(submitted[i]))
		srv = append(srv, server[id])
	}
	slices.Sort(lats)
	slices.Sort(srv)
	p99 := scaletest.Percentile(lats, 99)
	fmt.Printf("cached: %d runs of one cached input, %d clients: %.0f submissions/s (goal >= %d); submission to seen done p50 %s, p99 %s (goal <= %s);\n"+
		"        created to finished in serve p50 %s, p99 %s; all done %s after the first submission; serve CPU %s a run\n",
		b.runs, b.clients, rate, goalSubmitRate, round(scaletest.Percentile(lats, 50)), round(p99), goalDoneP99,
		round(scaletest.Percentile(srv, 50)), round(scaletest.Percentile(srv, 99)), round(allDone), round(cpu/time.Duration(b.runs)))
	b.check(rate >= goalSubmitRate && p99 <= goalDoneP99, "cached")
	return nil
}

// fresh compares one run of new hashes with the synchronous command, twice each,
// alternately.
func (b *bench) fresh(ctx context.Context) error {
	var syncWall, runWall time.Duration
	for round := range 2 {
		in := hashes(fmt.Sprintf("sync-%d", round), b.inputs)
		stop := b.sample(ctx, fmt.Sprintf("synchronous %d", round+1))
		start := time.Now()
		if _, err := b.post(ctx, "", map[string]any{"connection": "emu", "inputs": in, "concurrency": b.concurrency}, nil); err != nil {
			return fmt.Errorf("the synchronous command: %w", err)
		}
		syncWall += time.Since(start)
		stop()

		in = hashes(fmt.Sprintf("run-%d", round), b.inputs)
		var r run
		stop = b.sample(ctx, fmt.Sprintf("run %d", round+1))
		start = time.Now()
		if _, err := b.post(ctx, "respond-async", map[string]any{"connection": "emu", "inputs": in, "concurrency": b.concurrency}, &r); err != nil {
			return fmt.Errorf("the run: %w", err)
		}
		for r.State != "done" {
			time.Sleep(20 * time.Millisecond)
			var page struct {
				Runs []run `json:"runs"`
			}
			if _, err := b.get(ctx, "/api/v1/runs?limit=1", &page); err != nil {
				return err
			}
			if len(page.Runs) == 1 && page.Runs[0].ID == r.ID {
				r.State = page.Runs[0].State
			}
			if time.Since(start) > 10*time.Minute {
				return fmt.Errorf("the run of %d new hashes is not done after 10 minutes", b.inputs)
			}
		}
		runWall += time.Since(start)
		stop()
	}
	ratio := runWall.Seconds() / syncWall.Seconds()
	fmt.Printf("new:    %d new hashes at %s latency, concurrency %d: synchronous %s, run (submission to seen done) %s, twice each: ratio %.2f (goal <= %.1f)\n",
		b.inputs, b.latency, b.concurrency, round(syncWall/2), round(runWall/2), ratio, goalRunRatio)
	b.check(ratio <= goalRunRatio, "new")
	return nil
}

// sample samples what the PostgreSQL sessions wait for (-waits) until the function it
// returns is called, which prints it under what.
func (b *bench) sample(ctx context.Context, what string) func() {
	if !b.waits || !strings.HasPrefix(b.db, "postgres") {
		return func() {}
	}
	var out bytes.Buffer
	stop := scaletest.SampleWaits(ctx, b.db, &out)
	return func() {
		stop()
		fmt.Printf("%s: %s", what, out.String())
	}
}

func (b *bench) check(ok bool, what string) {
	if !ok {
		b.missed = true
		fmt.Printf("  MISSED: %s\n", what)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d
}
