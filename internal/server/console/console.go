// Package console is vtsoar's web console: server-rendered pages (html/template,
// assets embedded in the binary, a little plain JavaScript for tabs and progress)
// that let analysts run commands, follow events and incidents (with their attached
// files) and detonate files of each file source, and administrators manage
// connections, in a browser.
//
// # Sessions and authorisation
//
// A user signs in with their bearer token, checked by Config.Authenticate (the
// server's own check). The console then starts a session of its own: a random id in
// an HttpOnly, SameSite=Strict cookie (Secure when Config.Secure says the request came
// over HTTPS), of which the store keeps only the SHA-256 (store.Sessions, shared by
// replicas). The token itself is not kept. A session ends after Config.SessionIdle
// without use or Config.SessionMaxAge after sign-in, at sign-out, and when its user
// is removed or given a new token.
//
// The console has no permission system of its own: every page gets its data by
// calling the REST API in process as the session's user (Config.AsUser), so what the
// API refuses (401, 403, 404) the console refuses too, with a page that says so in
// words. The user is used to greet them and to hide links they cannot follow.
//
// # Browser security
//
// Every page is served with a strict Content-Security-Policy (scripts and styles
// from the console's own origin only, no plugins, no framing of the console),
// X-Content-Type-Options: nosniff and Referrer-Policy: same-origin (nothing of the
// console's addresses leaves it). Every form that
// changes something is a POST carrying a CSRF token: an HMAC keyed by the session's
// id, which only the browser's cookie holds, so that every replica checks it (a
// double-submit cookie on the sign-in form). A form that uploads a file
// (multipart) carries it as its first part, checked before the file is read; the
// file is then streamed to the API, never held whole. The widget HTML of
// retrieve-widget-html-content, which comes from VirusTotal, is served from its own
// path under "Content-Security-Policy: sandbox" and shown in an iframe with
// sandbox="": it gets an opaque origin, and no script of it runs.
package console

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Config is what a Console is built from.
type Config struct {
	// API is the REST API (the server's handler); every page's data comes through it
	// with the signed-in user's token.
	API http.Handler
	// Authenticate returns the user whose bearer token (Authorization header) the
	// request carries: the server's own check, made at sign-in.
	Authenticate func(r *http.Request) (*store.User, error)
	// AsUser returns ctx carrying u, for a request to API that it is to take as u's
	// (the session's user); only in-process requests can carry it.
	AsUser func(ctx context.Context, u *store.User) context.Context
	// Secure reports whether a request came over HTTPS, so that the console's cookies
	// are Secure (nil: when it came over TLS to this process).
	Secure func(r *http.Request) bool
	// SessionIdle ends a session unused for that long (0: DefaultSessionIdle);
	// SessionMaxAge ends it that long after sign-in (0: DefaultSessionMaxAge).
	SessionIdle, SessionMaxAge time.Duration
	// Store keeps the sessions, and is read for the quota page (the ledger of a
	// connection's budget), for connections the API has allowed the user to see.
	Store store.Store
	// Client returns the client of a stored connection (its budget and limiter).
	Client func(ctx context.Context, c store.Connection) (*connclient.Conn, error)
	// UploadTimeout is how long a form that uploads a file may take to arrive (0:
	// DefaultUploadTimeout); other requests have the server's read deadline.
	UploadTimeout time.Duration
	// Logger receives what goes wrong (nil: discard). Never a token or a key.
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Console is the web console as an http.Handler.
type Console struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	pages   map[string]*template.Template
	widgets *widgetStore
	limits  store.SessionLimits
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Names of the console's cookies.
const (
	sessionCookie = "vtsoar_session"
	loginCookie   = "vtsoar_login_csrf"
	// maxForm bounds a form body.
	maxForm = 1 << 20
)

// How long a session lasts by default: 12 hours without use, a week in all.
const (
	DefaultSessionIdle   = 12 * time.Hour
	DefaultSessionMaxAge = 7 * 24 * time.Hour
)

// DefaultUploadTimeout bounds the time a form that uploads a file takes to arrive.
const DefaultUploadTimeout = 30 * time.Minute

// ContentSecurityPolicy is the policy of every console page.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// widgetPolicy is the policy of a widget's HTML: a sandbox (opaque origin, no
// scripts, no forms), no requests but inline styles and data: images, and framed by
// the console only.
const widgetPolicy = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

// New returns the console described by cfg.
func New(cfg Config) (*Console, error) {
	if cfg.API == nil || cfg.Authenticate == nil || cfg.AsUser == nil || cfg.Store == nil || cfg.Client == nil {
		return nil, errors.New("console: API, Authenticate, AsUser, Store and Client are required")
	}
	if cfg.Secure == nil {
		cfg.Secure = func(r *http.Request) bool { return r.TLS != nil }
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = DefaultSessionMaxAge
	}
	if cfg.UploadTimeout <= 0 {
		cfg.UploadTimeout = DefaultUploadTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Console{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), widgets: newWidgetStore(cfg.Now),
		limits: store.SessionLimits{Idle: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge}}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	c.mux.HandleFunc("GET /{$}", c.page(c.home, false))
	c.mux.HandleFunc("GET /login", c.loginForm)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.page(c.logout, true))
	c.mux.HandleFunc("GET /connections", c.page(c.connections, false))
	c.mux.HandleFunc("GET /connections/new", c.page(c.newConnection, false))
	c.mux.HandleFunc("POST /connections/new", c.page(c.createConnection, true))
	c.mux.HandleFunc("GET /connections/{name}", c.page(c.connection, false))
	c.mux.HandleFunc("GET /connections/{name}/edit", c.page(c.editConnection, false))
	c.mux.HandleFunc("POST /connections/{name}/edit", c.page(c.updateConnection, true))
	c.mux.HandleFunc("POST /connections/{name}/test", c.page(c.testConnection, true))
	c.mux.HandleFunc("POST /connections/{name}/delete", c.page(c.deleteConnection, true))
	c.mux.HandleFunc("GET /lookup", c.page(c.lookupForm, false))
	c.mux.HandleFunc("POST /lookup", c.page(c.lookup, true))
	c.mux.HandleFunc("POST /lookup/export", c.page(c.lookupExport, true))
	c.mux.HandleFunc("GET /run", c.page(c.runForm, false))
	c.mux.HandleFunc("POST /run", c.page(c.run, true))
	c.mux.HandleFunc("GET /runs/{id}", c.page(c.runPage, false))
	c.mux.HandleFunc("POST /runs/{id}/cancel", c.page(c.cancelRun, true))
	c.mux.HandleFunc("GET /events", c.page(c.events, false))
	c.mux.HandleFunc("POST /events", c.page(c.submitEvent, true))
	c.mux.HandleFunc("GET /events/{id}", c.page(c.event, false))
	c.mux.HandleFunc("GET /incidents", c.page(c.incidents, false))
	c.mux.HandleFunc("POST /incidents", c.page(c.createIncident, true))
	c.mux.HandleFunc("GET /incidents/{id}", c.page(c.incident, false))
	c.mux.HandleFunc("POST /incidents/{id}/events", c.page(c.submitIncidentEvent, true))
	c.mux.HandleFunc("POST /incidents/{id}/attachments", c.upload(c.attach))
	c.mux.HandleFunc("GET /detonate", c.page(c.detonateForm, false))
	c.mux.HandleFunc("POST /detonate", c.upload(c.detonate))
	c.mux.HandleFunc("GET /quota", c.page(c.quota, false))
	c.mux.HandleFunc("GET /users", c.page(c.users, false))
	c.mux.HandleFunc("GET /gateway-keys", c.page(c.gatewayKeys, false))
	c.mux.HandleFunc("POST /gateway-keys", c.page(c.createGatewayKey, true))
	c.mux.HandleFunc("POST /gateway-keys/{name}/delete", c.page(c.deleteGatewayKey, true))
	c.mux.HandleFunc("GET /widget/{id}", c.widget)
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusNotFound, "error", &view{Title: "Not found",
			Error: fmt.Sprintf("There is no page %s here.", r.URL.Path)})
	})
	return c, nil
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

func staticHandler(fsys fs.FS) http.Handler {
	fh := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		fh.ServeHTTP(w, r)
	})
}

// session is a signed-in request.
type session struct {
	// idHash is the SHA-256 of the session's id, as the store knows it.
	idHash []byte
	user   *store.User
	csrf   string
}

// pageFunc handles a page for a signed-in user; it renders, redirects, or returns an
// error that becomes an error page.
type pageFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// page signs the request in (or sends it to the sign-in page) and, for a POST,
// checks its CSRF token.
func (c *Console) page(f pageFunc, post bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if post {
				c.render(w, r, http.StatusUnauthorized, "error", &view{Title: "Signed out",
					Error: "You are not signed in (or your session ended). Sign in again, then repeat what you did."})
				return
			}
			if r.URL.Path == "/" {
				// The front page of a visitor is the sign-in page.
				c.renderLogin(w, r, http.StatusOK, "")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				c.render(w, r, http.StatusBadRequest, "error", &view{Title: "Bad form", Session: s, Error: "The form could not be read: " + err.Error()})
				return
			}
			if !c.sameOrigin(r) || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) {
				c.render(w, r, http.StatusForbidden, "error", &view{Title: "Form expired", Session: s,
					Error: "This form's security token is missing or out of date (the page may be old, or the service restarted). Go back, reload the page and send it again."})
				return
			}
		}
		if err := f(w, r, s); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// uploadFunc handles a multipart form for a signed-in user: its fields are read from
// parts, in order, the CSRF token (checked) first.
type uploadFunc func(w http.ResponseWriter, r *http.Request, s *session, mr *multipart.Reader) error

// upload signs a multipart form's request in and checks its CSRF token, which must be
// the form's first part, before anything else of the body is read; the form then has
// Config.UploadTimeout to arrive, and f reads the rest, streaming a file part rather
// than holding it.
func (c *Console) upload(f uploadFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			c.render(w, r, http.StatusUnauthorized, "error", &view{Title: "Signed out",
				Error: "You are not signed in (or your session ended). Sign in again, then repeat what you did."})
			return
		}
		expired := func() {
			c.render(w, r, http.StatusForbidden, "error", &view{Title: "Form expired", Session: s,
				Error: "This form's security token is missing or out of date (the page may be old, or the service restarted). Go back, reload the page and send it again."})
		}
		if !c.sameOrigin(r) {
			expired()
			return
		}
		mr, err := r.MultipartReader()
		if err != nil {
			c.render(w, r, http.StatusBadRequest, "error", &view{Title: "Bad form", Session: s, Error: "The form could not be read: " + err.Error()})
			return
		}
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(c.cfg.UploadTimeout))
		p, err := mr.NextPart()
		if err != nil || p.FormName() != "csrf" {
			expired()
			return
		}
		tok, err := io.ReadAll(io.LimitReader(p, 256))
		if err != nil || !hmac.Equal(tok, []byte(s.csrf)) {
			expired()
			return
		}
		if err := f(w, r, s, mr); err != nil {
			c.fail(w, r, s, err)
		}
	}
}

// formValues reads the small fields of a multipart form (at most maxForm bytes in
// all) up to its file part, which it returns (nil when the form has none, or when no
// file was chosen: a part without a file name).
func formValues(mr *multipart.Reader, file string) (url.Values, *multipart.Part, error) {
	vals := url.Values{}
	left := int64(maxForm)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return vals, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if p.FormName() == file {
			if p.FileName() == "" {
				p.Close()
				continue
			}
			return vals, p, nil
		}
		b, err := io.ReadAll(io.LimitReader(p, left+1))
		if err != nil {
			return nil, nil, err
		}
		if left -= int64(len(b)); left < 0 {
			return nil, nil, errors.New("the form is too large")
		}
		vals.Add(p.FormName(), string(b))
	}
}

// sameOrigin refuses a POST that the browser says comes from another site (Origin,
// Sec-Fetch-Site). An opaque origin ("null", as sandboxed frames have) is left to the
// CSRF token, which such a frame cannot know.
func (c *Console) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// session returns the signed-in session of r: its cookie's id, known to the store
// and not over.
func (c *Console) session(r *http.Request) (*session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, errors.New("no session")
	}
	hash := auth.HashToken(ck.Value)
	u, err := c.cfg.Store.SessionUser(r.Context(), hash, c.limits)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			c.log.ErrorContext(r.Context(), "console: reading a session", "error", err)
		}
		return nil, err
	}
	return &session{idHash: hash, user: &u, csrf: csrfFor(ck.Value)}, nil
}

// csrfFor returns the CSRF token of the session whose id is id: an HMAC keyed by the
// id, which only the browser's cookie holds.
func csrfFor(id string) string {
	m := hmac.New(sha256.New, []byte(id))
	m.Write([]byte("vtsoar console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// apiError is an answer of the API other than 2xx: a problem's status and detail.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string { return e.Detail }

// call runs one request on the API as the session's user and decodes a 2xx answer's
// JSON into out (when not nil).
func (c *Console) call(r *http.Request, s *session, method, path string, body, out any) error {
	if body == nil {
		return c.send(r, s, method, path, "", nil, out)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	return c.send(r, s, method, path, "application/json", bytes.NewReader(b), out)
}

// send runs one request on the API as the session's user with a body of content type
// ct (none when body is nil), read as the API reads it (an upload streamed), and
// decodes a 2xx answer's JSON into out (when not nil).
func (c *Console) send(r *http.Request, s *session, method, path, ct string, body io.Reader, out any) error {
	h := http.Header{}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	_, err := c.sendWith(r, s, method, path, h, body, out)
	return err
}

// callJSON is call with more request headers (Prefer); it returns the answer's status.
func (c *Console) callJSON(r *http.Request, s *session, method, path string, header http.Header, body, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	h := header.Clone()
	h.Set("Content-Type", "application/json")
	return c.sendWith(r, s, method, path, h, bytes.NewReader(b), out)
}

// sendWith is send with the request's headers header; it returns the answer's status.
func (c *Console) sendWith(r *http.Request, s *session, method, path string, header http.Header, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(c.cfg.AsUser(r.Context(), s.user), method, path, body)
	if err != nil {
		return 0, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	rec := &recorder{header: http.Header{}}
	c.cfg.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.status < 200 || rec.status > 299 {
		var p struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
		}
		json.Unmarshal(rec.body.Bytes(), &p)
		if p.Detail == "" {
			p.Detail = p.Title
		}
		if p.Detail == "" {
			p.Detail = http.StatusText(rec.status)
		}
		return rec.status, &apiError{Status: rec.status, Detail: p.Detail}
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return rec.status, fmt.Errorf("reading the answer of %s %s: %w", method, path, err)
		}
	}
	return rec.status, nil
}

// recorder is the ResponseWriter of an in-process API call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// fail renders the error page of err: the API's refusals keep their status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *apiError
	v := &view{Session: s, Error: err.Error()}
	status := http.StatusInternalServerError
	switch {
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		status, v.Title = ae.Status, "Not allowed"
		v.Error = "Your account (" + s.user.Name + ", " + s.user.Role + ") may not open this page: " + ae.Detail + ". Ask an administrator if you need it."
	case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		status, v.Title = ae.Status, "Not found"
	case errors.As(err, &ae):
		status, v.Title = ae.Status, "Something went wrong"
	default:
		v.Title = "Something went wrong"
		v.Error = "The console failed to build this page; the details are in the service's log."
		c.log.ErrorContext(r.Context(), "console page failed", "path", r.URL.Path, "error", err)
	}
	c.render(w, r, status, "error", v)
}

// widgetStore keeps widget HTML for a while under unguessable ids, so that an iframe
// can load it from the console's /widget/{id} path.
type widgetStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]widgetEntry
}

type widgetEntry struct {
	html    string
	expires time.Time
}

const (
	widgetTTL = time.Hour
	maxWidget = 256
)

func newWidgetStore(now func() time.Time) *widgetStore {
	return &widgetStore{now: now, m: map[string]widgetEntry{}}
}

func (ws *widgetStore) put(html string) string {
	var b [16]byte
	rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	now := ws.now()
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for k, e := range ws.m {
		if now.After(e.expires) || len(ws.m) >= maxWidget {
			delete(ws.m, k)
		}
	}
	ws.m[id] = widgetEntry{html: html, expires: now.Add(widgetTTL)}
	return id
}

func (ws *widgetStore) get(id string) (string, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	e, ok := ws.m[id]
	if !ok || ws.now().After(e.expires) {
		return "", false
	}
	return e.html, true
}

// widget serves a widget's HTML in a sandbox: its own CSP replaces the console's.
func (c *Console) widget(w http.ResponseWriter, r *http.Request) {
	html, ok := c.widgets.get(r.PathValue("id"))
	h := w.Header()
	h.Set("Content-Security-Policy", widgetPolicy)
	h.Del("X-Frame-Options")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!doctype html><p>This widget has expired: run the command again.</p>")
		return
	}
	io.WriteString(w, html)
}

// setCookie sets one of the console's cookies: HttpOnly, SameSite=Strict, for the
// whole site, Secure when the request came over HTTPS (Config.Secure).
func (c *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.cfg.Secure(r),
		SameSite: http.SameSiteStrictMode}
	switch {
	case maxAge < 0:
		ck.MaxAge = -1
	case maxAge > 0:
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, ck)
}

// localPath returns next when it is a path of this site, else "/": it must parse as a
// URL with neither scheme nor host, start with one "/", and hold no backslash and no
// control character, which browsers strip or read as "/" before they follow a
// redirect ("/\t/evil.example" is "//evil.example" to them, another site).
func localPath(next string) string {
	if _, bad := store.ControlChar(next); bad || strings.Contains(next, "\\") ||
		!strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	return next
}
