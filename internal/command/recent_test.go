package command

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// The decoded answers a process keeps (cache.Recent's tier, as a connection's client
// assembles it) never hide what another process did to the shared cache: an answer
// it replaced is read again, one it cleared is asked of VirusTotal again.
func TestRecentFollowsTheSharedCache(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, vtsim.Options{})
	path := filepath.Join(t.TempDir(), "vtsoar.db")
	open := func() store.Store {
		s, err := store.OpenSQLite(ctx, path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	mine, other := open(), open() // two processes on one database
	counted := &countingCache{Cache: mine.Cache(e.srv.URL)}
	e.deps.Cache = cache.NewRecent(1<<20).Tier(counted, e.srv.URL, DecodeAnswer)
	id := findSHA256(t, "recent", exists)
	req := Request{Command: "check-file-reputation", Inputs: []string{id}}
	check := func(what string, wantRequests int, wantReason string) {
		t.Helper()
		env := e.run(t, req)
		e.inflight.Wait()
		if got := e.requests("GET /files/{id}"); got != wantRequests || env.ReturnData != Successful {
			t.Fatalf("%s: %s, %d requests to VirusTotal, want %d", what, env.ReturnData, got, wantRequests)
		}
		if wantReason != "" && !bytes.Contains([]byte(env.ContextData[0].RiskReason), []byte(wantReason)) {
			t.Fatalf("%s: reason %q, want it to say %q", what, env.ContextData[0].RiskReason, wantReason)
		}
	}
	check("first lookup", 1, "")
	check("second lookup", 1, "")
	if counted.gets != 1 {
		t.Fatalf("the second lookup read the whole answer from the store (%d reads), not from memory", counted.gets)
	}
	if st, err := mine.Cache(e.srv.URL).Stats(ctx); err != nil || st.Hits != 1 {
		t.Fatalf("a lookup answered from memory is a hit of the cache: %+v, %v", st, err)
	}

	// Another process stores a newer answer for the file: it is the one used.
	body := fmt.Appendf(nil, `{"data": {"id": %q, "type": "file", "attributes": {"sha256": %q, "reputation": 0,
"last_analysis_stats": {"malicious": 42, "suspicious": 0, "undetected": 1, "harmless": 0}}}}`, id, id)
	if err := other.Cache(e.srv.URL).Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Body: body, FetchedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	check("after another process replaced the answer", 1, "42")

	// Another process clears the cache: VirusTotal is asked again.
	if _, err := other.Cache(e.srv.URL).Clear(ctx); err != nil {
		t.Fatal(err)
	}
	check("after another process cleared the cache", 2, "")

	// --fresh asks VirusTotal whatever is kept.
	req.Run.Fresh = true
	check("fresh", 3, "")
}

// countingCache counts the reads of whole answers from a store's cache.
type countingCache struct {
	store.Cache
	gets int
}

func (c *countingCache) Get(ctx context.Context, kind ioc.Kind, id string, maxAge time.Duration) (cache.Entry, bool, error) {
	c.gets++
	return c.Cache.Get(ctx, kind, id, maxAge)
}
