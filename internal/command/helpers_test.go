package command

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

const testKey = "test-key"

type env struct {
	sim      *vtsim.Server
	srv      *httptest.Server
	deps     Deps
	inflight sync.WaitGroup
}

func newEnv(t *testing.T, opts vtsim.Options) *env {
	t.Helper()
	e := &env{sim: vtsim.MustNew(opts)}
	// The emulator counts a request once its handler returns, which can be just after
	// the client has its answer: track handlers so that counts are read when final.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.inflight.Add(1)
		defer e.inflight.Done()
		e.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.deps = depsFor(t, e.srv.URL, testKey)
	return e
}

func depsFor(t *testing.T, server, key string) Deps {
	t.Helper()
	c, err := vt.New(key, vt.WithServerURL(server), vt.WithRetry(vt.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return Deps{Client: c, Cache: cache.NewMemory(), Policy: risk.DefaultPolicy()}
}

func (e *env) run(t *testing.T, req Request) *Envelope {
	t.Helper()
	p, err := Prepare(req)
	if err != nil {
		t.Fatalf("Prepare(%s): %v", req.Command, err)
	}
	env, err := Run(context.Background(), e.deps, p)
	if err != nil {
		t.Fatalf("Run(%s): %v", req.Command, err)
	}
	return env
}

// withOptions is a request for the command name over inputs, with options given as
// the members of its JSON form.
func withOptions(t testing.TB, name string, inputs []string, members map[string]any) Request {
	t.Helper()
	m := map[string]any{"command": name, "inputs": inputs}
	for k, v := range members {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var req Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	req.Command = name
	return req
}

// requests counts the emulator's requests to one endpoint ("" for all).
func (e *env) requests(endpoint string) int {
	e.inflight.Wait()
	s := e.sim.Stats()
	if endpoint == "" {
		return s.Requests
	}
	return s.ByEndpoint[endpoint]
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// digestByte returns byte i of SHA-256(canonical id), the emulator's universe seed.
func digestByte(id string, i int) byte {
	h := sha256.Sum256([]byte(id))
	return h[i]
}

func exists(id string) bool { return digestByte(id, 0) >= 0x10 }

// findSHA256 returns the n-th generated sha256 (from seed) that pred accepts.
func findSHA256(t *testing.T, seed string, pred func(id string) bool) string {
	t.Helper()
	for i := range 100000 {
		id := sha256Hex(fmt.Sprintf("%s-%d", seed, i))
		if pred(id) {
			return id
		}
	}
	t.Fatal("no id found")
	return ""
}

// fileHashes asks the emulator (outside any measured run) for a file's three hashes.
func (e *env) fileHashes(t *testing.T, id string) (md5, sha1, sha256 string) {
	t.Helper()
	f, err := e.deps.Client.GetFile(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return f.Attributes.MD5, f.Attributes.SHA1, f.Attributes.SHA256
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// reset clears the emulator's counters once every request has been counted.
func (e *env) reset() {
	e.inflight.Wait()
	e.sim.Reset(false)
}
