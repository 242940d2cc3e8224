// Package version implements `vtsoar version`.
package version

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
)

// Options are what the version command runs with.
type Options struct {
	IO *iostreams.IOStreams
	// Version is the binary's version (set at build time).
	Version string
}

// NewCmdVersion returns the version command; runF, when not nil, runs in place of
// printing the version (tests).
func NewCmdVersion(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of vtsoar",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdutil.Run(cmd, opts, runF, versionRun)
		},
	}
}

func versionRun(_ context.Context, opts *Options) error {
	_, err := fmt.Fprintln(opts.IO.Out, String(opts.Version))
	return err
}

// String describes the build: "vtsoar 1.2.0 (commit abc1234, go1.26.8 linux/amd64)".
func String(v string) string {
	commit := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				commit = s.Value[:7]
			}
			if s.Key == "vcs.modified" && s.Value == "true" && commit != "" {
				commit += "-dirty"
			}
		}
		if v == "" || v == "dev" {
			if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	s := "vtsoar " + v + " ("
	if commit != "" {
		s += "commit " + commit + ", "
	}
	return s + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")"
}
