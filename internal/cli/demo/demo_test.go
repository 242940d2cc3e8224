package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

var (
	consoleRE = regexp.MustCompile(`(?m)^\s+Console:\s+(http://127\.0\.0\.1:\d+)/$`)
	tokenRE   = regexp.MustCompile(`(?m)^\s+Admin token:\s+(vtsoar_\S+)$`)
)

// startDemo runs `vtsoar demo --addr 127.0.0.1:0` in this process and returns the
// base URL and token it prints, and a function that stops it and returns its exit code.
func startDemo(t *testing.T) (base, token string, stop func() int) {
	t.Helper()
	base, token, stop, _, _ = startDemoWith(t, "--log-level", "warn")
	return base, token, stop
}

// startDemoWith is startDemo with other flags, and the demo's stdout and stderr.
func startDemoWith(t *testing.T, flags ...string) (base, token string, stop func() int, out, errOut *iostreams.SyncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut = &iostreams.SyncBuffer{}, &iostreams.SyncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, append([]string{"demo", "--addr", "127.0.0.1:0", "--analysis-time", "100ms"}, flags...),
			&iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	}()
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("demo did not stop")
			return -1
		}
	}
	t.Cleanup(func() { stop() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := out.String()
		c, tk := consoleRE.FindStringSubmatch(s), tokenRE.FindStringSubmatch(s)
		if c != nil && tk != nil {
			return c[1], tk[1], stop, out, errOut
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d:\n%s\n%s", code, s, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no URL and token printed:\n%s\n%s", s, errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, token string, body any, v any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return res.StatusCode
}

// TestDemoEndToEnd runs the demo as a user would (its own database under
// XDG_DATA_HOME, the embedded emulator), and uses the URL and token it prints: a
// reputation command, then an event enriched in the background.
func TestDemoEndToEnd(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	for _, k := range []string{"VT_API_KEY", "VTSOAR_DB", "VTSOAR_MASTER_KEY", "VT_SERVER_URL", "VTSOAR_QUOTA"} {
		t.Setenv(k, "")
	}
	base, token, stop := startDemo(t)

	var env struct {
		ReturnData  string `json:"return_data"`
		ContextData []struct {
			RiskLevel string `json:"risk_level"`
		} `json:"context_data"`
		Errors []map[string]any `json:"errors"`
	}
	if st := call(t, "POST", base+"/api/v1/commands/check-file-reputation", token,
		map[string]any{"inputs": []string{"44d88612fea8a8f36de82e1278abb02f"}}, &env); st != 200 ||
		env.ReturnData != "Successful" || len(env.ContextData) != 1 || env.ContextData[0].RiskLevel != "High" {
		t.Fatalf("check-file-reputation = %d %+v, want EICAR High", st, env)
	}

	var ev struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		RiskLevel string `json:"risk_level"`
		Artifacts []struct {
			Status     string `json:"status"`
			RiskReason string `json:"risk_reason"`
		} `json:"artifacts"`
	}
	if st := call(t, "POST", base+"/api/v1/events", token, map[string]any{"artifacts": []map[string]string{
		{"type": "file", "value": "44d88612fea8a8f36de82e1278abb02f"}, {"type": "domain", "value": "example.com"}}}, &ev); st != 201 || ev.ID == "" {
		t.Fatalf("POST event = %d %+v", st, ev)
	}
	for deadline := time.Now().Add(20 * time.Second); ev.Status != "done"; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("event not done: %+v", ev)
		}
		if st := call(t, "GET", base+"/api/v1/events/"+ev.ID, token, nil, &ev); st != 200 {
			t.Fatalf("GET event = %d", st)
		}
	}
	if ev.RiskLevel != "High" || len(ev.Artifacts) != 2 || ev.Artifacts[1].Status != "done" || ev.Artifacts[1].RiskReason == "" {
		t.Fatalf("enriched event = %+v, want High with both artifacts done", ev)
	}
	if code := stop(); code != 0 {
		t.Fatalf("demo exited %d on Ctrl-C", code)
	}

	// A second start on the same database works, with a new token; the old one is
	// revoked.
	base2, token2, _ := startDemo(t)
	if token2 == token {
		t.Fatal("the admin token was not renewed")
	}
	if st := call(t, "GET", base2+"/api/v1/connections/emulator", token, nil, nil); st != 401 {
		t.Fatalf("old token = %d, want 401", st)
	}
	var conn struct {
		ServerURL string `json:"server_url"`
	}
	if st := call(t, "GET", base2+"/api/v1/connections/emulator", token2, nil, &conn); st != 200 || conn.ServerURL == "" {
		t.Fatalf("connection after restart = %d %+v", st, conn)
	}
	// The seeded connection follows the emulator to its new port.
	if st := call(t, "POST", base2+"/api/v1/commands/check-ip-reputation", token2,
		map[string]any{"inputs": []string{"8.8.8.8"}}, &env); st != 200 || env.ReturnData != "Successful" {
		t.Fatalf("command after restart = %d %+v", st, env)
	}
}

// TestDemoIsCalm: with no logging flag, the demo's terminal holds what a newcomer
// needs (the console, the token, what to try) and its log nothing of River's
// migrations and routine lines; -v shows them.
func TestDemoIsCalm(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "data"))
	for _, k := range []string{"VT_API_KEY", "VTSOAR_DB", "VTSOAR_MASTER_KEY", "VT_SERVER_URL", "VTSOAR_QUOTA"} {
		t.Setenv(k, "")
	}
	base, token, stop, out, errOut := startDemoWith(t)
	banner := out.String()
	for _, want := range []string{"Lookup", base + "/api/v1/commands/lookup", "?format=stix", "export TOKEN=" + token, " lookup 8.8.8.8 ", "warnings only"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
	// An event is enriched (River at work) without a line on stderr.
	var ev struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	call(t, "POST", base+"/api/v1/events", token, map[string]any{"artifacts": []map[string]string{{"type": "ip", "value": "8.8.8.8"}}}, &ev)
	for deadline := time.Now().Add(20 * time.Second); ev.Status != "done" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		call(t, "GET", base+"/api/v1/events/"+ev.ID, token, nil, &ev)
	}
	if code := stop(); code != 0 {
		t.Fatalf("demo exited %d", code)
	}
	if s := errOut.String(); s != "" {
		t.Errorf("the demo logged with no logging flag:\n%s", s)
	}

	// -v: River's migrations (already applied: the client's start) and the service's own lines.
	_, _, stop, _, errOut = startDemoWith(t, "-v")
	if code := stop(); code != 0 {
		t.Fatalf("demo -v exited %d", code)
	}
	for _, want := range []string{"level=DEBUG", "component=river", `msg=serving`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("-v: the log lacks %q:\n%.2000s", want, errOut.String())
		}
	}
}
