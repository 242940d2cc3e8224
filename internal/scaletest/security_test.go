package scaletest_test

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/vtsim"
)

// routeTable returns the server's routes ("METHOD /path") from its own table.
func routeTable(t *testing.T, c *cluster) []string {
	t.Helper()
	key, _ := hex.DecodeString(c.masterKey)
	cipher, err := secret.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Store: c.st, Cipher: cipher, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Routes()
}

// publicOps returns the operations the served OpenAPI document marks as taking no
// token (security: []).
func publicOps(t *testing.T, base string) map[string]bool {
	t.Helper()
	res, err := http.Get(base + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				Security *[]any `json:"security"`
			}
			if json.Unmarshal(raw, &op) == nil && op.Security != nil && len(*op.Security) == 0 {
				out[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	return out
}

// concrete fills a route's path parameters.
func concrete(path string) string {
	r := strings.NewReplacer("{$}", "", "{command}", "check-file-reputation", "{name}", "vt", "{id}", "ev_0")
	return r.Replace(path)
}

// consoleSession signs in to the console at base with token, through its sign-in
// form, and returns the session cookie's value.
func consoleSession(t *testing.T, base, token string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var csrf string
	for _, ck := range res.Cookies() {
		if ck.Name == "vtsoar_login_csrf" {
			csrf = ck.Value
		}
	}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"csrf": {csrf}, "token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "vtsoar_login_csrf", Value: csrf})
	if res, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.Name == "vtsoar_session" && ck.Value != "" {
			return ck.Value
		}
	}
	t.Fatalf("sign-in to the console: %d, no session", res.StatusCode)
	return ""
}

// TestSecurityEveryEndpointEveryReplica sends to every route of the server's table,
// on every replica: no token, a token never issued, and a cross-site request that
// carries only the console's session cookie are refused with 401; no answer, even
// to a valid token or a CORS preflight from another origin, allows another origin to
// read it; the console refuses a cross-site form post even with a valid session, and
// nothing changes.
func TestSecurityEveryEndpointEveryReplica(t *testing.T) {
	c := newCluster(t, "", vtsim.Options{})
	c.start(3)
	c.addConnection(map[string]any{"name": "vt", "api_key": floodKey})
	routes := routeTable(t, c)
	if len(routes) < 15 {
		t.Fatalf("only %d routes in the table: %v", len(routes), routes)
	}
	public := publicOps(t, c.replicas[0].URL)
	const evil = "https://evil.example"
	// One session, signed in on the first replica: the replicas share it.
	session := consoleSession(t, c.replicas[0].URL, c.api.Token)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, u string, hdr map[string]string, body string) *http.Response {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, u, rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res
	}
	checked := 0
	for ri, r := range c.replicas {
		for _, rt := range routes {
			method, path, _ := strings.Cut(rt, " ")
			u := r.URL + concrete(path)
			body := ""
			if method == "POST" || method == "PUT" || method == "PATCH" {
				body = `{}`
			}
			if !public[method+" "+strings.TrimSuffix(path, "{$}")] && !public[rt] {
				for name, hdr := range map[string]map[string]string{
					"no token":          {"Content-Type": "application/json"},
					"unknown token":     {"Authorization": "Bearer " + auth.TokenPrefix + "AAAAnotissued", "Content-Type": "application/json"},
					"cross-site cookie": {"Cookie": "vtsoar_session=" + session, "Origin": evil, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
				} {
					if res := send(method, u, hdr, body); res.StatusCode != http.StatusUnauthorized {
						t.Errorf("replica %d: %s %s with %s: %d, want 401", ri, method, u, name, res.StatusCode)
					}
				}
			}
			// A valid token on a read from a page of another origin: the browser
			// must not let that page read the answer. (Writes need a preflight,
			// refused below; a bearer token is no ambient credential.)
			if method == "GET" {
				res := send(method, u, map[string]string{"Authorization": "Bearer " + c.api.Token, "Origin": evil}, "")
				if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
					t.Errorf("replica %d: %s %s from %s: Access-Control-Allow-Origin %q", ri, method, u, evil, v)
				}
			}
			res := send("OPTIONS", u, map[string]string{"Origin": evil, "Access-Control-Request-Method": method,
				"Access-Control-Request-Headers": "authorization, content-type"}, "")
			if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" || res.Header.Get("Access-Control-Allow-Headers") != "" {
				t.Errorf("replica %d: preflight of %s %s from %s allowed (%q)", ri, method, u, evil, v)
			}
			checked++
		}
		// The console's forms, posted from another site with a valid session.
		for _, p := range []string{"/logout", "/connections/new", "/connections/vt/delete", "/connections/vt/edit", "/run", "/events"} {
			form := url.Values{"name": {"x"}, "api_key": {"k"}, "command": {"check-file-reputation"}, "inputs": {"44d88612fea8a8f36de82e1278abb02f"}}
			res := send("POST", r.URL+p, map[string]string{"Cookie": "vtsoar_session=" + session, "Origin": evil,
				"Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}, form.Encode())
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("replica %d: cross-site console POST %s: %d, want 403", ri, p, res.StatusCode)
			}
		}
	}
	var conn map[string]any
	if _, err := c.api.Do(c.ctx, "GET", c.replicas[0].URL+"/api/v1/connections/vt", nil, &conn); err != nil {
		t.Errorf("the connection after the refused requests: %v", err)
	}
	if n := len(c.rec.Requests()); n != 0 {
		t.Errorf("refused requests reached VirusTotal %d times", n)
	}
	t.Logf("%d routes x 3 replicas checked (%d public)", checked/len(c.replicas), len(public))
}
