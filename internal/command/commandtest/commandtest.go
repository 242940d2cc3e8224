// Package commandtest runs every integration command, through the paths that succeed
// and those that fail, against an emulator whose clock stands still, so that the
// envelopes are the same on every run: the tests of the command package and of the
// CLI's output formats hold them to golden files.
package commandtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/vt"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Run is one command's run: its envelope, and the replacer that makes its text the
// same on every run (the emulator's address, the test's directory).
type Run struct {
	Envelope *command.Envelope
	Stable   *strings.Replacer
}

// Envelopes runs the commands and returns their envelopes, in order.
func Envelopes(t testing.TB) []Run {
	t.Helper()
	// The emulator's clock stands still (its analyses are done at once) and the inputs
	// run one at a time, so that every id and date it makes is the same on every run.
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const key = "golden-key"
	srv := httptest.NewServer(vtsim.MustNew(vtsim.Options{PremiumKeys: []string{key}, Now: func() time.Time { return at }}))
	t.Cleanup(srv.Close)
	client, err := vt.New(key, vt.WithServerURL(srv.URL), vt.WithRetry(vt.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	deps := command.Deps{Client: client, Cache: cache.NewMemory(), Policy: risk.DefaultPolicy()}
	// A directory whose name has the same length on every run: a table's columns are
	// as wide as the paths in them.
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("vtsoar-golden-%010d", rand.Uint32()))
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sample := filepath.Join(dir, "sample.bin")
	if err := os.WriteFile(sample, []byte("vtsoar golden sample\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	known := universe(t, "golden-known", true)
	missing := universe(t, "golden-missing", false)
	fast := map[string]any{"poll_interval": "5ms", "timeout": "20s"}
	with := func(more ...map[string]any) map[string]any {
		out := map[string]any{}
		for _, m := range more {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	reqs := []command.Request{
		body(t, "check-file-reputation", []string{known, "44d88612fea8a8f36de82e1278abb02f", missing, "not-a-hash", known}, nil),
		// A private address is skipped, unless the run includes them.
		body(t, "check-ip-reputation", []string{"8.8.8.8", "vtsoar.net", "127.0.0.1"}, nil),
		body(t, "check-ip-reputation", []string{"10.1.2.3"}, map[string]any{"include_private": true}),
		body(t, "check-url-reputation", []string{"https://vtsoar.net/a?b=1", "http://nothing.invalid/x"}, nil),
		body(t, "check-domain-reputation", []string{"vtsoar.net", "bad_domain!"}, nil),
		body(t, "lookup", []string{known, "8.8.8.8", "10.0.0.1", "www.microsoft.com", "https://vtsoar.net/", "nonsense input"}, nil),
		body(t, "lookup", []string{"mail from evil.example.net about 1.2.3.4 and setup.py"}, map[string]any{"extract": true}),
		body(t, "get-file-reports", []string{known, missing}, nil),
		body(t, "get-ip-reports", []string{"8.8.4.4"}, nil),
		body(t, "get-url-reports", []string{"https://vtsoar.net/", "http://never-seen.vtsoar.org/new"}, fast),
		body(t, "get-url-reports", []string{"http://never-seen.vtsoar.org/other"}, map[string]any{"no_submit": true}),
		body(t, "get-domain-reports", []string{"vtsoar.net"}, nil),
		body(t, "get-domain-relationships", []string{"vtsoar.net", "bad_domain!"}, map[string]any{"relationship": "subdomains", "limit": 3}),
		body(t, "get-file-relationships", []string{known}, map[string]any{"relationship": "contacted_ips", "descriptors_only": true}),
		body(t, "get-file-behavior-summaries", []string{known, missing}, nil),
		body(t, "detonate-files", []string{sample, filepath.Join(dir, "absent.bin")}, fast),
		body(t, "detonate-files", []string{sample}, with(fast, map[string]any{"rescan": true})),
		body(t, "scan-url", []string{"https://vtsoar.net/scan"}, nil),
		body(t, "scan-url", []string{"https://vtsoar.net/scan-wait"}, with(fast, map[string]any{"wait": true})),
		body(t, "search", []string{"vtsoar.net", " "}, map[string]any{"limit": 2}),
		body(t, "retrieve-widget-html-content", []string{known, "8.8.8.8"}, nil),
		body(t, "retrieve-widget-html-content", []string{"vtsoar.net"}, map[string]any{"widget_colors": map[string]any{"fg1": "ffffff"}}),
		body(t, "test-connection", nil, nil),
		body(t, "get-quotas", nil, nil),
		body(t, "add-comment", []string{known, "https://vtsoar.net/c"}, map[string]any{"comment": "golden #tag"}),
		body(t, "get-comments", []string{known, "8.8.8.8"}, map[string]any{"limit": 2}),
		body(t, "add-vote", []string{"vtsoar.net"}, map[string]any{"verdict": "malicious"}),
		body(t, "get-votes", []string{"vtsoar.net"}, nil),
		body(t, "rescan-file", []string{known}, nil),
		body(t, "rescan-url", []string{"https://vtsoar.net/"}, with(fast, map[string]any{"wait": true})),
	}
	// The options of the command line only: files written in a directory.
	widget := command.Request{Command: "retrieve-widget-html-content", Inputs: []string{known}}
	cmd, _ := command.Lookup(widget.Command)
	wo := cmd.NewOptions().(*command.WidgetOptions)
	wo.OutDir = filepath.Join(dir, "widgets")
	widget.Options = wo
	download := command.Request{Command: "download-file", Inputs: []string{known}}
	cmd, _ = command.Lookup(download.Command)
	do := cmd.NewOptions().(*command.DownloadOptions)
	do.OutDir = filepath.Join(dir, "downloads")
	download.Options = do
	reqs = append(reqs, widget, download)
	// Over REST, what they make is kept by Deps.Keep (the file store's playbook files).
	keptDeps := deps
	keptDeps.Keep = &keeper{}
	kept := []command.Request{
		body(t, "download-file", []string{"44d88612fea8a8f36de82e1278abb02f", missing}, nil),
		body(t, "retrieve-widget-html-content", []string{"8.8.8.8"}, nil),
	}

	stable := strings.NewReplacer(dir, "DIR", srv.URL, "SIM")
	var out []Run
	for _, c := range []struct {
		deps command.Deps
		reqs []command.Request
	}{{deps, reqs}, {keptDeps, kept}} {
		for _, req := range c.reqs {
			req.Run.Concurrency = 1
			p, err := command.Prepare(req)
			if err != nil {
				t.Fatalf("%s: %v", req.Command, err)
			}
			env, err := command.Run(context.Background(), c.deps, p)
			if err != nil {
				t.Fatalf("%s: %v", req.Command, err)
			}
			out = append(out, Run{Envelope: env, Stable: stable})
		}
	}
	return out
}

// keeper keeps files in memory, named kept-1, kept-2, ... in the order it is given
// them: a command.FileKeeper.
type keeper struct {
	mu    sync.Mutex
	files []keptFile
}

type keptFile struct {
	name    string
	content []byte
}

// Keep implements command.FileKeeper.
func (k *keeper) Keep(_ context.Context, write func(w io.Writer) (string, error)) (string, error) {
	var b bytes.Buffer
	name, err := write(&b)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.files = append(k.files, keptFile{name, b.Bytes()})
	return fmt.Sprintf("kept-%d", len(k.files)), nil
}

// body is the request of the command name whose JSON form has inputs and the members
// of options.
func body(t testing.TB, name string, inputs []string, options map[string]any) command.Request {
	t.Helper()
	m := map[string]any{"inputs": inputs}
	for k, v := range options {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var req command.Request
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	req.Command = name
	return req
}

// universe returns the first sha256 of seed-0, seed-1, ... that the emulator knows
// (known) or does not.
func universe(t testing.TB, seed string, known bool) string {
	t.Helper()
	for i := range 10000 {
		h := sha256.Sum256(fmt.Appendf(nil, "%s-%d", seed, i))
		id := hex.EncodeToString(h[:])
		d := sha256.Sum256([]byte(id))
		if (d[0] >= 0x10) == known {
			return id
		}
	}
	t.Fatal("no id found")
	return ""
}

// Golden compares got with the golden file path, or writes it when update is set.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) == string(want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range w {
		if i >= len(g) || g[i] != w[i] {
			t.Fatalf("%s differs at line %d:\n got %.300q\nwant %.300q", path, i+1, g[min(i, len(g)-1)], w[i])
		}
	}
	t.Fatalf("%s: %d lines, want %d", path, len(g), len(w))
}
