package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// apiKey is the emulator key of the test connection; no answer may ever contain it.
const apiKey = "k3y-that-must-never-leak-0123456789abcdef"

const eicarMD5 = "44d88612fea8a8f36de82e1278abb02f"

// env is a running server with a store, an emulator and users.
type env struct {
	t      *testing.T
	st     store.Store
	cipher *secret.Cipher
	sim    *vtsim.Server
	simURL string
	srv    *server.Server
	http   *httptest.Server
	// tokens by user: admin (every site), paris and lyon (analysts of one site each),
	// both (analyst of paris and lyon), outsider (analyst not allowed on "emu").
	tokens map[string]string
	// logs is what the server and the background service logged.
	logs *syncBuffer
	// dataDir is the server's DataDir (uploaded files under files/).
	dataDir string

	mu sync.Mutex
	// seen are the statuses answered, by documented operation ("POST /api/v1/events").
	seen map[string][]int
}

type envOpts struct {
	maxFileSize int64
	// enrich runs the background service (package enrich) on the store.
	enrich  bool
	metrics *server.Metrics
	// simData is the emulator's directory of real VirusTotal objects (vtsim.Options.DataDir).
	simData string
	// discardLogs logs at the service's default level (info) to nowhere, as a
	// benchmark needs: the tests' log buffer grows with every request.
	discardLogs bool
	// metricsToken is server.Config.MetricsToken.
	metricsToken string
	// bodyReadTimeout is server.Config.BodyReadTimeout.
	bodyReadTimeout time.Duration
	// postgres puts the store on a PostgreSQL database of the test's own (pgtest)
	// instead of SQLite.
	postgres bool
	// simLatency is the emulator's latency (vtsim.Options.Latency).
	simLatency time.Duration
	// trustedProxies is server.Config.TrustedProxies.
	trustedProxies []netip.Prefix
	// commands, when set, is the server's registry of commands.
	commands server.Commands
	// premiumKeys are the emulator's premium keys (vtsim.Options.PremiumKeys).
	premiumKeys []string
	// allowSecretRefs is server.Config.AllowSecretRefs.
	allowSecretRefs []string
	// gatewayRecheck and now are server.Config.GatewayRecheck and Now.
	gatewayRecheck time.Duration
	now            func() time.Time
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dsn := filepath.Join(dir, "vtsoar.db")
	if o.postgres {
		dsn = pgtest.DSN(t)
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	cipher, err := secret.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	sim := vtsim.MustNew(vtsim.Options{DataDir: o.simData, Latency: o.simLatency, PremiumKeys: o.premiumKeys})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.discardLogs {
		log = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	var enr server.Enricher
	if o.enrich {
		files, err := store.NewFileStore(filepath.Join(dir, store.FilesDir), st)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := enrich.New(ctx, st, enrich.Options{Cipher: cipher, Logger: log, FetchPollInterval: 20 * time.Millisecond,
			Client: connclient.Options{Retry: vt.RetryPolicy{MaxAttempts: 1}}, Files: files, MaxFileSize: o.maxFileSize})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			svc.Stop(sctx)
		})
		enr = svc
	}
	srv, err := server.New(server.Config{Store: st, Cipher: cipher, DataDir: dir, MaxFileSize: o.maxFileSize,
		Enrich: enr, Metrics: o.metrics, Logger: log, Conn: connclient.Options{Retry: vt.RetryPolicy{MaxAttempts: 1}},
		MetricsToken: o.metricsToken, BodyReadTimeout: o.bodyReadTimeout, TrustedProxies: o.trustedProxies,
		Commands: o.commands, AllowSecretRefs: o.allowSecretRefs, GatewayRecheck: o.gatewayRecheck, Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	e := &env{st: st, cipher: cipher, sim: sim, simURL: simSrv.URL, srv: srv, http: hs, logs: logs, dataDir: dir, tokens: map[string]string{}, seen: map[string][]int{}}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	for _, u := range []struct {
		name, role string
		sites      []string
	}{
		{"admin", store.RoleAdmin, nil},
		{"paris", store.RoleAnalyst, []string{"paris"}},
		{"lyon", store.RoleAnalyst, []string{"lyon"}},
		{"both", store.RoleAnalyst, []string{"paris", "lyon"}},
		{"outsider", store.RoleAnalyst, []string{"paris"}},
	} {
		tok, err := auth.CreateUser(ctx, st, u.name, u.role, u.sites)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name] = tok
	}
	sealed, err := connclient.SealKey(cipher, "emu", apiKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateConnection(ctx, store.Connection{Name: "emu", SealedAPIKey: sealed, ServerURL: simSrv.URL,
		Quota: "premium", Users: []string{"admin", "paris", "lyon", "both"},
		ReputationChecks: []ioc.Kind{ioc.KindFile, ioc.KindIP, ioc.KindURL, ioc.KindDomain}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// sealKey seals an API key for the connection called name.
func (e *env) sealKey(t testing.TB, name, key string) []byte {
	t.Helper()
	sealed, err := connclient.SealKey(e.cipher, name, key)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// addConnection stores a connection on the emulator with the budget quota.
func (e *env) addConnection(t testing.TB, name string, sealed []byte, quota string) {
	t.Helper()
	if err := e.st.CreateConnection(context.Background(), store.Connection{Name: name, SealedAPIKey: sealed,
		ServerURL: e.simURL, Quota: quota}); err != nil {
		t.Fatal(err)
	}
}

// resp is an answer of the server.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.body)
	}
}

// problem decodes a problem answer and checks its form.
func (r resp) problem(t testing.TB, status int) server.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	var p server.Problem
	r.json(t, &p)
	if p.Status != status || p.Title == "" || p.Type == "" {
		t.Fatalf("problem = %+v, want status %d with a type and title", p, status)
	}
	return p
}

// do sends a request as user (empty: no token) and checks that the answer never holds
// the API key.
func (e *env) do(t testing.TB, method, path, user string, body any) resp {
	t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, _ := http.NewRequest(method, e.http.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return e.send(t, req, user)
}

func (e *env) send(t testing.TB, req *http.Request, user string) resp {
	t.Helper()
	if user != "" {
		tok, ok := e.tokens[user]
		if !ok {
			tok = user // a raw token
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	var reqBody []byte
	if req.GetBody != nil {
		rc, _ := req.GetBody()
		reqBody, _ = io.ReadAll(rc)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(apiKey)) {
		t.Fatalf("%s %s: the answer contains the API key: %s", req.Method, req.URL.Path, b)
	}
	for k, vs := range res.Header {
		for _, v := range vs {
			if strings.Contains(v, apiKey) {
				t.Fatalf("%s %s: header %s contains the API key", req.Method, req.URL.Path, k)
			}
		}
	}
	// Every answer of every test is checked against the OpenAPI document.
	if op := checkAnswer(t, req, reqBody, res, b); op != "" {
		e.mu.Lock()
		e.seen[op] = append(e.seen[op], res.StatusCode)
		e.mu.Unlock()
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// upload posts a file as user with the given form fields.
func (e *env) upload(t testing.TB, user, name string, content []byte, fields map[string]string) resp {
	t.Helper()
	return e.uploadTo(t, "/api/v1/files", user, name, content, fields)
}

// attach attaches a file to incident id as user.
func (e *env) attach(t testing.TB, id, user, name string, content []byte) resp {
	t.Helper()
	return e.uploadTo(t, "/api/v1/incidents/"+id+"/attachments", user, name, content, nil)
}

// uploadTo posts a multipart upload of a file (when content is not nil) and fields to
// path as user.
func (e *env) uploadTo(t testing.TB, path, user, name string, content []byte, fields map[string]string) resp {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if content != nil {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(content)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.http.URL+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return e.send(t, req, user)
}

// syncBuffer is a log destination that tests read.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
