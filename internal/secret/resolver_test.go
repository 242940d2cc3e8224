package secret

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A reference is resolved at each use: a file rewritten is what the next use reads,
// once what was read before is older than the TTL.
func TestResolverReadsAgainAfterTTL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vt.key")
	if err := os.WriteFile(path, []byte("first-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	r := &Resolver{TTL: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	ref := "file:" + path
	if s, err := r.Resolve(ctx, ref); err != nil || s != "first-key" {
		t.Fatalf("Resolve = %q, %v", s, err)
	}
	if err := os.WriteFile(path, []byte("second-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _ := r.Resolve(ctx, ref); s != "first-key" {
		t.Errorf("within the TTL: %q, want the kept first-key", s)
	}
	now = now.Add(time.Minute)
	if s, _ := r.Resolve(ctx, ref); s != "second-key" {
		t.Errorf("after the TTL: %q, want second-key", s)
	}
	if err := os.WriteFile(path, []byte("third-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Forget(ref)
	if s, _ := r.Resolve(ctx, ref); s != "third-key" {
		t.Errorf("after Forget: %q, want third-key", s)
	}
	// A TTL of 0 keeps nothing.
	none := &Resolver{}
	os.WriteFile(path, []byte("fourth-key"), 0o600)
	if s, _ := none.Resolve(ctx, ref); s != "fourth-key" {
		t.Errorf("TTL 0: %q", s)
	}
}

// exec: runs the command without a shell: its arguments as a shell would split them,
// nothing a shell would expand; its output trimmed is the secret; a failure says why
// (the command's stderr) without its output.
func TestResolverExec(t *testing.T) {
	ctx := context.Background()
	r := NewResolver(0)
	if s, err := r.Resolve(ctx, `exec:printf '  sk-%s\n' 'abc def'`); err != nil || s != "sk-abc def" {
		t.Errorf("printf: %q, %v", s, err)
	}
	if s, err := r.Resolve(ctx, `exec:echo $(id) ; rm -rf /tmp/x`); err != nil || s != "$(id) ; rm -rf /tmp/x" {
		t.Errorf("no shell: %q, %v", s, err)
	}
	_, err := r.Resolve(ctx, `exec:ls /nonexistent-vtsoar-dir`)
	if err == nil || !strings.Contains(err.Error(), "exec:ls") || !strings.Contains(err.Error(), "No such file") {
		t.Errorf("failing command: %v", err)
	}
	if _, err := r.Resolve(ctx, `exec:true`); err == nil || !strings.Contains(err.Error(), "printed nothing") {
		t.Errorf("empty output: %v", err)
	}
	if _, err := r.Resolve(ctx, `exec:no-such-command-vtsoar`); err == nil {
		t.Error("a missing command resolved")
	}
	if _, err := r.Resolve(ctx, `exec:`); err == nil {
		t.Error("an empty command resolved")
	}
	slow := &Resolver{ExecTimeout: 50 * time.Millisecond}
	start := time.Now()
	if _, err := slow.Resolve(ctx, `exec:sleep 5`); err == nil || !strings.Contains(err.Error(), "no answer within") || time.Since(start) > 3*time.Second {
		t.Errorf("slow command: %v after %s", err, time.Since(start))
	}
}

func TestAllowedRef(t *testing.T) {
	pats := []string{"env:VT_*", "file:/run/secrets/*"}
	for _, ok := range []string{"env:VT_KEY", "file:/run/secrets/vt"} {
		if err := AllowedRef(ok, pats); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"env:HOME", "file:/etc/passwd", "file:/run/secrets/../../etc/passwd", "file:/run/secrets/a/b",
		"file:run/secrets/vt", "exec:cat /run/secrets/vt", "plain-key"} {
		if err := AllowedRef(bad, pats); err == nil {
			t.Errorf("%s allowed", bad)
		}
	}
	if err := AllowedRef("exec:true", []string{"exec:*"}); !errors.Is(err, ErrRefNotAllowed) {
		t.Errorf("exec: allowed by a pattern: %v", err)
	}
	if err := AllowedRef("env:VT_KEY", nil); err == nil || !strings.Contains(err.Error(), "--allow-secret-ref") {
		t.Errorf("no pattern: %v", err)
	}
	for _, p := range []string{"exec:*", "VT_*", "env:[", "http://x"} {
		if CheckRefPattern(p) == nil {
			t.Errorf("pattern %q taken", p)
		}
	}
}
