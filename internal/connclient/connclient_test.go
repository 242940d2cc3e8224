package connclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

func newCipher(t *testing.T) *secret.Cipher {
	t.Helper()
	c, err := secret.NewCipher(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSealOpenBindsName(t *testing.T) {
	c := newCipher(t)
	sealed, err := connclient.SealKey(c, "prod", "the-key")
	if err != nil {
		t.Fatal(err)
	}
	got, err := connclient.OpenKey(c, store.Connection{Name: "prod", SealedAPIKey: sealed})
	if err != nil || got != "the-key" {
		t.Fatalf("OpenKey = %q, %v", got, err)
	}
	_, err = connclient.OpenKey(c, store.Connection{Name: "other", SealedAPIKey: sealed})
	if !errors.Is(err, secret.ErrCorrupt) {
		t.Fatalf("OpenKey under another name: err = %v, want ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), "the-key") {
		t.Fatalf("error reveals the key: %v", err)
	}
}

func TestBuildRunsCommandsThroughCacheAndBudget(t *testing.T) {
	ctx := context.Background()
	sim := vtsim.MustNew(vtsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newCipher(t)
	sealed, _ := connclient.SealKey(c, "sim", "k1")
	// A limited budget: its answers are written before a put returns, and so the
	// second run, in the same process, finds them.
	conn := store.Connection{Name: "sim", SealedAPIKey: sealed, ServerURL: srv.URL, Quota: "1000/min"}
	tg, err := connclient.TargetOf(ctx, c, nil, conn)
	if err != nil {
		t.Fatal(err)
	}
	a, err := connclient.Build(ctx, st, tg, connclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req, err := command.Prepare(command.Request{Command: "check-file-reputation", Inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second run is answered by the store's cache
		env, err := command.Run(ctx, a.Deps(), req)
		if err != nil {
			t.Fatal(err)
		}
		if env.ContextData[0].RiskLevel != "High" {
			t.Fatalf("EICAR risk = %q", env.ContextData[0].RiskLevel)
		}
	}
	if n := sim.Stats().ByEndpoint["GET /files/{id}"]; n != 1 {
		t.Fatalf("file fetches = %d, want 1 (second run from the cache)", n)
	}
	conn2 := conn
	conn2.Name = "sim-copy"
	conn2.SealedAPIKey, _ = connclient.SealKey(c, "sim-copy", "k1")
	tg2, err := connclient.TargetOf(ctx, c, nil, conn2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := connclient.Build(ctx, st, tg2, connclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Budget() != b.Budget() {
		t.Fatal("two connections with one key on one server must share a budget")
	}
	if _, err := connclient.TargetOf(ctx, c, nil, store.Connection{Name: "bad", SealedAPIKey: sealed, Quota: "1000/min"}); err == nil {
		t.Fatal("a key sealed for another name was opened")
	}
	if _, err := connclient.TargetOf(ctx, c, nil, store.Connection{Name: "sim", SealedAPIKey: sealed, Quota: "3/fortnight"}); err == nil {
		t.Fatal("a connection's budget of 3/fortnight was taken")
	}
}

// connCounter counts the TCP connections a test server accepts.
type connCounter struct{ n atomic.Int64 }

func (c *connCounter) hook(_ net.Conn, s http.ConnState) {
	if s == http.StateNew {
		c.n.Add(1)
	}
}

// barrier holds requests until n of them are in flight, so that a round of n
// concurrent requests needs n connections however the goroutines are scheduled.
type barrier struct {
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (b *barrier) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		if b.release == nil {
			b.release = make(chan struct{})
		}
		ch := b.release
		if b.waiting++; b.waiting == b.n {
			close(ch)
			b.release, b.waiting = nil, 0
		}
		b.mu.Unlock()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
		}
		h.ServeHTTP(w, r)
	})
}

// rounds sends two rounds of n concurrent GETs through conn's client and returns the
// connections the server accepted in each.
func rounds(t *testing.T, a *connclient.Conn, n int, accepted *connCounter) (first, second int64) {
	t.Helper()
	round := func() int64 {
		before := accepted.n.Load()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := a.Client.GetIPAddress(context.Background(), fmt.Sprintf("192.0.2.%d", i+1))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		return accepted.n.Load() - before
	}
	first = round()
	time.Sleep(100 * time.Millisecond) // the last answers' connections back in the pool
	return first, round()
}

// The client keeps one idle connection per request in flight, so a second round of
// concurrent requests opens no new connection; Go's default (two per host) would
// open one for each request beyond the second.
func TestClientKeepsIdleConnectionsForItsConcurrency(t *testing.T) {
	ctx := context.Background()
	const n = 8
	var accepted connCounter
	srv := httptest.NewUnstartedServer((&barrier{n: n}).wrap(vtsim.MustNew(vtsim.Options{})))
	srv.Config.ConnState = accepted.hook
	srv.Start()
	defer srv.Close()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tg := connclient.Target{Name: "sim", APIKey: "k", ServerURL: srv.URL, Spec: quota.Premium}
	for _, tc := range []struct {
		concurrency int
		maxSecond   int64
		minSecond   int64
	}{{n, 0, 0}, {2, n - 2, n - 2}} {
		a, err := connclient.Build(ctx, st, tg, connclient.Options{Concurrency: tc.concurrency})
		if err != nil {
			t.Fatal(err)
		}
		first, second := rounds(t, a, n, &accepted)
		t.Logf("concurrency %d: %d then %d new connections for two rounds of %d requests", tc.concurrency, first, second, n)
		if first != n || second > tc.maxSecond || second < tc.minSecond {
			t.Errorf("concurrency %d: %d then %d new connections, want %d then %d..%d",
				tc.concurrency, first, second, n, tc.minSecond, tc.maxSecond)
		}
	}
}

// The connection's proxy applies to the client built with its own HTTP client, and
// the idle pool survives it.
func TestProxyWithTheIdlePool(t *testing.T) {
	ctx := context.Background()
	sim := vtsim.MustNew(vtsim.Options{})
	var proxied atomic.Int64
	var accepted connCounter
	// A forward proxy for plain HTTP: it gets absolute-form requests for the server.
	proxy := httptest.NewUnstartedServer((&barrier{n: 6}).wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "vt.example.invalid" {
			http.Error(w, "not a proxy request: "+r.URL.String(), http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		sim.ServeHTTP(w, r)
	})))
	proxy.Config.ConnState = accepted.hook
	proxy.Start()
	defer proxy.Close()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tg := connclient.Target{Name: "via-proxy", APIKey: "k", ServerURL: "http://vt.example.invalid", Proxy: proxy.URL, Spec: quota.Premium}
	a, err := connclient.Build(ctx, st, tg, connclient.Options{Concurrency: 6})
	if err != nil {
		t.Fatal(err)
	}
	first, second := rounds(t, a, 6, &accepted)
	if proxied.Load() != 12 {
		t.Fatalf("%d of 12 requests went through the proxy", proxied.Load())
	}
	if first != 6 || second != 0 {
		t.Errorf("through the proxy: %d then %d new connections, want 6 then none", first, second)
	}
	if _, err := connclient.Build(ctx, st, connclient.Target{APIKey: "k", Proxy: "ftp://proxy"}, connclient.Options{}); err == nil {
		t.Error("a proxy of an unknown scheme was accepted")
	}
}

// A run of the command line writes an unlimited budget's answers behind, but a limited
// budget's before the put returns: another process reads them at once. (A premium
// budget's may lag by the batch's 50 ms, which the store's suite covers.)
func TestLimitedBudgetCachePutsWait(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	st, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tg := connclient.Target{Name: "pub", APIKey: "k1", ServerURL: "http://127.0.0.1:1", Spec: quota.Public}
	c, err := connclient.Build(ctx, st, tg, connclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		id := fmt.Sprintf("%064x", i)
		if err := c.Deps().Cache.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Body: []byte(`{"data":{}}`)}); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := other.Cache(tg.ServerURL).Get(ctx, ioc.KindFile, id, 0); err != nil || !ok {
			t.Fatalf("answer %d of a public key not stored when its put returned: %v %v", i, ok, err)
		}
	}
}

// A proxy with a password is sealed whole and shown masked; one without is kept as it
// is; the URL as shown keeps the sealed one; a sealed proxy opens only under its own
// connection's name, and is not an API key.
func TestSetOpenProxy(t *testing.T) {
	c := newCipher(t)
	conn := store.Connection{Name: "prod"}
	const withPass = "http://bob:s3cret@proxy.example:3128"
	if err := connclient.SetProxy(c, &conn, withPass); err != nil {
		t.Fatal(err)
	}
	if conn.Proxy != "http://bob:xxxxx@proxy.example:3128" || len(conn.SealedProxy) == 0 || strings.Contains(string(conn.SealedProxy), "s3cret") {
		t.Fatalf("sealed: proxy %q, %d sealed bytes", conn.Proxy, len(conn.SealedProxy))
	}
	if p, err := connclient.OpenProxy(c, conn); err != nil || p != withPass {
		t.Fatalf("OpenProxy = %q, %v", p, err)
	}
	before := conn.SealedProxy
	if err := connclient.SetProxy(c, &conn, conn.Proxy); err != nil || string(conn.SealedProxy) != string(before) {
		t.Fatalf("the URL as shown changed the sealed proxy (%v)", err)
	}
	moved := conn
	moved.Name = "other"
	if _, err := connclient.OpenProxy(c, moved); err == nil {
		t.Error("a sealed proxy opened under another connection's name")
	}
	asKey := conn
	asKey.SealedAPIKey = conn.SealedProxy
	if _, err := connclient.OpenKey(c, asKey); err == nil {
		t.Error("a sealed proxy opened as an API key")
	}
	if _, err := connclient.OpenProxy(nil, conn); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("OpenProxy without a key: %v", err)
	}
	for _, p := range []string{"http://proxy.example:3128", "socks5://bob@proxy.example:1080", ""} {
		if err := connclient.SetProxy(c, &conn, p); err != nil || conn.Proxy != p || conn.SealedProxy != nil {
			t.Errorf("SetProxy(%q): proxy %q, %d sealed bytes, %v", p, conn.Proxy, len(conn.SealedProxy), err)
		}
	}
}

// A key stored as a reference is resolved at each use: a pool keeps what it resolved
// for the resolver's TTL, GetFresh resolves it again (a test of the connection), and
// the client is built again only when the key changed. An inactive connection has no
// client; one with include_private sends private inputs.
func TestPoolResolvesKeyReferences(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newCipher(t)
	keyFile := filepath.Join(t.TempDir(), "vt.key")
	if err := os.WriteFile(keyFile, []byte("key-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := connclient.SealKeyRef(c, "vault", "file:"+keyFile)
	if err != nil {
		t.Fatal(err)
	}
	conn := store.Connection{Name: "vault", SealedAPIKeyRef: ref, Quota: "premium", IncludePrivate: true}
	if err := st.CreateConnection(ctx, conn); err != nil {
		t.Fatal(err)
	}
	conn, _ = st.GetConnection(ctx, "vault")
	pool := connclient.NewPool(st, c, connclient.Options{Secrets: secret.NewResolver(time.Hour)})
	a, err := pool.Get(ctx, conn)
	if err != nil || a.APIKey() != "key-one" || !a.Deps().IncludePrivate {
		t.Fatalf("Get: %v, key %q, include_private %v", err, a.APIKey(), a.Deps().IncludePrivate)
	}
	if err := os.WriteFile(keyFile, []byte("key-two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := pool.Get(ctx, conn); b != a {
		t.Error("within the TTL, the pool built another client")
	}
	b, err := pool.GetFresh(ctx, conn)
	if err != nil || b == a || b.APIKey() != "key-two" {
		t.Fatalf("GetFresh: %v, key %q (same client: %v)", err, b.APIKey(), b == a)
	}
	if c2, _ := pool.GetFresh(ctx, conn); c2 != b {
		t.Error("GetFresh built another client for the same key")
	}
	// The reference itself is not readable without the master key, nor movable to
	// another connection.
	moved := conn
	moved.Name = "other"
	if _, err := connclient.OpenKeyRef(c, moved); err == nil {
		t.Error("a sealed reference opened under another connection's name")
	}
	os.Remove(keyFile)
	if _, err := pool.GetFresh(ctx, conn); err == nil || strings.Contains(err.Error(), "key-two") || !strings.Contains(err.Error(), "vault") {
		t.Errorf("missing key file: %v", err)
	}

	conn.Inactive = true
	if _, err := pool.Get(ctx, conn); !errors.Is(err, store.ErrInactive) || !strings.Contains(err.Error(), "vault is inactive") {
		t.Errorf("inactive: %v", err)
	}
}
