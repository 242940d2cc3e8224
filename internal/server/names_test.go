package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
)

// An api_key holding CR or LF (or any control character) is refused with 400: stored,
// it would be sent in a header and every command on the connection would fail with
// 500. Names, sites and user lists holding NUL, BEL, ESC or a C1 control are refused
// with 400 too, and nothing is stored or changed.
func TestControlCharactersRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpts{enrich: true})
	refused := func(method, path string, body any, want string) {
		t.Helper()
		p := e.do(t, method, path, "admin", body).problem(t, 400)
		if p.Type != server.ProblemInvalidRequest || !strings.Contains(p.Detail, want) {
			t.Errorf("%s %s %v: problem %+v, want invalid-request mentioning %q", method, path, body, p, want)
		}
		if strings.ContainsAny(p.Detail, "\x00\x07\x1b\r\n\u0085") {
			t.Errorf("%s %s: the detail holds the control character raw: %q", method, path, p.Detail)
		}
	}
	for _, key := range []string{"abc\r\ndef", "abc\ndef", "abc\rdef", "abc\x00def", "abc\x1b[2Jdef", "abc\u0085def", "abc def"} {
		refused("POST", "/api/v1/connections", map[string]any{"name": "crlf", "api_key": key, "server_url": e.simURL}, "api_key")
		refused("PATCH", "/api/v1/connections/emu", map[string]any{"api_key": key}, "api_key")
		refused("PUT", "/api/v1/connections/emu", map[string]any{"api_key": key, "server_url": e.simURL, "quota": "premium"}, "api_key")
	}
	if _, err := e.st.GetConnection(ctx, "crlf"); err == nil {
		t.Fatal("a connection with a CR/LF key was stored")
	}
	emu, _ := e.st.GetConnection(ctx, "emu")
	if k, err := connclient.OpenKey(e.cipher, emu); err != nil || k != apiKey || emu.Quota != "premium" {
		t.Fatalf("emu changed by a refused request: key ok %v, quota %s", k == apiKey, emu.Quota)
	}
	for _, bad := range []string{"nul\x00", "bel\x07", "esc\x1b[2J", "c1\u009b", "del\x7f"} {
		refused("POST", "/api/v1/connections", map[string]any{"name": bad, "api_key": "k"}, "connection name")
		refused("POST", "/api/v1/connections", map[string]any{"name": "ok", "api_key": "k", "sites": []string{bad}}, "site")
		refused("POST", "/api/v1/connections", map[string]any{"name": "ok", "api_key": "k", "users": []string{bad}}, "user")
		refused("PATCH", "/api/v1/connections/emu", map[string]any{"sites": []string{"paris", bad}}, "site")
		refused("PATCH", "/api/v1/connections/emu", map[string]any{"users": []string{bad}}, "user")
		refused("POST", "/api/v1/gateway-keys", map[string]any{"name": bad, "connection": "emu"}, "gateway key name")
		refused("POST", "/api/v1/events", map[string]any{"site": bad, "artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}, "site")
		if r := e.upload(t, "admin", "a.txt", []byte("x"), map[string]string{"source": "incident", "site": bad}); r.status != 400 {
			t.Errorf("upload with site %q: %d %s", bad, r.status, r.body)
		}
	}
	if _, err := e.st.GetConnection(ctx, "ok"); err == nil {
		t.Fatal("a connection with a bad site or user was stored")
	}
	if list, _ := e.st.ListEvents(ctx, store.EventFilter{}, store.Page{}); len(list) != 0 {
		t.Fatalf("events stored: %+v", list)
	}
	// The key given well works: commands on the connection answer 200.
	if r := e.do(t, "PATCH", "/api/v1/connections/emu", "admin", map[string]any{"api_key": " " + apiKey + " "}); r.status != 200 {
		t.Fatalf("PATCH with a good key = %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "admin", map[string]any{"connection": "emu", "inputs": []string{"8.8.8.8"}}); r.status != 200 {
		t.Fatalf("command = %d %s", r.status, r.body)
	}
}
