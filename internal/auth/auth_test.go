package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/store"
)

func openStore(t *testing.T) store.Store {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "vtsoar.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// A user is stored with the SHA-256 of a fresh token, its sites cleaned ("every site"
// when none are given); a bad name, role or site list is refused and stores nothing.
func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	tok, err := auth.CreateUser(ctx, st, " alice ", store.RoleAnalyst, []string{"paris", " paris", "lyon"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, auth.TokenPrefix) || len(tok) != len(auth.TokenPrefix)+43 {
		t.Fatalf("token %q: want the prefix and 32 random bytes in base64url", tok)
	}
	u, err := st.UserByTokenHash(ctx, auth.HashToken(tok))
	if err != nil || u.Name != "alice" || u.Role != store.RoleAnalyst || strings.Join(u.Sites, ",") != "paris,lyon" {
		t.Fatalf("user of the token: %+v, %v", u, err)
	}
	if tok2, _ := auth.CreateUser(ctx, st, "bob", store.RoleAdmin, nil); tok2 == tok {
		t.Fatal("two users got the same token")
	}
	if u, err := st.GetUser(ctx, "bob"); err != nil || strings.Join(u.Sites, ",") != store.AllSites {
		t.Fatalf("a user without sites: %+v, %v; want every site", u, err)
	}
	if _, err := auth.CreateUser(ctx, st, "alice", store.RoleAdmin, nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a second alice: %v, want ErrExists", err)
	}
	for _, bad := range []struct {
		name, role string
		sites      []string
	}{
		{"", store.RoleAdmin, nil},
		{"a b", store.RoleAdmin, nil},
		{"a/b", store.RoleAdmin, nil},
		{"carol", "root", nil},
		{"carol", store.RoleAnalyst, []string{"*", "paris"}},
		{"carol", store.RoleAnalyst, []string{" "}},
	} {
		if _, err := auth.CreateUser(ctx, st, bad.name, bad.role, bad.sites); err == nil {
			t.Errorf("CreateUser(%q, %q, %q) succeeded", bad.name, bad.role, bad.sites)
		}
	}
	if users, _ := st.ListUsers(ctx); len(users) != 2 {
		t.Fatalf("%d users stored, want alice and bob", len(users))
	}
}

// A reissued token replaces the old one, which finds no user any more.
func TestReissueToken(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	old, err := auth.CreateUser(ctx, st, "alice", store.RoleAdmin, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.ReissueToken(ctx, st, "alice")
	if err != nil || tok == old || !strings.HasPrefix(tok, auth.TokenPrefix) {
		t.Fatalf("ReissueToken = %q, %v", tok, err)
	}
	if _, err := st.UserByTokenHash(ctx, auth.HashToken(old)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the old token still finds its user: %v", err)
	}
	if u, err := st.UserByTokenHash(ctx, auth.HashToken(tok)); err != nil || u.Name != "alice" {
		t.Fatalf("the new token: %+v, %v", u, err)
	}
	if _, err := auth.ReissueToken(ctx, st, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ReissueToken of no user: %v, want ErrNotFound", err)
	}
}

func TestCreateGatewayKey(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if err := st.CreateConnection(ctx, store.Connection{Name: "prod", SealedAPIKey: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	key, k, err := auth.CreateGatewayKey(ctx, st, auth.GatewayKeyOptions{Name: "misp", Connection: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 64 || strings.Trim(key, "0123456789abcdef") != "" {
		t.Fatalf("key %q: want 64 lower-case hex digits, as VirusTotal's keys are", key)
	}
	if k.Priority != store.GatewayInteractive || k.MaxWait != auth.DefaultGatewayMaxWait || k.MaxAge != auth.DefaultGatewayMaxAge {
		t.Fatalf("defaults: %+v", k)
	}
	got, err := st.GatewayKeyByHash(ctx, auth.HashToken(key))
	if err != nil || got.Name != "misp" || got.Connection != "prod" {
		t.Fatalf("the key's record: %+v, %v", got, err)
	}
	if _, _, err := auth.CreateGatewayKey(ctx, st, auth.GatewayKeyOptions{Name: "misp", Connection: "prod"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("a second misp: %v, want ErrExists", err)
	}
	if _, _, err := auth.CreateGatewayKey(ctx, st, auth.GatewayKeyOptions{Name: "x", Connection: "gone"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a key of no connection: %v, want ErrNotFound", err)
	}
	for _, bad := range []auth.GatewayKeyOptions{
		{Name: "", Connection: "prod"},
		{Name: "a b", Connection: "prod"},
		{Name: "a/b", Connection: "prod"},
		{Name: "a\x1bb", Connection: "prod"},
		{Name: strings.Repeat("n", 101), Connection: "prod"},
		{Name: "ok", Connection: "prod", Priority: "urgent"},
		{Name: "ok", Connection: "prod", MaxWait: time.Millisecond},
		{Name: "ok", Connection: "prod", MaxWait: 48 * time.Hour},
		{Name: "ok", Connection: "prod", MaxAge: -time.Hour},
		{Name: "ok", Connection: ""},
	} {
		if _, _, err := auth.CreateGatewayKey(ctx, st, bad); err == nil {
			t.Errorf("CreateGatewayKey(%+v) succeeded", bad)
		}
	}
}
