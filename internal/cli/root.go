// Package cli is the vtsoar command line: the root command, its global flags, the list
// of its commands and the mapping of results to exit codes. Each command group lives
// in its own package, whose NewCmdX(f, runF) makes it (see package cmdutil).
package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cachecmd"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/connection"
	"github.com/vtsoar/vtsoar/internal/cli/demo"
	"github.com/vtsoar/vtsoar/internal/cli/emulate"
	"github.com/vtsoar/vtsoar/internal/cli/factory"
	"github.com/vtsoar/vtsoar/internal/cli/gatewaykey"
	"github.com/vtsoar/vtsoar/internal/cli/integration"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	quotacmd "github.com/vtsoar/vtsoar/internal/cli/quota"
	"github.com/vtsoar/vtsoar/internal/cli/serve"
	"github.com/vtsoar/vtsoar/internal/cli/user"
	"github.com/vtsoar/vtsoar/internal/cli/version"
)

// Version is the version of the binary, set at build time with
// -ldflags "-X github.com/vtsoar/vtsoar/internal/cli.Version=1.2.3".
var Version = "dev"

// NewCmdRoot returns the vtsoar root command.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	cobra.EnableCommandSorting = false
	root := &cobra.Command{
		Use:   "vtsoar <command> [flags]",
		Short: "VirusTotal v3 for security automation",
		Long: `vtsoar runs the commands of the VirusTotal V3 integration (reputation checks with
risk levels, reports, relationships, behaviour summaries, detonation, URL scans,
search, widgets) over lists of observables, quota-aware and cached.

The API key comes from --api-key or VT_API_KEY. To try vtsoar offline, run
` + "`vtsoar emulate`" + ` and point --server-url at it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.String(f.Version),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.UsageError{Err: err} })
	f.AddGlobalFlags(root.PersistentFlags())
	// The risk policy's flags, and the factory's functions: the database, the
	// connections' resolution, the store's cache and the quota for every command.
	factory.Wire(f, root.PersistentFlags())

	root.AddGroup(&cobra.Group{ID: integration.GroupID, Title: "Integration commands:"},
		&cobra.Group{ID: otherGroup, Title: "Other commands:"})
	root.SetHelpCommandGroupID(otherGroup)
	root.SetCompletionCommandGroupID(otherGroup)
	// Every command, in the order of --help: the integration commands in the
	// registry's order (command.All), then these.
	root.AddCommand(integration.NewCmds(f)...)
	for _, c := range []*cobra.Command{
		version.NewCmdVersion(f, nil),
		connection.NewCmdConnection(f),
		quotacmd.NewCmdQuota(f, nil),
		cachecmd.NewCmdCache(f),
		serve.NewCmdServe(f, nil),
		demo.NewCmdDemo(f, nil),
		user.NewCmdUser(f),
		gatewaykey.NewCmdGatewayKey(f),
		emulate.NewCmdEmulate(f, nil),
	} {
		c.GroupID = otherGroup
		root.AddCommand(c)
	}
	return root
}

// otherGroup is the help group of the commands that are not the integration's.
const otherGroup = "other"

// Main runs vtsoar with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, ios *iostreams.IOStreams) int {
	f := cmdutil.New(ios, Version)
	root := NewCmdRoot(f)
	root.SetArgs(args)
	ran := false
	root.PersistentPreRun = func(*cobra.Command, []string) { ran = true }
	err := root.ExecuteContext(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	var exit *cmdutil.ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	fmt.Fprintf(ios.ErrOut, "vtsoar: %v\n", err)
	if cmdutil.IsUsage(err) || !ran {
		if !cmdutil.IsUsage(err) {
			fmt.Fprintln(ios.ErrOut, "Run 'vtsoar --help' for usage.")
		}
		return cmdutil.ExitUsage
	}
	if ctx.Err() != nil {
		return cmdutil.ExitCanceled
	}
	return cmdutil.ExitFailed
}
