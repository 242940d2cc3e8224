// Package server is vtsoar's REST API (`vtsoar serve`): the integration commands,
// connections, events, incidents, files and jobs under /api/v1, an OpenAPI 3.1 document that
// describes them, Prometheus metrics, a health check and, at /, the web console
// (package console), which goes through the same API and so the same authorisation.
//
// # Authentication and authorisation
//
// Every endpoint but GET /healthz, GET / and GET /api/v1/openapi.json takes a bearer
// token (Authorization: Bearer TOKEN); a missing or unknown token is 401 with
// WWW-Authenticate: Bearer. Tokens are 32 random bytes, shown once when the user is
// made (`vtsoar user add`) and stored as their SHA-256 only; package auth makes them
// and the users who hold them. GET /metrics is for admins and for the scrape token
// of Config.MetricsToken: it names every connection and its budget, which an analyst
// may not all see.
//
// The console (package console) signs users in with their token and then keeps a
// session of its own (store.Sessions); the API requests it makes in process are taken
// as the session's user (asUser), so that they pass the same checks.
//
// Users have a role: analyst (run commands, post and read events, upload files, read
// the connections they may use) or admin (all of that, and manage connections and
// read users). A user belongs to sites (tenants), or to every site ("*"). A connection
// lists the users who may run it (empty: every user) and the sites it serves (empty:
// every site); an analyst may run it only when both allow. An event, an incident or a
// file belongs to one site and only users of that site see it: another site's answers
// 404, as a missing one does, so that ids do not reveal what other sites have.
//
// # Errors
//
// Errors are RFC 9457 problem details (application/problem+json). A command whose
// inputs all failed is still 200: the envelope's return_data says so; 4xx is only for
// a malformed request.
package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/gateway"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server/console"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Limits and timeouts.
const (
	// MaxJSONBody bounds a JSON request body.
	MaxJSONBody = 1 << 20
	// DefaultMaxFileSize bounds an uploaded file: VirusTotal's largest upload.
	DefaultMaxFileSize = store.DefaultMaxFileSize
	// MaxConcurrency bounds the concurrency a command request may ask for.
	MaxConcurrency = 16
	// ReadHeaderTimeout bounds the time to read a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout = 2 * time.Minute
	// DefaultGatewayRecheck is serve's --gateway-recheck: a cached GET of the
	// gateway reads nothing of the database within it.
	DefaultGatewayRecheck = time.Second
	// DefaultBodyReadTimeout bounds reading a request, body included, on every route
	// (the API's and the console's); uploads get uploadReadTimeout.
	DefaultBodyReadTimeout = 30 * time.Second
	uploadReadTimeout      = 30 * time.Minute
	// DefaultMaxConnections bounds the connections a server holds open at once
	// (LimitListener).
	DefaultMaxConnections = 1024
	// writeTimeout bounds writing an answer, except commands that follow analyses.
	writeTimeout = 2 * time.Minute
)

// Config is what a Server is built from.
type Config struct {
	// Store holds connections, users, files, the cache and the quota ledger.
	Store store.Store
	// Cipher seals the API keys of connections created or updated over the API.
	Cipher *secret.Cipher
	// Clients builds the clients of connections (nil: a connclient.Pool with Conn,
	// whose requests Metrics counts).
	Clients *connclient.Pool
	// Conn tunes the clients built for connections when Clients is nil; its
	// WrapTransport is replaced by one that counts requests for the metrics.
	Conn connclient.Options
	// AllowSecretRefs are the patterns (globs: 'env:VT_*', 'file:/run/secrets/*') of
	// the secret references a connection may be given over the API
	// (secret.AllowedRef); none: no reference is taken.
	AllowSecretRefs []string
	// Commands checks the requests of integration commands (nil: the registry of
	// every command, command.Commands()).
	Commands Commands
	// Enrich runs events and connection health checks; nil answers 503 on those
	// endpoints.
	Enrich Enricher
	// Runs runs commands in the background (Prefer: respond-async, /api/v1/runs);
	// nil: Enrich when it does (an *enrich.Service), else 503 on those.
	Runs Runner
	// DataDir holds uploaded files (under DataDir/files, by sha256).
	DataDir string
	// MaxFileSize bounds an upload (0: DefaultMaxFileSize).
	MaxFileSize int64
	// Metrics is where the server counts (nil: a new registry).
	Metrics *Metrics
	// Logger receives the request log (nil: discard). Tokens and keys are never
	// logged.
	Logger *slog.Logger
	// BodyReadTimeout bounds the time to read a request, its body included, from when
	// its headers are read, on every route but uploads (0: DefaultBodyReadTimeout): a
	// client that sends its body a byte at a time is cut off.
	BodyReadTimeout time.Duration
	// SessionIdle and SessionMaxAge bound the console's sessions (0: the console's
	// defaults).
	SessionIdle, SessionMaxAge time.Duration
	// CookieSecure makes the console's cookies Secure whatever the request came over
	// (a service reached only through HTTPS).
	CookieSecure bool
	// TrustedProxies are the proxies whose X-Forwarded-Proto is believed: a request
	// from one of them that says https gets Secure cookies.
	TrustedProxies []netip.Prefix
	// GatewayRecheck is how long the VirusTotal gateway takes a key, and a cached
	// answer the store confirmed, as they were for cached GETs (gateway.Config.Recheck;
	// 0: every request reads the store). This process's own removals and connection
	// changes count at once.
	GatewayRecheck time.Duration
	// Now is the clock of the gateway (nil: time.Now).
	Now func() time.Time
	// MetricsToken, when not empty, is a bearer token that may read GET /metrics (a
	// Prometheus scraper's), besides admins; it is compared in constant time and
	// opens nothing else.
	MetricsToken string
}

// Commands is what the server needs of the integration commands: Prepare looks a
// request's command up and checks the request, once (command.Registry).
type Commands interface {
	Prepare(command.Request) (*command.Prepared, error)
}

// Server is the REST API as an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *Metrics
	files   *store.FileStore
	conns   *connclient.Pool
	// commands checks the commands' requests; takesFiles and writesFiles name the
	// commands that take files (file_source) and those that write them (site).
	commands    Commands
	takesFiles  []string
	writesFiles []string
	routes      []route
	console     *console.Console
	// metricsToken is the SHA-256 of Config.MetricsToken (nil: none).
	metricsToken []byte
	gateway      *gateway.Gateway
	// keyServers holds, by the SHA-256 of a gateway key, the server of its
	// connection on the key's last request (gatewayKeyFor's guess of the cache to
	// read with the key).
	keyServers sync.Map
}

// New returns the API described by cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Cipher == nil {
		return nil, errors.New("server: Store and Cipher are required")
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.BodyReadTimeout <= 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	files, err := store.NewFileStore(filepath.Join(cfg.DataDir, store.FilesDir), cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), metrics: cfg.Metrics, files: files}
	if cfg.MetricsToken != "" {
		s.metricsToken = auth.HashToken(cfg.MetricsToken)
	}
	s.conns = cfg.Clients
	if s.conns == nil {
		opts := cfg.Conn
		opts.WrapTransport = s.metrics.Transport
		s.conns = connclient.NewPool(cfg.Store, cfg.Cipher, opts)
	}
	s.metrics.watch(s, cfg.Enrich)
	s.commands = cfg.Commands
	if s.commands == nil {
		s.commands = command.Commands()
	}
	for _, c := range command.All() {
		if c.TakesFiles {
			s.takesFiles = append(s.takesFiles, c.Name)
		}
		if c.WritesFiles {
			s.writesFiles = append(s.writesFiles, c.Name)
		}
	}
	if s.console, err = console.New(console.Config{API: s, Authenticate: s.authenticate, AsUser: asUser, Secure: s.secure,
		SessionIdle: cfg.SessionIdle, SessionMaxAge: cfg.SessionMaxAge, UploadTimeout: uploadReadTimeout, Store: cfg.Store,
		Client: s.conns.Get, Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if s.gateway, err = gateway.New(gateway.Config{Key: s.gatewayKey, KeyFor: s.gatewayKeyFor, KeyNamed: s.gatewayKeyNamed, Sealer: cfg.Cipher,
		Recheck: cfg.GatewayRecheck, Now: cfg.Now,
		Logger: cfg.Logger, Registerer: s.metrics.Registry, BodyTimeout: cfg.BodyReadTimeout, Secure: s.secure}); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.routes = s.table()
	methods := map[string][]string{} // by path
	var paths []string
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
		if methods[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		methods[rt.path] = append(methods[rt.path], rt.method)
	}
	// Another method on a known path is a 405 problem (the mux's own 405 is text).
	for _, p := range paths {
		allow := methods[p]
		if slices.Contains(allow, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeProblem(w, Problem{Type: ProblemMethodNotAllowed, Status: http.StatusMethodNotAllowed,
				Detail: fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, strings.Join(allow, ", "))})
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") { // the web console's pages
			s.console.ServeHTTP(w, r)
			return
		}
		writeProblem(w, Problem{Type: ProblemNotFound, Status: http.StatusNotFound,
			Detail: fmt.Sprintf("no endpoint %s %s; the API is described at /api/v1/openapi.json", r.Method, r.URL.Path)})
	})
	return s, nil
}

// ServeHTTP implements http.Handler. Every request gets a read deadline
// (Config.BodyReadTimeout), the console's included; a route may set another.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, gateway.Prefix) {
		s.gateway.ServeHTTP(w, r) // which logs its requests, without their ids
		return
	}
	start := time.Now()
	http.NewResponseController(w).SetReadDeadline(start.Add(s.cfg.BodyReadTimeout))
	rec := &statusRecorder{ResponseWriter: w}
	s.mux.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	_, pattern := s.mux.Handler(r)
	// The path is logged, never the query string (it may carry observables) nor any
	// header (Authorization).
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", pattern),
		slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", time.Since(start)), slog.String("user", rec.user),
		slog.String("remote", remoteHost(r)))
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// statusRecorder remembers the status and size of an answer, and the user, for the
// request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	user   string
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// access is who may call a route.
type access int

const (
	public  access = iota // no token
	anyRole               // any user
	analyst               // analyst or admin
	admin                 // admin only
	scraper               // admin, or the metrics token (Config.MetricsToken)
)

// route is one endpoint: the mux pattern, who may call it, and its handler.
type route struct {
	method, path string
	access       access
	handle       func(w http.ResponseWriter, r *http.Request, u *store.User) error
	// write is the write deadline of the answer (0: writeTimeout); read that of the
	// body (0: Config.BodyReadTimeout).
	write, read time.Duration
}

// Routes returns the "METHOD /path" patterns the server serves, for documentation and
// tests.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}

func (s *Server) table() []route {
	return []route{
		{method: "GET", path: "/{$}", access: public, handle: s.serveConsole},
		{method: "GET", path: "/healthz", access: public, handle: s.handleHealthz},
		{method: "GET", path: "/metrics", access: scraper, handle: s.handleMetrics},
		{method: "GET", path: "/api/v1/openapi.json", access: public, handle: s.handleOpenAPI},

		{method: "POST", path: "/api/v1/commands/{command}", access: analyst, handle: s.handleCommand, write: -1},

		{method: "GET", path: "/api/v1/connections", access: anyRole, handle: s.handleListConnections},
		{method: "POST", path: "/api/v1/connections", access: admin, handle: s.handleCreateConnection},
		{method: "GET", path: "/api/v1/connections/{name}", access: anyRole, handle: s.handleGetConnection},
		{method: "PUT", path: "/api/v1/connections/{name}", access: admin, handle: s.handlePutConnection},
		{method: "PATCH", path: "/api/v1/connections/{name}", access: admin, handle: s.handlePatchConnection},
		{method: "DELETE", path: "/api/v1/connections/{name}", access: admin, handle: s.handleDeleteConnection},
		{method: "POST", path: "/api/v1/connections/{name}/test", access: admin, handle: s.handleTestConnection},
		{method: "GET", path: "/api/v1/connections/{name}/health", access: anyRole, handle: s.handleConnectionHealth},

		{method: "POST", path: "/api/v1/events", access: analyst, handle: s.handleSubmitEvent},
		{method: "GET", path: "/api/v1/events", access: analyst, handle: s.handleListEvents},
		{method: "GET", path: "/api/v1/events/{id}", access: analyst, handle: s.handleGetEvent},

		{method: "POST", path: "/api/v1/incidents", access: analyst, handle: s.handleCreateIncident},
		{method: "GET", path: "/api/v1/incidents", access: analyst, handle: s.handleListIncidents},
		{method: "GET", path: "/api/v1/incidents/{id}", access: analyst, handle: s.handleGetIncident},
		{method: "POST", path: "/api/v1/incidents/{id}/attachments", access: analyst, handle: s.handleAttach, read: uploadReadTimeout},

		{method: "POST", path: "/api/v1/files", access: analyst, handle: s.handleUploadFile, read: uploadReadTimeout},
		{method: "GET", path: "/api/v1/files", access: analyst, handle: s.handleListFiles},
		{method: "GET", path: "/api/v1/files/{id}", access: analyst, handle: s.handleGetFile},

		{method: "GET", path: "/api/v1/runs", access: analyst, handle: s.handleListRuns},
		{method: "GET", path: "/api/v1/runs/{id}", access: analyst, handle: s.handleGetRun},
		{method: "DELETE", path: "/api/v1/runs/{id}", access: analyst, handle: s.handleCancelRun},

		{method: "GET", path: "/api/v1/jobs", access: anyRole, handle: s.handleJobs},
		{method: "GET", path: "/api/v1/users", access: admin, handle: s.handleListUsers},

		{method: "GET", path: "/api/v1/gateway-keys", access: admin, handle: s.handleListGatewayKeys},
		{method: "POST", path: "/api/v1/gateway-keys", access: admin, handle: s.handleCreateGatewayKey},
		{method: "GET", path: "/api/v1/gateway-keys/{name}", access: admin, handle: s.handleGetGatewayKey},
		{method: "DELETE", path: "/api/v1/gateway-keys/{name}", access: admin, handle: s.handleDeleteGatewayKey},
	}
}

// serveConsole serves the web console's front page (package console).
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request, _ *store.User) error {
	s.console.ServeHTTP(w, r)
	return nil
}

// wrap authenticates and authorises a route's caller, sets its deadlines and turns
// its error into a problem.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if rt.read > 0 {
			rc.SetReadDeadline(time.Now().Add(rt.read))
		}
		switch {
		case rt.write == 0:
			rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		case rt.write > 0:
			rc.SetWriteDeadline(time.Now().Add(rt.write))
		}
		var u *store.User
		if rt.access == scraper && s.isMetricsToken(r) {
			if rec, ok := w.(*statusRecorder); ok {
				rec.user = "(metrics token)"
			}
		} else if rt.access != public {
			var err error
			u, err = s.authenticate(r)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if rec, ok := w.(*statusRecorder); ok {
				rec.user = u.Name
			}
			if !allowed(u, rt.access) {
				s.fail(w, r, forbidden("role %s may not %s %s", u.Role, r.Method, rt.path))
				return
			}
		}
		if err := rt.handle(w, r, u); err != nil {
			s.fail(w, r, err)
		}
	})
}

func allowed(u *store.User, a access) bool {
	switch a {
	case admin, scraper:
		return u.Role == store.RoleAdmin
	case analyst:
		return u.Role == store.RoleAdmin || u.Role == store.RoleAnalyst
	}
	return true
}

// fail answers with the problem err describes, logging the cause of server errors.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p, cause := problemFor(err)
	switch {
	case store.IsUnavailable(cause):
		s.log.WarnContext(r.Context(), "request refused: the database is unavailable", "method", r.Method, "path", r.URL.Path, "error", cause)
		w.Header().Set("Retry-After", strconv.Itoa(int(storeRetryAfter/time.Second)))
	case p.Status >= 500 && cause != nil:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "error", cause)
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vtsoar"`)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	writeProblem(w, p)
}

// newID returns a random id with a prefix ("f_..." for files).
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// HTTPServer returns an http.Server for h on addr with vtsoar's timeouts: headers
// within ReadHeaderTimeout, idle connections closed after IdleTimeout; body and
// answer deadlines are set per request (Server.ServeHTTP) and per route.
func HTTPServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// LimitListener returns ln accepting at most n connections at once (n < 1:
// DefaultMaxConnections); a further client waits until one closes.
func LimitListener(ln net.Listener, n int) net.Listener {
	if n < 1 {
		n = DefaultMaxConnections
	}
	return netutil.LimitListener(ln, n)
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops accepting,
// lets requests in flight finish for up to grace, and closes what is left.
func Serve(ctx context.Context, ln net.Listener, srv *http.Server, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// isMetricsToken reports whether r carries the metrics token, compared in constant
// time (their SHA-256s, so that the length does not tell either).
func (s *Server) isMetricsToken(r *http.Request) bool {
	tok, ok := bearer(r)
	return ok && s.metricsToken != nil && subtle.ConstantTimeCompare(auth.HashToken(tok), s.metricsToken) == 1
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
