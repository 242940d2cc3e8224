package cache_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// A not-found answer is kept in memory as a found one is, no longer than the store's
// negative TTL: within a recheck it is answered without asking the store, and one this
// process stores replaces the report it held at once.
func TestTierKeepsNotFoundAnswers(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Now().Truncate(time.Microsecond)
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vtsoar.db")
	st, err := store.OpenSQLite(ctx, path, store.Options{Now: clock, NegativeTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := store.OpenSQLite(ctx, path, store.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const server = "https://www.virustotal.com"
	rc := cache.NewRecent(1 << 20)
	rc.Now = clock
	tier := rc.Tier(st.Cache(server), server, nil)
	within := func() context.Context { return cache.WithRecheck(ctx, clock(), time.Hour) }
	const id = "unknown.example.com"

	report := cache.Entry{Kind: ioc.KindDomain, ID: id, Body: []byte(`{"data":{}}`), FetchedAt: clock()}
	if err := tier.Put(within(), report); err != nil {
		t.Fatal(err)
	}
	advance(time.Second)
	if err := tier.Put(within(), cache.Entry{Kind: ioc.KindDomain, ID: id, NotFound: true, FetchedAt: clock()}); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := tier.Get(within(), ioc.KindDomain, id, 0); err != nil || !ok || !e.NotFound {
		t.Fatalf("after this process stored a not-found answer: %v %v, not found %v", ok, err, e.NotFound)
	}

	if _, err := other.Cache(server).Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if e, ok, err := tier.Get(within(), ioc.KindDomain, id, 0); err != nil || !ok || !e.NotFound {
		t.Fatalf("within the recheck, the cache cleared by another process: %v %v, want the not-found answer from memory", ok, err)
	}
	if _, ok, err := tier.Get(ctx, ioc.KindDomain, id, 0); err != nil || ok {
		t.Fatalf("asking the store: %v %v, want a miss (it was cleared)", ok, err)
	}

	if err := tier.Put(within(), cache.Entry{Kind: ioc.KindDomain, ID: id, NotFound: true, FetchedAt: clock()}); err != nil {
		t.Fatal(err)
	}
	advance(time.Minute + time.Second)
	if _, ok, err := tier.Get(within(), ioc.KindDomain, id, 0); err != nil || ok {
		t.Fatalf("a not-found answer past the negative TTL, within the recheck: %v %v, want a miss", ok, err)
	}
}
