package integration_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/integration"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
)

func newFactory() *cmdutil.Factory {
	ios, _, _, _ := iostreams.Test()
	f := cmdutil.New(ios, "test")
	f.Getenv = func(string) string { return "" }
	f.Options.Run.Concurrency, f.Options.Run.MaxAge = 4, time.Hour
	return f
}

// run executes the CLI command of the integration command name with args, its run
// function replaced by one that keeps the options.
func run(t *testing.T, f *cmdutil.Factory, name string, args ...string) (*integration.Options, error) {
	t.Helper()
	c, ok := command.Lookup(name)
	if !ok {
		t.Fatalf("no command %s", name)
	}
	var got *integration.Options
	cmd := integration.NewCmd(f, c, func(_ context.Context, o *integration.Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(context.Background())
	return got, err
}

// A command's flags and the global options reach its options; a command's flags are
// only those it takes.
func TestFlagsMakeTheOptions(t *testing.T) {
	f := newFactory()
	f.Options.Output, f.Options.Run.Fresh = "jsonl", true
	o, err := run(t, f, "get-file-relationships", "-r", "Contacted_Domains", "--limit", "5", "--descriptors-only", "-", "44d88612fea8a8f36de82e1278abb02f")
	if err != nil {
		t.Fatal(err)
	}
	ro := o.Opts.(*command.RelationshipOptions)
	if o.Command.Name != "get-file-relationships" || ro.Relationship != "Contacted_Domains" || ro.Limit != 5 || !ro.DescriptorsOnly ||
		strings.Join(o.Args, " ") != "- 44d88612fea8a8f36de82e1278abb02f" || o.Output != "jsonl" || !o.Run.Fresh ||
		o.Run.Concurrency != 4 || o.Run.MaxAge != time.Hour {
		t.Fatalf("options %+v %+v", o, ro)
	}
	if o, err = run(t, f, "scan-url", "--wait", "https://example.com/"); err != nil || !o.Opts.(*command.WaitOptions).Wait ||
		o.Opts.(*command.WaitOptions).PollInterval != command.DefaultPollInterval {
		t.Fatalf("scan-url --wait: %+v, %v", o, err)
	}
	if _, err := run(t, f, "check-file-reputation", "--relationship", "x", "h"); err == nil {
		t.Fatal("check-file-reputation took --relationship")
	}
}

// Inputs are required unless the command takes none, and a bad global option is a
// usage error before the command runs.
func TestArgsAndGlobalsAreCheckedFirst(t *testing.T) {
	f := newFactory()
	if _, err := run(t, f, "check-ip-reputation"); !cmdutil.IsUsage(err) {
		t.Errorf("no inputs: %v, want a usage error", err)
	}
	if _, err := run(t, f, "test-connection", "extra"); !cmdutil.IsUsage(err) {
		t.Errorf("test-connection with an input: %v, want a usage error", err)
	}
	f.Options.Run.Concurrency = 0
	if o, err := run(t, f, "check-ip-reputation", "8.8.8.8"); !cmdutil.IsUsage(err) || o != nil {
		t.Errorf("--concurrency 0: %v (ran: %v), want a usage error before the run", err, o != nil)
	}
}
