package connclient

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Pool keeps the clients of the stored connections of a long-running process (the
// REST server and the enrichment of `vtsoar serve` share one), so that the requests
// on one connection share its limiter (one in-process priority queue per budget) and
// its HTTP keep-alive connections. A client is rebuilt when its stored connection
// changes (its update time or its sealed key), or, for a key stored as a reference,
// when the reference resolves to another key (Options.Secrets keeps what it resolved
// for its TTL). An inactive connection has no client (an *InactiveError). The
// connections going through one proxy share one HTTP client, unless the options give
// the HTTP client of all. Options.WrapTransport wraps the transport of every HTTP
// client the pool uses.
type Pool struct {
	st     Store
	cipher *secret.Cipher
	opts   Options
	// recent keeps the decoded answers of the process, in front of the store's
	// caches of all its connections.
	recent *cache.Recent

	mu      sync.Mutex
	conns   map[string]pooled
	clients map[string]*http.Client // by proxy URL
}

type pooled struct {
	updated time.Time
	sealed  []byte
	conn    *Conn
}

// RecentBytes bounds the decoded answers a Pool keeps in front of the store's caches
// of its connections (cache.Recent).
const RecentBytes = 32 << 20

// poolConcurrency sizes the idle pool of the HTTP clients of a Pool: the requests one
// process has in flight to one server at once.
const poolConcurrency = 16

// NewPool returns the clients of the connections stored in st, built with opts, keys
// opened with c. Their answers are written before a put returns (a job resumed after a
// kill counts on an answer it received being stored) and kept decoded, in one
// cache.Recent of RecentBytes, in front of the store's caches.
func NewPool(st Store, c *secret.Cipher, opts Options) *Pool {
	if opts.HTTPClient != nil && opts.WrapTransport != nil {
		hc := *opts.HTTPClient
		if hc.Transport == nil {
			hc.Transport = http.DefaultTransport
		}
		hc.Transport = opts.WrapTransport(hc.Transport)
		opts.HTTPClient = &hc
	}
	return &Pool{st: st, cipher: c, opts: opts, recent: cache.NewRecent(RecentBytes), conns: map[string]pooled{}, clients: map[string]*http.Client{}}
}

// Current returns the client built for the connection of stamp when it is still the
// one stored and its key is stored as such (nil otherwise: Get builds it again, or
// resolves its key's reference again).
func (p *Pool) Current(stamp store.ConnectionStamp) *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.conns[stamp.Name]; ok && e.conn.keyRef == "" && e.updated.Equal(stamp.UpdatedAt) && bytes.Equal(e.sealed, stamp.SealedAPIKey) {
		return e.conn
	}
	return nil
}

// Get returns the client of the stored connection c.
func (p *Pool) Get(ctx context.Context, c store.Connection) (*Conn, error) {
	p.mu.Lock()
	if e, ok := p.conns[c.Name]; ok && e.conn.keyRef == "" && e.updated.Equal(c.UpdatedAt) && bytes.Equal(e.sealed, c.SealedAPIKey) {
		p.mu.Unlock()
		return e.conn, nil
	}
	p.mu.Unlock()
	// Out of the lock: resolving a reference may run a vault's client.
	t, err := TargetOf(ctx, p.cipher, p.opts.Secrets, c)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.conns[c.Name]; ok && e.updated.Equal(c.UpdatedAt) && bytes.Equal(e.sealed, c.SealedAPIKey) &&
		e.conn.apiKey == t.APIKey && e.conn.proxy == t.Proxy {
		return e.conn, nil // built meanwhile, or its reference resolves to the key it has
	}
	opts := p.opts
	if opts.HTTPClient == nil {
		hc, err := p.httpClient(t.Proxy)
		if err != nil {
			return nil, t.named(err)
		}
		opts.HTTPClient = hc
	}
	conn, err := build(ctx, p.st, t, opts)
	if err != nil {
		return nil, err
	}
	conn.answers = p.recent.Tier(conn.Cache, conn.Client.ServerURL(), command.DecodeAnswer)
	if t.Spec.Unlimited() {
		conn.behind = p.recent.Tier(p.st.CacheBehind(conn.Client.ServerURL()), conn.Client.ServerURL(), command.DecodeAnswer)
	}
	p.conns[c.Name] = pooled{updated: c.UpdatedAt, sealed: bytes.Clone(c.SealedAPIKey), conn: conn}
	return conn, nil
}

// Forget drops the client of a connection that changed or went away.
func (p *Pool) Forget(name string) {
	p.mu.Lock()
	delete(p.conns, name)
	p.mu.Unlock()
}

// GetFresh is Get with the connection's key reference resolved again, whatever the
// resolver kept (a test of the connection checks the key as it is now). The client is
// built again only when the key changed.
func (p *Pool) GetFresh(ctx context.Context, c store.Connection) (*Conn, error) {
	if len(c.SealedAPIKeyRef) > 0 && p.opts.Secrets != nil {
		if ref, err := OpenKeyRef(p.cipher, c); err == nil {
			p.opts.Secrets.Forget(ref)
		}
	}
	return p.Get(ctx, c)
}

// httpClient returns the HTTP client for a proxy ("" for none), its transport wrapped
// by Options.WrapTransport. Call with mu held.
func (p *Pool) httpClient(proxy string) (*http.Client, error) {
	if hc, ok := p.clients[proxy]; ok {
		return hc, nil
	}
	hc, err := NewHTTPClient(poolConcurrency, proxy)
	if err != nil {
		return nil, err
	}
	if p.opts.WrapTransport != nil {
		hc.Transport = p.opts.WrapTransport(hc.Transport)
	}
	p.clients[proxy] = hc
	return hc, nil
}
