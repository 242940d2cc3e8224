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
	"github.com/vtsoar/vtsoar/internal/cli/output"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/export"
)

// GroupID is the help group of the integration commands.
const GroupID = "integration"

// progressThreshold is the number of inputs from which a progress bar is drawn.
const progressThreshold = 10

// streamDelay is how long a line of -o jsonl may wait before it is written out.
const streamDelay = 20 * time.Millisecond

// NewCmds returns a command for each integration command.
func NewCmds(f *cmdutil.Factory) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range command.All() {
		out = append(out, newCmd(f, c))
	}
	return out
}

type options struct {
	relationship    string
	limit           int
	descriptorsOnly bool
	noSubmit        bool
	rescan          bool
	wait            bool
	pollInterval    time.Duration
	timeout         time.Duration
	outDir          string
	colors          command.WidgetColors
	extract         bool
	includePrivate  bool
	includeBenign   bool
	comment         string
	verdict         string
	maxSize         int64
}

func newCmd(f *cmdutil.Factory, c *command.Command) *cobra.Command {
	o := &options{}
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
			return run(cmd.Context(), f, c, o, args)
		},
	}
	fl := cmd.Flags()
	if c.Takes(command.OptRelationship) {
		fl.StringVarP(&o.relationship, "relationship", "r", "", "relationship name, VirusTotal's (case-insensitive); see the list above")
	}
	if c.Takes(command.OptLimit) {
		fl.IntVar(&o.limit, "limit", command.DefaultLimit, "most objects per input, pages followed up to it")
	}
	if c.Takes(command.OptDescriptorsOnly) {
		fl.BoolVar(&o.descriptorsOnly, "descriptors-only", false, "list {type, id} descriptors instead of full objects")
	}
	if c.Takes(command.OptNoSubmit) {
		fl.BoolVar(&o.noSubmit, "no-submit", false, "do not submit URLs VirusTotal has never seen")
	}
	if c.Takes(command.OptRescan) {
		fl.BoolVar(&o.rescan, "rescan", false, "analyse files VirusTotal already knows again")
	}
	if c.Takes(command.OptWait) {
		fl.BoolVar(&o.wait, "wait", false, "follow each analysis to its verdict")
	}
	if c.Takes(command.OptPollInterval) {
		fl.DurationVar(&o.pollInterval, "poll-interval", command.DefaultPollInterval, "time between polls of an analysis")
	}
	if c.Takes(command.OptTimeout) {
		fl.DurationVar(&o.timeout, "timeout", command.DefaultTimeout, "how long an analysis is followed")
	}
	if c.Takes(command.OptOutDir) {
		if c.Name == "download-file" {
			fl.StringVar(&o.outDir, "out-dir", "", "directory the downloaded files are written to (required: they are live samples)")
		} else {
			fl.StringVar(&o.outDir, "out-dir", ".", "directory the widget files are written to")
		}
	}
	if c.Takes(command.OptMaxSize) {
		fl.Int64Var(&o.maxSize, "max-size", command.DefaultMaxSize, "largest file kept, in bytes")
	}
	if c.Takes(command.OptComment) {
		fl.StringVar(&o.comment, "comment", "", "the comment's text (words starting with # become its tags)")
	}
	if c.Takes(command.OptVerdict) {
		fl.StringVar(&o.verdict, "verdict", "", "the vote: harmless or malicious")
	}
	if c.Takes(command.OptExtract) {
		fl.BoolVar(&o.extract, "extract", false, "find the observables in free text (arguments, or all of stdin with -) instead of one per line")
	}
	if c.Takes(command.OptIncludePrivate) {
		fl.BoolVar(&o.includePrivate, "include-private", false, "look up private, reserved, loopback and documentation addresses and names too")
	}
	if c.Takes(command.OptIncludeBenign) {
		fl.BoolVar(&o.includeBenign, "include-benign", false, "look up well-known benign domains too")
	}
	if c.Takes(command.OptWidgetColors) {
		fl.StringVar(&o.colors.FG1, "fg1", "", "widget text colour (hex, no '#')")
		fl.StringVar(&o.colors.BG1, "bg1", "", "widget background colour")
		fl.StringVar(&o.colors.BG2, "bg2", "", "widget secondary background colour")
		fl.StringVar(&o.colors.BD1, "bd1", "", "widget border colour")
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

func run(ctx context.Context, f *cmdutil.Factory, c *command.Command, o *options, args []string) error {
	if err := f.CheckGlobal(); err != nil {
		return err
	}
	var inputs []string
	var err error
	if o.extract {
		inputs, err = cmdutil.ReadTexts(args, f.IOStreams.In)
	} else {
		inputs, err = cmdutil.ReadInputs(args, f.IOStreams.In)
	}
	if err != nil {
		return err
	}
	if !c.NoInputs && len(inputs) == 0 {
		if o.extract {
			return cmdutil.Usagef("no text: stdin was empty")
		}
		return cmdutil.Usagef("no inputs: stdin had only blank lines and comments")
	}
	req := command.Request{
		Command:         c.Name,
		Inputs:          inputs,
		Relationship:    o.relationship,
		DescriptorsOnly: o.descriptorsOnly,
		NoSubmit:        o.noSubmit,
		Rescan:          o.rescan,
		Wait:            o.wait,
		OutDir:          o.outDir,
		WidgetColors:    o.colors,
		Extract:         o.extract,
		IncludePrivate:  o.includePrivate,
		IncludeBenign:   o.includeBenign,
		Comment:         o.comment,
		Verdict:         o.verdict,
		Concurrency:     f.Options.Concurrency,
		MaxAge:          command.Duration(f.Options.MaxAge),
		Fresh:           f.Options.Fresh,
	}
	if c.Takes(command.OptLimit) {
		if o.limit < 1 {
			return cmdutil.Usagef("--limit must be at least 1, got %d", o.limit)
		}
		req.Limit = o.limit
	}
	if c.Takes(command.OptMaxSize) {
		if o.maxSize < 1 {
			return cmdutil.Usagef("--max-size must be at least 1, got %d", o.maxSize)
		}
		req.MaxSize = o.maxSize
	}
	if c.Takes(command.OptPollInterval) {
		if o.pollInterval <= 0 || o.timeout <= 0 {
			return cmdutil.Usagef("--poll-interval and --timeout must be positive")
		}
		req.PollInterval, req.Timeout = command.Duration(o.pollInterval), command.Duration(o.timeout)
	}
	if err := command.Validate(req); err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	format := f.OutputFormat()
	if format == export.FormatSTIX || format == export.FormatMISP {
		if err := export.Check(c.Name, format); err != nil {
			return &cmdutil.UsageError{Err: err}
		}
	}
	deps, release, err := f.Executor(ctx)
	if err != nil {
		return err
	}
	defer release()

	io := f.IOStreams
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
	env, err := command.Run(ctx, deps, req)
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
