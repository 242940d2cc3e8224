// Package integration makes one CLI command of each integration command of the
// registry (check-file-reputation, get-url-reports, detonate-files, ...).
package integration

import (
	"context"
	"errors"
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
	// Output is the output format (-o, or its default); Concurrency, MaxAge and
	// Fresh are the global flags.
	Output      string
	Concurrency int
	MaxAge      time.Duration
	Fresh       bool

	// The command's own flags (those it takes).
	Relationship    string
	Limit           int
	DescriptorsOnly bool
	NoSubmit        bool
	Rescan          bool
	Wait            bool
	PollInterval    time.Duration
	Timeout         time.Duration
	OutDir          string
	Colors          command.WidgetColors
	Extract         bool
	IncludePrivate  bool
	IncludeBenign   bool
	Comment         string
	Verdict         string
	MaxSize         int64
}

// NewCmd returns the CLI command of the integration command c; runF, when not nil,
// runs in place of c (tests).
func NewCmd(f *cmdutil.Factory, c *command.Command, runF func(context.Context, *Options) error) *cobra.Command {
	o := &Options{IO: f.IOStreams, Executor: f.Executor, Command: c}
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
			o.Args, o.Output = args, f.OutputFormat()
			o.Concurrency, o.MaxAge, o.Fresh = f.Options.Concurrency, f.Options.MaxAge, f.Options.Fresh
			return cmdutil.Run(cmd, o, runF, run)
		},
	}
	fl := cmd.Flags()
	if c.Takes(command.OptRelationship) {
		fl.StringVarP(&o.Relationship, "relationship", "r", "", "relationship name, VirusTotal's (case-insensitive); see the list above")
	}
	if c.Takes(command.OptLimit) {
		fl.IntVar(&o.Limit, "limit", command.DefaultLimit, "most objects per input, pages followed up to it")
	}
	if c.Takes(command.OptDescriptorsOnly) {
		fl.BoolVar(&o.DescriptorsOnly, "descriptors-only", false, "list {type, id} descriptors instead of full objects")
	}
	if c.Takes(command.OptNoSubmit) {
		fl.BoolVar(&o.NoSubmit, "no-submit", false, "do not submit URLs VirusTotal has never seen")
	}
	if c.Takes(command.OptRescan) {
		fl.BoolVar(&o.Rescan, "rescan", false, "analyse files VirusTotal already knows again")
	}
	if c.Takes(command.OptWait) {
		fl.BoolVar(&o.Wait, "wait", false, "follow each analysis to its verdict")
	}
	if c.Takes(command.OptPollInterval) {
		fl.DurationVar(&o.PollInterval, "poll-interval", command.DefaultPollInterval, "time between polls of an analysis")
	}
	if c.Takes(command.OptTimeout) {
		fl.DurationVar(&o.Timeout, "timeout", command.DefaultTimeout, "how long an analysis is followed")
	}
	if c.Takes(command.OptOutDir) {
		if c.Name == "download-file" {
			fl.StringVar(&o.OutDir, "out-dir", "", "directory the downloaded files are written to (required: they are live samples)")
		} else {
			fl.StringVar(&o.OutDir, "out-dir", ".", "directory the widget files are written to")
		}
	}
	if c.Takes(command.OptMaxSize) {
		fl.Int64Var(&o.MaxSize, "max-size", command.DefaultMaxSize, "largest file kept, in bytes")
	}
	if c.Takes(command.OptComment) {
		fl.StringVar(&o.Comment, "comment", "", "the comment's text (words starting with # become its tags)")
	}
	if c.Takes(command.OptVerdict) {
		fl.StringVar(&o.Verdict, "verdict", "", "the vote: harmless or malicious")
	}
	if c.Takes(command.OptExtract) {
		fl.BoolVar(&o.Extract, "extract", false, "find the observables in free text (arguments, or all of stdin with -) instead of one per line")
	}
	if c.Takes(command.OptIncludePrivate) {
		fl.BoolVar(&o.IncludePrivate, "include-private", false, "look up private, reserved, loopback and documentation addresses and names too")
	}
	if c.Takes(command.OptIncludeBenign) {
		fl.BoolVar(&o.IncludeBenign, "include-benign", false, "look up well-known benign domains too")
	}
	if c.Takes(command.OptWidgetColors) {
		fl.StringVar(&o.Colors.FG1, "fg1", "", "widget text colour (hex, no '#')")
		fl.StringVar(&o.Colors.BG1, "bg1", "", "widget background colour")
		fl.StringVar(&o.Colors.BG2, "bg2", "", "widget secondary background colour")
		fl.StringVar(&o.Colors.BD1, "bd1", "", "widget border colour")
	}
	return cmd
}

func inputsHelp(c *command.Command) string {
	if c.NoInputs {
		return ""
	}
	extract := ""
	if c.Takes(command.OptExtract) {
		extract = "\nWith --extract, each argument is a text, and - reads all of stdin as one."
	}
	return `

Inputs are arguments; - reads them from stdin, one per line (blank lines and # comments
skipped). Duplicates are answered once and reported at each position.` + extract + `

Exit codes: 0 Successful, 3 Partially Successful, 1 Failed, 2 usage or configuration error.`
}

func run(ctx context.Context, o *Options) error {
	c, io := o.Command, o.IO
	var inputs []string
	var err error
	if o.Extract {
		inputs, err = cmdutil.ReadTexts(o.Args, io.In)
	} else {
		inputs, err = cmdutil.ReadInputs(o.Args, io.In)
	}
	if err != nil {
		return err
	}
	if !c.NoInputs && len(inputs) == 0 {
		if o.Extract {
			return cmdutil.Usagef("no text: stdin was empty")
		}
		return cmdutil.Usagef("no inputs: stdin had only blank lines and comments")
	}
	req := command.Request{
		Command:         c.Name,
		Inputs:          inputs,
		Relationship:    o.Relationship,
		DescriptorsOnly: o.DescriptorsOnly,
		NoSubmit:        o.NoSubmit,
		Rescan:          o.Rescan,
		Wait:            o.Wait,
		OutDir:          o.OutDir,
		WidgetColors:    o.Colors,
		Extract:         o.Extract,
		IncludePrivate:  o.IncludePrivate,
		IncludeBenign:   o.IncludeBenign,
		Comment:         o.Comment,
		Verdict:         o.Verdict,
		Concurrency:     o.Concurrency,
		MaxAge:          command.Duration(o.MaxAge),
		Fresh:           o.Fresh,
	}
	if c.Takes(command.OptLimit) {
		if o.Limit < 1 {
			return cmdutil.Usagef("--limit must be at least 1, got %d", o.Limit)
		}
		req.Limit = o.Limit
	}
	if c.Takes(command.OptMaxSize) {
		if o.MaxSize < 1 {
			return cmdutil.Usagef("--max-size must be at least 1, got %d", o.MaxSize)
		}
		req.MaxSize = o.MaxSize
	}
	if c.Takes(command.OptPollInterval) {
		if o.PollInterval <= 0 || o.Timeout <= 0 {
			return cmdutil.Usagef("--poll-interval and --timeout must be positive")
		}
		req.PollInterval, req.Timeout = command.Duration(o.PollInterval), command.Duration(o.Timeout)
	}
	if err := command.Validate(req); err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	format := o.Output
	if format == export.FormatSTIX || format == export.FormatMISP {
		if err := export.Check(c.Name, format); err != nil {
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
	if io.IsStderrTTY() && len(inputs) >= progressThreshold && format != "jsonl" {
		progress = output.NewProgress(io.ErrOut, len(inputs), io.TerminalWidth())
	}
	var writeErr error
	// jsonl streams the context entries and prints no envelope: nothing keeps the
	// raw answers. The lines reach stdout within streamDelay of being written, in a
	// few writes rather than one each.
	req.NoRawData = format == "jsonl"
	var stream *output.Stream
	if format == "jsonl" {
		stream = output.NewStream(io.Out, streamDelay)
	}
	req.OnResult = func(res command.Result) {
		if progress != nil {
			progress.Add(1)
		}
		if stream != nil && writeErr == nil {
			writeErr = output.JSONLine(stream, res.Context)
		}
	}
	env, err := command.Run(quota.WithRequester(ctx, quota.RequesterCLI), deps, req)
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
		var re *command.RequestError
		if errors.As(err, &re) {
			return &cmdutil.UsageError{Err: err}
		}
		return err
	}
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
