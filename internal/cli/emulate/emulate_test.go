package emulate

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/vtsim"
)

// newCmd returns the emulate command writing its banner to out; runF as
// NewCmdEmulate's.
func newCmd(out io.Writer, runF func(context.Context, *Options) error) *cobra.Command {
	f := cmdutil.New(&iostreams.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: io.Discard}, "test")
	cmd := NewCmdEmulate(f, runF)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	return cmd
}

// The flags make the emulator's options: --fail-rate is folded into --fail-mix as its
// 503 share, the other flags land in their fields.
func TestEmulateFlagsMakeOptions(t *testing.T) {
	var got *Options
	cmd := newCmd(io.Discard, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--fail-rate", "0.1", "--fail-mix", "504=0.2",
		"--premium-keys", "p1,p2", "--quota-day", "7", "--latency", "5ms"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("the run function was not called")
	}
	sim := got.Sim
	if got.Addr != "127.0.0.1:0" || sim.FailRate != 0 || sim.FailMix[vtsim.Fault503] != 0.1 || sim.FailMix[vtsim.Fault504] != 0.2 ||
		len(sim.FailMix) != 2 || strings.Join(sim.PremiumKeys, ",") != "p1,p2" || sim.QuotaDay != 7 ||
		sim.Latency != 5*time.Millisecond || sim.AnalysisTime != 3*time.Second || sim.Seed == 0 {
		t.Fatalf("options %+v, sim %+v", got, sim)
	}
}

func TestEmulateServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newCmd(pw, nil)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--quota-minute", "2", "--premium-keys", "p1,p2", "--analysis-time", "0s"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()

	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the banner: %v", err)
	}
	const prefix = "vtsim listening on "
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, " (API at /api/v3)\n") {
		t.Fatalf("banner %q", line)
	}
	base := strings.Fields(strings.TrimPrefix(line, prefix))[0]

	get := func(path, key string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("x-apikey", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := get("/api/v3/files/44d88612fea8a8f36de82e1278abb02f", "k"); st != 200 || m["data"] == nil {
		t.Fatalf("GET file: %d %v", st, m)
	}
	// The flags reach the emulator: premium keys and the minute quota.
	if st, _ := get("/api/v3/files/44d88612fea8a8f36de82e1278abb02f/similar_files", "p2"); st != 200 {
		t.Errorf("premium key refused: %d", st)
	}
	if st, _ := get("/api/v3/files/44d88612fea8a8f36de82e1278abb02f/similar_files", "k"); st != 403 {
		t.Errorf("public key allowed a premium relationship: %d", st)
	}
	if st, _ := get("/api/v3/metadata", "k"); st != 429 {
		t.Errorf("third request in the minute: %d, want 429", st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("emulate returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emulate did not stop")
	}
	if _, err := http.Get(base + "/_emulator/stats"); err == nil {
		t.Error("still serving after stop")
	}
}

func TestEmulateRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--fail-rate", "1.5"},
		{"--fail-mix", "503=0.1,500=0.1"},
		{"--fail-mix", "503=0.7,504=0.5"},
		{"--fail-mix", "503"},
		{"--fail-mix", "503=0.1", "--fail-rate", "0.2"},
		{"--fail-mix", "504=0.6", "--fail-rate", "0.5"},
		{"--quota-day", "-1"},
		{"--data", "/no/such/dir", "--addr", "127.0.0.1:0"},
		{"extra-arg"},
	} {
		cmd := newCmd(io.Discard, nil)
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

func TestEmulateFailMix(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd := newCmd(pw, nil)
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0", "--fail-mix", "502html=1"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Fields(strings.TrimPrefix(line, "vtsim listening on "))[0]
	req, _ := http.NewRequest("GET", base+"/api/v3/files/44d88612fea8a8f36de82e1278abb02f", nil)
	req.Header.Set("x-apikey", "k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "text/html" || !strings.Contains(string(body), "502 Bad Gateway") {
		t.Errorf("--fail-mix 502html=1: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	resp, err = http.Get(base + "/_emulator/stats")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		ByFault map[string]int `json:"by_fault"`
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.ByFault["502html"] != 1 {
		t.Errorf("stats by_fault %v", st.ByFault)
	}
	cancel()
	<-done
}

func TestEmulateFailMixErrorsSayWhy(t *testing.T) {
	for args, want := range map[string]string{
		"--fail-mix=503=0.1,500=0.1":              `--fail-mix: failure mix "503=0.1,500=0.1": unknown failure "500"`,
		"--fail-mix=503=0.1 --fail-rate=0.2":      "give it in one of them",
		"--fail-mix=504=0.6 --fail-rate=0.5":      "add up to 1.1, more than 1",
		"--fail-mix=429=2":                        "between 0 and 1",
		"--fail-mix=503=0.1,503=0.1 --addr=x:bad": "503 is given twice",
	} {
		cmd := newCmd(io.Discard, nil)
		cmd.SetArgs(strings.Fields(args))
		if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
