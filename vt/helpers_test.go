package vt

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/pipenet"
)

// testKey looks like a real key so that scrubbing is tested on a realistic value.
const testKey = "4e3202fdbe953d628f650229af5b3eb49cd46b2d3bfe5546ae3c5fa48b554e0c"

// fixturesDir is the repository's testdata/vt: real VirusTotal v3 responses, with
// their sources in its SOURCES.md.
func fixturesDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join("..", "testdata", "vt")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("fixtures directory %s is missing: %v", dir, err)
	}
	return dir
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	return b
}

// generic decodes JSON into any, for checks that do not go through the typed decoder.
func generic(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture is not JSON: %v", err)
	}
	return v
}

// jget walks maps by keys.
func jget(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func jint(v any) int {
	f, _ := v.(float64)
	return int(f)
}

// recorder counts and keeps the requests a test server saw.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
	n    atomic.Int32
}

func (r *recorder) add(req *http.Request) {
	r.n.Add(1)
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
}

func (r *recorder) count() int { return int(r.n.Load()) }

func (r *recorder) last() *http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return nil
	}
	return r.reqs[len(r.reqs)-1]
}

// serve starts a test server running h and returns a client for it with fast retries.
func serve(t testing.TB, h http.HandlerFunc, opts ...Option) (*Client, *recorder, *httptest.Server) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	all := append([]Option{WithServerURL(srv.URL), WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})}, opts...)
	c, err := New(testKey, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, rec, srv
}

// serveInBubble is serve for a test inside a synctest bubble: the server listens on
// an in-memory network (a client's idle connection to a real socket would stop the
// bubble's clock), so that the client's waits pass in fake time, exactly.
func serveInBubble(t testing.TB, h http.HandlerFunc, opts ...Option) (*Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	l, stop := pipenet.Serve("vt.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		h(w, r)
	}))
	t.Cleanup(stop)
	all := append([]Option{WithServerURL("http://vt.test"), WithHTTPClient(l.HTTPClient()),
		WithRetry(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})}, opts...)
	c, err := New(testKey, all...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, rec
}

// answer writes a JSON body with a status.
func answer(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wantPath checks the method and escaped path of a request and the key header.
func wantRequest(t testing.TB, r *http.Request, method, path string) {
	t.Helper()
	if r == nil {
		t.Fatalf("no request, want %s %s", method, path)
	}
	if r.Method != method || r.URL.EscapedPath() != path {
		t.Errorf("request %s %s, want %s %s", r.Method, r.URL.EscapedPath(), method, path)
	}
	if got := r.Header.Get("x-apikey"); got != testKey {
		t.Errorf("x-apikey = %q, want the client's key", got)
	}
}

// limiterSpy records Wait and Throttled calls.
type limiterSpy struct {
	mu        sync.Mutex
	waits     []Request
	throttled []time.Duration
	err       error
}

func (l *limiterSpy) Wait(ctx context.Context, r Request) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits = append(l.waits, r)
	return l.err
}

func (l *limiterSpy) Throttled(ctx context.Context, r Request, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.throttled = append(l.throttled, d)
}

func mustNotContainKey(t testing.TB, what, s string) {
	t.Helper()
	if strings.Contains(strings.ToLower(s), strings.ToLower(testKey)) {
		t.Errorf("%s contains the API key: %s", what, s)
	}
}
