package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/vtsim"
)

// running is a vtsoar command running in this process.
type running struct {
	out, errOut *iostreams.SyncBuffer
	stop        context.CancelFunc
	done        chan int
}

func start(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{out: &iostreams.SyncBuffer{}, errOut: &iostreams.SyncBuffer{}, stop: cancel, done: make(chan int, 1)}
	ios := &iostreams.IOStreams{In: strings.NewReader(""), Out: r.out, ErrOut: r.errOut}
	go func() { r.done <- cli.Main(ctx, args, ios) }()
	t.Cleanup(func() { r.shutdown(t) })
	return r
}

// wait returns the first match of re in the command's stderr.
func (r *running) wait(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(r.errOut.String()); m != nil {
			return m
		}
		select {
		case code := <-r.done:
			r.done <- code
			t.Fatalf("vtsoar exited %d before printing %s:\n%s", code, re, r.errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s in:\n%s", re, r.errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// shutdown stops the command as SIGINT would and returns its exit code.
func (r *running) shutdown(t *testing.T) int {
	t.Helper()
	r.stop()
	select {
	case code := <-r.done:
		r.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("vtsoar did not stop")
		return -1
	}
}

var servingRE = regexp.MustCompile(`vtsoar serving on (http://127\.0\.0\.1:\d+) `)

func TestFirstStartPrintsHowToMakeTheFirstAdmin(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_DB", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "vtsoar.db")

	srv := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn")
	base := srv.wait(t, servingRE)[1]
	// The exact command, on a line of its own, naming this program as it runs
	// (cmdutil.SelfCommand: here, the test's executable).
	m := srv.wait(t, regexp.MustCompile(`(?m)^\s+(\S+) (user add admin --role admin --db (\S+))$`))
	if m[3] != db {
		t.Fatalf("hint names database %q, want %q", m[3], db)
	}
	if self, _ := os.Executable(); m[1] != self {
		t.Errorf("hint runs %q, want this program, %q", m[1], self)
	}
	// Running the printed command makes an admin whose token the running server takes.
	args := strings.Fields(m[2])
	out := &iostreams.SyncBuffer{}
	if code := cli.Main(context.Background(), append(args, "-o", "json"), &iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: out}); code != 0 {
		t.Fatalf("%s: exit %d: %s", m[1], code, out)
	}
	tok := regexp.MustCompile(`"token":\s*"([^"]+)"`).FindStringSubmatch(out.String())
	if tok == nil {
		t.Fatalf("no token in %s", out)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /api/v1/users with the new admin's token = %d", res.StatusCode)
	}
	if code := srv.shutdown(t); code != 0 {
		t.Fatalf("serve exited %d on shutdown: %s", code, srv.errOut)
	}

	// With a user, the next start has nothing to say about it.
	srv = start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn")
	srv.wait(t, servingRE)
	if strings.Contains(srv.errOut.String(), "user add") {
		t.Fatalf("hint printed although an admin exists:\n%s", srv.errOut)
	}
}

func TestNotificationFlagsAreChecked(t *testing.T) {
	t.Setenv("VTSOAR_TEST_SHORT_TOKEN", "hunter2")
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_DB", "")
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--webhook-url", "https://hooks.example/x"}, "--webhook-secret"},
		{[]string{"--webhook-url", "https://hooks.example/x", "--webhook-secret", "s3cret"}, "env:NAME or file:PATH"},
		{[]string{"--smtp-host", "smtp.example", "--smtp-from", "vtsoar@example.com"}, "recipients"},
		{[]string{"--smtp-to", "soc@example.com"}, "--smtp-host"},
		{[]string{"--smtp-host", "smtp.example", "--smtp-from", "a@example.com", "--smtp-to", "b@example.com", "--smtp-user", "u", "--smtp-password", "hunter2"}, "reference"},
		{[]string{"--metrics-token", "hunter2-hunter2-hunter2"}, "env:NAME or file:PATH"},
		{[]string{"--metrics-token", "env:VTSOAR_TEST_SHORT_TOKEN"}, "at least 16"},
		{[]string{"--metrics-token", "env:VTSOAR_TEST_UNSET_TOKEN"}, "not set"},
		{[]string{"--trusted-proxy", "proxy.example"}, "--trusted-proxy"},
		{[]string{"--session-idle", "0s"}, "--session-idle"},
		{[]string{"--session-max-age", "-1h"}, "--session-max-age"},
	} {
		var out iostreams.SyncBuffer
		args := append([]string{"--db", db, "serve", "--addr", "127.0.0.1:0"}, tc.args...)
		code := cli.Main(context.Background(), args, &iostreams.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
		if code != 2 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, out.String())
		}
		if strings.Contains(out.String(), "hunter2") || strings.Contains(out.String(), "s3cret") {
			t.Errorf("%v: a secret was printed:\n%s", tc.args, out.String())
		}
	}
}

// Every request `vtsoar serve` sends to VirusTotal is counted in
// vtsoar_vt_requests_total, those of the background enrichment included: the REST
// server and the enrichment share one set of clients. A scraper reads them with the
// token of --metrics-token.
func TestMetricCountsTheEnrichmentsRequests(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	t.Setenv("VTSOAR_MASTER_KEY", hex.EncodeToString(key))
	t.Setenv("VTSOAR_DB", "")
	sim := vtsim.MustNew(vtsim.Options{})
	emu := httptest.NewServer(sim)
	defer emu.Close()
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	cmd := func(stdin string, args ...string) string {
		t.Helper()
		out := &iostreams.SyncBuffer{}
		if code := cli.Main(context.Background(), append([]string{"--db", db}, args...), &iostreams.IOStreams{In: strings.NewReader(stdin), Out: out, ErrOut: out}); code != 0 {
			t.Fatalf("vtsoar %v: exit %d: %s", args, code, out)
		}
		return out.String()
	}
	cmd("k", "connection", "add", "emu", "--api-key-stdin", "--server-url", emu.URL, "--quota", "premium", "--reputation-checks", "file,ip")
	tok := regexp.MustCompile(`"token":\s*"([^"]+)"`).FindStringSubmatch(cmd("", "user", "add", "alice", "--role", "admin", "-o", "json"))
	if tok == nil {
		t.Fatal("no token")
	}
	const scrape = "prometheus-scrape-token-0123456789"
	t.Setenv("VTSOAR_TEST_SCRAPE", scrape+"\n")
	srv := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--metrics-token", "env:VTSOAR_TEST_SCRAPE")
	base := srv.wait(t, servingRE)[1]
	token := tok[1]
	call := func(method, path string, body any) []byte {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s = %d %s", method, path, res.StatusCode, b)
		}
		return b
	}

	var ev struct{ ID, Status string }
	json.Unmarshal(call("POST", "/api/v1/events", map[string]any{"site": "paris", "artifacts": []map[string]string{
		{"type": "file", "value": "44d88612fea8a8f36de82e1278abb02f"}, {"type": "ip", "value": "8.8.8.8"},
		{"type": "file", "value": "0000000000000000000000000000000000000000000000000000000000000000"}}}), &ev)
	deadline := time.Now().Add(20 * time.Second)
	for ev.Status != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("event %s still %s", ev.ID, ev.Status)
		}
		time.Sleep(20 * time.Millisecond)
		json.Unmarshal(call("GET", "/api/v1/events/"+ev.ID, nil), &ev)
	}
	// And one request of the REST server's own.
	call("POST", "/api/v1/commands/check-ip-reputation", map[string]any{"connection": "emu", "inputs": []string{"1.1.1.1"}})

	counted := 0.0
	token = scrape
	for _, line := range strings.Split(string(call("GET", "/metrics", nil)), "\n") {
		if strings.HasPrefix(line, "vtsoar_vt_requests_total{") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			counted += v
		}
	}
	sent := sim.Stats().Requests
	if sent < 4 || counted != float64(sent) {
		t.Fatalf("vtsoar_vt_requests_total = %v, the emulator answered %d requests", counted, sent)
	}
}

// `serve --max-connections N` holds at most N client connections: with two held open
// (keep-alive, each answered once), a third client is not answered until one of
// them closes.
func TestMaxConnections(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_DB", "")
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	srv := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--max-connections", "2")
	base := srv.wait(t, servingRE)[1]
	host := strings.TrimPrefix(base, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("held connection: %v %v", res, err)
		}
		res.Body.Close()
		held = append(held, c)
	}
	done := make(chan error, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{}, Timeout: 20 * time.Second}
		res, err := c.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	// A negative check: the third client has had time to be answered, and is not.
	select {
	case err := <-done:
		t.Fatalf("a third client was served beside two held connections (err %v)", err)
	case <-time.After(500 * time.Millisecond):
	}
	held[0].Close()
	if err := <-done; err != nil {
		t.Fatalf("the third client, once a connection closed: %v", err)
	}
	var out iostreams.SyncBuffer
	code := cli.Main(context.Background(), []string{"--db", db, "serve", "--addr", "127.0.0.1:0", "--max-connections", "0"},
		&iostreams.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	if code != 2 || !strings.Contains(out.String(), "--max-connections") {
		t.Errorf("--max-connections 0: exit %d %s", code, out.String())
	}
}

// The console's cookies are Secure with --cookie-secure, and with --trusted-proxy when
// that proxy says X-Forwarded-Proto: https; not otherwise over plain HTTP.
func TestCookieSecureFlags(t *testing.T) {
	t.Setenv("VTSOAR_MASTER_KEY", "")
	t.Setenv("VTSOAR_DB", "")
	secure := func(base string, header http.Header) bool {
		t.Helper()
		req, _ := http.NewRequest("GET", base+"/login", nil)
		for k, v := range header {
			req.Header[k] = v
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		for _, c := range res.Cookies() {
			if c.Name == "vtsoar_login_csrf" {
				return c.Secure
			}
		}
		t.Fatalf("GET /login set no sign-in cookie")
		return false
	}
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	db := filepath.Join(t.TempDir(), "vtsoar.db")
	plain := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--trusted-proxy", "10.0.0.0/8")
	base := plain.wait(t, servingRE)[1]
	if secure(base, nil) || secure(base, https) {
		t.Error("Secure cookies over plain HTTP from a client that is no trusted proxy")
	}
	plain.shutdown(t)
	proxied := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--trusted-proxy", "127.0.0.1")
	base = proxied.wait(t, servingRE)[1]
	if !secure(base, https) || secure(base, nil) {
		t.Error("--trusted-proxy 127.0.0.1: want Secure with X-Forwarded-Proto: https only")
	}
	proxied.shutdown(t)
	always := start(t, "--db", db, "serve", "--addr", "127.0.0.1:0", "--log-level", "warn", "--cookie-secure")
	if !secure(always.wait(t, servingRE)[1], nil) {
		t.Error("--cookie-secure: the cookie is not Secure")
	}
}
