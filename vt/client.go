package vt

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultServerURL is VirusTotal's server.
const DefaultServerURL = "https://www.virustotal.com"

// APIVersion is the API version the client speaks: every request goes to
// /api/v3 under the server URL. There is no option to choose another (a caller that
// reads a version from its configuration compares it with APIVersion).
const APIVersion = "v3"

// DefaultTimeout is the default timeout of one HTTP attempt (uploads excepted: they
// are bounded by their context only).
const DefaultTimeout = 60 * time.Second

// maxBodySize bounds an answer read into memory (VirusTotal's largest reports are a
// few MB).
const maxBodySize = 64 << 20

// Priority orders requests competing for one budget; lower values go first.
type Priority int

// Priorities, most urgent first.
const (
	PriorityInteractive Priority = iota // a person or a synchronous command waits
	PriorityEnrichment                  // event enrichment (system reputation check)
	PriorityBackground                  // bulk runs, health checks, polling
)

// String returns the priority's name.
func (p Priority) String() string {
	switch p {
	case PriorityInteractive:
		return "interactive"
	case PriorityEnrichment:
		return "enrichment"
	case PriorityBackground:
		return "background"
	}
	return "priority(" + strconv.Itoa(int(p)) + ")"
}

type priorityKey struct{}

// WithPriority returns a context whose requests carry priority p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityFrom returns the priority carried by ctx (PriorityInteractive if none).
func PriorityFrom(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok {
		return p
	}
	return PriorityInteractive
}

// Request describes a request about to be sent, for a Limiter.
type Request struct {
	Method string
	// Endpoint is the route pattern, for example "GET /files/{id}".
	Endpoint string
	Priority Priority
}

// Limiter owns the request budget. Wait blocks until one request may be sent (or ctx
// ends, or the budget is spent: then it returns an error that the call returns as is).
// Throttled is called when VirusTotal answered 429 so that the budget holds the
// connection; retryAfter is zero when the server gave no Retry-After.
//
// Wait is called before every attempt, retries included: each attempt spends budget.
type Limiter interface {
	Wait(ctx context.Context, r Request) error
	Throttled(ctx context.Context, r Request, retryAfter time.Duration)
}

// RetriedStatuses returns the HTTP statuses on which a request of the given method
// is retried (besides network errors): 429, 502, 503 and 504 for GET and HEAD; 429 and
// 503, which VirusTotal answers before acting, for any other method.
func RetriedStatuses(method string) []int {
	if method == http.MethodGet || method == http.MethodHead {
		return []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}
	}
	return []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}
}

// RetryPolicy bounds retries of the statuses of RetriedStatuses and of network errors.
//
// A zero field takes its value from DefaultRetryPolicy. Backoff is exponential with
// full jitter: before retry n the client waits a random duration in
// [0, min(MaxDelay, BaseDelay*2^(n-1))]; a Retry-After sent by the server replaces it,
// capped at MaxDelay.
type RetryPolicy struct {
	MaxAttempts int           // total attempts, including the first; 1 disables retries
	BaseDelay   time.Duration // first backoff, doubled each attempt, with jitter
	MaxDelay    time.Duration // cap for one backoff (and for a Retry-After)
}

// DefaultRetryPolicy is the policy of a client made without WithRetry.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 60 * time.Second}

// Option configures a Client.
type Option func(*Client) error

// WithServerURL sets the server (default DefaultServerURL), as ParseServerURL reads
// it: the client adds "/api/v3" itself.
func WithServerURL(u string) Option {
	return func(c *Client) error {
		su, err := ParseServerURL(u)
		if err != nil {
			return fmt.Errorf("virustotal: %w", err)
		}
		c.server = su
		return nil
	}
}

// ParseServerURL checks a VirusTotal server URL (VirusTotal's, or an emulator's) as
// WithServerURL takes it, and returns it as scheme://host in lower case. It must be
// an http or https URL with a host and nothing after it: no path other than "/", no
// query or fragment, no user information. Its errors read
// `invalid server URL "ftp://x": the scheme must be http or https`, never with a
// password.
func ParseServerURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("invalid server URL: cannot parse it as a URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("invalid server URL %q: the scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q: it has no host", u.Redacted())
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid server URL %q: it must not carry user information", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("invalid server URL %q: it must not have a query or fragment", u.Redacted())
	}
	if u.Path != "" && u.Path != "/" {
		hint := ""
		if strings.Contains(u.Path, "/api/") {
			hint = " (leave out /api/v3: the client adds it)"
		}
		return nil, fmt.Errorf("invalid server URL %q: it must not have a path%s", u.Redacted(), hint)
	}
	return &url.URL{Scheme: scheme, Host: strings.ToLower(u.Host)}, nil
}

// WithHTTPClient sets the *http.Client. The client is copied, not modified: the copy
// gets a redirect policy that never forwards the API key to another host. Its Timeout,
// if set, bounds every request, uploads included; prefer WithTimeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("virustotal: WithHTTPClient: nil *http.Client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default "vtsoar/<module version>").
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if strings.TrimSpace(ua) == "" || strings.ContainsAny(ua, "\r\n") {
			return errors.New("virustotal: WithUserAgent: the user agent must be a non-empty single line")
		}
		c.userAgent = ua
		return nil
	}
}

// WithProxy sends requests (HTTP and HTTPS) through the proxy at proxyURL, as
// ParseProxyURL reads it. It sets the Proxy of a clone of the client's transport,
// which must be an *http.Transport (or nil, meaning http.DefaultTransport).
func WithProxy(proxyURL string) Option {
	return func(c *Client) error {
		u, err := ParseProxyURL(proxyURL)
		if err != nil {
			return fmt.Errorf("virustotal: %w", err)
		}
		c.proxy = u
		return nil
	}
}

// ParseProxyURL checks a proxy URL as WithProxy takes it: an http, https, socks5 or
// socks5h URL with a host, and maybe the proxy's user and password. Its errors read
// `invalid proxy URL "ftp://p:21": the scheme must be http, https, socks5 or
// socks5h`, the password masked.
func ParseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return nil, errors.New("invalid proxy URL: cannot parse it as a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("invalid proxy URL %q: the scheme must be http, https, socks5 or socks5h", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid proxy URL %q: it has no host", u.Redacted())
	}
	return u, nil
}

// WithTimeout sets the timeout of one HTTP attempt (default 60s; uploads excepted,
// which only their context bounds). Zero disables the per-attempt timeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d < 0 {
			return fmt.Errorf("virustotal: WithTimeout: negative timeout %s", d)
		}
		c.timeout = d
		return nil
	}
}

// WithLimiter sets the Limiter consulted before every request.
func WithLimiter(l Limiter) Option {
	return func(c *Client) error {
		c.limiter = l
		return nil
	}
}

// WithRetry sets the retry policy; zero fields take DefaultRetryPolicy's values.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 {
			return errors.New("virustotal: WithRetry: negative attempts or delays")
		}
		if p.MaxAttempts == 0 {
			p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
		}
		if p.BaseDelay == 0 {
			p.BaseDelay = DefaultRetryPolicy.BaseDelay
		}
		if p.MaxDelay == 0 {
			p.MaxDelay = DefaultRetryPolicy.MaxDelay
		}
		c.retry = p
		return nil
	}
}

// WithLogger sets the logger (default: discard). The client logs at debug level one
// line per attempt (endpoint pattern, status, duration) and at warn level each retry;
// it never logs the API key, request paths or headers.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) error {
		c.logger = l
		return nil
	}
}

// Client talks to VirusTotal API v3. It is safe for concurrent use.
type Client struct {
	apiKey     string
	server     *url.URL // scheme://host, nothing else
	httpClient *http.Client
	userAgent  string
	proxy      *url.URL
	timeout    time.Duration
	limiter    Limiter
	retry      RetryPolicy
	logger     *slog.Logger
}

// New returns a client for apiKey.
func New(apiKey string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("virustotal: empty API key")
	}
	for _, r := range apiKey {
		if r < 0x21 || r == 0x7f {
			return nil, errors.New("virustotal: the API key contains spaces or control characters")
		}
	}
	server, _ := ParseServerURL(DefaultServerURL)
	c := &Client{
		apiKey:    apiKey,
		server:    server,
		userAgent: defaultUserAgent(),
		timeout:   DefaultTimeout,
		retry:     DefaultRetryPolicy,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	var hc http.Client
	if c.httpClient != nil {
		hc = *c.httpClient
	}
	if c.proxy != nil {
		var tr *http.Transport
		switch t := hc.Transport.(type) {
		case nil:
			dt, ok := http.DefaultTransport.(*http.Transport)
			if !ok {
				return nil, errors.New("virustotal: WithProxy: http.DefaultTransport is not an *http.Transport")
			}
			tr = dt.Clone()
		case *http.Transport:
			tr = t.Clone()
		default:
			return nil, fmt.Errorf("virustotal: WithProxy needs an *http.Transport, the HTTP client has a %T", hc.Transport)
		}
		tr.Proxy = http.ProxyURL(c.proxy)
		hc.Transport = tr
	}
	userRedirect := hc.CheckRedirect
	server = c.server
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if !sameOrigin(req.URL, server) {
			req.Header.Del(headerAPIKey)
		}
		if userRedirect != nil {
			return userRedirect(req, via)
		}
		return nil
	}
	c.httpClient = &hc
	return c, nil
}

// ServerURL returns the server the client talks to.
func (c *Client) ServerURL() string { return c.server.String() }

const (
	headerAPIKey = "X-Apikey"
	modulePath   = "github.com/vtsoar/vtsoar"
)

var defaultUserAgent = sync.OnceValue(func() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Path == modulePath && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == modulePath && d.Version != "" {
				v = d.Version
			}
		}
	}
	return "vtsoar/" + v
})

func sameOrigin(u, server *url.URL) bool {
	return strings.EqualFold(u.Scheme, server.Scheme) && strings.EqualFold(u.Host, server.Host)
}

// request is one logical call, possibly sent several times.
type request struct {
	method   string
	endpoint string     // route pattern, "GET /files/{id}"
	path     string     // escaped path under /api/v3, "/files/abc"
	query    url.Values // optional
	absURL   *url.URL   // instead of server + path (upload URL, widget HTML)
	noKey    bool       // do not send the API key
	accept   string     // default application/json
	maxBody  int64      // default maxBodySize

	// form is a form-urlencoded body, replayable.
	form url.Values
	// jsonBody is a JSON body, replayable.
	jsonBody []byte
	// sink receives a successful answer's body as it arrives instead of it being
	// read into memory (file downloads); maxBody bounds it. Once its first byte is
	// written the request is never sent again.
	sink io.Writer
	sunk int64 // bytes written to sink
	// stream makes a body that can only be sent once; contentLength is its size.
	stream       func() (io.Reader, string, int64)
	noTimeout    bool
	unmetered    bool        // VirusTotal does not count it: the Limiter is not asked
	extraSecrets []string    // scrubbed from errors besides the API key
	started      atomic.Bool // a streamed body began to be read, or sink to be written
}

// response is a successful answer, read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *request) routePath() string {
	if i := strings.IndexByte(r.endpoint, ' '); i >= 0 {
		return r.endpoint[i+1:]
	}
	return r.endpoint
}

// idempotent requests may be retried after the server may have seen them.
func (r *request) idempotent() bool {
	return r.method == http.MethodGet || r.method == http.MethodHead
}

// do sends r with the retry policy, consulting the limiter before every attempt
// (unless r is unmetered).
//
// Retry rule: the answers of RetriedStatuses and network errors are retried up to
// MaxAttempts. A GET is retried on 429, 502, 503 and 504. A POST is retried on a 429
// or 503 answer (VirusTotal refuses those before acting) and on a network error that
// happened before the request headers were written (nothing reached the server); it
// is not retried on a 502 or 504 (the request may have been acted on) nor on a
// network error once the request was written. A streamed body (an upload from an
// io.Reader) is never sent twice once its first byte was read, nor a download once
// its first byte was written.
//
// The Limiter is told of a 429 (Throttled) when it is a quota refusal
// (QuotaExceededError, or a 429 without VirusTotal's JSON error) or comes with a
// Retry-After. VirusTotal's TooManyRequestsError without Retry-After is a refusal of
// the request rate, not of the quota: it is retried with backoff without holding the
// budget (a hold there would, when it recurs, read as a spent daily quota).
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	lr := Request{Method: r.method, Endpoint: r.endpoint, Priority: PriorityFrom(ctx)}
	for attempt := 1; ; attempt++ {
		if c.limiter != nil && !r.unmetered {
			if err := c.limiter.Wait(ctx, lr); err != nil {
				return nil, fmt.Errorf("virustotal: %s: %w", r.endpoint, err)
			}
		}
		start := time.Now()
		res, wrote, err := c.attempt(ctx, r)
		elapsed := time.Since(start)
		if err != nil && ctx.Err() != nil {
			// The caller's context ended: that is the answer, not the network.
			return nil, fmt.Errorf("virustotal: %s: %w", r.endpoint, ctx.Err())
		}
		retry := false
		var retryAfter time.Duration
		if err != nil {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "virustotal request failed",
				slog.String("endpoint", r.endpoint), slog.Int("attempt", attempt),
				slog.Duration("elapsed", elapsed), slog.String("error", err.Error()))
			retry = !r.started.Load() && (r.idempotent() || !wrote) && retryableNetError(err)
		} else {
			c.logger.LogAttrs(ctx, slog.LevelDebug, "virustotal request",
				slog.String("endpoint", r.endpoint), slog.Int("attempt", attempt),
				slog.Int("status", res.status), slog.Duration("elapsed", elapsed))
			if res.status >= 200 && res.status < 300 {
				return res, nil
			}
			e := c.apiError(r, res)
			retryAfter = e.RetryAfter
			if res.status == http.StatusTooManyRequests && c.limiter != nil && !r.unmetered && e.QuotaRefusal() {
				c.limiter.Throttled(ctx, lr, e.RetryAfter)
			}
			retry = !r.started.Load() && slices.Contains(RetriedStatuses(r.method), res.status)
			err = e
		}
		if !retry || attempt >= c.retry.MaxAttempts {
			return nil, err
		}
		delay := c.backoff(attempt, retryAfter)
		c.logger.LogAttrs(ctx, slog.LevelWarn, "virustotal retry",
			slog.String("endpoint", r.endpoint), slog.Int("attempt", attempt),
			slog.Duration("delay", delay), slog.String("error", err.Error()))
		if serr := sleep(ctx, delay); serr != nil {
			return nil, fmt.Errorf("virustotal: %s: %w while waiting to retry after: %w", r.endpoint, serr, err)
		}
	}
}

// backoff returns the wait before the retry that follows attempt n (1-based).
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	maxDelay := c.retry.MaxDelay
	if retryAfter > 0 {
		return min(retryAfter, maxDelay)
	}
	d := maxDelay
	if n-1 < 32 {
		if b := c.retry.BaseDelay << (n - 1); b > 0 && b < maxDelay {
			d = b
		}
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sinkWriter records that a download began to be written to its destination.
type sinkWriter struct {
	w       io.Writer
	started *atomic.Bool
}

func (s *sinkWriter) Write(p []byte) (int, error) {
	s.started.Store(true)
	return s.w.Write(p)
}

// startedReader records that the transport began reading a streamed body.
type startedReader struct {
	r       io.Reader
	started *atomic.Bool
}

func (s *startedReader) Read(p []byte) (int, error) {
	s.started.Store(true)
	return s.r.Read(p)
}

// attempt sends r once. wrote reports whether the request headers were written to a
// connection (the server may have seen the request).
func (c *Client) attempt(ctx context.Context, r *request) (res *response, wrote bool, err error) {
	actx := ctx
	if c.timeout > 0 && !r.noTimeout {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	var wroteHeaders atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteHeaders: func() { wroteHeaders.Store(true) },
	})

	target := r.absURL
	if target == nil {
		target = &url.URL{Scheme: c.server.Scheme, Host: c.server.Host}
		raw := "/api/" + APIVersion + r.path
		target.RawPath = raw
		p, uerr := url.PathUnescape(raw)
		if uerr != nil {
			return nil, false, c.transportError(r, uerr)
		}
		target.Path = p
		if len(r.query) > 0 {
			target.RawQuery = r.query.Encode()
		}
	}

	var body io.Reader
	var contentType string
	var length int64
	switch {
	case r.form != nil:
		enc := r.form.Encode()
		body, contentType, length = strings.NewReader(enc), "application/x-www-form-urlencoded", int64(len(enc))
	case r.jsonBody != nil:
		body, contentType, length = bytes.NewReader(r.jsonBody), "application/json", int64(len(r.jsonBody))
	case r.stream != nil:
		var sb io.Reader
		sb, contentType, length = r.stream()
		body = &startedReader{r: sb, started: &r.started}
	}
	req, err := http.NewRequestWithContext(actx, r.method, target.String(), body)
	if err != nil {
		return nil, false, c.transportError(r, err)
	}
	if body != nil {
		req.ContentLength = length
		req.Header.Set("Content-Type", contentType)
		if r.stream != nil {
			req.GetBody = nil
		}
	}
	if !r.noKey {
		req.Header.Set(headerAPIKey, c.apiKey)
	}
	accept := r.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, wroteHeaders.Load(), c.transportError(r, err)
	}
	defer resp.Body.Close()
	limit := r.maxBody
	if limit <= 0 {
		limit = maxBodySize
	}
	var rd io.Reader = resp.Body
	gz := strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip")
	if gz {
		zr, zerr := gzip.NewReader(resp.Body)
		switch {
		case zerr == io.EOF:
			rd = strings.NewReader("") // an empty body labelled gzip
		case zerr != nil:
			return nil, true, &Error{StatusCode: resp.StatusCode, Code: codeInvalidResponseOr(resp.StatusCode),
				Method: r.method, Path: r.routePath(),
				Message: "answer labelled gzip is not valid gzip: " + zerr.Error()}
		default:
			defer zr.Close()
			rd = zr
		}
	}
	if r.sink != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		n, err := io.Copy(&sinkWriter{w: r.sink, started: &r.started}, io.LimitReader(rd, limit+1))
		r.sunk += n
		if err != nil {
			return nil, true, c.transportError(r, fmt.Errorf("reading the answer: %w", err))
		}
		if n > limit {
			return nil, true, &Error{StatusCode: resp.StatusCode, Code: CodeInvalidResponse,
				Method: r.method, Path: r.routePath(), Message: fmt.Sprintf("answer larger than %d bytes", limit)}
		}
		resp.Header.Del("Content-Encoding")
		return &response{status: resp.StatusCode, header: resp.Header}, true, nil
	}
	var buf bytes.Buffer
	if !gz && resp.ContentLength > 0 && resp.ContentLength <= limit {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(rd, limit+1)); err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
			return nil, true, &Error{StatusCode: resp.StatusCode, Code: codeInvalidResponseOr(resp.StatusCode),
				Method: r.method, Path: r.routePath(),
				Message: "answer labelled gzip is not valid gzip: " + err.Error()}
		}
		return nil, true, c.transportError(r, fmt.Errorf("reading the answer: %w", err))
	}
	if int64(buf.Len()) > limit {
		return nil, true, &Error{StatusCode: resp.StatusCode, Code: codeInvalidResponseOr(resp.StatusCode),
			Method: r.method, Path: r.routePath(),
			Message: fmt.Sprintf("answer larger than %d bytes", limit)}
	}
	resp.Header.Del("Content-Encoding")
	return &response{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}, true, nil
}

func codeInvalidResponseOr(status int) string {
	if status >= 200 && status < 300 {
		return CodeInvalidResponse
	}
	return codeForStatus(status)
}

// retryableNetError reports whether a transport error may go away on a new attempt
// (connection refused or reset, timeouts, EOF): certificate errors and malformed
// requests do not.
func retryableNetError(err error) bool {
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Err.Error()
		if strings.Contains(msg, "unsupported protocol scheme") || strings.Contains(msg, "stopped after") {
			return false
		}
	}
	return !errors.Is(err, context.Canceled)
}
