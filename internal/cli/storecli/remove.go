package storecli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/store"
)

// RemoveOptions are what the remove command of a group stored by name runs with.
type RemoveOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Noun names what is removed in messages ("connection", "user").
	Noun string
	// Delete deletes the record called name; an error wrapping store.ErrNotFound when
	// there is none.
	Delete func(ctx context.Context, st store.Store, name string) error

	// Name is the argument.
	Name string
}

// NewCmdRemove returns the "remove NAME" command of a group that stores things by name
// (connections, users): del deletes one; a name that is not stored is a usage error.
// runF, when not nil, runs in place of the removal (tests).
func NewCmdRemove(f *cmdutil.Factory, noun, short string, del func(ctx context.Context, st store.Store, name string) error, runF func(context.Context, *RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{IO: f.IOStreams, OpenStore: f.OpenStore, Noun: noun, Delete: del}
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   short,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			return cmdutil.Run(cmd, opts, runF, removeRun)
		},
	}
}

func removeRun(ctx context.Context, opts *RemoveOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	err = opts.Delete(ctx, st, opts.Name)
	if errors.Is(err, store.ErrNotFound) {
		return cmdutil.Usagef("no %s named %q", opts.Noun, opts.Name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Removed %s %s.\n", opts.Noun, opts.Name)
	return nil
}
