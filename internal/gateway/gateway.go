// Package gateway answers VirusTotal's API v3 under /api/v3/ of `vtsoar serve`, so
// that VirusTotal's own clients (vt-go, vt-py, vt-cli, MISP's modules, Cortex
// analyzers, OpenCTI's connector, XSOAR...) pointed at vtsoar instead of VirusTotal
// share one budget and one cache: each sends a gateway key (x-apikey) that stands for
// a stored connection's real key, and gets what VirusTotal would answer, with the same
// paths, statuses, bodies and error objects.
//
// # Keys
//
// A gateway key (store.GatewayKey, made by auth.CreateGatewayKey) is 64 hex digits, as
// VirusTotal's keys are, stored as its SHA-256 and read from the store on every
// request, so that a key removed on one replica is refused by all at once; for a GET
// the cache may answer, in the same statement as what the answer the process holds in
// memory is checked against (Config.KeyFor), so that a hit reads the store once. A
// missing key is 401 AuthenticationRequiredError, a wrong or removed one 401
// WrongCredentialsError. The connection's real key is sent to VirusTotal and to
// nowhere else: it is replaced by the caller's gateway key in what comes back, the
// upload URLs VirusTotal hands out are sealed into the gateway's own, and nothing the
// gateway logs holds it (nor a gateway key, nor an id: requests are logged by route
// pattern).
//
// # Reads
//
// A GET of a file, URL, domain or IP address report is served from the store's cache
// of the connection's server, by any of the object's ids, when it is younger than the
// key's max age (Cache-Control: no-cache asks VirusTotal again, max-age=N asks for
// younger); it is the cache the commands use, so a report one of them fetched answers
// the gateway and the other way round. Relationship pages (objects and
// descriptors), comments, votes, behaviour summaries, searches, metadata and reports
// asked with a query are cached by their canonical request (the object by its
// canonical id, the query sorted) under the same max age; a comment or a vote posted
// through the gateway makes the object's cached comments and votes stale. A completed
// analysis does not change and is served at any age; one that is not completed is
// not cached. Not found reports are cached for the store's negative TTL; no other
// error is cached. User objects, quotas, upload and download URLs, downloads and
// widgets are never cached.
//
// What is not cached is fetched once: identical requests from several clients at
// once share one upstream request (one flight per connection and canonical request).
// On a connection with a limited budget its answer is stored before it is handed
// out, so that a request that comes after it, to any replica, finds it in the cache.
// On an unlimited budget (Upstream.StoredBehind) it is handed out first and stored
// behind: the flight is shared until the answer is held in the process's cache
// (memory, and the store's backlog until its write lands, retried if it fails), so
// that a request after it to this process finds it at once, and one to another
// replica once the write lands.
//
// # Budget
//
// Each upstream request takes a unit of the connection's budget through its limiter
// (the ledger the CLI, the REST commands and the enrichment spend), recorded for
// "gateway:NAME", at the key's priority: interactive keys as a person waits
// (vt.PriorityInteractive), batch keys behind everything else (vt.PriorityBackground).
// A request that gets no unit within the key's max wait is answered VirusTotal's 429
// QuotaExceededError with Retry-After (when a unit frees, the hold or the reset); a
// spent day or month likewise. GET /users/{id}/overall_quotas, which VirusTotal does
// not count, spends nothing. A premium-only relationship or endpoint on a connection
// with the public budget is VirusTotal's 403 ForbiddenError, without spending. A 429
// from VirusTotal holds the budget for every process, as the client's do.
//
// # Writes
//
// POST /files, the upload URL, POST /urls, rescans, comments and votes are forwarded
// with a budget unit, their bodies streamed both ways, never cached; a rescan, a
// comment or a vote makes the object's cached report stale, as does a completed
// analysis of it. GET /files/upload_url answers an URL of the gateway that holds
// VirusTotal's sealed (Config.Sealer), for an hour.
//
// # Links
//
// The links VirusTotal writes ("self", "next", "related", "item") are rewritten to the
// gateway as the client reached it (its Host, and https when the request came over
// HTTPS, Config.Secure), so that iterators, cursors and the links between objects stay
// on it; the other bytes are VirusTotal's. /users/{key} and /users/{key}/overall_quotas asked with the
// caller's gateway key answer for the connection's user, the key replaced.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// Prefix is the path the gateway answers under.
const Prefix = "/api/v3/"

// Limiter spends a connection's budget (a *quota.Limiter).
type Limiter interface {
	vt.Limiter
	// Usage tells when a unit frees, for Retry-After.
	Usage(ctx context.Context) (quota.Usage, error)
}

// Sealer seals what the gateway hands out and must not reveal (the real upload
// URL), so that any replica sharing the master key opens it: a *secret.Cipher.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Upstream is a stored connection as the gateway forwards to it.
type Upstream struct {
	// Connection is the connection's name.
	Connection string
	// Server is its VirusTotal server, scheme://host (vt.Client.ServerURL).
	Server string
	// APIKey is its real key: sent to Server, and replaced in everything that comes
	// back.
	APIKey string
	// HTTP sends the requests (the connection's proxy and idle pool); the gateway
	// sends the key to Server only, never across a redirect to another host.
	HTTP *http.Client
	// Limiter spends the connection's budget.
	Limiter Limiter
	// Cache is the connection's cache of Server's answers, its tiers assembled by its
	// client (connclient.Conn.Answers: in a service, the answers the process read or
	// stored last kept in memory in front of the store's cache, checked against it).
	Cache cache.Cache
	// StoredBehind reports that Cache's puts return once the answer is held in this
	// process, before it is written (store.Caches.CacheBehind: a connection with an
	// unlimited budget): the gateway then answers a miss first and stores it after,
	// its flight shared until the answer is held. Otherwise it stores the answer
	// before it answers, so that a request after it, to any replica, finds it.
	StoredBehind bool
	// Public reports VirusTotal's public budget: premium-only relationships and
	// endpoints are refused without being sent.
	Public bool
}

// Config is what a Gateway serves with.
type Config struct {
	// Key returns the gateway key whose SHA-256 is hash and its connection ready to
	// forward to, read from the store on every request: an error wrapping
	// store.ErrNotFound with a zero key when there is no such key, with the key when
	// its connection no longer exists.
	Key func(ctx context.Context, hash []byte) (store.GatewayKey, *Upstream, error)
	// KeyFor is Key that also reads, in the same statement, what a cached answer to
	// the object kind and id is checked against (store.CacheStamp), and returns ctx
	// carrying it for that check: a request answered from the process's memory then
	// reads the store once (nil: Key is used for every request).
	KeyFor func(ctx context.Context, hash []byte, kind ioc.Kind, id string) (context.Context, store.GatewayKey, *Upstream, error)
	// KeyNamed is Key by the key's name (an upload URL of the gateway names its key).
	KeyNamed func(ctx context.Context, name string) (store.GatewayKey, *Upstream, error)
	// Recheck is how long a key found by KeyFor, and a cached answer the store
	// confirmed, stand for a cacheable GET without reading the store again: within
	// it, a cached GET reads nothing of the store, and a key another process removed,
	// or an answer another process replaced, is still served (never a request to
	// VirusTotal: that reads the key again). 0: every request reads the store.
	Recheck time.Duration
	// Sealer seals upload URLs.
	Sealer Sealer
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Logger receives one line per request (nil: discard): the key's name, the route
	// pattern, the status and where the answer came from; never a key or an id.
	Logger *slog.Logger
	// Registerer receives the gateway's metrics (nil: none).
	Registerer prometheus.Registerer
	// UpstreamTimeout bounds a request to VirusTotal once its unit is granted (0: 2
	// minutes); uploads and downloads are bounded by their own deadlines only.
	UpstreamTimeout time.Duration
	// BodyTimeout bounds reading a request, its body included (0: 30 seconds); an
	// upload gets 30 minutes.
	BodyTimeout time.Duration
	// Secure reports whether a request came over HTTPS (nil: over TLS to this
	// process), for the links the gateway writes: the server's rule, which believes a
	// trusted proxy's X-Forwarded-Proto.
	Secure func(r *http.Request) bool
}

// Deadlines of the gateway's requests.
const (
	// bodyTimeout bounds reading a request body (unless Config.BodyTimeout says),
	// longTimeout an upload's, and writing a download.
	bodyTimeout = 30 * time.Second
	longTimeout = 30 * time.Minute
	// maxAnswer bounds a JSON answer read into memory (VirusTotal's largest are a few
	// MB).
	maxAnswer = 64 << 20
	// uploadTTL is how long an upload URL handed out is valid, as VirusTotal's.
	uploadTTL = time.Hour
)

// Gateway is the VirusTotal API of vtsoar, an http.Handler for the paths under Prefix.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	flights flights
	keys    keyMemos
	m       *metrics
}

// New returns the gateway cfg describes.
func New(cfg Config) (*Gateway, error) {
	if cfg.Key == nil || cfg.KeyNamed == nil || cfg.Sealer == nil {
		return nil, errors.New("gateway: Key, KeyNamed and Sealer are required")
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger, now: cfg.Now, timeout: cfg.UpstreamTimeout}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.timeout <= 0 {
		g.timeout = 2 * time.Minute
	}
	if g.cfg.BodyTimeout <= 0 {
		g.cfg.BodyTimeout = bodyTimeout
	}
	var err error
	if g.m, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return g, nil
}

// call is one request being answered.
type call struct {
	rt route
	// method, query and header are the request's, copied (header when it goes to
	// VirusTotal, forwardHeader): a shared flight outlives the request that started
	// it.
	method, query string
	header        http.Header
	key           store.GatewayKey
	// given is the gateway key as the client sent it; remembered reports that it was
	// found in the keys of the last Config.Recheck, not read from the store.
	given      string
	remembered bool
	up         *Upstream
	// base is the gateway's /api/v3/ as the client reached it, upBase the server's.
	base, upBase string
	// outcome says where the answer came from, for the log: "hit", "miss", "shared",
	// "forward", "refused".
	outcome string
}

// ServeHTTP implements http.Handler.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.now()
	rel := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v3")
	if rel == "" {
		rel = "/"
	}
	c := &call{method: r.Method, query: r.URL.RawQuery, base: g.baseURL(r) + Prefix}
	sw := &statusWriter{ResponseWriter: w}
	defer func() { g.logCall(r, c, sw, start) }()
	rc := http.NewResponseController(w)
	if token, ok := strings.CutPrefix(rel, uploadPath); ok && r.Method == http.MethodPost {
		c.rt = route{rel: rel, endpoint: "POST {upload_url}", long: true}
		rc.SetReadDeadline(time.Now().Add(longTimeout))
		rc.SetWriteDeadline(time.Now().Add(longTimeout))
		g.serveUpload(sw, r, c, token)
		return
	}
	c.rt = classify(r.Method, rel, r.URL.Query())
	read := g.cfg.BodyTimeout
	if c.rt.long {
		read = longTimeout
	}
	rc.SetReadDeadline(time.Now().Add(read))
	// Until the key says how long it may wait for the budget.
	rc.SetWriteDeadline(time.Now().Add(bodyTimeout))
	ctx, ref := g.authenticate(r.Context(), r, c)
	if ref != nil {
		g.refuse(sw, c, ref)
		return
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	write := c.key.MaxWait + g.timeout + bodyTimeout
	if c.rt.long {
		write = longTimeout
	}
	rc.SetWriteDeadline(time.Now().Add(write))
	g.m.requests.WithLabelValues(c.key.Name).Inc()
	if c.rt.premium && c.up.Public {
		g.refuse(sw, c, &refusal{status: http.StatusForbidden, code: vt.CodeForbidden, reason: "premium",
			message: "You are not authorized to perform the requested operation"})
		return
	}
	if r.Method == http.MethodGet && c.rt.read != readNone {
		g.serveRead(sw, r, c)
		return
	}
	g.forward(sw, r, c)
}

// authenticate finds the caller's gateway key and its connection; for a GET the cache
// may answer, it reads with them what the cached answer is checked against, carried
// by the context it returns.
func (g *Gateway) authenticate(ctx context.Context, r *http.Request, c *call) (context.Context, *refusal) {
	c.given = r.Header.Get("X-Apikey")
	if c.given == "" {
		return ctx, &refusal{status: http.StatusUnauthorized, code: vt.CodeAuthenticationRequired, reason: "credentials",
			message: "X-Apikey header is missing"}
	}
	var (
		k   store.GatewayKey
		up  *Upstream
		err error
	)
	if g.cfg.KeyFor != nil && r.Method == http.MethodGet && c.rt.read != readNone {
		ctx, k, up, err = g.readKey(ctx, c)
	} else {
		k, up, err = g.cfg.Key(ctx, auth.HashToken(c.given))
	}
	return ctx, g.keyFound(ctx, c, k, up, err)
}

// keyFound takes what Config.Key or KeyNamed found for c.
func (g *Gateway) keyFound(ctx context.Context, c *call, k store.GatewayKey, up *Upstream, err error) *refusal {
	switch {
	case errors.Is(err, store.ErrNotFound) && k.Name == "":
		return &refusal{status: http.StatusUnauthorized, code: vt.CodeWrongCredentials, reason: "credentials", message: "Wrong API key"}
	case errors.Is(err, store.ErrNotFound):
		g.log.WarnContext(ctx, "gateway: the key's connection does not exist", "key", k.Name, "connection", k.Connection)
		return &refusal{status: http.StatusUnauthorized, code: vt.CodeWrongCredentials, reason: "credentials",
			message: "Wrong API key: the connection it was made for no longer exists"}
	case errors.Is(err, store.ErrInactive):
		return &refusal{status: http.StatusForbidden, code: vt.CodeForbidden, reason: "credentials",
			message: "The connection this key was made for is inactive: nothing is sent on it"}
	case err != nil:
		g.log.ErrorContext(ctx, "gateway: the key or its connection cannot be read", "key", k.Name, "error", err.Error())
		ref := unavailable()
		if store.IsUnavailable(err) {
			ref.retryAfter = storeRetryAfter
		}
		return ref
	}
	c.key = k
	c.up, c.upBase = up, strings.TrimSuffix(up.Server, "/")+Prefix
	return nil
}

// storeRetryAfter is the Retry-After of an answer given while the database is out of
// reach (a restart), as the REST API's.
const storeRetryAfter = 5 * time.Second

// unavailable is the answer when vtsoar itself cannot serve (its store is down).
func unavailable() *refusal {
	return &refusal{status: http.StatusServiceUnavailable, code: vt.CodeTransient, reason: "unavailable",
		message: "Transient server error. Retry might work."}
}

// refuse answers a refusal of the gateway's own.
func (g *Gateway) refuse(w http.ResponseWriter, c *call, ref *refusal) {
	c.outcome = "refused"
	g.m.refusals.WithLabelValues(c.key.Name, ref.reason).Inc()
	ref.write(w)
}

// baseURL is the gateway's origin as the client reached it.
func (g *Gateway) baseURL(r *http.Request) string {
	if r.TLS != nil || (g.cfg.Secure != nil && g.cfg.Secure(r)) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// forwardHeader is what of a client's headers goes to VirusTotal.
func forwardHeader(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Accept", "Content-Type", "User-Agent"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// answerHeaders are VirusTotal's headers passed on to the client.
var answerHeaders = []string{"Content-Type", "Content-Disposition", "Retry-After"}

// take spends a unit of the connection's budget for c (nothing for what VirusTotal
// does not count), waiting at most the key's max wait; a *refusal when none comes.
func (g *Gateway) take(ctx context.Context, c *call) error {
	if c.rt.unmetered {
		return nil
	}
	prio := vt.PriorityInteractive
	if c.key.Priority == store.GatewayBatch {
		prio = vt.PriorityBackground
	}
	wctx, cancel := context.WithTimeout(ctx, c.key.MaxWait)
	defer cancel()
	wctx = quota.WithRequester(vt.WithPriority(wctx, prio), quota.GatewayRequester(c.key.Name))
	start := time.Now()
	err := c.up.Limiter.Wait(wctx, vt.Request{Method: c.method, Endpoint: c.rt.endpoint, Priority: prio})
	if waited := time.Since(start); waited >= waitThreshold {
		g.m.waits.WithLabelValues(c.key.Name).Inc()
		g.m.waitSeconds.WithLabelValues(c.key.Name).Add(waited.Seconds())
	}
	if err == nil {
		g.m.upstream.WithLabelValues(c.key.Name).Inc()
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ex *quota.ExhaustedError
	switch {
	case errors.As(err, &ex):
		return &refusal{status: http.StatusTooManyRequests, code: vt.CodeQuotaExceeded, reason: "budget",
			message: "Quota exceeded: " + ex.Error(), retryAfter: max(ex.Reset.Sub(g.now()), time.Second)}
	case errors.Is(err, context.DeadlineExceeded):
		return &refusal{status: http.StatusTooManyRequests, code: vt.CodeQuotaExceeded, reason: "budget",
			message:    fmt.Sprintf("Quota exceeded: no request of the connection's budget came free within this key's wait of %s", c.key.MaxWait),
			retryAfter: g.retryAfter(ctx, c)}
	}
	g.log.ErrorContext(ctx, "gateway: the budget could not be read", "key", c.key.Name, "error", err)
	return unavailable()
}

// waitThreshold is the wait for the budget that counts as one in the metrics: below
// it a unit was free and the time went to the ledger.
const waitThreshold = 100 * time.Millisecond

// retryAfter estimates when the budget frees a unit: the end of a hold, the oldest
// unit of a full minute ageing out, a spent day's or month's reset; at least a second.
func (g *Gateway) retryAfter(ctx context.Context, c *call) time.Duration {
	u, err := c.up.Limiter.Usage(ctx)
	if err != nil {
		return time.Minute
	}
	now := g.now()
	if u.HeldUntil.After(now) {
		return u.HeldUntil.Sub(now)
	}
	var d time.Duration
	for _, w := range u.Windows {
		if w.Limit > 0 && w.Left == 0 && w.Resets.After(now) {
			d = max(d, w.Resets.Sub(now))
		}
	}
	return max(d, time.Second)
}

// request makes the request to VirusTotal for c: the same path and query, the key
// replaced by the real one (also in /users/{key}).
func (g *Gateway) request(ctx context.Context, c *call, body io.Reader, length int64) (*http.Request, error) {
	rel := c.rt.rel
	if c.rt.user != "" && c.rt.user == c.given {
		parts := strings.SplitN(strings.TrimPrefix(rel, "/"), "/", 3)
		parts[1] = url.PathEscape(c.up.APIKey)
		rel = "/" + strings.Join(parts, "/")
	}
	u := c.upBase + strings.TrimPrefix(rel, "/")
	if c.query != "" {
		u += "?" + c.query
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = length
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	req.Header.Set("X-Apikey", c.up.APIKey)
	return req, nil
}

// send sends req to VirusTotal through the connection's HTTP client, never the key to
// another host; a transport failure is answered as VirusTotal's 503 or 504.
func (g *Gateway) send(ctx context.Context, c *call, req *http.Request) (*http.Response, error) {
	hc := *c.up.HTTP
	server, _ := url.Parse(c.up.Server)
	hc.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if server == nil || !strings.EqualFold(next.URL.Scheme, server.Scheme) || !strings.EqualFold(next.URL.Host, server.Host) {
			next.Header.Del("X-Apikey")
		}
		return nil
	}
	resp, err := hc.Do(req)
	if err == nil {
		return resp, nil
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, which may hold the key (/users/{key})
	}
	msg := secret.Redact(err.Error(), c.up.APIKey)
	g.log.WarnContext(ctx, "gateway: VirusTotal did not answer", "key", c.key.Name, "route", c.rt.endpoint, "error", msg)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, &refusal{status: http.StatusGatewayTimeout, code: vt.CodeDeadlineExceeded, reason: "upstream",
			message: "The operation took too long to complete."}
	}
	return nil, &refusal{status: http.StatusServiceUnavailable, code: vt.CodeTransient, reason: "upstream",
		message: "Transient server error. Retry might work."}
}

// throttled tells the limiter of a 429 from VirusTotal that refuses the quota.
func (g *Gateway) throttled(ctx context.Context, c *call, status int, header http.Header, body []byte) {
	if status != http.StatusTooManyRequests || c.rt.unmetered {
		return
	}
	if e := vt.ErrorOf(status, header, body); e.QuotaRefusal() {
		c.up.Limiter.Throttled(ctx, vt.Request{Method: c.method, Endpoint: c.rt.endpoint, Priority: vt.PriorityFrom(ctx)}, e.RetryAfter)
	}
}

// fail answers an error of take or send.
func (g *Gateway) fail(w http.ResponseWriter, c *call, err error) {
	var ref *refusal
	if errors.As(err, &ref) {
		g.refuse(w, c, ref)
		return
	}
	// The client went away: nobody reads the answer.
	c.outcome = "canceled"
}

// logCall writes the request's log line: its route pattern, never its path (which
// holds ids, and in /users/{key} a key), nor its query or headers.
func (g *Gateway) logCall(r *http.Request, c *call, sw *statusWriter, start time.Time) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	g.log.LogAttrs(r.Context(), slog.LevelInfo, "gateway request",
		slog.String("route", c.rt.endpoint), slog.Int("status", status), slog.Int64("bytes", sw.bytes),
		slog.Duration("duration", g.now().Sub(start)), slog.String("key", c.key.Name), slog.String("answer", c.outcome),
		slog.String("remote", remote))
}

// statusWriter remembers the status and the size of an answer, for the log.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
