package server_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// emulatorRequests is the number of requests the emulator has answered.
func emulatorRequests(b *testing.B, simURL string) int {
	b.Helper()
	res, err := http.Get(simURL + "/_emulator/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var s struct {
		Requests int `json:"requests"`
	}
	json.NewDecoder(res.Body).Decode(&s)
	return s.Requests
}

func heapMB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// BenchmarkCachedReputationREST measures check-file-reputation over REST (real HTTP
// stack, bearer auth, store-backed cache, SQLite) when every answer is cached: requests
// per second and p99 latency, with parallel clients. It also reports the heap in use
// of the process (server, store, and the idle emulator and HTTP clients of the test)
// at rest and at its highest under the load; the request log is written at the
// service's default level, to nowhere (the tests' log buffer would grow with every
// request). It fails if any lookup reaches the
// emulator.
func BenchmarkCachedReputationREST(b *testing.B) {
	e := newEnv(b, envOpts{discardLogs: true})
	// Warm the cache with distinct hashes.
	const distinct = 256
	hashes := make([]string, distinct)
	for i := range hashes {
		s := md5.Sum([]byte(fmt.Sprint("bench-", i)))
		hashes[i] = hex.EncodeToString(s[:])
	}
	bodies := make([][]byte, distinct)
	for i, h := range hashes {
		bodies[i], _ = json.Marshal(map[string]any{"connection": "emu", "inputs": []string{h}})
	}
	warm, _ := json.Marshal(map[string]any{"connection": "emu", "inputs": hashes, "concurrency": 16})
	token := e.tokens["paris"]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(body []byte) (int, error) {
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/commands/check-file-reputation", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	if st, err := post(warm); err != nil || st != 200 {
		b.Fatalf("warming = %d %v", st, err)
	}
	before := emulatorRequests(b, e.simURL)

	runtime.GC()
	rest := heapMB()

	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v := uint64(heapMB() * 1024); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()

	var (
		mu   sync.Mutex
		lats []time.Duration
		next atomic.Int64
	)
	b.SetParallelism(4) // 4 clients per CPU
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			i := next.Add(1)
			t0 := time.Now()
			st, err := post(bodies[i%distinct])
			local = append(local, time.Since(t0))
			if err != nil || st != 200 {
				b.Errorf("status %d, %v", st, err)
				return
			}
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	close(stopSampling)
	<-sampled

	if after := emulatorRequests(b, e.simURL); after != before {
		b.Fatalf("%d lookups reached the emulator: the answers were not cached", after-before)
	}
	slices.Sort(lats)
	p99 := lats[min(len(lats)-1, len(lats)*99/100)]
	b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(rest, "heap-MB-rest")
	b.ReportMetric(float64(peak.Load())/1024, "heap-MB-load")
}

// BenchmarkGatewayCached is the diagnosis of bench/gateway's cached case in one
// process (the figure is bench/gateway's): GETs of cached reports through the
// VirusTotal gateway with a gateway key, from parallel clients.
func BenchmarkGatewayCached(b *testing.B) {
	e := newEnv(b, envOpts{discardLogs: true})
	r := e.do(b, "POST", "/api/v1/gateway-keys", "admin", map[string]any{"name": "bench", "connection": "emu"})
	var k struct{ Key string }
	r.json(b, &k)
	const distinct = 256
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(i int) (int, error) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v3/domains/bench-%d.example.com", e.http.URL, i%distinct), nil)
		req.Header.Set("x-apikey", k.Key)
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, nil
	}
	for i := range distinct {
		if st, err := get(i); err != nil || (st != 200 && st != 404) {
			b.Fatalf("warming = %d %v", st, err)
		}
	}
	before := emulatorRequests(b, e.simURL)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if st, err := get(int(n.Add(1))); err != nil || (st != 200 && st != 404) {
				b.Errorf("GET = %d %v", st, err)
				return
			}
		}
	})
	b.StopTimer()
	if after := emulatorRequests(b, e.simURL); after != before {
		b.Fatalf("%d cached GETs reached the emulator", after-before)
	}
}

// BenchmarkGatewayMiss is the diagnosis of bench/gateway's upstream case in one
// process (the figure is bench/gateway's): GETs of reports nobody asked before,
// one at a time, through the VirusTotal gateway to the emulator (no latency).
func BenchmarkGatewayMiss(b *testing.B) {
	e := newEnv(b, envOpts{discardLogs: true})
	r := e.do(b, "POST", "/api/v1/gateway-keys", "admin", map[string]any{"name": "bench", "connection": "emu"})
	var k struct{ Key string }
	r.json(b, &k)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	before := emulatorRequests(b, e.simURL)
	b.ResetTimer()
	for i := range b.N {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v3/domains/miss-%d.example.com", e.http.URL, i), nil)
		req.Header.Set("x-apikey", k.Key)
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 && res.StatusCode != 404 {
			b.Fatalf("GET = %d", res.StatusCode)
		}
	}
	b.StopTimer()
	if after := emulatorRequests(b, e.simURL); after-before != b.N {
		b.Fatalf("%d misses reached the emulator %d times", b.N, after-before)
	}
}
