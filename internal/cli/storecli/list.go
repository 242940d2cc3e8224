package storecli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/store"
)

// ListOptions are what the list command of a group stored by name runs with.
type ListOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Headers are the table's; List reads the records from st: their views (a slice,
	// for JSON, JSON lines and YAML) and the table's rows.
	Headers []string
	List    func(ctx context.Context, st store.Store) (views any, rows [][]string, err error)

	// Output is the output format (-o, or its default).
	Output string
}

// NewCmdList returns the "list" command of a group that stores things by name
// (connections, users), which prints what list reads in the output format. runF, when
// not nil, runs in place of the listing (tests).
func NewCmdList(f *cmdutil.Factory, short string, headers []string, list func(ctx context.Context, st store.Store) (any, [][]string, error), runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, OpenStore: f.OpenStore, Headers: headers, List: list}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   short,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output = f.OutputFormat()
			return cmdutil.Run(cmd, opts, runF, listRun)
		},
	}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	views, rows, err := opts.List(ctx, st)
	if err != nil {
		return err
	}
	return Print(opts.IO, opts.Output, views, opts.Headers, rows)
}
