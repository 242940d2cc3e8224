package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/storetest"
)

// sessionCookie returns the console's session cookie that b holds.
func (b *browser) sessionCookie() string {
	b.t.Helper()
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "vtsoar_session" {
			return c.Value
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

// getWithSession GETs path on base carrying only the session cookie value, as a
// browser holding a copy of the cookie would.
func getWithSession(t *testing.T, base, value, path string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.AddCookie(&http.Cookie{Name: "vtsoar_session", Value: value})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// The console's cookie holds a session id, not the bearer token: the token alone is
// no cookie, sign-out ends the session for every copy of the cookie, and removing a
// user or giving it a new token ends its sessions.
func TestSessionsAreServerSide(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL
	// The bearer token in the cookie is refused (it was the cookie's value).
	if st := getWithSession(t, base, e.tokens["admin"], "/events"); st != http.StatusSeeOther {
		t.Fatalf("the token as a session cookie: %d, want 303 to sign in", st)
	}
	b := e.browser(t)
	b.login(e.tokens["admin"])
	id := b.sessionCookie()
	if id == e.tokens["admin"] || strings.Contains(id, e.tokens["admin"]) || strings.Contains(e.tokens["admin"], id) {
		t.Fatal("the session cookie holds the token")
	}
	if st := getWithSession(t, base, id, "/events"); st != 200 {
		t.Fatalf("the session cookie: %d", st)
	}
	// The store keeps its hash only.
	var n int
	if err := e.st.(store.SQLDB).DB().QueryRow(`SELECT COUNT(*) FROM console_sessions WHERE id_hash = ?`, auth.HashToken(id)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions known by the id's hash: %d, %v", n, err)
	}
	// Sign-out ends the session: a copy of the cookie is refused afterwards.
	home := b.get("/")
	if r := b.do("POST", "/logout", url.Values{"csrf": {home.csrf(t)}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.status)
	}
	if st := getWithSession(t, base, id, "/events"); st != http.StatusSeeOther {
		t.Fatalf("the cookie after sign-out: %d, want 303", st)
	}
	// Removing a user ends its sessions.
	an := e.browser(t)
	an.login(e.tokens["analyst"])
	anID := an.sessionCookie()
	if err := e.st.DeleteUser(t.Context(), "analyst"); err != nil {
		t.Fatal(err)
	}
	if st := getWithSession(t, base, anID, "/events"); st != http.StatusSeeOther {
		t.Fatalf("the session of a removed user: %d, want 303", st)
	}
	// A new token ends the user's sessions, not another user's.
	tok, err := auth.CreateUser(t.Context(), e.st, "carol", store.RoleAnalyst, []string{"paris"})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2, adm := e.browser(t), e.browser(t), e.browser(t)
	c1.login(tok)
	c2.login(tok)
	adm.login(e.tokens["admin"])
	if _, err := auth.ReissueToken(t.Context(), e.st, "carol"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c1.sessionCookie(), c2.sessionCookie()} {
		if st := getWithSession(t, base, s, "/events"); st != http.StatusSeeOther {
			t.Fatalf("carol's session after her token was reissued: %d, want 303", st)
		}
	}
	if st := getWithSession(t, base, adm.sessionCookie(), "/events"); st != 200 {
		t.Fatalf("admin's session after carol's token was reissued: %d", st)
	}
}

// A session ends after its idle time without use, and at its lifetime however used;
// the store's clock judges both.
func TestSessionExpiry(t *testing.T) {
	clk := storetest.NewClock(time.Now())
	e := newEnvOpts(t, envOpts{now: clk.Now, server: func(c *server.Config) {
		c.SessionIdle, c.SessionMaxAge = time.Hour, 3*time.Hour
	}})
	b := e.browser(t)
	b.login(e.tokens["admin"])
	id := b.sessionCookie()
	for i := range 3 { // used every 50 minutes: alive at 50, 100 and 150 minutes
		clk.Advance(50 * time.Minute)
		if st := getWithSession(t, e.srv.URL, id, "/events"); st != 200 {
			t.Fatalf("used after %d minutes: %d", 50*(i+1), st)
		}
	}
	clk.Advance(30 * time.Minute) // 3 hours: the lifetime is over
	if st := getWithSession(t, e.srv.URL, id, "/events"); st != http.StatusSeeOther {
		t.Fatalf("3 hours after sign-in: %d, want 303", st)
	}
	b.login(e.tokens["admin"])
	id = b.sessionCookie()
	clk.Advance(59 * time.Minute)
	if st := getWithSession(t, e.srv.URL, id, "/events"); st != 200 {
		t.Fatalf("59 minutes idle: %d", st)
	}
	clk.Advance(61 * time.Minute)
	if st := getWithSession(t, e.srv.URL, id, "/events"); st != http.StatusSeeOther {
		t.Fatalf("61 minutes idle: %d, want 303", st)
	}
}

// signIn signs in to base with token, sending header with each request, and returns
// the Set-Cookie attributes of the sign-in cookie and of the session cookie.
func signIn(t *testing.T, client *http.Client, base, token string, header http.Header) (login, sess *http.Cookie) {
	t.Helper()
	do := func(req *http.Request) *http.Response {
		t.Helper()
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		res.Body = io.NopCloser(strings.NewReader(string(b)))
		return res
	}
	req, _ := http.NewRequest("GET", base+"/login", nil)
	res := do(req)
	for _, c := range res.Cookies() {
		if c.Name == "vtsoar_login_csrf" {
			login = c
		}
	}
	if login == nil {
		t.Fatal("no sign-in cookie")
	}
	req, _ = http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"csrf": {login.Value}, "token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: login.Name, Value: login.Value})
	res = do(req)
	for _, c := range res.Cookies() {
		if c.Name == "vtsoar_session" {
			sess = c
		}
	}
	if sess == nil {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("sign-in = %d, no session cookie: %.300s", res.StatusCode, b)
	}
	return login, sess
}

// The console's cookies are Secure when the request came over HTTPS: over TLS to the
// service, from a trusted proxy saying X-Forwarded-Proto: https, or always with
// CookieSecure; not over plain HTTP, nor on an untrusted client's say-so.
func TestCookieSecure(t *testing.T) {
	noRedirect := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name   string
		opts   envOpts
		header http.Header
		secure bool
	}{
		{"plain HTTP", envOpts{}, nil, false},
		{"TLS", envOpts{tls: true}, nil, true},
		{"trusted proxy, https", envOpts{server: func(c *server.Config) { c.TrustedProxies = loopback }}, https, true},
		{"trusted proxy, http", envOpts{server: func(c *server.Config) { c.TrustedProxies = loopback }},
			http.Header{"X-Forwarded-Proto": {"http"}}, false},
		{"trusted proxy appending to a client's https", envOpts{server: func(c *server.Config) { c.TrustedProxies = loopback }},
			http.Header{"X-Forwarded-Proto": {"https, http"}}, false},
		{"untrusted client saying https", envOpts{server: func(c *server.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		}}, https, false},
		{"no trusted proxy, client saying https", envOpts{}, https, false},
		{"cookie-secure", envOpts{server: func(c *server.Config) { c.CookieSecure = true }}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOpts(t, tc.opts)
			login, sess := signIn(t, noRedirect(e.srv.Client()), e.srv.URL, e.tokens["admin"], tc.header)
			for _, c := range []*http.Cookie{login, sess} {
				if c.Secure != tc.secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
					t.Errorf("%s: Secure=%v HttpOnly=%v SameSite=%v Path=%q; want Secure=%v, HttpOnly, Strict, /",
						c.Name, c.Secure, c.HttpOnly, c.SameSite, c.Path, tc.secure)
				}
			}
			if sess.MaxAge != int((7 * 24 * time.Hour).Seconds()) {
				t.Errorf("session cookie Max-Age = %d, want a week", sess.MaxAge)
			}
		})
	}
}

// Two replicas on one database share the sessions: signed in on one, a browser is
// signed in on the other, its forms (CSRF tokens) are good there, and signing out on
// one ends the session on both.
func TestSessionsSharedByReplicas(t *testing.T) {
	e := newEnv(t)
	st2, err := store.OpenSQLite(t.Context(), filepath.Join(e.dir, "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st2.Close() })
	srv2, err := server.New(server.Config{Store: st2, Cipher: e.cipher, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	replica := httptest.NewServer(srv2)
	t.Cleanup(replica.Close)

	b := e.browser(t)
	b.login(e.tokens["admin"])
	id := b.sessionCookie()
	if st := getWithSession(t, replica.URL, id, "/connections"); st != 200 {
		t.Fatalf("the session on the other replica: %d", st)
	}
	// A form of the first replica, posted to the second.
	csrf := b.get("/connections/new").csrf(t)
	req, _ := http.NewRequest("POST", replica.URL+"/connections/new", strings.NewReader(url.Values{"csrf": {csrf}, "name": {"emu"},
		"api_key": {simAPIKey}, "server_url": {e.simURL}, "quota": {"premium"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "vtsoar_session", Value: id})
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a form of one replica posted to the other: %d", res.StatusCode)
	}
	if _, err := e.st.GetConnection(context.Background(), "emu"); err != nil {
		t.Fatalf("the connection posted to the replica: %v", err)
	}
	// Sign out on the first: the second refuses the session too.
	if r := b.do("POST", "/logout", url.Values{"csrf": {csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.status)
	}
	if st := getWithSession(t, replica.URL, id, "/connections"); st != http.StatusSeeOther {
		t.Fatalf("the session on the other replica after sign-out: %d, want 303", st)
	}
}
