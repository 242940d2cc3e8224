package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Clients keeps the clients built for stored connections (by connclient), so that the
// requests on one connection share its limiter (one in-process priority queue per
// budget) and its HTTP keep-alive connections, and so that every request to
// VirusTotal is counted in the metrics. A client is rebuilt when its stored
// connection changes. A process has one Clients, given to both the server and the
// enrichment service (its Get is an enrich.ClientFactory): `vtsoar serve` builds it
// with enrich.Options.ClientOptions.
type Clients struct {
	st      store.Store
	cipher  *secret.Cipher
	opts    connclient.Options
	metrics *Metrics

	mu      sync.Mutex
	conns   map[string]cachedConn
	clients map[string]*http.Client // by proxy URL
}

type cachedConn struct {
	updated time.Time
	sealed  []byte
	conn    *connclient.Conn
}

// RecentBytes bounds the decoded answers a Clients keeps in front of the store's
// cache for its connections (command.Recent), unless its options bring their own.
const RecentBytes = 32 << 20

// NewClients returns the clients of the connections stored in st, built with
// connclient.Build, keys opened with c, and requests counted in m. Their answers are
// kept decoded in one command.Recent of RecentBytes unless opts.Recent is set.
func NewClients(st store.Store, c *secret.Cipher, opts connclient.Options, m *Metrics) *Clients {
	if opts.Recent == nil {
		opts.Recent = command.NewRecent(RecentBytes)
	}
	return &Clients{st: st, cipher: c, opts: opts, metrics: m,
		conns: map[string]cachedConn{}, clients: map[string]*http.Client{}}
}

// Current returns the client built for the connection of stamp when it is still the
// one stored (nil otherwise: Get builds it again).
func (cc *Clients) Current(stamp store.ConnectionStamp) *connclient.Conn {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.conns[stamp.Name]; ok && e.updated.Equal(stamp.UpdatedAt) && bytes.Equal(e.sealed, stamp.SealedAPIKey) {
		return e.conn
	}
	return nil
}

// Get returns the client of the stored connection c.
func (cc *Clients) Get(ctx context.Context, c store.Connection) (*connclient.Conn, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.conns[c.Name]; ok && e.updated.Equal(c.UpdatedAt) && bytes.Equal(e.sealed, c.SealedAPIKey) {
		return e.conn, nil
	}
	proxy, err := connclient.OpenProxy(cc.cipher, c)
	if err != nil {
		return nil, err
	}
	hc, err := cc.httpClient(proxy)
	if err != nil {
		return nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	opts := cc.opts
	opts.HTTPClient = hc
	conn, err := connclient.Build(ctx, cc.st, cc.cipher, c, opts)
	if err != nil {
		return nil, err
	}
	cc.conns[c.Name] = cachedConn{updated: c.UpdatedAt, sealed: bytes.Clone(c.SealedAPIKey), conn: conn}
	return conn, nil
}

// clientsConcurrency sizes the idle pool of the HTTP clients of Clients: the requests
// one process has in flight to one server at once.
const clientsConcurrency = 16

// httpClient returns the HTTP client for a proxy ("" for none), whose transport counts
// the requests to VirusTotal. Call with mu held.
func (cc *Clients) httpClient(proxy string) (*http.Client, error) {
	if hc, ok := cc.clients[proxy]; ok {
		return hc, nil
	}
	hc, err := connclient.NewHTTPClient(clientsConcurrency, proxy)
	if err != nil {
		return nil, err
	}
	hc.Transport = cc.metrics.Transport(hc.Transport)
	cc.clients[proxy] = hc
	return hc, nil
}

// forget drops the client of a connection that changed or went away.
func (cc *Clients) forget(name string) {
	cc.mu.Lock()
	delete(cc.conns, name)
	cc.mu.Unlock()
}
