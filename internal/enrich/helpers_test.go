package enrich_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/pipenet"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// counter wraps the emulator and counts requests by path and by API key.
type counter struct {
	h      http.Handler
	mu     sync.Mutex
	byPath map[string]int
	byKey  map[string]int
}

func newCounter(h http.Handler) *counter {
	return &counter{h: h, byPath: map[string]int{}, byKey: map[string]int{}}
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.byPath[r.Method+" "+r.URL.Path]++
	c.byKey[r.Header.Get("x-apikey")]++
	c.mu.Unlock()
	c.h.ServeHTTP(w, r)
}

func (c *counter) paths() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byPath))
	for k, v := range c.byPath {
		out[k] = v
	}
	return out
}

func (c *counter) key(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[k]
}

type env struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	cipher *secret.Cipher
	sim    *vtsim.Server
	count  *counter
	srv    *httptest.Server
	// url is the emulator's URL, the connections' server.
	url string
	// db is the store's location: a SQLite file or a PostgreSQL DSN.
	db string
	// pipe, in a synctest bubble, is the in-memory network the emulator listens on;
	// the service's clients dial it.
	pipe *pipenet.Listener
}

func testCipher(t testing.TB) *secret.Cipher {
	if t == nil {
		t = panicTB{}
	}
	c, err := secret.NewCipher([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Backends the tests run on.
const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

// eachBackend runs f as a subtest on SQLite and on PostgreSQL (skipped without
// pgtest.EnvVar, a failure under CI=true).
func eachBackend(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range []string{backendSQLite, backendPostgres} {
		t.Run(b, func(t *testing.T) { f(t, b) })
	}
}

// newEnv starts an emulator and opens an empty store on backend.
func newEnv(t *testing.T, backend string, simOpts vtsim.Options) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), cipher: testCipher(t)}
	e.sim = vtsim.MustNew(simOpts)
	e.count = newCounter(e.sim)
	e.srv = httptest.NewServer(e.count)
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL
	e.openStore(dbFor(t, backend))
	return e
}

// dbFor returns a new empty store location on backend: a SQLite file or a PostgreSQL
// database (call it outside a synctest bubble: PostgreSQL databases are made on a
// pool the tests share).
func dbFor(t *testing.T, backend string) string {
	t.Helper()
	switch backend {
	case backendSQLite:
		return filepath.Join(t.TempDir(), "vtsoar.db")
	case backendPostgres:
		return pgtest.DSN(t)
	}
	t.Fatalf("no backend %q", backend)
	return ""
}

// newBubbleEnv is newEnv inside a synctest bubble, on the store at db (dbFor): the
// emulator listens on an in-memory network (a goroutine waiting on a real socket would
// stop the bubble's clock), and the service's clients and notifiers dial it, so that
// minutes of the service's time pass in an instant and exactly.
func newBubbleEnv(t *testing.T, db string, simOpts vtsim.Options) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), cipher: testCipher(t)}
	e.sim = vtsim.MustNew(simOpts)
	e.count = newCounter(e.sim)
	var stop func()
	e.pipe, stop = pipenet.Serve("vtsim.test", e.count)
	t.Cleanup(stop)
	e.url = "http://vtsim.test"
	e.openStore(db)
	return e
}

func (e *env) openStore(db string) {
	e.t.Helper()
	st, err := store.Open(e.ctx, db, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { st.Close() })
	e.db, e.st = db, st
}

// addConn stores a connection on the emulator.
func (e *env) addConn(name, key string, checks []ioc.Kind, sites []string, healthMinutes int) {
	e.t.Helper()
	sealed, err := connclient.SealKey(e.cipher, name, key)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.st.CreateConnection(e.ctx, store.Connection{Name: name, SealedAPIKey: sealed, ServerURL: e.url,
		Quota: "premium", ReputationChecks: checks, Sites: sites, HealthCheckMinutes: healthMinutes}); err != nil {
		e.t.Fatal(err)
	}
}

// service starts a service on the env's store, stopped when the test ends.
func (e *env) service(opts enrich.Options) *enrich.Service {
	e.t.Helper()
	return e.serviceOn(e.st, opts)
}

// serviceOn starts a service on st, stopped when the test ends.
func (e *env) serviceOn(st store.Store, opts enrich.Options) *enrich.Service {
	e.t.Helper()
	if opts.Cipher == nil {
		opts.Cipher = e.cipher
	}
	if e.pipe != nil {
		// In a bubble: clients on the in-memory network, and a queue that polls (a
		// LISTEN on a real PostgreSQL socket would stop the bubble's clock) every 5s
		// of fake time, which costs nothing but the polls' own work.
		if opts.Client.HTTPClient == nil {
			opts.Client.HTTPClient = e.pipe.HTTPClient()
		}
		opts.PollOnly = true
		if opts.FetchPollInterval == 0 {
			opts.FetchPollInterval = 5 * time.Second
		}
	}
	if opts.FetchPollInterval == 0 {
		opts.FetchPollInterval = 50 * time.Millisecond
	}
	s, err := enrich.New(e.ctx, st, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			e.t.Error(err)
		}
	})
	return s
}

// waitDone polls an event until it is done.
func waitDone(t *testing.T, s *enrich.Service, id string, timeout time.Duration) enrich.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev, err := s.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status == "done" {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("event %s not done after %s: %d of %d artifacts final, status %s", id, timeout,
				ev.ArtifactsDone, len(ev.Artifacts), ev.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// panicTB lets a child process (which has no *testing.T) use test helpers.
type panicTB struct{ testing.TB }

func (panicTB) Fatal(args ...any) { panic(fmt.Sprint(args...)) }
