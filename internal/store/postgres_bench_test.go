package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/ioc"
)

// BenchmarkPostgres measures the PostgreSQL store's hot paths on the server of
// VTSOAR_TEST_POSTGRES: cached lookups by alias from parallel goroutines (lookups/s),
// taking a quota unit (a transaction under the budget's lock) and caching an answer (a
// transaction under the write lock).
func BenchmarkPostgres(b *testing.B) {
	ctx := context.Background()
	s, err := store.Open(ctx, pgtest.DSN(b), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := s.Cache("https://www.virustotal.com")
	body := make([]byte, 8<<10)
	const n = 500
	for i := 0; i < n; i++ {
		if err := c.Put(ctx, benchEntry(i, body)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("CacheGet", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok, err := c.Get(ctx, ioc.KindFile, fmt.Sprintf("%032x", i%n), 0); err != nil || !ok {
					b.Errorf("Get: %v %v", ok, err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
	b.Run("TakeUnit", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "b"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CachePut", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := c.Put(ctx, benchEntry(n+i, body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// 16 puts at once, each waited for: a command's 16 inputs in flight writing their
	// answers (puts/s).
	next := n + 1<<20
	var mu sync.Mutex
	b.Run("CachePut16", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if err := c.Put(ctx, benchEntry(i, body)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	})
}
