package factory_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/spf13/pflag"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/factory"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// A command's client goes through the target's proxy, spends the target's budget and
// keeps the global options (--retries).
func TestConnUsesTheProxyAndTheBudget(t *testing.T) {
	ctx := context.Background()
	sim := vtsim.MustNew(vtsim.Options{})
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Host != "vt.example.invalid" {
			http.Error(w, "not a proxy request", http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		sim.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	st, f := newEnv(t, nil)
	f.Options.Run.Concurrency, f.Options.Retries = 8, 0
	tg := connclient.Target{APIKey: "k", ServerURL: "http://vt.example.invalid", Proxy: proxy.URL, Spec: quota.Spec{PerDay: 1}}
	c, err := f.Conn(ctx, st, tg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Client.GetIPAddress(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 1 {
		t.Fatalf("%d requests through the proxy, want 1", proxied.Load())
	}
	if c.Budget() != tg.Budget() || c.Limiter.Spec() != tg.Spec {
		t.Fatalf("budget %s %v, want %s %v", c.Budget(), c.Limiter.Spec(), tg.Budget(), tg.Spec)
	}
	// The day's one unit is spent: the next request fails before it leaves.
	if _, err := c.Client.GetIPAddress(ctx, "192.0.2.2"); err == nil || proxied.Load() != 1 {
		t.Fatalf("second request: %v, %d proxied", err, proxied.Load())
	}
	tg.Proxy = "ftp://proxy"
	if _, err := f.Conn(ctx, st, tg); err == nil {
		t.Fatal("a proxy of an unknown scheme was accepted")
	}
}

// Without --connection the key comes from --api-key, else VT_API_KEY, and the server
// from --server-url, else VT_SERVER_URL; no key at all is a usage error that says where
// one comes from and how to try vtsoar offline.
func TestResolveNeedsAKey(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{}
	st, f := newEnv(t, env)
	_, err := f.Resolve(ctx, st, "")
	if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "VT_API_KEY") || !strings.Contains(err.Error(), "vtsoar emulate") {
		t.Errorf("no key, no server: %v", err)
	}
	env["VT_SERVER_URL"] = "http://127.0.0.1:8089"
	if _, err = f.Resolve(ctx, st, ""); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "no API key for http://127.0.0.1:8089") {
		t.Errorf("no key for a server: %v", err)
	}
	env["VT_API_KEY"] = "k"
	tg, err := f.Resolve(ctx, st, "")
	if err != nil || tg.APIKey != "k" || tg.ServerURL != "http://127.0.0.1:8089" {
		t.Fatalf("key and server from the environment: %+v, %v", tg, err)
	}
	f.Options.APIKey = "flag-key"
	if tg, _ = f.Resolve(ctx, st, ""); tg.APIKey != "flag-key" {
		t.Error("--api-key does not override VT_API_KEY")
	}
}

// newEnv opens an empty store and a factory whose environment is env, wired to the
// store as the root command wires it.
func newEnv(t *testing.T, env map[string]string) (store.Store, *cmdutil.Factory) {
	t.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, "test")
	f.Getenv = func(k string) string { return env[k] }
	factory.Wire(f, pflag.NewFlagSet("test", pflag.ContinueOnError))
	return st, f
}
