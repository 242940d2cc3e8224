package console_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

const (
	eicarMD5  = "44d88612fea8a8f36de82e1278abb02f"
	zeroSHA   = "0000000000000000000000000000000000000000000000000000000000000000"
	badHash   = "44d88612fea8a8f36de82e1278abb02"
	simAPIKey = "console-test-key-never-shown-0123456789"
	// slowIP is answered by the emulator after 1.5s.
	slowIP = "45.61.136.77"
)

// hostileWidget is what the emulator's widget page is replaced with: a script that
// would retitle the console and call home if it ever ran.
const hostileWidget = `<!doctype html><html><head><title>widget</title></head><body>
<p id="w">hostile widget</p>
<script>try { parent.document.title = "pwned"; } catch (e) {} new Image().src = "%BEACON%";</script>
</body></html>`

// env is the real service: a SQLite store, the emulator, the enrichment service and
// the server with its console, on 127.0.0.1.
type env struct {
	st      store.Store
	cipher  *secret.Cipher
	srv     *httptest.Server
	simURL  string
	beacons atomic.Int64
	// widgetLoads counts the widget pages the console served with 200.
	widgetLoads atomic.Int64
	// tokens by user: admin (every site), analyst (site paris).
	tokens map[string]string
	// dir holds the database (vtsoar.db) and the uploaded files.
	dir string
}

// envOpts tune newEnvOpts.
type envOpts struct {
	// now is the store's clock (nil: time.Now), which judges sessions' ages.
	now func() time.Time
	// server is applied to the server's Config before it is made.
	server func(*server.Config)
	// tls serves the console over HTTPS (httptest's certificate).
	tls bool
}

func newEnv(t testing.TB) *env { return newEnvOpts(t, envOpts{}) }

func newEnvOpts(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.OpenSQLite(ctx, filepath.Join(dir, "vtsoar.db"), store.Options{Now: o.now})
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
	e := &env{st: st, cipher: cipher, tokens: map[string]string{}, dir: dir}

	sim := vtsim.MustNew(vtsim.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("/_beacon", func(w http.ResponseWriter, r *http.Request) { e.beacons.Add(1) })
	mux.HandleFunc("/ui/widget/html/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, strings.ReplaceAll(hostileWidget, "%BEACON%", e.simURL+"/_beacon"))
	})
	// One IP answers slowly, so that an event holding it is seen while in progress.
	mux.HandleFunc("/api/v3/ip_addresses/"+slowIP, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(1500 * time.Millisecond)
		sim.ServeHTTP(w, r)
	})
	mux.Handle("/", sim)
	simSrv := httptest.NewServer(mux)
	t.Cleanup(simSrv.Close)
	e.simURL = simSrv.URL

	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts := connclient.Options{Retry: vt.RetryPolicy{MaxAttempts: 1}}
	svc, err := enrich.New(ctx, st, enrich.Options{Cipher: cipher, Logger: log, FetchPollInterval: 50 * time.Millisecond, Client: opts})
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
	cfg := server.Config{Store: st, Cipher: cipher, DataDir: dir, Enrich: svc, Logger: log, Conn: opts}
	if o.server != nil {
		o.server(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w}
		srv.ServeHTTP(rec, r)
		if strings.HasPrefix(r.URL.Path, "/widget/") && rec.status == http.StatusOK {
			e.widgetLoads.Add(1)
		}
	}))
	if o.tls {
		e.srv.StartTLS()
	} else {
		e.srv.Start()
	}
	t.Cleanup(e.srv.Close)
	for _, u := range []struct {
		name, role string
		sites      []string
	}{{"admin", store.RoleAdmin, nil}, {"analyst", store.RoleAnalyst, []string{"paris"}}} {
		tok, err := auth.CreateUser(ctx, st, u.name, u.role, u.sites)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name] = tok
	}
	return e
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// browser is a plain HTTP client with a cookie jar, for tests that need no browser.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
}

func (e *env) browser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: e.srv.URL, c: &http.Client{Jar: jar, Transport: e.srv.Client().Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.send(req)
}

// send sends req with b's cookies and reads the answer.
func (b *browser) send(req *http.Request) page {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the first form of p.
func (p page) csrf(t testing.TB) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field in page (%d): %.300s", p.status, p.body)
	}
	return m[1]
}

// login signs b in as user.
func (b *browser) login(token string) {
	b.t.Helper()
	lp := b.get("/login")
	r := b.do("POST", "/login", url.Values{"csrf": {lp.csrf(b.t)}, "token": {token}})
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("login = %d: %.500s", r.status, r.body)
	}
}
