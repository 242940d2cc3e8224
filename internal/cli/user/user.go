// Package user implements `vtsoar user add|list|remove|token`: the users of the REST
// API (`vtsoar serve`) and their bearer tokens, which package auth makes.
package user

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewCmdUser returns the user command group.
func NewCmdUser(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user <command>",
		Short: "Manage the users of the REST API and their bearer tokens",
		Long: `Users call the REST API of ` + "`vtsoar serve`" + ` with a bearer token. An admin manages
connections and users; an analyst runs commands, posts events and reads the events
of its sites. A token is shown once, when it is made, and only its SHA-256 is stored.`,
	}
	cmd.AddCommand(
		NewCmdAdd(f, nil),
		storecli.NewCmdList(f, "List the users (never their tokens)", []string{"NAME", "ROLE", "SITES", "CREATED"}, listUsers, nil),
		storecli.NewCmdRemove(f, "user", "Remove a user; its token stops working at once", deleteUser, nil),
		NewCmdToken(f, nil),
	)
	return cmd
}

func deleteUser(ctx context.Context, st store.Store, name string) error {
	return st.DeleteUser(ctx, name)
}

// Created is what `user add` and `user token` print with -o json.
type Created struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// printToken writes a new token: the JSON object with -o json/yaml, else the token on
// stdout alone and a note on stderr.
func printToken(ios *iostreams.IOStreams, format string, c Created, sites []string) error {
	switch format {
	case "json", "jsonl", "yaml":
		enc := json.NewEncoder(ios.Out)
		if format == "json" {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(c)
	}
	fmt.Fprintf(ios.ErrOut, "Token of %s (%s, sites %s); it is shown this once:\n", c.Name, c.Role, strings.Join(sites, ","))
	fmt.Fprintln(ios.Out, c.Token)
	return nil
}

// AddOptions are what `user add` runs with.
type AddOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Output is the output format (-o, or its default).
	Output string

	// Name is the argument; Role and Sites the flags.
	Name  string
	Role  string
	Sites []string
}

// NewCmdAdd returns `user add`; runF, when not nil, runs in place of adding the user
// (tests).
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, OpenStore: f.OpenStore}
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|analyst [--site SITE]...",
		Short: "Add a user and print its bearer token (once)",
		Example: `  vtsoar user add alice --role admin
  vtsoar user add soc-paris --role analyst --site paris -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Output = args[0], f.OutputFormat()
			return cmdutil.Run(cmd, opts, runF, addRun)
		},
	}
	cmd.Flags().StringVar(&opts.Role, "role", "", "admin (connections, users) or analyst (commands, events)")
	cmd.Flags().StringArrayVar(&opts.Sites, "site", nil, `a site (tenant) the user belongs to; repeat for several (default "*": every site)`)
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	if opts.Role != store.RoleAdmin && opts.Role != store.RoleAnalyst {
		return cmdutil.Usagef("--role must be admin or analyst")
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := auth.CreateUser(ctx, st, opts.Name, opts.Role, opts.Sites)
	if errors.Is(err, store.ErrExists) {
		return cmdutil.Usagef("a user named %q exists already (new token: vtsoar user token %s)", opts.Name, opts.Name)
	}
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	sites := opts.Sites
	if len(sites) == 0 {
		sites = []string{store.AllSites}
	}
	return printToken(opts.IO, opts.Output, Created{Name: opts.Name, Role: opts.Role, Token: tok}, sites)
}

// View is a user as listed: never the token.
type View struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

// listUsers reads the users as `user list` shows them (never their tokens).
func listUsers(ctx context.Context, st store.Store) (any, [][]string, error) {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return nil, nil, err
	}
	views := []View{}
	var rows [][]string
	for _, u := range users {
		views = append(views, View{Name: u.Name, Role: u.Role, Sites: append([]string{}, u.Sites...), CreatedAt: u.CreatedAt})
		rows = append(rows, []string{u.Name, u.Role, strings.Join(u.Sites, ","), storecli.FormatTime(u.CreatedAt)})
	}
	return views, rows, nil
}

// TokenOptions are what `user token` runs with.
type TokenOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Output is the output format (-o, or its default).
	Output string

	// Name is the argument.
	Name string
}

// NewCmdToken returns `user token`; runF, when not nil, runs in place of replacing
// the token (tests).
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, *TokenOptions) error) *cobra.Command {
	opts := &TokenOptions{IO: f.IOStreams, OpenStore: f.OpenStore}
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Replace a user's token with a new one and print it (once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Output = args[0], f.OutputFormat()
			return cmdutil.Run(cmd, opts, runF, tokenRun)
		},
	}
}

func tokenRun(ctx context.Context, opts *TokenOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := st.GetUser(ctx, opts.Name)
	if errors.Is(err, store.ErrNotFound) {
		return cmdutil.Usagef("no user named %q", opts.Name)
	}
	if err != nil {
		return err
	}
	tok, err := auth.ReissueToken(ctx, st, u.Name)
	if err != nil {
		return err
	}
	return printToken(opts.IO, opts.Output, Created{Name: u.Name, Role: u.Role, Token: tok}, u.Sites)
}
