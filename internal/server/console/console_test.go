package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/server/console"
	"github.com/vtsoar/vtsoar/internal/store"
)

func TestSignInAndHeaders(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	// A visitor's front page is the sign-in page, with the API's document linked.
	p := b.get("/")
	if p.status != 200 || !strings.Contains(p.body, `name="token"`) || !strings.Contains(p.body, "/api/v1/openapi.json") {
		t.Fatalf("front page = %d %.300s", p.status, p.body)
	}
	// Other pages send a visitor to sign in, and back afterwards.
	if p := b.get("/events"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=%2Fevents" {
		t.Fatalf("/events signed out = %d %q", p.status, p.header.Get("Location"))
	}
	lp := b.get("/login?next=/events")
	bad := b.do("POST", "/login", url.Values{"csrf": {lp.csrf(t)}, "token": {"vtsoar_not-a-token"}, "next": {"/events"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.body, "was not accepted") {
		t.Fatalf("bad token = %d %.300s", bad.status, bad.body)
	}
	// The sign-in form itself is protected: no matching double-submit token, no sign-in.
	if r := b.do("POST", "/login", url.Values{"csrf": {"forged"}, "token": {e.tokens["admin"]}}); r.status != http.StatusForbidden {
		t.Fatalf("sign-in with a forged csrf = %d", r.status)
	}
	r := b.do("POST", "/login", url.Values{"csrf": {lp.csrf(t)}, "token": {e.tokens["admin"]}, "next": {"/events"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/events" {
		t.Fatalf("sign-in = %d %q", r.status, r.header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "vtsoar_session" {
			sess = c
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteStrictMode || sess.Secure {
		t.Fatalf("session cookie = %+v (want HttpOnly, SameSite=Strict, not Secure over plain HTTP)", sess)
	}
	for _, p := range []string{"/", "/run", "/events", "/connections", "/quota", "/users", "/nothing", "/static/console.css"} {
		r := b.get(p)
		if p == "/nothing" {
			if r.status != 404 {
				t.Errorf("%s = %d", p, r.status)
			}
		} else if r.status != 200 {
			t.Errorf("%s = %d: %.300s", p, r.status, r.body)
		}
		h := r.header
		if h.Get("Content-Security-Policy") != console.ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s headers: %v", p, h)
		}
	}
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(console.ContentSecurityPolicy, want) {
			t.Errorf("CSP lacks %s", want)
		}
	}
	// Signing out ends the session.
	home := b.get("/")
	if r := b.do("POST", "/logout", url.Values{"csrf": {home.csrf(t)}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.status)
	}
	if p := b.get("/events"); p.status != http.StatusSeeOther {
		t.Fatalf("/events after sign-out = %d", p.status)
	}
}

// offSite are next= values that must not send a signed-in browser away: schemes,
// hosts, backslashes, and control characters that browsers strip from a Location
// ("/\t/evil.example" is "//evil.example" to them).
var offSite = []string{
	"https://evil.example/", "//evil.example/x", "/\\evil.example", "/\\/evil.example",
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\r\n/evil.example", "\t//evil.example",
	"/\x00/evil.example", "/\x1b/evil.example", "/\u0085/evil.example", "/\x7f/evil.example",
	"javascript:alert(1)", "data:text/html,x", "http:/evil.example", "evil.example", "", " //evil.example",
	"/\xff/evil.example",
}

func TestLoginNextStaysOnSite(t *testing.T) {
	e := newEnv(t)
	// Signing in with next= in the form, and visiting /login?next= once signed in (the
	// issue's curl: GET /login?next=/%09/evil.example with the session cookie).
	for _, next := range offSite {
		b := e.browser(t)
		lp := b.get("/login?next=" + url.QueryEscape(next))
		if strings.Contains(lp.body, "evil.example") {
			t.Errorf("next %q: the sign-in form carries it", next)
		}
		r := b.do("POST", "/login", url.Values{"csrf": {lp.csrf(t)}, "token": {e.tokens["admin"]}, "next": {next}})
		if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || loc != "/" {
			t.Errorf("sign-in with next %q: %d, redirected to %q", next, r.status, loc)
		}
		if r := b.get("/login?next=" + url.QueryEscape(next)); r.header.Get("Location") != "/" {
			t.Errorf("GET /login?next=%q signed in: redirected to %q", next, r.header.Get("Location"))
		}
	}
	// Paths of the site are kept, with their query and escapes.
	b := e.browser(t)
	b.login(e.tokens["admin"])
	for _, next := range []string{"/events", "/run?command=check-ip-reputation&x=%2F%2Fa", "/connections/a%2Fb", "/%2F%2Fevil.example", "/%09/x"} {
		if r := b.get("/login?next=" + url.QueryEscape(next)); r.header.Get("Location") != next {
			t.Errorf("GET /login?next=%q: redirected to %q", next, r.header.Get("Location"))
		}
	}
	// The request as written, percent-escapes in the query.
	if r := b.get("/login?next=/%09/evil.example"); r.header.Get("Location") != "/" {
		t.Errorf("/login?next=/%%09/evil.example: redirected to %q", r.header.Get("Location"))
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	form := url.Values{"name": {"evil"}, "api_key": {"k"}, "quota": {"public"}}
	for _, tc := range []struct {
		name   string
		csrf   string
		origin string
	}{
		{"no token", "", ""},
		{"forged token", "AAAA", ""},
		{"good token, other origin", b.get("/connections/new").csrf(t), "https://evil.example"},
	} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("csrf", tc.csrf)
		req, _ := http.NewRequest("POST", b.base+"/connections/new", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, resp.StatusCode)
		}
	}
	if _, err := e.st.GetConnection(t.Context(), "evil"); err == nil {
		t.Fatal("a connection was created by a forged form")
	}
	// Another session's token is no good either.
	b2 := e.browser(t)
	b2.login(e.tokens["analyst"])
	other := b2.get("/events").csrf(t)
	f := url.Values{"csrf": {other}, "name": {"evil"}, "api_key": {"k"}}
	if r := b.do("POST", "/connections/new", f); r.status != http.StatusForbidden {
		t.Errorf("another session's csrf token: %d", r.status)
	}
}

func TestKeyWriteOnlyAndAnalystRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.browser(t)
	admin.login(e.tokens["admin"])
	nf := admin.get("/connections/new")
	r := admin.do("POST", "/connections/new", url.Values{"csrf": {nf.csrf(t)}, "name": {"emu"}, "api_key": {simAPIKey},
		"server_url": {e.simURL}, "quota": {"premium"}, "checks": {"file", "ip"}, "health_check_minutes": {"30"},
		"sites": {"paris, lyon"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/connections/emu?created" {
		t.Fatalf("create = %d %q %.400s", r.status, r.header.Get("Location"), r.body)
	}
	c, err := e.st.GetConnection(t.Context(), "emu")
	if err != nil || c.HealthCheckMinutes != 30 || len(c.Sites) != 2 || len(c.ReputationChecks) != 2 || c.ServerURL != e.simURL {
		t.Fatalf("stored = %+v, %v", c, err)
	}
	edit := admin.get("/connections/emu/edit")
	if edit.status != 200 || strings.Contains(edit.body, simAPIKey) || !strings.Contains(edit.body, "stored — leave empty to keep") {
		t.Fatalf("edit page = %d, key shown or placeholder missing", edit.status)
	}
	// Saving without a key keeps it; the interval changes.
	r = admin.do("POST", "/connections/emu/edit", url.Values{"csrf": {edit.csrf(t)}, "server_url": {e.simURL}, "quota": {"premium"},
		"checks": {"file"}, "health_check_minutes": {"5"}, "sites": {""}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit = %d %.400s", r.status, r.body)
	}
	c2, _ := e.st.GetConnection(t.Context(), "emu")
	if string(c2.SealedAPIKey) != string(c.SealedAPIKey) || c2.HealthCheckMinutes != 5 || len(c2.Sites) != 0 {
		t.Fatalf("after edit: %+v", c2)
	}
	// A bad value is shown in words, and nothing changes.
	r = admin.do("POST", "/connections/emu/edit", url.Values{"csrf": {edit.csrf(t)}, "quota": {"lots"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "quota") {
		t.Fatalf("bad quota = %d %.300s", r.status, r.body)
	}
	for _, p := range []string{"/", "/connections", "/connections/emu", "/quota"} {
		if body := admin.get(p).body; strings.Contains(body, simAPIKey) {
			t.Fatalf("%s shows the key", p)
		}
	}

	an := e.browser(t)
	an.login(e.tokens["analyst"])
	for _, p := range []string{"/users", "/connections/new", "/connections/emu/edit"} {
		r := an.get(p)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "may not open this page") {
			t.Errorf("analyst GET %s = %d %.200s", p, r.status, r.body)
		}
	}
	csrf := an.get("/connections").csrf(t)
	for _, p := range []string{"/connections/new", "/connections/emu/edit", "/connections/emu/test", "/connections/emu/delete"} {
		r := an.do("POST", p, url.Values{"csrf": {csrf}, "name": {"mine"}, "api_key": {"x"}, "quota": {"public"}})
		if r.status != http.StatusForbidden {
			t.Errorf("analyst POST %s = %d", p, r.status)
		}
	}
	if _, err := e.st.GetConnection(t.Context(), "emu"); err != nil {
		t.Fatal("the analyst deleted the connection")
	}
	if _, err := e.st.GetConnection(t.Context(), "mine"); err == nil {
		t.Fatal("the analyst created a connection")
	}
	// The analyst's menu has no admin entries.
	if body := an.get("/connections").body; strings.Contains(body, `href="/users"`) || strings.Contains(body, "Add a connection") {
		t.Error("the analyst is offered admin pages")
	}
}

func TestWidgetServedInSandbox(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	nf := b.get("/connections/new")
	b.do("POST", "/connections/new", url.Values{"csrf": {nf.csrf(t)}, "name": {"emu"}, "api_key": {simAPIKey},
		"server_url": {e.simURL}, "quota": {"premium"}})
	run := b.get("/run?command=retrieve-widget-html-content")
	r := b.do("POST", "/run", url.Values{"csrf": {run.csrf(t)}, "command": {"retrieve-widget-html-content"},
		"connection": {"emu"}, "inputs": {eicarMD5}})
	i := strings.Index(r.body, `sandbox="" src="/widget/`)
	if r.status != 200 || i < 0 {
		t.Fatalf("run = %d, no sandboxed iframe: %.2000s", r.status, r.body)
	}
	src := r.body[i+len(`sandbox="" src="`):]
	src = src[:strings.Index(src, `"`)]
	w := b.get(src)
	if w.status != 200 || !strings.Contains(w.body, "hostile widget") {
		t.Fatalf("widget = %d %.200s", w.status, w.body)
	}
	csp := w.header.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "sandbox;") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Fatalf("widget CSP = %q", csp)
	}
	if w := b.get("/widget/unknown"); w.status != 404 || !strings.HasPrefix(w.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("unknown widget = %d", w.status)
	}
}

// The console's forms refuse names, sites, user lists and keys holding control
// characters, as the API does (its refusal shown in words), and store nothing.
func TestControlCharactersRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	for _, tc := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"esc\x1b[2J"}, "api_key": {simAPIKey}}, "control character"},
		{url.Values{"name": {"nul\x00"}, "api_key": {simAPIKey}}, "control character"},
		{url.Values{"name": {"bel\x07"}, "api_key": {simAPIKey}}, "control character"},
		{url.Values{"name": {"ok"}, "api_key": {"abc\r\nX-Injected: 1"}}, "API key"},
		{url.Values{"name": {"ok"}, "api_key": {"abc\x1bdef"}}, "API key"},
		{url.Values{"name": {"ok"}, "api_key": {simAPIKey}, "sites": {"paris, ly\x1bon"}}, "control character"},
		{url.Values{"name": {"ok"}, "api_key": {simAPIKey}, "users": {"ana\x07lyst"}}, "control character"},
	} {
		tc.form.Set("csrf", b.get("/connections/new").csrf(t))
		tc.form.Set("quota", "premium")
		tc.form.Set("server_url", e.simURL)
		r := b.do("POST", "/connections/new", tc.form)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
			t.Errorf("add %q: %d, want 400 saying %q: %.300s", tc.form.Get("name"), r.status, tc.want, r.body)
		}
	}
	if list, _ := e.st.ListConnections(t.Context()); len(list) != 0 {
		t.Fatalf("stored: %+v", list)
	}
	ev := b.get("/events")
	r := b.do("POST", "/events", url.Values{"csrf": {ev.csrf(t)}, "artifacts": {"8.8.8.8"}, "site": {"par\x1bis"}})
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "control character") {
		t.Errorf("event with a site holding ESC: %d %.300s", r.status, r.body)
	}
	if list, _ := e.st.ListEvents(t.Context(), store.EventFilter{}, store.Page{Limit: 10}); len(list) != 0 {
		t.Fatalf("event stored: %+v", list)
	}
}

// An admin makes a gateway key on its page (shown once), sees it listed and removes
// it; an analyst may neither see nor change the keys.
func TestGatewayKeysPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	nf := b.get("/connections/new")
	b.do("POST", "/connections/new", url.Values{"csrf": {nf.csrf(t)}, "name": {"emu"}, "api_key": {simAPIKey},
		"server_url": {e.simURL}, "quota": {"premium"}})
	p := b.get("/gateway-keys")
	if p.status != 200 || !strings.Contains(p.body, "No gateway keys yet") || !strings.Contains(p.body, `<option selected>emu</option>`) && !strings.Contains(p.body, `<option>emu</option>`) {
		t.Fatalf("/gateway-keys = %d %.1500s", p.status, p.body)
	}
	form := url.Values{"csrf": {p.csrf(t)}, "name": {"misp"}, "connection": {"emu"}, "priority": {"batch"}, "max_wait": {"30s"}, "max_age": {"1h"}}
	r := b.do("POST", "/gateway-keys", form)
	i := strings.Index(r.body, `id="gateway-key-value">`)
	if r.status != 200 || i < 0 {
		t.Fatalf("add = %d %.1500s", r.status, r.body)
	}
	key := r.body[i+len(`id="gateway-key-value">`):]
	key = key[:strings.IndexByte(key, '<')]
	if k, err := e.st.GetGatewayKey(t.Context(), "misp"); err != nil || k.Priority != "batch" || k.MaxWait.String() != "30s" || len(key) != 64 {
		t.Fatalf("stored key %+v, %v; shown %q", k, err, key)
	}
	if list := b.get("/gateway-keys").body; strings.Contains(list, key) || !strings.Contains(list, "<td>misp</td>") {
		t.Fatal("the list shows the key, or not its name")
	}
	if r := b.do("POST", "/gateway-keys", form); r.status != http.StatusConflict || !strings.Contains(r.body, "exists already") {
		t.Fatalf("the same name again = %d %.300s", r.status, r.body)
	}
	an := e.browser(t)
	an.login(e.tokens["analyst"])
	if r := an.get("/gateway-keys"); r.status != http.StatusForbidden {
		t.Errorf("analyst GET /gateway-keys = %d", r.status)
	}
	csrf := an.get("/connections").csrf(t)
	if r := an.do("POST", "/gateway-keys/misp/delete", url.Values{"csrf": {csrf}}); r.status != http.StatusForbidden {
		t.Errorf("analyst removes a key = %d", r.status)
	}
	if body := an.get("/connections").body; strings.Contains(body, `href="/gateway-keys"`) {
		t.Error("the analyst is offered the gateway keys page")
	}
	r = b.do("POST", "/gateway-keys/misp/delete", url.Values{"csrf": {p.csrf(t)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("remove = %d %.300s", r.status, r.body)
	}
	if _, err := e.st.GetGatewayKey(t.Context(), "misp"); err == nil {
		t.Fatal("the key is still stored")
	}
}

// The connection's fields of D3 SOAR's integration in the console: its description,
// whether it is active and its own notification recipients are set in the form and
// shown in the list and on its page; an inactive one is not tested.
func TestConnectionFieldsInConsole(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.login(e.tokens["admin"])
	nf := b.get("/connections/new")
	if !strings.Contains(nf.body, `id="description"`) || !strings.Contains(nf.body, `id="active"`) || !strings.Contains(nf.body, `id="notify_emails"`) {
		t.Fatal("the form lacks the new fields")
	}
	r := b.do("POST", "/connections/new", url.Values{"csrf": {nf.csrf(t)}, "name": {"soc"}, "api_key": {simAPIKey},
		"server_url": {e.simURL}, "quota": {"premium"}, "description": {"SOC <Paris>"}, "active_field": {"1"},
		"notify_emails": {"oncall@example.org, soc@example.org"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("create = %d %.500s", r.status, r.body)
	}
	page := b.get("/connections/soc")
	for _, want := range []string{"Inactive: it runs no command", "SOC &lt;Paris&gt;", "oncall@example.org, soc@example.org", "skipped"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	list := b.get("/connections")
	if !strings.Contains(list.body, "Inactive") || !strings.Contains(list.body, "SOC &lt;Paris&gt;") {
		t.Error("the list lacks the state or the description")
	}
	tested := b.do("POST", "/connections/soc/test", url.Values{"csrf": {page.csrf(t)}})
	if tested.status != 200 || !strings.Contains(tested.body, "Not tested: connection soc is inactive") {
		t.Errorf("test of an inactive connection = %d %.300s", tested.status, tested.body)
	}
	// A description with a control character is refused by the rule of every door.
	ef := b.get("/connections/soc/edit")
	bad := b.do("POST", "/connections/soc/edit", url.Values{"csrf": {ef.csrf(t)}, "description": {"a\x1b[2Jb"}, "active_field": {"1"}, "active": {"1"}})
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, "control character") {
		t.Errorf("bad description = %d", bad.status)
	}
}
