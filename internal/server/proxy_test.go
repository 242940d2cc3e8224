package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vtsoar/vtsoar/internal/store"
)

// A proxy's password is stored sealed, on SQLite and PostgreSQL: the connections
// table read raw holds it nowhere, the API shows it masked, and the connection goes
// through the proxy with it. The URL as shown, sent back, keeps it.
func TestProxyPasswordSealed(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			e := newEnv(t, envOpts{postgres: db == "postgres"})
			// A forward proxy that lets through only bob:<want>.
			var want atomic.Value
			want.Store("hunter2-proxy-password")
			var through atomic.Int64
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Proxy-Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte("bob:"+want.Load().(string))) {
					w.Header().Set("Proxy-Authenticate", `Basic realm="p"`)
					http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
					return
				}
				through.Add(1)
				e.sim.ServeHTTP(w, r)
			}))
			t.Cleanup(proxy.Close)
			proxyURL := func(pass string) string {
				return strings.Replace(proxy.URL, "http://", "http://bob:"+pass+"@", 1)
			}
			r := e.do(t, "POST", "/api/v1/connections", "admin", map[string]any{"name": "viaproxy", "api_key": apiKey,
				"server_url": "http://vt.example.invalid", "quota": "premium", "proxy": proxyURL("hunter2-proxy-password")})
			if r.status != 201 {
				t.Fatalf("create = %d %s", r.status, r.body)
			}
			command := func() {
				t.Helper()
				n := through.Load()
				r := e.do(t, "POST", "/api/v1/commands/check-ip-reputation", "admin",
					map[string]any{"connection": "viaproxy", "inputs": []string{"8.8.8.8"}, "fresh": true})
				if r.status != 200 || !strings.Contains(string(r.body), `"Successful"`) || through.Load() == n {
					t.Fatalf("command through the proxy = %d, %d requests through it: %s", r.status, through.Load()-n, r.body)
				}
			}
			command()
			raw := func() {
				t.Helper()
				var proxyCol string
				var sealed []byte
				if err := e.st.(store.SQLDB).DB().QueryRowContext(context.Background(),
					`SELECT proxy, sealed_proxy FROM connections WHERE name = 'viaproxy'`).Scan(&proxyCol, &sealed); err != nil {
					t.Fatal(err)
				}
				pass := want.Load().(string)
				if strings.Contains(proxyCol, pass) || strings.Contains(string(sealed), pass) || len(sealed) == 0 {
					t.Fatalf("stored proxy %q, sealed %d bytes holding the password: %v", proxyCol, len(sealed), strings.Contains(string(sealed), pass))
				}
				if !strings.Contains(proxyCol, "bob:xxxxx@") {
					t.Fatalf("stored proxy %q: want the URL with its password masked", proxyCol)
				}
			}
			raw()
			var c connJSON
			e.do(t, "GET", "/api/v1/connections/viaproxy", "admin", nil).json(t, &c)
			if c.Proxy != proxyURL("xxxxx") {
				t.Fatalf("proxy shown as %q", c.Proxy)
			}
			// The URL as shown, sent back (by PATCH and PUT), keeps the password.
			for _, method := range []string{"PATCH", "PUT"} {
				if r := e.do(t, method, "/api/v1/connections/viaproxy", "admin", map[string]any{"proxy": c.Proxy,
					"server_url": "http://vt.example.invalid", "quota": "premium"}); r.status != 200 {
					t.Fatalf("%s = %d %s", method, r.status, r.body)
				}
				command()
			}
			// A new password replaces it.
			want.Store("new-proxy-password")
			if r := e.do(t, "PATCH", "/api/v1/connections/viaproxy", "admin", map[string]any{"proxy": proxyURL("new-proxy-password")}); r.status != 200 {
				t.Fatalf("PATCH = %d %s", r.status, r.body)
			}
			command()
			raw()
			if strings.Contains(e.logs.String(), "hunter2-proxy-password") || strings.Contains(e.logs.String(), "new-proxy-password") {
				t.Error("the log holds the proxy's password")
			}
		})
	}
}
