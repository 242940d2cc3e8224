package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/vtsim"
)

// The key of a stored connection as a reference is resolved at each use: the key file
// rewritten between two `connection test` runs, the second uses the new key. An exec:
// reference runs its command (no shell) each time. An inactive connection runs
// nothing (exit 2, no request), and `connection list` shows it with its description.
func TestConnectionKeyReferenceAndActive(t *testing.T) {
	e := newEmu(t, vtsim.Options{})
	dir := t.TempDir()
	db := filepath.Join(dir, "vtsoar.db")
	keyFile := filepath.Join(dir, "vt.key")
	if err := os.WriteFile(keyFile, []byte("good-key-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"VT_SERVER_URL=" + e.srv.URL}
	run := func(args ...string) result {
		t.Helper()
		return vtsoar(t, env, "", append([]string{"--db", db}, args...)...)
	}
	if r := run("connection", "add", "vault", "--api-key", "file:"+keyFile, "--quota", "premium", "--description", "SOC, Paris"); r.code != 0 {
		t.Fatalf("add: exit %d: %s", r.code, r.stderr)
	}
	if r := run("-o", "json", "connection", "test", "vault"); r.code != 0 || !strings.Contains(r.stdout, `"Successful"`) {
		t.Fatalf("first test: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	if err := os.WriteFile(keyFile, []byte("bad-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run("-o", "json", "connection", "test", "vault")
	if r.code != 1 || !strings.Contains(r.stdout, `"status_code": 401`) ||
		!strings.Contains(r.stdout, "Test Connection failed. Failed to check the connector.") {
		t.Errorf("second test, the key file now says bad-key: exit %d: %s", r.code, r.stdout)
	}
	os.WriteFile(keyFile, []byte("good-key-0123\n"), 0o600)
	if r := run("connection", "add", "cmd", "--api-key", "exec:cat "+keyFile, "--quota", "premium"); r.code != 0 {
		t.Fatalf("add exec: exit %d: %s", r.code, r.stderr)
	}
	if r := run("--connection", "cmd", "-o", "json", "check-ip-reputation", "8.8.8.8"); r.code != 0 {
		t.Errorf("exec: reference: exit %d: %s", r.code, r.stderr)
	}
	if raw, _ := os.ReadFile(db); strings.Contains(string(raw), keyFile) || strings.Contains(string(raw), "good-key-0123") {
		t.Error("the database holds the reference or the key in clear")
	}

	if r := run("connection", "deactivate", "vault"); r.code != 0 {
		t.Fatalf("deactivate: exit %d: %s", r.code, r.stderr)
	}
	before := e.stats(t).Requests
	for _, args := range [][]string{{"--connection", "vault", "check-ip-reputation", "8.8.8.8"}, {"connection", "test", "vault"}} {
		if r := run(args...); r.code != 2 || !strings.Contains(r.stderr, "vault is inactive") {
			t.Errorf("%v on an inactive connection: exit %d: %s", args, r.code, r.stderr)
		}
	}
	if n := e.stats(t).Requests - before; n != 0 {
		t.Errorf("%d requests on an inactive connection", n)
	}
	list := run("-o", "table", "connection", "list")
	if !strings.Contains(list.stdout, "ACTIVE") || !strings.Contains(list.stdout, "false") || !strings.Contains(list.stdout, "SOC, Paris") ||
		!strings.Contains(list.stdout, "reference") {
		t.Errorf("list:\n%s", list.stdout)
	}
	if r := run("connection", "activate", "vault"); r.code != 0 {
		t.Fatalf("activate: exit %d", r.code)
	}
	if r := run("--connection", "vault", "-o", "json", "check-ip-reputation", "8.8.8.8"); r.code != 0 {
		t.Errorf("active again: exit %d: %s", r.code, r.stderr)
	}
	// API version: v3 only, refused before anything is stored.
	if r := run("--api-version", "v2", "connection", "add", "old", "--api-key", "file:"+keyFile); r.code != 2 || !strings.Contains(r.stderr, "API version") {
		t.Errorf("--api-version v2: exit %d: %s", r.code, r.stderr)
	}
}
