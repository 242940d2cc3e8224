// Command gateway benchmarks the VirusTotal gateway of `vtsoar serve` as the SOC's
// tools use it: it builds the vtsoar binary, starts `vtsoar emulate --latency L` and
// `vtsoar serve` (on a fresh SQLite database, or on -db postgres://..., with a
// connection on the premium budget of the emulator and a gateway key), each a process
// of its own, and is itself the load, over real sockets:
//
//   - cached: N objects are fetched once through the gateway, then -c workers
//     (default 16) ask for them at random for -d (default 10s), each sending the
//     same prepared requests over and over: flat out (each sends its next request
//     once it has the answer), then paced at -rate requests a second (default the
//     goal's 5,000) on a fixed schedule, a request's latency counted from when it was
//     due (so that a slow answer counts in the requests it held up too). For each it
//     prints the requests per second, the latency percentiles, the CPU serve spent a
//     request, and the CPU and GCs the load itself spent (it shares the cores with
//     serve). Goals on 2 cores: >= 5,000 requests a second flat out, p99 <= 5 ms
//     flat out and at 5,000 a second. (Flat out, serve and the load saturate the
//     cores together: the latency is mostly the queue of -c requests.)
//   - upstream: -m requests for objects nobody asked before, one at a time, each
//     through the gateway and, alternately, directly to the emulator; the latency the
//     gateway adds is the difference of the two at each percentile. Goals: <= 1 ms at
//     p50, <= 3 ms at p99.
//   - upload: a -upload-mb MB file (default 650; 0: none) streamed through an upload
//     URL of the gateway to the emulator's; it prints the serve process's peak RSS
//     before and after. Goal: the upload raises it by less than 64 MB (the file is
//     never held in memory).
//
// It prints the machine's load with the figures (on shared cores they are provisional)
// and exits 1 when a goal is missed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vtsoar/vtsoar/internal/scaletest"
)

// Goals.
const (
	goalCachedRate    = 5000
	goalCachedP99     = 5 * time.Millisecond
	goalAddedP50      = time.Millisecond
	goalAddedP99      = 3 * time.Millisecond
	goalUploadRSSRise = 64 << 20
)

// masterKey is the benchmark's throwaway master key.
const masterKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func main() {
	objects := flag.Int("n", 500, "objects cached before the cached case")
	conc := flag.Int("c", 16, "concurrent workers of the cached case")
	rate := flag.Int("rate", goalCachedRate, "requests a second of the cached case's paced run")
	dur := flag.Duration("d", 10*time.Second, "duration of the cached case")
	misses := flag.Int("m", 300, "requests of the upstream case (each through the gateway and directly)")
	latency := flag.Duration("latency", 20*time.Millisecond, "the emulator's latency")
	uploadMB := flag.Int("upload-mb", 650, "size of the upload case in MB (0: skip it)")
	bin := flag.String("bin", "", "the vtsoar binary (default: build ./cmd/vtsoar)")
	keep := flag.Bool("keep", false, "keep the work directory (database, logs)")
	db := flag.String("db", "", "the database (default: a fresh SQLite file; a postgres:// URL of an empty database)")
	flag.Parse()

	b := &bench{db: *db, conc: *conc, rate: *rate, dur: *dur, objects: *objects, misses: *misses, latency: *latency, uploadMB: *uploadMB}
	ok, err := b.run(*bin, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gateway:", err)
		os.Exit(1)
	}
	if !ok {
		fmt.Println("\nFAIL: a goal was missed")
		os.Exit(1)
	}
	fmt.Println("\nok: every goal met")
}

type bench struct {
	conc, rate, objects, misses, uploadMB int
	dur, latency                          time.Duration

	dir, bin, db string
	emu          *scaletest.Emulator
	serve        *scaletest.Replica
	key          string
	client       *http.Client
	missed       bool
}

func (b *bench) run(bin string, keep bool) (bool, error) {
	ctx := context.Background()
	w, err := scaletest.NewWorkdir(ctx, "gateway", bin, false, keep)
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
	b.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: max(b.conc, 4) * 2}, Timeout: 5 * time.Minute}

	kind := "SQLite"
	if strings.HasPrefix(b.db, "postgres") {
		kind = "PostgreSQL"
	}
	fmt.Printf("vtsoar serve (%s) and vtsoar emulate --latency %s, each a process of its own; the load here. %d CPUs, load %s\n\n",
		kind, b.latency, runtime.NumCPU(), scaletest.LoadAvg())
	if err := b.cached(ctx); err != nil {
		return false, err
	}
	if err := b.upstream(ctx); err != nil {
		return false, err
	}
	if b.uploadMB > 0 {
		if err := b.upload(ctx); err != nil {
			return false, err
		}
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
	return scaletest.CLI{Bin: b.bin, DB: b.db, MasterKey: masterKey}
}

// setUp stores the connection on the emulator and makes the gateway key.
func (b *bench) setUp(ctx context.Context) error {
	if err := b.cli().AddEmulatorConnection(ctx, b.emu.URL); err != nil {
		return err
	}
	out, err := b.vtsoar(ctx, "", "gateway-key", "add", "bench", "--connection", "emu", "-o", "json")
	if err != nil {
		return err
	}
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		return fmt.Errorf("gateway-key add printed %q", out)
	}
	b.key = k.Key
	return nil
}

// get asks base's /api/v3/path with key and returns the status and the time it took.
func (b *bench) get(ctx context.Context, base, path, key string) (int, time.Duration, error) {
	req, err := newGet(ctx, base, path, key)
	if err != nil {
		return 0, 0, err
	}
	return b.do(req)
}

// newGet is the request of get.
func newGet(ctx context.Context, base, path, key string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v3/"+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-apikey", key)
	return req, nil
}

// do sends req, reads the answer's body to the end and returns the status and the time
// it took. req may be sent again once do returns (its answer's body is closed): the
// cached case's workers send the same requests over and over, so that the load, which
// shares the cores with serve, spends as little as it can besides the requests.
func (b *bench) do(req *http.Request) (int, time.Duration, error) {
	start := time.Now()
	st, err := b.send(req)
	return st, time.Since(start), err
}

// send is do without the clock.
func (b *bench) send(req *http.Request) (int, error) {
	res, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// domain is the i-th object of a run.
func domain(run string, i int) string { return fmt.Sprintf("domains/%s-%d.example.com", run, i) }

func (b *bench) cached(ctx context.Context) error {
	for i := range b.objects {
		if st, _, err := b.get(ctx, b.serve.URL, domain("cached", i), b.key); err != nil || (st != 200 && st != 404) {
			return fmt.Errorf("priming the cache: %d %v", st, err)
		}
	}
	// Each worker's requests, made before the clock starts.
	reqs := make([][]*http.Request, b.conc)
	for w := range reqs {
		reqs[w] = make([]*http.Request, b.objects)
		for i := range reqs[w] {
			var err error
			if reqs[w][i], err = newGet(ctx, b.serve.URL, domain("cached", i), b.key); err != nil {
				return err
			}
		}
	}
	flat := b.load(reqs, 0)
	fmt.Printf("cached GETs flat out, concurrency %d, %s: %.0f req/s (goal >= %d), p50 %s, p99 %s (goal <= %s), p99.9 %s, serve CPU %s a request, %d errors; the load: CPU %s a request, %d GCs\n",
		b.conc, b.dur, flat.rate, goalCachedRate, round(flat.p50), round(flat.p99), goalCachedP99, round(flat.p999), flat.serveCPU, flat.errs, flat.loadCPU, flat.gcs)
	paced := b.load(reqs, b.rate)
	fmt.Printf("cached GETs at %d req/s, concurrency %d, %s: %.0f req/s, p50 %s, p99 %s (goal <= %s), p99.9 %s, serve CPU %s a request, %d errors; the load: CPU %s a request, %d GCs\n",
		b.rate, b.conc, b.dur, paced.rate, round(paced.p50), round(paced.p99), goalCachedP99, round(paced.p999), paced.serveCPU, paced.errs, paced.loadCPU, paced.gcs)
	b.check(flat.rate >= goalCachedRate && flat.p99 <= goalCachedP99 && flat.errs == 0, "cached flat out")
	b.check(b.rate >= goalCachedRate && paced.rate >= 0.99*float64(b.rate) && paced.p99 <= goalCachedP99 && paced.errs == 0, "cached at the goal's rate")
	return nil
}

// loadFigures are what a run of the cached case measured.
type loadFigures struct {
	rate              float64
	p50, p99, p999    time.Duration
	serveCPU, loadCPU time.Duration // a request
	errs              int64
	gcs               uint32
}

// load runs the cached case for b.dur: each worker sends its requests at random, one
// at a time. At rate 0 each sends its next as soon as it has the answer (flat out);
// at rate > 0 the workers together send rate a second on a fixed schedule, and a
// request's latency counts from when it was due, so that a slow answer also counts
// in the requests it held up (no coordinated omission).
func (b *bench) load(reqs [][]*http.Request, rate int) loadFigures {
	var (
		n    atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		errs atomic.Int64
	)
	cpu0, self0 := scaletest.ProcessCPU(b.serve.Pid()), scaletest.ProcessCPU(os.Getpid())
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc0 := ms.NumGC
	start := time.Now()
	deadline := start.Add(b.dur)
	var period time.Duration
	if rate > 0 {
		period = time.Duration(float64(time.Second) * float64(len(reqs)) / float64(rate))
	}
	var wg sync.WaitGroup
	for w, worker := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, 1<<14)
			due := start.Add(period * time.Duration(w) / time.Duration(len(reqs)))
			for {
				sent := time.Now()
				if period > 0 {
					if wait := due.Sub(sent); wait > 0 {
						time.Sleep(wait)
						sent = time.Now()
					} else {
						sent = due
					}
					due = due.Add(period)
				}
				if !sent.Before(deadline) {
					break
				}
				st, err := b.send(worker[rand.IntN(b.objects)])
				if err != nil || (st != 200 && st != 404) {
					errs.Add(1)
					continue
				}
				n.Add(1)
				mine = append(mine, time.Since(sent))
			}
			mu.Lock()
			lats = append(lats, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	cpu, self := scaletest.ProcessCPU(b.serve.Pid())-cpu0, scaletest.ProcessCPU(os.Getpid())-self0
	runtime.ReadMemStats(&ms)
	slices.Sort(lats)
	per := func(d time.Duration) time.Duration { return round(d / time.Duration(max(n.Load(), 1))) }
	return loadFigures{rate: float64(n.Load()) / wall.Seconds(), p50: scaletest.Percentile(lats, 50),
		p99: scaletest.Percentile(lats, 99), p999: scaletest.Percentile(lats, 99.9), serveCPU: per(cpu), loadCPU: per(self),
		errs: errs.Load(), gcs: ms.NumGC - gc0}
}

func (b *bench) upstream(ctx context.Context) error {
	var gw, direct []time.Duration
	for i := range b.misses {
		st, d, err := b.get(ctx, b.serve.URL, domain("gateway", i), b.key)
		if err != nil || (st != 200 && st != 404) {
			return fmt.Errorf("through the gateway: %d %v", st, err)
		}
		gw = append(gw, d)
		st, d, err = b.get(ctx, b.emu.URL, domain("direct", i), "bench-real-key-0123456789abcdef")
		if err != nil || (st != 200 && st != 404) {
			return fmt.Errorf("to the emulator: %d %v", st, err)
		}
		direct = append(direct, d)
	}
	slices.Sort(gw)
	slices.Sort(direct)
	add50, add99 := scaletest.Percentile(gw, 50)-scaletest.Percentile(direct, 50), scaletest.Percentile(gw, 99)-scaletest.Percentile(direct, 99)
	fmt.Printf("upstream GETs at %s emulator latency, %d each way: direct p50 %s p99 %s; through the gateway p50 %s p99 %s; added p50 %s (goal <= %s), p99 %s (goal <= %s)\n",
		b.latency, b.misses, round(scaletest.Percentile(direct, 50)), round(scaletest.Percentile(direct, 99)), round(scaletest.Percentile(gw, 50)), round(scaletest.Percentile(gw, 99)),
		round(add50), goalAddedP50, round(add99), goalAddedP99)
	b.check(add50 <= goalAddedP50 && add99 <= goalAddedP99, "upstream")
	return nil
}

func (b *bench) upload(ctx context.Context) error {
	before := scaletest.PeakRSS(b.serve.Pid())
	req, err := http.NewRequestWithContext(ctx, "GET", b.serve.URL+"/api/v3/files/upload_url", nil)
	if err != nil {
		return err
	}
	req.Header.Set("x-apikey", b.key)
	res, err := b.client.Do(req)
	if err != nil {
		return err
	}
	var u struct{ Data string }
	err = json.NewDecoder(res.Body).Decode(&u)
	res.Body.Close()
	if err != nil || !strings.HasPrefix(u.Data, b.serve.URL+"/") {
		return fmt.Errorf("upload_url: %q, %v (want a URL of the gateway)", u.Data, err)
	}
	size := int64(b.uploadMB) << 20
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	if _, err := mw.CreateFormFile("file", "big.bin"); err != nil {
		return err
	}
	prefix := bytes.Clone(head.Bytes())
	head.Reset()
	mw.Close()
	suffix := head.Bytes()
	body := io.MultiReader(bytes.NewReader(prefix), io.LimitReader(&noise{}, size), bytes.NewReader(suffix))
	req, err = http.NewRequestWithContext(ctx, "POST", u.Data, body)
	if err != nil {
		return err
	}
	req.ContentLength = int64(len(prefix)) + size + int64(len(suffix))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("x-apikey", b.key)
	start := time.Now()
	res, err = b.client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(res.Body)
	res.Body.Close()
	wall := time.Since(start)
	if res.StatusCode != 200 {
		return fmt.Errorf("upload: %d %s", res.StatusCode, answer)
	}
	after := scaletest.PeakRSS(b.serve.Pid())
	rise := after - before
	fmt.Printf("upload of %d MB through the gateway's upload URL: %s (%.0f MB/s); serve's peak RSS %d MB before, %d MB after: +%d MB (goal < %d MB)\n",
		b.uploadMB, round(wall), float64(size)/(1<<20)/wall.Seconds(), before>>20, after>>20, rise>>20, goalUploadRSSRise>>20)
	b.check(before > 0 && rise < goalUploadRSSRise, "upload")
	return nil
}

// noise yields pseudo-random bytes, never holding more than one read's worth.
type noise struct{ r *rand.ChaCha8 }

func (n *noise) Read(p []byte) (int, error) {
	if n.r == nil {
		n.r = rand.NewChaCha8([32]byte{1})
	}
	return n.r.Read(p)
}

func (b *bench) check(ok bool, what string) {
	if !ok {
		b.missed = true
		fmt.Printf("  MISSED: %s\n", what)
	}
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second || d < -time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond || d < -time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
