package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
)

// publicRoutes need no token.
var publicRoutes = map[string]bool{
	"GET /{$}": true, "GET /healthz": true, "GET /api/v1/openapi.json": true,
}

// adminRoutes are refused to analysts.
var adminRoutes = map[string]bool{
	"POST /api/v1/connections": true, "PUT /api/v1/connections/{name}": true, "PATCH /api/v1/connections/{name}": true,
	"DELETE /api/v1/connections/{name}": true, "POST /api/v1/connections/{name}/test": true, "GET /api/v1/users": true,
}

func concrete(path string) string {
	r := strings.NewReplacer("{$}", "", "{command}", "check-file-reputation", "{name}", "emu", "{id}", "x")
	return r.Replace(path)
}

func TestEveryRouteNeedsAToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, rt := range e.srv.Routes() {
		method, path, _ := strings.Cut(rt, " ")
		if publicRoutes[rt] {
			if r := e.do(t, method, concrete(path), "", nil); r.status != 200 {
				t.Errorf("%s without a token = %d, want 200 (public)", rt, r.status)
			}
			continue
		}
		for _, tok := range []string{"", "vtsoar_not-a-token"} {
			r := e.do(t, method, concrete(path), tok, "{}")
			r.problem(t, 401)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("%s: WWW-Authenticate = %q, want Bearer", rt, got)
			}
		}
	}
}

func TestAnalystsMayNotAdminister(t *testing.T) {
	e := newEnv(t, envOpts{})
	for rt := range adminRoutes {
		method, path, _ := strings.Cut(rt, " ")
		r := e.do(t, method, concrete(path), "paris", `{"name":"x","api_key":"y"}`)
		p := r.problem(t, 403)
		if p.Type != server.ProblemForbidden {
			t.Errorf("%s: type %q", rt, p.Type)
		}
	}
	// Nothing was changed by the refused calls.
	if c, err := e.st.GetConnection(context.Background(), "emu"); err != nil || c.ServerURL != e.simURL {
		t.Fatalf("connection changed by a refused call: %+v %v", c, err)
	}
}

func TestTokensAreStoredHashed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpts{})
	tok, err := auth.CreateUser(ctx, e.st, "newbie", store.RoleAnalyst, []string{"paris"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, auth.TokenPrefix) || len(tok) < len(auth.TokenPrefix)+43 {
		t.Fatalf("token %q: want the prefix and 32 random bytes", tok)
	}
	u, err := e.st.GetUser(ctx, "newbie")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(u.TokenHash), tok) || string(u.TokenHash) != string(auth.HashToken(tok)) {
		t.Fatal("the store holds something else than the token's SHA-256")
	}
	e.tokens["newbie"] = tok
	if r := e.do(t, "GET", "/api/v1/connections", "newbie", nil); r.status != 200 {
		t.Fatalf("new token refused: %d %s", r.status, r.body)
	}
	if err := e.st.DeleteUser(ctx, "newbie"); err != nil {
		t.Fatal(err)
	}
	e.do(t, "GET", "/api/v1/connections", "newbie", nil).problem(t, 401)

	if _, err := auth.CreateUser(ctx, e.st, "x", "root", nil); err == nil {
		t.Fatal("a user with role root was made")
	}
	if _, err := auth.CreateUser(ctx, e.st, "y", store.RoleAnalyst, []string{"*", "paris"}); err == nil {
		t.Fatal(`sites "*" and paris together were accepted`)
	}
	if _, err := auth.CreateUser(ctx, e.st, "admin", store.RoleAnalyst, nil); err == nil {
		t.Fatal("a second user named admin was made")
	}
}

func TestUsersListIsAdminOnlyAndShowsNoToken(t *testing.T) {
	e := newEnv(t, envOpts{})
	r := e.do(t, "GET", "/api/v1/users", "admin", nil)
	var out struct {
		Users []map[string]any `json:"users"`
	}
	r.json(t, &out)
	if len(out.Users) != 5 {
		t.Fatalf("users = %d, want 5", len(out.Users))
	}
	for _, tok := range e.tokens {
		if strings.Contains(string(r.body), tok) {
			t.Fatal("a token is in the users list")
		}
	}
	for _, u := range out.Users {
		if _, ok := u["token_hash"]; ok {
			t.Fatal("token hash shown")
		}
	}
}
