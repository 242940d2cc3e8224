package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/store"
)

type connJSON struct {
	Name               string   `json:"name"`
	APIKeySet          bool     `json:"api_key_set"`
	ServerURL          string   `json:"server_url"`
	Quota              string   `json:"quota"`
	Proxy              string   `json:"proxy"`
	ReputationChecks   []string `json:"reputation_checks"`
	HealthCheckMinutes int      `json:"health_check_minutes"`
	Sites              []string `json:"sites"`
	Users              []string `json:"users"`
}

func TestConnectionCRUD(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{
		"name": "vt2", "api_key": apiKey, "server_url": e.simURL, "proxy": "http://bob:hunter2@proxy.example:3128",
		"sites": []string{"paris"}, "health_check_minutes": 15,
	})
	if r.status != 201 || r.header.Get("Location") != "/api/v1/connections/vt2" {
		t.Fatalf("create = %d %s (Location %q)", r.status, r.body, r.header.Get("Location"))
	}
	var c connJSON
	r.json(t, &c)
	if !c.APIKeySet || c.Quota != "4/min,500/day,15500/month" || c.HealthCheckMinutes != 15 ||
		!slices.Equal(c.ReputationChecks, []string{"file", "ip", "url", "domain"}) || !slices.Equal(c.Sites, []string{"paris"}) {
		t.Fatalf("created connection = %+v; want the defaults (public quota, four checks)", c)
	}
	if strings.Contains(string(r.body), "hunter2") || strings.Contains(string(r.body), `"api_key"`) {
		t.Fatalf("secret in the answer: %s", r.body)
	}
	stored, err := e.st.GetConnection(ctx, "vt2")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored.SealedAPIKey), apiKey) {
		t.Fatal("the key is stored in clear")
	}
	if k, err := connclient.OpenKey(e.cipher, stored); err != nil || k != apiKey {
		t.Fatalf("stored key opens to %q, %v", k, err)
	}

	// Validation.
	for _, tc := range []struct {
		body   any
		status int
		detail string
	}{
		{map[string]any{"name": "vt2", "api_key": "x"}, 409, "exists"},
		{map[string]any{"name": "vt3"}, 400, "api_key or api_key_ref is required"},
		{map[string]any{"name": "vt3", "api_key": "   "}, 400, "API key is empty"},
		{map[string]any{"api_key": "x"}, 400, "name is required"},
		{map[string]any{"name": "a/b", "api_key": "x"}, 400, "connection name"},
		{map[string]any{"name": "vt3", "api_key": "x", "quota": "lots"}, 400, "quota"},
		{map[string]any{"name": "vt3", "api_key": "x", "reputation_checks": []string{"email"}}, 400, "email"},
		{map[string]any{"name": "vt3", "api_key": "x", "server_url": "ftp://x"}, 400, "server_url"},
		{map[string]any{"name": "vt3", "api_key": "x", "proxy": "gopher://x"}, 400, "proxy"},
		{map[string]any{"name": "vt3", "api_key": "x", "health_check_minutes": -1}, 400, "health_check_minutes"},
		{map[string]any{"name": "vt3", "api_key": "x", "colour": "red"}, 400, "colour"},
		{`{"name": "vt3", `, 400, "not valid JSON"},
		{`{"name":"vt3","api_key":"x"} {}`, 400, "more than one"},
	} {
		p := e.do(t, "POST", "/api/v1/connections", "admin", tc.body).problem(t, tc.status)
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%v: detail %q, want it to mention %q", tc.body, p.Detail, tc.detail)
		}
	}
	if _, err := e.st.GetConnection(ctx, "vt3"); err == nil {
		t.Fatal("an invalid connection was stored")
	}

	// Read: admins see all; an analyst sees what he may use; another is 404 to him.
	var list struct {
		Connections []connJSON `json:"connections"`
	}
	e.do(t, "GET", "/api/v1/connections", "admin", nil).json(t, &list)
	if len(list.Connections) != 2 {
		t.Fatalf("admin lists %d connections, want 2", len(list.Connections))
	}
	e.do(t, "GET", "/api/v1/connections", "lyon", nil).json(t, &list)
	if len(list.Connections) != 1 || list.Connections[0].Name != "emu" {
		t.Fatalf("lyon lists %+v, want emu only (vt2 serves paris)", list.Connections)
	}
	e.do(t, "GET", "/api/v1/connections/vt2", "lyon", nil).problem(t, 404)
	e.do(t, "GET", "/api/v1/connections/vt2", "paris", nil).json(t, &c)
	if c.Name != "vt2" || !strings.Contains(c.Proxy, "xxxxx") {
		t.Fatalf("paris reads %+v", c)
	}
	e.do(t, "GET", "/api/v1/connections/nope", "admin", nil).problem(t, 404)

	// PATCH changes what it names and keeps the key.
	r = e.do(t, "PATCH", "/api/v1/connections/vt2", "admin", map[string]any{"quota": "premium", "reputation_checks": []string{"IP", "file"}})
	r.json(t, &c)
	if r.status != 200 || c.Quota != "premium" || !slices.Equal(c.ReputationChecks, []string{"ip", "file"}) || c.HealthCheckMinutes != 15 {
		t.Fatalf("PATCH = %d %+v", r.status, c)
	}
	after, _ := e.st.GetConnection(ctx, "vt2")
	if k, err := connclient.OpenKey(e.cipher, after); err != nil || k != apiKey {
		t.Fatalf("PATCH lost the key: %v", err)
	}
	e.do(t, "PATCH", "/api/v1/connections/vt2", "admin", map[string]any{"name": "other"}).problem(t, 400)
	e.do(t, "PATCH", "/api/v1/connections/none", "admin", map[string]any{"quota": "premium"}).problem(t, 404)

	// PUT replaces: what is not given takes its default, the key is kept unless given.
	r = e.do(t, "PUT", "/api/v1/connections/vt2", "admin", map[string]any{"server_url": e.simURL, "api_key": "new-key"})
	r.json(t, &c)
	if r.status != 200 || c.Quota != "4/min,500/day,15500/month" || c.HealthCheckMinutes != 0 || len(c.Sites) != 0 || c.Proxy != "" {
		t.Fatalf("PUT = %d %+v", r.status, c)
	}
	after, _ = e.st.GetConnection(ctx, "vt2")
	if k, _ := connclient.OpenKey(e.cipher, after); k != "new-key" {
		t.Fatal("PUT did not replace the key")
	}

	// DELETE.
	if r := e.do(t, "DELETE", "/api/v1/connections/vt2", "admin", nil); r.status != 204 {
		t.Fatalf("DELETE = %d %s", r.status, r.body)
	}
	e.do(t, "DELETE", "/api/v1/connections/vt2", "admin", nil).problem(t, 404)
	e.do(t, "GET", "/api/v1/connections/vt2", "admin", nil).problem(t, 404)
}

func TestConnectionBodyLimit(t *testing.T) {
	e := newEnv(t, envOpts{})
	big := `{"name":"big","api_key":"` + strings.Repeat("a", 2<<20) + `"}`
	e.do(t, "POST", "/api/v1/connections", "admin", big).problem(t, 413)
}

// The connection fields of D3 SOAR's integration over REST: description, active,
// api_version, include_private and the connection's own notification recipients,
// each checked by the rule every door uses.
func TestConnectionFields(t *testing.T) {
	e := newEnv(t, envOpts{allowSecretRefs: []string{"env:VTSOAR_TEST_*"}})
	t.Setenv("VTSOAR_TEST_HOOK", "hook-secret")
	r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{
		"name": "soc", "api_key": apiKey, "server_url": e.simURL, "description": "SOC — Paris", "active": false,
		"api_version": "v3", "include_private": true, "notify_emails": []string{"Oncall <oncall@example.org>", "soc@example.org"},
		"notify_webhook_url": "https://hooks.example.org/vt", "notify_webhook_secret_ref": "env:VTSOAR_TEST_HOOK",
	})
	if r.status != 201 {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var v store.ConnectionView
	r.json(t, &v)
	if v.Description != "SOC — Paris" || v.Active || v.APIVersion != "v3" || !v.IncludePrivate || len(v.NotifyEmails) != 2 ||
		v.NotifyWebhookURL != "https://hooks.example.org/vt" || !v.NotifyWebhookSecretRefSet || v.APIKeyRefSet {
		t.Errorf("created %+v", v)
	}
	if strings.Contains(string(r.body), "VTSOAR_TEST_HOOK") || strings.Contains(string(r.body), "hook-secret") {
		t.Errorf("the webhook's secret reference is in the answer: %s", r.body)
	}
	// PATCH keeps what is not given; the URL given again keeps its secret; no URL, no
	// secret.
	r = e.do(t, "PATCH", "/api/v1/connections/soc", "admin", map[string]any{"active": true, "notify_webhook_url": "https://hooks.example.org/vt2"})
	r.json(t, &v)
	if r.status != 200 || !v.Active || v.Description != "SOC — Paris" || !v.NotifyWebhookSecretRefSet || v.NotifyWebhookURL != "https://hooks.example.org/vt2" {
		t.Errorf("patched %d %+v", r.status, v)
	}
	r = e.do(t, "PATCH", "/api/v1/connections/soc", "admin", map[string]any{"notify_webhook_url": "", "notify_emails": []string{}})
	r.json(t, &v)
	if v.NotifyWebhookSecretRefSet || len(v.NotifyEmails) != 0 || v.NotifyWebhookURL != "" {
		t.Errorf("recipients removed: %+v", v)
	}
	for _, tc := range []struct {
		body   map[string]any
		detail string
	}{
		{map[string]any{"api_version": "v2"}, "unsupported API version"},
		{map[string]any{"description": "a\x1b[31mb"}, "control character"},
		{map[string]any{"description": strings.Repeat("x", store.MaxDescriptionLen+1)}, "at most"},
		{map[string]any{"notify_emails": []string{"not an address"}}, "notify_emails"},
		{map[string]any{"notify_webhook_url": "ftp://x"}, "notify_webhook_url"},
		{map[string]any{"notify_webhook_url": "https://hooks.example.org/x"}, "notify_webhook_secret_ref"},
		{map[string]any{"notify_webhook_url": "https://h.example.org/", "notify_webhook_secret_ref": "env:HOME"}, "matches none"},
	} {
		p := e.do(t, "PATCH", "/api/v1/connections/soc", "admin", tc.body).problem(t, 400)
		if !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("%v: %q, want it to say %q", tc.body, p.Detail, tc.detail)
		}
	}
}

// An inactive connection runs nothing: a command and a test on it are a 409 problem
// naming it, and nothing reaches the emulator.
func TestInactiveConnectionRefused(t *testing.T) {
	e := newEnv(t, envOpts{enrich: true})
	e.do(t, "PATCH", "/api/v1/connections/emu", "admin", map[string]any{"active": false})
	before := e.sim.Stats().Requests
	for _, path := range []string{"/api/v1/commands/check-ip-reputation", "/api/v1/connections/emu/test"} {
		p := e.do(t, "POST", path, "admin", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}}).problem(t, 409)
		if !strings.HasSuffix(p.Type, "conflict") || !strings.Contains(p.Detail, "emu is inactive") {
			t.Errorf("%s: %+v", path, p)
		}
	}
	// Nor through the VirusTotal gateway: a key made for it is refused, 403.
	key := e.gatewayKey(t, "gw", "emu", nil)
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v3/ip_addresses/8.8.8.8", nil)
	req.Header.Set("x-apikey", key)
	res, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("gateway on an inactive connection: %d", res.StatusCode)
	}
	if n := e.sim.Stats().Requests - before; n != 0 {
		t.Errorf("%d requests on an inactive connection", n)
	}
	var list struct{ Connections []store.ConnectionView }
	e.do(t, "GET", "/api/v1/connections", "admin", nil).json(t, &list)
	if len(list.Connections) != 1 || list.Connections[0].Active {
		t.Errorf("list: %+v", list.Connections)
	}
	e.do(t, "PATCH", "/api/v1/connections/emu", "admin", map[string]any{"active": true})
	if r := e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "admin", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}}); r.status != 200 {
		t.Errorf("active again: %d %s", r.status, r.body)
	}
}

// The key as a reference: taken over REST only when it matches the operator's
// patterns (never exec:), stored sealed, never shown, and resolved at each use: the
// key file rewritten between two tests, the second test uses the new key.
func TestConnectionKeyReference(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envOpts{enrich: true, allowSecretRefs: []string{"file:" + dir + "/*", "env:VTSOAR_TEST_*"}})
	keyFile := filepath.Join(dir, "vt.key")
	if err := os.WriteFile(keyFile, []byte("good-key-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file:/etc/passwd", "env:HOME", "exec:cat " + keyFile, "file:" + dir + "/../vt.key", "file:" + dir + "/missing"} {
		p := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "ref", "api_key_ref": ref, "server_url": e.simURL}).problem(t, 400)
		if !strings.Contains(p.Detail, "api_key_ref") {
			t.Errorf("%s: %q", ref, p.Detail)
		}
	}
	r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "ref", "api_key_ref": "file:" + keyFile,
		"server_url": e.simURL, "quota": "premium"})
	if r.status != 201 || strings.Contains(string(r.body), keyFile) || strings.Contains(string(r.body), "good-key") {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	var v store.ConnectionView
	r.json(t, &v)
	if !v.APIKeySet || !v.APIKeyRefSet {
		t.Errorf("view %+v", v)
	}
	var h struct {
		Healthy    bool `json:"healthy"`
		StatusCode int  `json:"status_code"`
	}
	e.do(t, "POST", "/api/v1/connections/ref/test", "admin", nil).json(t, &h)
	if !h.Healthy {
		t.Fatalf("first test: %+v", h)
	}
	if err := os.WriteFile(keyFile, []byte("bad-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.do(t, "POST", "/api/v1/connections/ref/test", "admin", nil).json(t, &h)
	if h.Healthy || h.StatusCode != 401 {
		t.Errorf("second test, the key file now says bad-key: %+v", h)
	}
	if strings.Contains(e.logs.String(), "good-key-0123") {
		t.Error("the key is in the log")
	}
}
