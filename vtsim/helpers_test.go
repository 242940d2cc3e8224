package vtsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const testKey = "test-key-0123456789"

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// env is an emulator behind a real HTTP listener.
type env struct {
	t   *testing.T
	srv *Server
	ts  *httptest.Server
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{t: t, srv: s, ts: ts}
}

// do sends a request and decodes a JSON answer (nil body for non-JSON).
func (e *env) do(method, path, key string, body io.Reader, contentType string) (int, map[string]any) {
	e.t.Helper()
	url := path
	if len(path) > 0 && path[0] == '/' {
		url = e.ts.URL + path
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-apikey", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("%s %s: content type %q, want application/json; body %s", method, path, ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("%s %s: not JSON: %v: %s", method, path, err, b)
	}
	return resp.StatusCode, m
}

func (e *env) get(path string) (int, map[string]any) { return e.do("GET", path, testKey, nil, "") }

// mustGet asserts a 200 answer.
func (e *env) mustGet(path string) map[string]any {
	e.t.Helper()
	st, m := e.get(path)
	if st != http.StatusOK {
		e.t.Fatalf("GET %s: status %d: %v", path, st, m)
	}
	return m
}

// upload posts content as the multipart "file" field to path.
func (e *env) upload(path, key, name string, content []byte) (int, map[string]any) {
	e.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return e.do("POST", path, key, &buf, mw.FormDataContentType())
}

// dig walks a decoded JSON value by keys.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func errCode(m map[string]any) string {
	s, _ := dig(m, "error", "code").(string)
	return s
}

// fixturesDir is the repository's testdata/vt: the real VirusTotal v3 responses that
// the emulator's answers are compared with (sources in its SOURCES.md).
func fixturesDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "testdata", "vt")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("fixtures directory %s is missing: %v", dir, err)
	}
	return dir
}

func loadFixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// findID returns the first candidate id (made by gen) that pred accepts.
func findID(t *testing.T, gen func(i int) string, pred func(id string) bool) string {
	t.Helper()
	for i := 0; i < 100000; i++ {
		if id := gen(i); pred(id) {
			return id
		}
	}
	t.Fatal("no candidate id found")
	return ""
}

func hashCandidate(i int) string { return sha256Hex(fmt.Sprint("candidate-", i)) }
