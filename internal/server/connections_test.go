package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/connclient"
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
		{map[string]any{"name": "vt3"}, 400, "api_key is required"},
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
