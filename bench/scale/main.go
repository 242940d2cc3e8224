// Command scale measures what 1, 2 and 3 `vtsoar serve` replicas on one PostgreSQL
// database sustain: REST requests per second for cached lookups (POST
// /api/v1/commands/check-file-reputation with inputs already in the shared cache),
// and enrichment throughput (artifacts per second, from posting events to every
// artifact done) against an unlimited emulator answering after 20 ms.
//
// It needs a PostgreSQL server whose role may create databases, named by
// VTSOAR_TEST_POSTGRES (eval "$(.ci/pg-start)" starts one), and runs from the
// module (it builds the vtsoar binary):
//
//	go run ./bench/scale -replicas 1,2,3 -duration 5s
//
// The replicas, the emulator and the load generator share the machine: on a small
// machine the figures measure the machine as much as vtsoar.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/scaletest"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// waits, when set, samples what the replicas' PostgreSQL sessions wait for during the
// enrichment run and prints the share of each wait.
var waits = flag.Bool("waits", false, "sample pg_stat_activity during enrichment and print the waits")

func main() {
	replicas := flag.String("replicas", "1,2,3", "replica counts to measure, comma-separated")
	duration := flag.Duration("duration", 5*time.Second, "length of each cached-lookup run")
	clients := flag.Int("clients", 16, "concurrent REST clients for cached lookups")
	inputs := flag.Int("inputs", 200, "distinct cached inputs")
	artifacts := flag.Int("artifacts", 400, "artifacts enriched per run")
	latency := flag.Duration("latency", 20*time.Millisecond, "emulator latency for the enrichment run")
	flag.Parse()
	if err := run(*replicas, *duration, *clients, *inputs, *artifacts, *latency); err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

func run(counts string, duration time.Duration, clients, inputs, artifacts int, latency time.Duration) error {
	base := os.Getenv("VTSOAR_TEST_POSTGRES")
	if base == "" {
		return fmt.Errorf("set VTSOAR_TEST_POSTGRES (eval \"$(.ci/pg-start)\")")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "vtsoar-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := scaletest.Build(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Printf("vtsoar scale figures: %d CPUs (GOMAXPROCS %d), load generator, emulator and replicas on one machine\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("%-9s %-28s %-30s\n", "replicas", "cached lookups (req/s)", "enrichment (artifacts/s)")
	for _, f := range strings.Split(counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-replicas: %q", f)
		}
		rps, aps, err := measure(ctx, bin, base, dir, n, duration, clients, inputs, artifacts, latency)
		if err != nil {
			return err
		}
		fmt.Printf("%-9d %-28.0f %-30.0f\n", n, rps, aps)
	}
	return nil
}

// measure runs n replicas on a fresh database.
func measure(ctx context.Context, bin, base, dir string, n int, duration time.Duration, clients, inputs, artifacts int, latency time.Duration) (rps, aps float64, err error) {
	dsn, drop, err := freshDB(ctx, base)
	if err != nil {
		return 0, 0, err
	}
	defer drop()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	token, err := auth.CreateUser(ctx, st, "bench", store.RoleAdmin, nil)
	if err != nil {
		return 0, 0, err
	}
	var lat atomic.Int64
	sim := vtsim.MustNew(vtsim.Options{})
	emu := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := time.Duration(lat.Load()); d > 0 {
			time.Sleep(d)
		}
		sim.ServeHTTP(w, r)
	}))
	defer emu.Close()
	var k [32]byte
	rand.Read(k[:])
	var reps []*scaletest.Replica
	defer func() {
		for _, r := range reps {
			r.Stop()
		}
	}()
	for i := range n {
		data := filepath.Join(dir, fmt.Sprintf("r%d-%d", n, i))
		os.MkdirAll(data, 0o700)
		r, err := scaletest.StartReplica(ctx, scaletest.ReplicaConfig{Binary: bin, DB: dsn, MasterKey: hex.EncodeToString(k[:]),
			DataDir: data, LogPath: data + ".log", Env: []string{"XDG_DATA_HOME=" + data}})
		if err != nil {
			return 0, 0, err
		}
		reps = append(reps, r)
	}
	api := &scaletest.API{Token: token, Client: &http.Client{Timeout: time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: clients + 4}}}
	if _, err := api.Do(ctx, "POST", reps[0].URL+"/api/v1/connections", map[string]any{
		"name": "vt", "api_key": "bench-key", "server_url": emu.URL, "quota": "premium"}, nil); err != nil {
		return 0, 0, err
	}

	// Cached lookups: fill the cache, then drive single-input commands.
	hashes := hashesOf("cached", inputs)
	if _, err := api.Do(ctx, "POST", reps[0].URL+"/api/v1/commands/check-file-reputation",
		map[string]any{"connection": "vt", "inputs": hashes}, nil); err != nil {
		return 0, 0, err
	}
	var done, failed atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(stop); i += clients {
				r := reps[i%len(reps)]
				var env struct {
					ReturnData string `json:"return_data"`
				}
				_, err := api.Do(ctx, "POST", r.URL+"/api/v1/commands/check-file-reputation",
					map[string]any{"connection": "vt", "inputs": []string{hashes[i%len(hashes)]}}, &env)
				if err != nil || env.ReturnData != "Successful" {
					if err == nil {
						err = fmt.Errorf("%s", env.ReturnData)
					}
					firstErr.CompareAndSwap(nil, err.Error())
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, 0, fmt.Errorf("%d replicas: %d cached lookups failed, the first: %v", n, failed.Load(), firstErr.Load())
	}
	rps = float64(done.Load()) / duration.Seconds()

	// Enrichment: new artifacts, the emulator answering after latency.
	lat.Store(int64(latency))
	arts := hashesOf(fmt.Sprintf("enrich-%d", n), artifacts)
	start := time.Now()
	if *waits {
		stopSampling := scaletest.SampleWaits(ctx, dsn, os.Stdout)
		defer stopSampling()
	}
	var ids []string
	for i := 0; i < len(arts); i += 10 {
		var evArts []map[string]string
		for _, h := range arts[i:min(i+10, len(arts))] {
			evArts = append(evArts, map[string]string{"type": "file", "value": h})
		}
		var ev scaletest.Event
		if _, err := api.Do(ctx, "POST", reps[(i/10)%len(reps)].URL+"/api/v1/events", map[string]any{"artifacts": evArts}, &ev); err != nil {
			return 0, 0, err
		}
		ids = append(ids, ev.ID)
	}
	posted := time.Now()
	for _, id := range ids {
		for {
			var ev scaletest.Event
			if _, err := api.Do(ctx, "GET", reps[0].URL+"/api/v1/events/"+url.PathEscape(id), nil, &ev); err != nil {
				return 0, 0, err
			}
			if ev.Status == "done" {
				break
			}
			if time.Since(start) > 5*time.Minute {
				return 0, 0, fmt.Errorf("event %s not done after 5 minutes", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	aps = float64(len(arts)) / time.Since(start).Seconds()
	if *waits {
		fmt.Printf("%d replicas: events posted in %s, enriched in %s\n", n, posted.Sub(start).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	}
	return rps, aps, nil
}

// hashesOf returns n SHA-256 hashes the emulator knows (it does not know one whose
// own SHA-256 starts with a 0 hex digit).
func hashesOf(prefix string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		h := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		v := hex.EncodeToString(h[:])
		if d := sha256.Sum256([]byte(v)); d[0]>>4 != 0 {
			out = append(out, v)
		}
	}
	return out
}

// freshDB creates an empty database on the server of base and returns its DSN and
// the function that drops it.
func freshDB(ctx context.Context, base string) (string, func(), error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("VTSOAR_TEST_POSTGRES is not a URL")
	}
	var b [6]byte
	rand.Read(b[:])
	name := "vtsoar_bench_" + hex.EncodeToString(b[:])
	admin := func(stmt string) error {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, stmt)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	return u.String(), func() { admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") }, nil
}
