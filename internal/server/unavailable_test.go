package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
)

// While the database is unavailable (PostgreSQL restarting), an authenticated request
// is answered 503 with Retry-After and the problem type unavailable, not 500, and the
// log says why; once the database is back, the same requests succeed.
func TestStoreUnavailableIs503(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	token, err := auth.CreateUser(ctx, st, "admin", store.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	cipher, err := secret.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv, err := server.New(server.Config{Store: st, Cipher: cipher, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		checkAnswer(t, req, nil, res, body)
		return res, body
	}
	paths := []string{"/api/v1/connections", "/api/v1/users", "/api/v1/files/f_0123"}
	if res, body := get(paths[0]); res.StatusCode != 200 {
		t.Fatalf("before: %d %s", res.StatusCode, body)
	}

	up := pgtest.Down(t, dsn)
	for _, path := range paths {
		res, body := get(path)
		var p server.Problem
		json.Unmarshal(body, &p)
		if res.StatusCode != 503 || res.Header.Get("Retry-After") != "5" || p.Type != server.ProblemUnavailable ||
			res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Detail, "database") {
			t.Errorf("GET %s with the database down: %d, Retry-After %q: %s", path, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
	if l := logs.String(); !strings.Contains(l, "request refused: the database is unavailable") || strings.Contains(l, "level=ERROR") {
		t.Errorf("log:\n%s", l)
	}

	up()
	if res, body := get(paths[0]); res.StatusCode != 200 {
		t.Errorf("after: %d %s", res.StatusCode, body)
	}
	// The cache answers kept while the database is down are in the metrics.
	if res, body := get("/metrics"); res.StatusCode != 200 || !strings.Contains(string(body), "vtsoar_cache_backlog_answers 0") ||
		!strings.Contains(string(body), "vtsoar_cache_backlog_dropped_total 0") {
		t.Errorf("metrics: %d\n%s", res.StatusCode, body)
	}
}
