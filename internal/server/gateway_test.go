package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	vtgo "github.com/VirusTotal/vt-go"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// gatewayKey makes a gateway key over REST (as admin) and returns it.
func (e *env) gatewayKey(t *testing.T, name, connection string, more map[string]any) string {
	t.Helper()
	body := map[string]any{"name": name, "connection": connection}
	for k, v := range more {
		body[k] = v
	}
	r := e.do(t, "POST", "/api/v1/gateway-keys", "admin", body)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/gateway-keys = %d %s", r.status, r.body)
	}
	var out struct{ Name, Connection, Key string }
	r.json(t, &out)
	if out.Name != name || out.Connection != connection || len(out.Key) != 64 {
		t.Fatalf("new gateway key = %+v", out)
	}
	return out.Key
}

// watched is a transport that checks every answer of the gateway: neither the
// connection's real key nor another gateway key than the client's in its body or
// headers; and records the hosts it was sent to.
type watched struct {
	t      *testing.T
	secret []string
	mu     sync.Mutex
	hosts  map[string]int
}

func (w *watched) RoundTrip(r *http.Request) (*http.Response, error) {
	w.mu.Lock()
	w.hosts[r.URL.Host]++
	w.mu.Unlock()
	res, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	for _, s := range w.secret {
		if bytes.Contains(b, []byte(s)) {
			w.t.Errorf("%s %s: the answer holds a secret key: %.300s", r.Method, r.URL.Path, b)
		}
		for k, vs := range res.Header {
			for _, v := range vs {
				if strings.Contains(v, s) {
					w.t.Errorf("%s %s: header %s holds a secret key", r.Method, r.URL.Path, k)
				}
			}
		}
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res, nil
}

// vtgoClient returns VirusTotal's Go client sending key, its answers watched for the
// secrets.
func vtgoClient(t *testing.T, key string, secrets ...string) (*vtgo.Client, *watched) {
	w := &watched{t: t, secret: secrets, hosts: map[string]int{}}
	return vtgo.NewClient(key, vtgo.WithHTTPClient(&http.Client{Transport: w})), w
}

// apiURL is base's /api/v3/path.
func apiURL(t *testing.T, base, path string) *url.URL {
	t.Helper()
	u, err := url.Parse(base + "/api/v3/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// sameButLinks checks that an answer of the gateway is the emulator's answer to the
// same call, but for the links, which point at the gateway.
func sameButLinks(t *testing.T, what string, gw, direct *vtgo.Response, gwBase, simBase string) {
	t.Helper()
	enc := func(r *vtgo.Response) string {
		b, err := json.Marshal(struct {
			Data  json.RawMessage
			Meta  map[string]any
			Links vtgo.Links
		}{r.Data, r.Meta, r.Links})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	g, d := enc(gw), enc(direct)
	if strings.Contains(g, simBase) {
		t.Errorf("%s: the gateway's answer points at the emulator: %.300s", what, g)
	}
	if strings.Contains(d, gwBase) {
		t.Fatalf("%s: the emulator's answer names the gateway", what)
	}
	if g = strings.ReplaceAll(g, gwBase+"/api/v3/", simBase+"/api/v3/"); g != d {
		t.Errorf("%s: the gateway's answer differs from the emulator's but for the links\ngateway:  %.600s\nemulator: %.600s", what, g, d)
	}
}

// get asks the gateway and the emulator the same and checks that they agree.
func get(t *testing.T, what string, gw, direct *vtgo.Client, gwBase, simBase, path string) (*vtgo.Response, *vtgo.Response) {
	t.Helper()
	g, err := gw.Get(apiURL(t, gwBase, path))
	if err != nil {
		t.Fatalf("%s through the gateway: %v", what, err)
	}
	d, err := direct.Get(apiURL(t, simBase, path))
	if err != nil {
		t.Fatalf("%s from the emulator: %v", what, err)
	}
	sameButLinks(t, what, g, d, gwBase, simBase)
	return g, d
}

// VirusTotal's own Go client, pointed at the gateway with a gateway key, gets what the
// emulator answers the same calls: reports of the four kinds (by any id, the second
// time from the cache), a relationship over three pages (by links.next and by
// vt-go's iterator, staying on the gateway), a URL scan followed to its analysis, a
// 40 MB upload through an upload URL of the gateway, a comment, the key's user. The
// gateway runs as serve runs it by default (--gateway-recheck).
func TestGatewayWithVirusTotalsGoClient(t *testing.T) {
	e := newEnv(t, envOpts{gatewayRecheck: server.DefaultGatewayRecheck})
	key := e.gatewayKey(t, "vt-go", "emu", nil)
	gw, watch := vtgoClient(t, key, apiKey)
	direct, _ := vtgoClient(t, apiKey)
	gwBase, simBase := e.http.URL, e.simURL
	// vt-go's scanners ask for URLs of its one global host.
	vtgo.SetHost(gwBase)
	t.Cleanup(func() { vtgo.SetHost("https://www.virustotal.com") })

	urlID := mustParse(t, ioc.KindURL, "http://example.com/login").ID
	eicarSHA256 := "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	for _, c := range []struct{ what, path string }{
		{"a file", "files/" + eicarMD5},
		{"a URL", "urls/" + urlID},
		{"a domain", "domains/example.com"},
		{"an IP address", "ip_addresses/8.8.8.8"},
		{"a file not found", "files/" + strings.Repeat("0", 64)},
	} {
		g, err := gw.Get(apiURL(t, gwBase, c.path))
		d, derr := direct.Get(apiURL(t, simBase, c.path))
		if (err == nil) != (derr == nil) || (err != nil && err.Error() != derr.Error()) {
			t.Fatalf("%s: gateway %v, emulator %v", c.what, err, derr)
		}
		if err == nil {
			sameButLinks(t, c.what, g, d, gwBase, simBase)
		}
	}
	before := e.sim.Stats().Requests
	// Again, and the file by its sha256: the cache answers.
	get(t, "a file by its sha256", gw, direct, gwBase, simBase, "files/"+eicarSHA256)
	get(t, "a domain again", gw, direct, gwBase, simBase, "domains/example.com")
	if _, err := gw.Get(apiURL(t, gwBase, "files/"+strings.Repeat("0", 64))); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a file not found, again: %v", err)
	}
	if n := e.sim.Stats().Requests - before; n != 2 {
		t.Fatalf("the emulator was asked %d times for 2 direct calls and 3 the cache answers", n)
	}

	// A relationship over three pages, page by page, each as the emulator's.
	pages := 0
	g, d := get(t, "subdomains, page 1", gw, direct, gwBase, simBase, "domains/example.com/subdomains?limit=10")
	for g.Links.Next != "" {
		pages++
		if !strings.HasPrefix(g.Links.Next, gwBase+"/api/v3/") {
			t.Fatalf("links.next %s does not point at the gateway", g.Links.Next)
		}
		next, _ := url.Parse(g.Links.Next)
		nd, _ := url.Parse(d.Links.Next)
		var err error
		if g, err = gw.Get(next); err != nil {
			t.Fatal(err)
		}
		if d, err = direct.Get(nd); err != nil {
			t.Fatal(err)
		}
		sameButLinks(t, fmt.Sprintf("subdomains, page %d", pages+1), g, d, gwBase, simBase)
	}
	if pages+1 != 3 {
		t.Fatalf("%d pages of example.com's 23 subdomains by 10", pages+1)
	}
	// vt-go's iterator follows links.next: it stays on the gateway.
	it, err := gw.Iterator(apiURL(t, gwBase, "domains/example.com/subdomains"), vtgo.IteratorBatchSize(10))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for it.Next() {
		n++
	}
	if it.Error() != nil || n != 23 {
		t.Fatalf("the iterator got %d subdomains (%v), want 23", n, it.Error())
	}
	it.Close()

	// A URL scan, followed to its analysis.
	analysis, err := gw.NewURLScanner().Scan("http://example.net/scan-me")
	if err != nil {
		t.Fatal(err)
	}
	g, _ = get(t, "the URL's analysis", gw, direct, gwBase, simBase, "analyses/"+analysis.ID())
	var status struct {
		Attributes struct{ Status string } `json:"attributes"`
	}
	json.Unmarshal(g.Data, &status)
	if status.Attributes.Status != "completed" {
		t.Fatalf("analysis status %q", status.Attributes.Status)
	}
	get(t, "the URL's analysis, from the cache", gw, direct, gwBase, simBase, "analyses/"+analysis.ID())

	// 40 MB through an upload URL: vt-go asks for one above 30 MB, and posts there.
	big := make([]byte, 40<<20)
	rand.Read(big)
	analysis, err = gw.NewFileScanner().Scan(bytes.NewReader(big), "big.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	st := e.sim.Stats()
	if st.ByEndpoint["GET /files/upload_url"] != 1 || st.ByEndpoint["POST /_upload/{token}"] != 1 {
		t.Fatalf("the emulator's uploads: %v", st.ByEndpoint)
	}
	g, _ = get(t, "the upload's analysis", gw, direct, gwBase, simBase, "analyses/"+analysis.ID())
	var meta struct {
		FileInfo struct{ SHA256 string } `json:"file_info"`
	}
	b, _ := json.Marshal(g.Meta)
	json.Unmarshal(b, &meta)
	if meta.FileInfo.SHA256 == "" {
		t.Fatalf("the analysis names no file: %s", b)
	}
	get(t, "the uploaded file", gw, direct, gwBase, simBase, "files/"+meta.FileInfo.SHA256)

	// A comment: the comments cached before it are not served after it.
	get(t, "comments before", gw, direct, gwBase, simBase, "files/"+meta.FileInfo.SHA256+"/comments")
	comment := vtgo.NewObject("comment")
	comment.SetString("text", "uploaded through the gateway #vtsoar")
	if err := gw.PostObject(apiURL(t, gwBase, "files/"+meta.FileInfo.SHA256+"/comments"), comment); err != nil {
		t.Fatal(err)
	}
	g, _ = get(t, "comments after", gw, direct, gwBase, simBase, "files/"+meta.FileInfo.SHA256+"/comments")
	if !strings.Contains(string(g.Data), "uploaded through the gateway") {
		t.Fatalf("the new comment is not listed: %.300s", g.Data)
	}

	// The key's own user: the connection's user, the gateway key in place of the
	// real one.
	u, err := gw.GetObject(apiURL(t, gwBase, "users/"+key))
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := u.GetString("apikey"); k != key {
		t.Fatalf("users/{key}: apikey %q, want the gateway key", k)
	}
	if _, err := gw.Get(apiURL(t, gwBase, "users/"+key+"/overall_quotas")); err != nil {
		t.Fatal(err)
	}

	// Every request of vt-go went to the gateway (the upload URL and the links
	// included), and only the real key reached the emulator.
	if len(watch.hosts) != 1 || watch.hosts[strings.TrimPrefix(gwBase, "http://")] == 0 {
		t.Fatalf("vt-go's requests went to %v", watch.hosts)
	}
	if users := e.sim.Stats().ByUser; len(users) != 1 {
		t.Fatalf("the emulator saw %d keys: %v", len(users), users)
	}
	if logs := e.logs.String(); strings.Contains(logs, apiKey) || strings.Contains(logs, key) {
		t.Fatal("a key is in the log")
	}
}

func mustParse(t *testing.T, k ioc.Kind, s string) ioc.Observable {
	t.Helper()
	o, err := ioc.ParseAs(k, s)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Three clients, each with a key of its own, ask for the same 50 objects at once: the
// emulator is asked 50 times, and the others share a flight or hit the cache.
func TestGatewayThreeClientsOneRequestPerObject(t *testing.T) {
	e := newEnv(t, envOpts{simLatency: 20 * time.Millisecond, gatewayRecheck: server.DefaultGatewayRecheck})
	var objects []string
	for i := range 50 {
		objects = append(objects, fmt.Sprintf("domains/shared-%02d.com", i))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 3 {
		key := e.gatewayKey(t, fmt.Sprintf("client-%d", c), "emu", nil)
		cli, _ := vtgoClient(t, key, apiKey)
		order := slices.Clone(objects)
		if c == 1 {
			slices.Reverse(order)
		}
		for w := range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := w; i < len(order); i += 5 {
					if _, err := cli.Get(apiURL(t, e.http.URL, order[i])); err != nil && !strings.Contains(err.Error(), "not found") {
						t.Errorf("client %d, %s: %v", c, order[i], err)
					}
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if n := e.sim.Stats().Requests; n != 50 {
		t.Fatalf("the emulator was asked %d times for 50 objects by 3 clients", n)
	}
	body := e.do(t, "GET", "/metrics", "admin", nil).body
	var hits, shared float64
	for _, line := range strings.Split(string(body), "\n") {
		var v float64
		switch {
		case strings.HasPrefix(line, "vtsoar_gateway_cache_hits_total{"):
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			hits += v
		case strings.HasPrefix(line, "vtsoar_gateway_shared_flights_total{"):
			fmt.Sscan(line[strings.LastIndexByte(line, ' ')+1:], &v)
			shared += v
		}
	}
	if hits+shared != 100 {
		t.Fatalf("cache hits %v + shared flights %v, want the 100 requests that did not ask the emulator", hits, shared)
	}
}

// A premium-only relationship or endpoint on a connection with the public budget is
// VirusTotal's 403, spending nothing; a request the budget cannot serve within the
// key's max wait is VirusTotal's 429 QuotaExceededError with Retry-After; a missing,
// wrong or removed key is VirusTotal's 401.
func TestGatewayRefusesAsVirusTotal(t *testing.T) {
	e := newEnv(t, envOpts{})
	sealed := e.sealKey(t, "pub", apiKey)
	e.addConnection(t, "pub", sealed, "public")
	e.addConnection(t, "tiny", e.sealKey(t, "tiny", apiKey+"-2"), "1/min")
	pub := e.gatewayKey(t, "pub-key", "pub", nil)
	tiny := e.gatewayKey(t, "tiny-key", "tiny", map[string]any{"max_wait": "1s"})

	call := func(key, path string) (int, http.Header, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v3/"+path, nil)
		if key != "" {
			req.Header.Set("x-apikey", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if bytes.Contains(b, []byte(apiKey)) {
			t.Fatalf("the answer holds the real key: %s", b)
		}
		var v struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(b, &v)
		return res.StatusCode, res.Header, v.Error.Code, string(b)
	}

	var premium vt.Relationship
	for _, r := range vt.RelationshipsOf(vt.CollectionFiles) {
		if r.Premium() {
			premium = r
			break
		}
	}
	before := e.sim.Stats().Requests
	for _, path := range []string{"files/" + eicarMD5 + "/" + premium.Name, "files/" + eicarMD5 + "/relationships/" + premium.Name,
		"intelligence/search?query=p:5%2B", "files/" + eicarMD5 + "/download"} {
		if st, _, code, body := call(pub, path); st != 403 || code != "ForbiddenError" {
			t.Errorf("%s on a public budget: %d %s", path, st, body)
		}
	}
	if n := e.sim.Stats().Requests - before; n != 0 {
		t.Fatalf("%d premium requests reached the emulator", n)
	}
	if st, _, _, body := call(pub, "files/"+eicarMD5); st != 200 {
		t.Fatalf("a public report on the public key: %d %s", st, body)
	}

	if st, _, _, body := call(tiny, "domains/first.com"); st != 200 {
		t.Fatalf("the budget's one request: %d %s", st, body)
	}
	st, h, code, body := call(tiny, "domains/second.com")
	ra, _ := time.ParseDuration(h.Get("Retry-After") + "s")
	if st != 429 || code != "QuotaExceededError" || ra < 50*time.Second || ra > 62*time.Second {
		t.Fatalf("past a 1/min budget: %d, Retry-After %q, %s", st, h.Get("Retry-After"), body)
	}
	if _, err := func() (*vtgo.Response, error) {
		cli, _ := vtgoClient(t, tiny, apiKey)
		return cli.Get(apiURL(t, e.http.URL, "domains/third.com"))
	}(); err == nil || err.(vtgo.Error).Code != "QuotaExceededError" {
		t.Fatalf("vt-go past the budget: %v", err)
	}

	for _, c := range []struct{ key, code string }{{"", "AuthenticationRequiredError"}, {"0123456789abcdef", "WrongCredentialsError"}} {
		if st, _, code, body := call(c.key, "files/"+eicarMD5); st != 401 || code != c.code {
			t.Errorf("key %q: %d %s", c.key, st, body)
		}
	}
	if r := e.do(t, "DELETE", "/api/v1/gateway-keys/pub-key", "admin", nil); r.status != 204 {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	if st, _, code, _ := call(pub, "files/"+eicarMD5); st != 401 || code != "WrongCredentialsError" {
		t.Fatalf("a removed key: %d %s", st, code)
	}
	if logs := e.logs.String(); strings.Contains(logs, apiKey) || strings.Contains(logs, pub) || strings.Contains(logs, tiny) {
		t.Fatal("a key is in the log")
	}
}

// The links point at the gateway as the client reached it: https only when the request
// came over HTTPS, which a trusted proxy's X-Forwarded-Proto says and anyone else's
// does not.
func TestGatewayLinksFollowTheClientsScheme(t *testing.T) {
	for _, c := range []struct {
		trusted []netip.Prefix
		scheme  string
	}{
		{nil, "http"},
		{[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, "https"},
	} {
		e := newEnv(t, envOpts{trustedProxies: c.trusted})
		key := e.gatewayKey(t, "behind-tls", "emu", nil)
		req, _ := http.NewRequest("GET", e.http.URL+"/api/v3/domains/example.com/subdomains?limit=5", nil)
		req.Header.Set("x-apikey", key)
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Host = "vtsoar.example.org"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Links struct{ Self, Next string } }
		json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		want := c.scheme + "://vtsoar.example.org/api/v3/domains/example.com/subdomains?"
		if !strings.HasPrefix(page.Links.Self, want) || !strings.HasPrefix(page.Links.Next, want) {
			t.Errorf("trusted proxies %v: links %+v, want them under %s", c.trusted, page.Links, want)
		}
	}
}

// A connection changed over REST (a new key) is used by the gateway's next request.
func TestGatewayFollowsTheConnection(t *testing.T) {
	e := newEnv(t, envOpts{})
	key := e.gatewayKey(t, "k", "emu", nil)
	cli, _ := vtgoClient(t, key, apiKey, "a-new-key-of-emu-0123456789abcdef")
	if _, err := cli.Get(apiURL(t, e.http.URL, "domains/before.com")); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	if r := e.do(t, "PATCH", "/api/v1/connections/emu", "admin", map[string]any{"api_key": "a-new-key-of-emu-0123456789abcdef"}); r.status != 200 {
		t.Fatalf("PATCH = %d %s", r.status, r.body)
	}
	if _, err := cli.Get(apiURL(t, e.http.URL, "domains/after.com")); err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	if users := e.sim.Stats().ByUser; len(users) != 2 {
		t.Fatalf("the emulator saw %d keys (%v): the new key was not used", len(users), users)
	}
}

// TestGatewayMissStoredBehind asks the gateway for a report on a premium connection
// while the database refuses every write (another connection holds SQLite's write
// lock): the miss is answered, the same GET right after is answered from the cache
// without asking the emulator again, and once the database answers the report is
// written, where another process finds it: the answer VirusTotal was paid for is not
// lost because it was handed out before its write.
func TestGatewayMissStoredBehind(t *testing.T) {
	e := newEnv(t, envOpts{})
	key := e.gatewayKey(t, "k", "emu", nil)
	get := func(domain string) (string, []byte) {
		t.Helper()
		st, how, body := e.gatewayGet(t, "domains/"+domain, key)
		if st != 200 {
			t.Fatalf("GET = %d %s", st, body)
		}
		return how, []byte(body)
	}
	// The connection's limiter prunes the ledger, a write, on its first request.
	get("before.example.com")
	path := filepath.Join(e.dataDir, "vtsoar.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The warm-up's writes may still be under way.
	if _, err := lock.ExecContext(context.Background(), `PRAGMA busy_timeout = 10000`); err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	before := e.sim.Stats().Requests
	outcome, first := get("behind.example.com")
	if outcome != "miss" {
		t.Fatalf("first GET: %s, want a miss", outcome)
	}
	outcome, again := get("behind.example.com")
	if outcome != "hit" || !bytes.Equal(again, first) {
		t.Fatalf("the GET right after: %s, want a hit with the same answer", outcome)
	}
	if n := e.sim.Stats().Requests - before; n != 1 {
		t.Fatalf("the emulator was asked %d times for one report asked twice", n)
	}
	lock.ExecContext(context.Background(), `ROLLBACK`)
	lock.Close()
	if err := e.st.Close(); err != nil { // writes what is queued or kept
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got, ok, err := st.Cache(e.simURL).Get(context.Background(), ioc.KindDomain, "behind.example.com", 0); err != nil || !ok ||
		!bytes.Contains(got.Body, []byte(`"id":"behind.example.com"`)) {
		t.Fatalf("another process finds %v %v: %.100s", ok, err, got.Body)
	}
}

// A report the gateway answers from its memory, its key and the answer's stamp read
// in one statement, follows the store as it did with two: with --gateway-recheck 0,
// another process's newer answer is served at once, a cache that process cleared is
// asked of VirusTotal again, and a key that process removed is refused at once.
func TestGatewayHitsFollowTheStore(t *testing.T) {
	e := newEnv(t, envOpts{})
	// A limited budget: the miss is stored before it is answered, so that the other
	// process's answer is written after it (a premium connection's is stored behind).
	e.addConnection(t, "lim", e.sealKey(t, "lim", apiKey), "100/min")
	key := e.gatewayKey(t, "k", "lim", nil)
	get := func() (int, string, string) {
		t.Helper()
		return e.gatewayGet(t, "domains/follow.example.com", key)
	}
	_, how, first := get()
	if how != "miss" {
		t.Fatalf("first GET: %s", how)
	}
	for i := range 2 {
		if st, how, again := get(); st != 200 || how != "hit" || again != first {
			t.Fatalf("GET %d after the miss: %d %s, same answer %v", i+2, st, how, again == first)
		}
	}
	other, err := store.Open(context.Background(), filepath.Join(e.dataDir, "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c := other.Cache(e.simURL)
	newer := strings.Replace(first, `"reputation":`, `"reputation":1`, 1)
	if newer == first {
		t.Fatalf("the answer has no reputation to change: %.300s", first)
	}
	if err := c.Put(context.Background(), cache.Entry{Kind: ioc.KindDomain, ID: "follow.example.com", Body: []byte(newer)}); err != nil {
		t.Fatal(err)
	}
	if st, how, got := get(); st != 200 || how != "hit" || got != newer {
		t.Fatalf("after another process's answer: %d %s, the newer answer %v", st, how, got == newer)
	}
	if _, err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, how, _ := get(); how != "miss" {
		t.Fatalf("after another process cleared the cache: %s, want VirusTotal asked again", how)
	}
	if _, how, _ := get(); how != "hit" {
		t.Fatalf("the GET after: %s", how)
	}
	if err := other.DeleteGatewayKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if st, _, body := get(); st != http.StatusUnauthorized || !strings.Contains(body, "WrongCredentialsError") {
		t.Fatalf("a key removed by another process: %d %.200s", st, body)
	}
}

// cacheHits is the sum of vtsoar_cache_hits_total in e's metrics.
func (e *env) cacheHits(t *testing.T) int {
	t.Helper()
	r := e.do(t, "GET", "/metrics", "admin", nil)
	if r.status != 200 {
		t.Fatalf("GET /metrics: %d", r.status)
	}
	n := 0
	for _, line := range strings.Split(string(r.body), "\n") {
		if rest, ok := strings.CutPrefix(line, "vtsoar_cache_hits_total{"); ok {
			_, v, _ := strings.Cut(rest, "} ")
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			n += int(f)
		}
	}
	return n
}

// gatewayGet asks the gateway of e for path with key: the status, X-Vtsoar-Cache and
// the body.
func (e *env) gatewayGet(t *testing.T, path, key string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v3/"+path, nil)
	req.Header.Set("x-apikey", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("X-Vtsoar-Cache"), string(body)
}

// Within --gateway-recheck of the store's last word, a cached GET reads nothing of
// the store: another process's newer answer, and its removal of a key, are seen once
// the window has passed, while a request that would go to VirusTotal reads the key
// first and spends nothing for a removed one. A key removed, or a connection
// deactivated, through this process counts at once.
func TestGatewayRecheckWindow(t *testing.T) {
	var (
		mu  sync.Mutex
		now = time.Now()
	)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	e := newEnv(t, envOpts{gatewayRecheck: time.Minute, now: clock})
	e.addConnection(t, "lim", e.sealKey(t, "lim", apiKey), "100/min")
	key := e.gatewayKey(t, "k", "lim", nil)
	const report = "domains/window.example.com"
	_, how, first := e.gatewayGet(t, report, key)
	if how != "miss" {
		t.Fatalf("first GET: %s", how)
	}
	other, err := store.Open(context.Background(), filepath.Join(e.dataDir, "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	newer := strings.Replace(first, `"reputation":`, `"reputation":1`, 1)
	if newer == first {
		t.Fatalf("the answer has no reputation to change: %.300s", first)
	}
	if err := other.Cache(e.simURL).Put(context.Background(), cache.Entry{Kind: ioc.KindDomain, ID: "window.example.com", Body: []byte(newer)}); err != nil {
		t.Fatal(err)
	}
	hits := e.cacheHits(t)
	for range 3 {
		if st, how, got := e.gatewayGet(t, report, key); st != 200 || how != "hit" || got != first {
			t.Fatalf("within the window after another process's answer: %d %s, the answer held %v", st, how, got == first)
		}
	}
	if n := e.cacheHits(t) - hits; n != 3 {
		t.Fatalf("3 hits from memory counted %d times in vtsoar_cache_hits_total", n)
	}
	advance(time.Minute)
	if st, how, got := e.gatewayGet(t, report, key); st != 200 || how != "hit" || got != newer {
		t.Fatalf("after the window: %d %s, the newer answer %v", st, how, got == newer)
	}

	if err := other.DeleteGatewayKey(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if st, how, _ := e.gatewayGet(t, report, key); st != 200 || how != "hit" {
		t.Fatalf("a cached GET within the window of a key another process removed: %d %s", st, how)
	}
	before := e.sim.Stats().Requests
	if st, _, body := e.gatewayGet(t, "domains/uncached.example.com", key); st != http.StatusUnauthorized || !strings.Contains(body, "WrongCredentialsError") {
		t.Fatalf("a GET for VirusTotal with a key another process removed: %d %.200s", st, body)
	}
	if n := e.sim.Stats().Requests - before; n != 0 {
		t.Fatalf("a removed key sent %d requests to VirusTotal", n)
	}
	if st, _, _ := e.gatewayGet(t, report, key); st != http.StatusUnauthorized {
		t.Fatalf("a cached GET once the store said the key is gone: %d", st)
	}

	key2 := e.gatewayKey(t, "k2", "lim", nil)
	if st, how, _ := e.gatewayGet(t, report, key2); st != 200 || how != "hit" {
		t.Fatalf("a new key: %d %s", st, how)
	}
	if r := e.do(t, "DELETE", "/api/v1/gateway-keys/k2", "admin", nil); r.status != 204 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if st, _, _ := e.gatewayGet(t, report, key2); st != http.StatusUnauthorized {
		t.Fatalf("a key removed through this process, within the window: %d", st)
	}

	key3 := e.gatewayKey(t, "k3", "lim", nil)
	if st, _, _ := e.gatewayGet(t, report, key3); st != 200 {
		t.Fatalf("a third key: %d", st)
	}
	if r := e.do(t, "PATCH", "/api/v1/connections/lim", "admin", map[string]any{"active": false}); r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	if st, _, body := e.gatewayGet(t, report, key3); st != http.StatusForbidden {
		t.Fatalf("a key of a connection deactivated through this process, within the window: %d %.200s", st, body)
	}
}
