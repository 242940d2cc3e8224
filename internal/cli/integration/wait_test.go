package integration_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/integration"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/pipenet"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// TestProgressShowsTheWait: on a terminal, a run of 12 inputs on the public budget
// (4 a minute) draws the count of inputs done and, while the 5th waits for the
// budget, the wait beside it, with the wait's line written once above the bar; the
// count stays right during the wait and the run ends with every input. In a synctest
// bubble: the minute passes in fake time.
func TestProgressShowsTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "vtsoar.db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		simL, stop := pipenet.Serve("vtsim", vtsim.MustNew(vtsim.Options{}))
		defer stop()
		conn, err := connclient.Build(ctx, st, connclient.Target{Name: "pub", ServerURL: "http://vtsim", APIKey: "k", Spec: quota.Public},
			connclient.Options{HTTPClient: simL.HTTPClient()})
		if err != nil {
			t.Fatal(err)
		}
		ios, _, _, _ := iostreams.Test()
		stderr := &iostreams.SyncBuffer{}
		ios.ErrOut, ios.Out = stderr, io.Discard
		ios.SetStderrTTY(true)
		f := cmdutil.New(ios, "test")
		f.Getenv = func(string) string { return "" }
		f.Options.Output = "json"
		f.Options.Run.Concurrency, f.Options.Run.MaxAge = 1, time.Hour
		f.Executor = func(context.Context) (command.Deps, func(), error) { return conn.Deps(), func() {}, nil }
		c, _ := command.Lookup("check-ip-reputation")
		cmd := integration.NewCmd(f, c, nil)
		var args []string
		for i := range 12 {
			args = append(args, fmt.Sprintf("8.8.%d.%d", i+1, i+1)) // public: none skipped
		}
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		done := make(chan error)
		go func() { done <- cmd.ExecuteContext(ctx) }()

		time.Sleep(30 * time.Second) // in the first wait
		out := stderr.String()
		frames := strings.Split(out, "\r")
		last := ""
		for _, fr := range frames {
			if strings.Contains(fr, "inputs") {
				last = fr
			}
		}
		if !regexp.MustCompile(`\] 4/12 inputs, waiting for the budget until \d\d:\d\d:\d\d$`).MatchString(last) {
			t.Fatalf("the bar during the wait is %q", last)
		}
		if n := strings.Count(out, "waiting for the public budget: 4 requests this minute used, next at "); n != 1 {
			t.Fatalf("%d wait lines during the wait:\n%q", n, out)
		}
		if err := <-done; err != nil && !strings.Contains(err.Error(), "exit") {
			t.Fatal(err)
		}
		out = stderr.String()
		if n := strings.Count(out, "waiting for the public budget"); n != 2 {
			t.Fatalf("%d wait lines for 12 inputs at 4 a minute, want 2:\n%q", n, out)
		}
		if !strings.Contains(out, "12/12 inputs") {
			t.Fatalf("the bar never showed 12/12:\n%q", out)
		}
	})
}
