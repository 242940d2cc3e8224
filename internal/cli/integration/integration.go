// Package integration makes one CLI command of each integration command of the
// registry (check-file-reputation, get-url-reports, detonate-files, ...).
package integration

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/output"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
	"github.com/vtsoar/vtsoar/internal/quota"
)

// GroupID is the help group of the integration commands.
const GroupID = "integration"

// progressThreshold is the number of inputs from which a progress bar is drawn.
const progressThreshold = 10

// streamDelay is how long a line of -o jsonl may wait before it is written out.
const streamDelay = 20 * time.Millisecond

// NewCmds returns a command for each integration command, in the registry's order.
func NewCmds(f *cmdutil.Factory) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range command.All() {
		out = append(out, NewCmd(f, c, nil))
	}
	return out
}

// Options are what an integration command runs with.
type Options struct {
	IO *iostreams.IOStreams
	// Executor returns the run's dependencies (client, cache, risk policy) and a
	// function that releases them (cmdutil.Factory.Executor).
	Executor func(ctx context.Context) (command.Deps, func(), error)
	// Command is the integration command.
	Command *command.Command

	// Args are the arguments: inputs, "-" for stdin's.
	Args []string
	// Output is the output format (-o, or its default); Run are the run's global
	// flags (--concurrency, --max-age, --fresh).
	Output string
	Run    command.RunOptions
	// Opts are the command's own options, which its flags set.
	Opts command.Options
}

// NewCmd returns the CLI command of the integration command c, with a flag for each of
// its options; runF, when not nil, runs in place of c (tests).
func NewCmd(f *cmdutil.Factory, c *command.Command, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{IO: f.IOStreams, Executor: f.Executor, Command: c, Opts: c.NewOptions()}
	use := c.Name
	if !c.NoInputs {
		use += fmt.Sprintf(" %s... | -", c.InputHelp)
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   c.Short,
		Long:    c.Long + inputsHelp(c),
		GroupID: GroupID,
		Args: func(cmd *cobra.Command, args []string) error {
			if c.NoInputs && len(args) > 0 {
				return cmdutil.Usagef("%s takes no inputs", c.Name)
			}
			if !c.NoInputs && len(args) == 0 {
				return cmdutil.Usagef("%s needs inputs: give them as arguments, or - to read them from stdin", c.Name)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.CheckGlobal(); err != nil {
				return err
			}
			o.Args, o.Output, o.Run = args, f.OutputFormat(), f.Options.Run
			return cmdutil.Run(cmd, o, runF, run)
		},
	}
	cmdutil.AddOptionFlags(cmd.Flags(), o.Opts.Fields())
	return cmd
}

func inputsHelp(c *command.Command) string {
	if c.NoInputs {
		return ""
	}
	extract := ""
	if _, ok := c.NewOptions().(command.TextInputs); ok {
		extract = "\nWith --extract, each argument is a text, and - reads all of stdin as one."
	}
	private := ""
	if !c.TakesFiles {
		private = `
Private, reserved, loopback, link-local and documentation addresses and names (and URLs
on them) are not sent to VirusTotal unless --include-private: each is reported at its
position with status "skipped", and costs nothing.`
	}
	return `

Inputs are arguments; - reads them from stdin, one per line (blank lines and # comments
skipped). Duplicates are answered once and reported at each position.` + private + extract + `

Exit codes: 0 Successful, 3 Partially Successful, 1 Failed, 2 usage or configuration error.`
}

func run(ctx context.Context, o *Options) error {
	c, io := o.Command, o.IO
	texts := false
	if t, ok := o.Opts.(command.TextInputs); ok {
		texts = t.Texts()
	}
	var inputs []string
	var err error
	if texts {
		inputs, err = cmdutil.ReadTexts(o.Args, io.In)
	} else {
		inputs, err = cmdutil.ReadInputs(o.Args, io.In)
	}
	if err != nil {
		return err
	}
	if !c.NoInputs && len(inputs) == 0 {
		if texts {
			return cmdutil.Usagef("no text: stdin was empty")
		}
		return cmdutil.Usagef("no inputs: stdin had only blank lines and comments")
	}
	p, err := command.Prepare(command.Request{Command: c.Name, Inputs: inputs, Options: o.Opts, Run: o.Run})
	if err != nil {
		return cmdutil.RequestError(err)
	}
	format := o.Output
	if format == export.FormatSTIX || format == export.FormatMISP {
		if err := export.Check(c, format); err != nil {
			return &cmdutil.UsageError{Err: err}
		}
	}
	deps, release, err := o.Executor(ctx)
	if err != nil {
		return err
	}
	released := false
	defer func() {
		if !released {
			release()
		}
	}()

	var progress *output.Progress
	if io.IsStderrTTY() && p.Len() >= progressThreshold && format != "jsonl" {
		progress = output.NewProgress(io.ErrOut, p.Len(), io.TerminalWidth())
	}
	var writeErr error
	// jsonl streams the context entries and prints no envelope: the results are kept
	// without VirusTotal's answers. The lines reach stdout within streamDelay of being
	// written, in a few writes rather than one each.
	var stream *output.Stream
	if format == "jsonl" {
		stream = output.NewStream(io.Out, streamDelay)
	}
	results := make([]command.Result, p.Len())
	waits := &budgetWaits{w: io.ErrOut, progress: progress, quiet: format == "jsonl", now: time.Now}
	ctx = quota.WithObserver(quota.WithRequester(ctx, quota.RequesterCLI), waits)
	err = command.Stream(ctx, deps, p, nil, func(res command.Result) {
		if progress != nil {
			progress.Add(1)
		}
		if stream != nil {
			if writeErr == nil {
				writeErr = output.JSONLine(stream, res.Context)
			}
			res = res.Compact()
		}
		results[res.Index] = res
	})
	// The store's last writes (answers held for a shared transaction) and its close
	// need nothing of the output, nor the output anything of them: the two run side by
	// side, and the command returns once both are done.
	released = true
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		release()
	}()
	defer func() { <-closed }()
	if progress != nil {
		progress.Done()
	}
	if stream != nil {
		if cerr := stream.Close(); writeErr == nil {
			writeErr = cerr
		}
	}
	if err != nil {
		return cmdutil.RequestError(err)
	}
	env := p.Envelope(results)
	switch format {
	case "jsonl":
		if writeErr == nil {
			writeErr = output.SkippedLines(io.Out, env.Skipped)
		}
		if writeErr == nil {
			fmt.Fprintf(io.ErrOut, "%s: %s\n", c.Name, env.ReturnData)
		}
	case "yaml":
		writeErr = output.YAML(io.Out, env)
	case "table":
		writeErr = output.Table(io.Out, env, io.ColorEnabled())
	case "csv":
		writeErr = output.CSV(io.Out, env)
	case export.FormatSTIX:
		writeErr = output.STIX(io.Out, env, time.Now())
	case export.FormatMISP:
		writeErr = output.MISP(io.Out, env, time.Now())
	default:
		writeErr = output.JSON(io.Out, env)
	}
	if writeErr != nil {
		return fmt.Errorf("writing the output: %w", writeErr)
	}
	if code := env.ExitCode(); code != 0 {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}
