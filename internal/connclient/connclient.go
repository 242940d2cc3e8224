// Package connclient builds what a stored connection needs to talk to VirusTotal: its
// API key opened from the store's sealed form, a vt.Client with the connection's
// server and proxy, the quota limiter of its budget (shared through the store's ledger
// with every process on that key) and the store's cache of the server's answers.
//
// It is the one place where a stored connection becomes a client, used by the CLI, the
// REST server and the background enrichment, so that they seal keys the same way and
// spend the same budgets. A long-running process keeps its connections' clients in a
// Pool.
package connclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Store is what Build needs of a store: its quota ledger and its caches.
type Store interface {
	store.Ledger
	store.Caches
}

// KeyAAD is the associated data a connection's API key is sealed with: it binds the
// sealed key to the connection's name, so it cannot be moved to another row.
func KeyAAD(name string) []byte { return []byte("vtsoar connection\x00" + name) }

// SealKey seals the API key of the connection called name.
func SealKey(c *secret.Cipher, name, apiKey string) ([]byte, error) {
	return c.Seal([]byte(apiKey), KeyAAD(name))
}

// OpenKey opens the sealed API key of a stored connection. Errors name the connection,
// never the key.
func OpenKey(c *secret.Cipher, conn store.Connection) (string, error) {
	if c == nil {
		return "", fmt.Errorf("connection %s: no master key to open its API key", conn.Name)
	}
	b, err := c.Open(conn.SealedAPIKey, KeyAAD(conn.Name))
	if err != nil {
		if errors.Is(err, secret.ErrWrongKey) {
			return "", fmt.Errorf("connection %s: its API key was stored under another master key (%s or the key file beside the database): %w", conn.Name, secret.EnvMasterKey, err)
		}
		return "", fmt.Errorf("connection %s: %w", conn.Name, err)
	}
	return string(b), nil
}

// KeyRefAAD is the associated data a connection's API key reference is sealed with:
// bound to the connection's name, and not to be taken for its key.
func KeyRefAAD(name string) []byte { return []byte("vtsoar connection key reference\x00" + name) }

// SealKeyRef seals the API key reference (env:NAME, file:PATH, exec:COMMAND) of the
// connection called name.
func SealKeyRef(c *secret.Cipher, name, ref string) ([]byte, error) {
	return c.Seal([]byte(ref), KeyRefAAD(name))
}

// OpenKeyRef opens the sealed API key reference of a stored connection.
func OpenKeyRef(c *secret.Cipher, conn store.Connection) (string, error) {
	return openSealed(c, conn.Name, "its API key's reference", conn.SealedAPIKeyRef, KeyRefAAD(conn.Name))
}

// WebhookSecretRefAAD is the associated data a connection's notification webhook
// secret reference is sealed with.
func WebhookSecretRefAAD(name string) []byte {
	return []byte("vtsoar connection webhook secret reference\x00" + name)
}

// SealWebhookSecretRef seals the secret reference of the connection's notification
// webhook.
func SealWebhookSecretRef(c *secret.Cipher, name, ref string) ([]byte, error) {
	return c.Seal([]byte(ref), WebhookSecretRefAAD(name))
}

// OpenWebhookSecretRef opens the sealed secret reference of a stored connection's
// notification webhook ("" when it has none).
func OpenWebhookSecretRef(c *secret.Cipher, conn store.Connection) (string, error) {
	if len(conn.SealedNotifyWebhookSecretRef) == 0 {
		return "", nil
	}
	return openSealed(c, conn.Name, "its webhook's secret reference", conn.SealedNotifyWebhookSecretRef, WebhookSecretRefAAD(conn.Name))
}

// openSealed opens what a connection keeps sealed; errors name the connection and
// what, never the value.
func openSealed(c *secret.Cipher, name, what string, sealed, aad []byte) (string, error) {
	if c == nil {
		return "", fmt.Errorf("connection %s: no master key to open %s", name, what)
	}
	b, err := c.Open(sealed, aad)
	if err != nil {
		return "", fmt.Errorf("connection %s: %s: %w", name, what, err)
	}
	return string(b), nil
}

// ProxyAAD is the associated data a connection's proxy URL is sealed with: it binds
// the sealed URL to the connection's name, and cannot be taken for its API key.
func ProxyAAD(name string) []byte { return []byte("vtsoar connection proxy\x00" + name) }

// SetProxy gives conn (its Name set) the proxy URL proxy ("" for none): a URL with a
// password is sealed whole into SealedProxy and kept in Proxy with its password
// masked; one without is kept in Proxy as it is. The URL as shown (conn.Proxy, the
// password masked) leaves the sealed password as it is, so that a form that shows the
// masked URL and sends it back changes nothing.
func SetProxy(c *secret.Cipher, conn *store.Connection, proxy string) error {
	if len(conn.SealedProxy) > 0 && proxy == conn.Proxy {
		return nil
	}
	shown := secret.RedactURL(proxy)
	if shown == proxy {
		conn.Proxy, conn.SealedProxy = proxy, nil
		return nil
	}
	if c == nil {
		return fmt.Errorf("connection %s: no master key to seal its proxy's password", conn.Name)
	}
	sealed, err := c.Seal([]byte(proxy), ProxyAAD(conn.Name))
	if err != nil {
		return fmt.Errorf("connection %s: %w", conn.Name, err)
	}
	conn.Proxy, conn.SealedProxy = shown, sealed
	return nil
}

// OpenProxy returns the proxy URL of a stored connection with its password: its
// SealedProxy opened, else its Proxy. Errors name the connection, never the URL.
func OpenProxy(c *secret.Cipher, conn store.Connection) (string, error) {
	if len(conn.SealedProxy) == 0 {
		return conn.Proxy, nil
	}
	if c == nil {
		return "", fmt.Errorf("connection %s: no master key to open its proxy's password", conn.Name)
	}
	b, err := c.Open(conn.SealedProxy, ProxyAAD(conn.Name))
	if err != nil {
		return "", fmt.Errorf("connection %s: its proxy: %w", conn.Name, err)
	}
	return string(b), nil
}

// SealProxies seals the proxy passwords that stored connections keep in clear (those
// stored before proxies were sealed) and returns how many it sealed. It asks cipher
// for the master key only when there is one to seal.
func SealProxies(ctx context.Context, st store.Connections, cipher func() (*secret.Cipher, error)) (int, error) {
	conns, err := st.ListConnections(ctx)
	if err != nil {
		return 0, err
	}
	var c *secret.Cipher
	n := 0
	for _, conn := range conns {
		if len(conn.SealedProxy) > 0 || secret.RedactURL(conn.Proxy) == conn.Proxy {
			continue // sealed, or no password
		}
		if c == nil {
			if c, err = cipher(); err != nil {
				return n, err
			}
		}
		if err := SetProxy(c, &conn, conn.Proxy); err != nil {
			return n, err
		}
		if err := st.UpdateConnection(ctx, conn); err != nil {
			return n, fmt.Errorf("connection %s: %w", conn.Name, err)
		}
		n++
	}
	return n, nil
}

// defaultConcurrency sizes the idle pool of a client whose caller did not say how many
// requests it has in flight.
const defaultConcurrency = 16

// NewHTTPClient returns an HTTP client for VirusTotal that keeps up to concurrency
// idle connections per host and goes through proxy ("" for none; checked as
// vt.ParseProxyURL does). Go's default transport keeps two idle connections, so with
// more requests in flight every further one would open (and handshake) a new TLS
// connection. It is the one place where vtsoar's HTTP clients for VirusTotal are made
// (the CLI, the REST server and the enrichment all come here); its Transport is an
// *http.Transport, which a caller may wrap (to count requests).
func NewHTTPClient(concurrency int, proxy string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(concurrency, 2)
	tr.MaxIdleConns = max(tr.MaxIdleConns, tr.MaxIdleConnsPerHost)
	if proxy != "" {
		u, err := vt.ParseProxyURL(proxy)
		if err != nil {
			return nil, err
		}
		tr.Proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: tr}, nil
}

// Options tune Build.
type Options struct {
	// Quota configures the limiter (zero value: right for VirusTotal).
	Quota quota.Config
	// UserAgent is sent with every request (empty: the client's default).
	UserAgent string
	// Retry is the retry policy (zero value: vt.DefaultRetryPolicy).
	Retry vt.RetryPolicy
	// Timeout bounds each attempt (0: vt.DefaultTimeout).
	Timeout time.Duration
	// HTTPClient, when set, is the client's transport (made by NewHTTPClient with the
	// connection's proxy, shared by the connections of one process that go through
	// one proxy). When nil, the client gets NewHTTPClient(Concurrency, its proxy).
	HTTPClient *http.Client
	// Concurrency is how many requests the caller has in flight at once; the HTTP
	// client keeps that many idle connections to the server (0: 16).
	Concurrency int
	// Logger receives the client's log lines (never the key; nil: discard).
	Logger *slog.Logger
	// WrapTransport, when set, wraps the transport of each HTTP client a Pool uses
	// (to count the requests to VirusTotal).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// WrapLimiter, when set, wraps the connection's limiter before the client uses it
	// (to observe waits and spent budgets, or bound how long a request waits).
	WrapLimiter func(*quota.Limiter) vt.Limiter
	// Secrets resolves the keys stored as references (nil: a Resolver that keeps
	// nothing).
	Secrets *secret.Resolver
}

// Conn is a connection ready to use: its client, its limiter and its caches.
type Conn struct {
	// Name is the stored connection's name, empty for a key given as such.
	Name string
	// Client talks to the connection's server through its proxy and limiter.
	Client *vt.Client
	// Limiter spends the connection's budget.
	Limiter *quota.Limiter
	// Cache is the store's cache of the server's answers.
	Cache store.Cache
	// HTTPClient is the HTTP client Client sends through (the connection's proxy and
	// idle pool), for a caller that forwards requests of its own (the gateway).
	HTTPClient *http.Client

	// answers is the cache the connection's commands consult (Deps): Cache, its
	// puts written behind on an unlimited budget of a run of the command line, or
	// behind a Pool's decoded answers in a service.
	answers cache.Cache
	// behind is answers with puts written behind (store.Caches.CacheBehind), for a
	// Pool's connection on an unlimited budget; nil otherwise.
	behind  cache.Cache
	apiKey  string
	keyRef  string
	proxy   string
	budget  string
	policy  risk.Policy
	private bool
	logger  *slog.Logger
	// public is true when the budget is VirusTotal's public one: the key is then
	// taken as a public key (see PublicKey).
	public bool
}

// Build builds the client, limiter and caches of t on st for a run of the command
// line: the answers of an unlimited budget are written behind the run (within 50 ms,
// and on the store's Close: store.Caches.CacheNoWait), where such a key's throughput
// is what counts; a limited budget's are written before a put returns, so that a run
// killed then does not lose an answer a scarce key paid for. A long-running process
// keeps its connections' clients in a Pool instead, whose answers are always written
// before a put returns and kept decoded for the process.
func Build(ctx context.Context, st Store, t Target, opts Options) (*Conn, error) {
	c, err := build(ctx, st, t, opts)
	if err != nil {
		return nil, err
	}
	if t.Spec.Unlimited() {
		c.answers = st.CacheNoWait(c.Client.ServerURL())
	}
	return c, nil
}

// build builds the client, limiter and cache of t, its answers written before a put
// returns.
func build(_ context.Context, st Store, t Target, opts Options) (*Conn, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	qcfg := opts.Quota
	if qcfg.Logger == nil {
		qcfg.Logger = logger
	}
	budget := t.Budget()
	lim := quota.New(st, budget, t.Spec, qcfg)
	var vl vt.Limiter = lim
	if opts.WrapLimiter != nil {
		vl = opts.WrapLimiter(lim)
	}
	vopts := []vt.Option{vt.WithLimiter(vl), vt.WithLogger(logger)}
	if t.ServerURL != "" {
		vopts = append(vopts, vt.WithServerURL(t.ServerURL))
	}
	hc := opts.HTTPClient
	if hc == nil {
		n := opts.Concurrency
		if n <= 0 {
			n = defaultConcurrency
		}
		var err error
		if hc, err = NewHTTPClient(n, t.Proxy); err != nil {
			return nil, t.named(err)
		}
	}
	vopts = append(vopts, vt.WithHTTPClient(hc))
	if opts.UserAgent != "" {
		vopts = append(vopts, vt.WithUserAgent(opts.UserAgent))
	}
	if opts.Retry.MaxAttempts > 0 {
		vopts = append(vopts, vt.WithRetry(opts.Retry))
	}
	if opts.Timeout > 0 {
		vopts = append(vopts, vt.WithTimeout(opts.Timeout))
	}
	client, err := vt.New(t.APIKey, vopts...)
	if err != nil {
		return nil, t.named(err)
	}
	policy := t.Policy
	if policy.IsZero() {
		policy = risk.DefaultPolicy()
	}
	c := &Conn{
		Name:       t.Name,
		Client:     client,
		Limiter:    lim,
		Cache:      st.Cache(client.ServerURL()),
		HTTPClient: hc,
		apiKey:     t.APIKey,
		keyRef:     t.keyRef,
		proxy:      t.Proxy,
		budget:     budget,
		policy:     policy,
		private:    t.IncludePrivate,
		logger:     logger,
		public:     t.Spec == quota.Public,
	}
	c.answers = c.Cache
	return c, nil
}

// Answers returns the cache of the connection's answers as its commands consult it,
// its tiers assembled (for a caller that reads and stores answers of its own, the
// gateway).
func (c *Conn) Answers() cache.Cache { return c.answers }

// AnswersBehind returns Answers with puts that return once the answer is held in this
// process, before it is written (store.Caches.CacheBehind), and true, for a Pool's
// connection on an unlimited budget, where throughput counts and an answer asked again
// costs nothing scarce; Answers and false otherwise.
func (c *Conn) AnswersBehind() (cache.Cache, bool) {
	if c.behind != nil {
		return c.behind, true
	}
	return c.answers, false
}

// Deps returns what command.Run needs to run a command on the connection.
func (c *Conn) Deps() command.Deps {
	return command.Deps{
		Client:         c.Client,
		Cache:          c.answers,
		Policy:         c.policy,
		Logger:         c.logger,
		PublicKey:      c.public,
		IncludePrivate: c.private,
	}
}

// PublicKey reports whether the connection's budget is VirusTotal's public one (4 a
// minute, 500 a day, 15,500 a month), and so its key is taken as a public key:
// commands refuse premium-only relationships on it before sending anything. A
// connection whose key is premium says so with the premium budget (or its own
// figures).
func (c *Conn) PublicKey() bool { return c.public }

// Redact replaces the connection's API key in s, as a last guard before s is logged,
// stored or sent (the vt client already scrubs the messages it returns).
func (c *Conn) Redact(s string) string {
	return secret.Redact(s, c.apiKey)
}

// APIKey returns the connection's API key, for a caller that sends requests of its
// own to the connection's server (the gateway): never to be shown, logged or sent
// anywhere else.
func (c *Conn) APIKey() string { return c.apiKey }

// Budget returns the ledger name of the connection's budget.
// Two connections with one key on one server share it.
func (c *Conn) Budget() string { return c.budget }
