package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// benchSQLite opens a store on a new SQLite file, closed when b ends.
func benchSQLite(b *testing.B) store.Store {
	b.Helper()
	s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// benchEntry is the i-th file's answer, body, cached under its sha256 with its md5 and
// sha1 as aliases.
func benchEntry(i int, body []byte) cache.Entry {
	return cache.Entry{Kind: ioc.KindFile, ID: fmt.Sprintf("%064x", i),
		Aliases: []string{fmt.Sprintf("%032x", i), fmt.Sprintf("%040x", i)}, Body: body}
}

// BenchmarkCacheGet measures cached lookups (by alias, as an md5 lookup of a file
// cached under its sha256) from the SQLite store, reported as lookups/s.
func BenchmarkCacheGet(b *testing.B) {
	ctx := context.Background()
	s := benchSQLite(b)
	c := s.Cache("https://www.virustotal.com")
	const n = 1000
	body := make([]byte, 8<<10) // a typical file report is a few to tens of KB
	for i := 0; i < n; i++ {
		if err := c.Put(ctx, benchEntry(i, body)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, ok, err := c.Get(ctx, ioc.KindFile, fmt.Sprintf("%032x", i%n), 0)
			if err != nil || !ok {
				b.Errorf("Get: %v %v", ok, err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkTakeUnit measures the cost of taking one quota unit (one write transaction).
func BenchmarkTakeUnit(b *testing.B) {
	ctx := context.Background()
	s := benchSQLite(b)
	for i := 0; i < b.N; i++ {
		if _, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "b"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCachePut measures puts of real VirusTotal answers (a 23 KB and a 93 KB
// file report) by 50 writers at once (as a CLI run at --concurrency 50 makes them),
// grouped by the store's batches.
func BenchmarkCachePut(b *testing.B) {
	for _, name := range []string{"file_report_pdf.json", "file_report_crowdsourced.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vt", name))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%dKB", len(body)>>10), func(b *testing.B) {
			ctx := context.Background()
			s := benchSQLite(b)
			c := s.Cache("https://www.virustotal.com")
			var n atomic.Int64
			b.SetParallelism(25)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.Put(ctx, benchEntry(int(n.Add(1)), body)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkGatewayHitReads measures what the VirusTotal gateway reads of the SQLite
// store for a cache hit answered from memory: the gateway key with its connection's
// stamp, and the check that the answer held is the stored one; apart (two reads) and
// together (GatewayKeyCacheStamp, one read), one at a time.
func BenchmarkGatewayHitReads(b *testing.B) {
	ctx := context.Background()
	s := benchSQLite(b)
	const server = "https://www.virustotal.com"
	if err := s.CreateConnection(ctx, store.Connection{Name: "vt", SealedAPIKey: []byte{1}}); err != nil {
		b.Fatal(err)
	}
	hash := make([]byte, 32)
	if err := s.CreateGatewayKey(ctx, store.GatewayKey{Name: "k", KeyHash: hash, Connection: "vt", Priority: store.GatewayBatch}); err != nil {
		b.Fatal(err)
	}
	c := s.Cache(server)
	const n = 500
	body := make([]byte, 13<<10)
	var at []time.Time
	for i := range n {
		e := benchEntry(i, body)
		e.FetchedAt = time.Now().Truncate(time.Microsecond)
		at = append(at, e.FetchedAt)
		if err := c.Put(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
	check := func(b *testing.B, ctx context.Context, i int) {
		if cur, err := c.Current(ctx, ioc.KindFile, fmt.Sprintf("%064x", i), at[i]); err != nil || !cur {
			b.Fatalf("Current = %v, %v", cur, err)
		}
	}
	// A request's context, which ends when its client goes away.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.Run("apart", func(b *testing.B) {
		for i := 0; b.Loop(); i = (i + 1) % n {
			if _, _, err := s.GatewayKeyConnection(ctx, hash); err != nil {
				b.Fatal(err)
			}
			check(b, ctx, i)
		}
	})
	b.Run("together", func(b *testing.B) {
		for i := 0; b.Loop(); i = (i + 1) % n {
			_, _, st, err := s.GatewayKeyCacheStamp(ctx, hash, server, ioc.KindFile, fmt.Sprintf("%064x", i))
			if err != nil || !st.Read() {
				b.Fatal(err)
			}
			check(b, st.Context(ctx), i)
		}
	})
}
