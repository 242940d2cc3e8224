// Package user implements `vtsoar user add|list|remove|token`: the users of the REST
// API (`vtsoar serve`) and their bearer tokens, which package auth makes.
package user

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewCmd returns the user command group.
func NewCmd(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user <command>",
		Short: "Manage the users of the REST API and their bearer tokens",
		Long: `Users call the REST API of ` + "`vtsoar serve`" + ` with a bearer token. An admin manages
connections and users; an analyst runs commands, posts events and reads the events
of its sites. A token is shown once, when it is made, and only its SHA-256 is stored.`,
	}
	cmd.AddCommand(newAdd(f, e), newList(f, e), newRemove(f, e), newToken(f, e))
	return cmd
}

// Created is what `user add` and `user token` print with -o json.
type Created struct {
	Name  string `json:"name"`
	Role  string `json:"role"`
	Token string `json:"token"`
}

// printToken writes a new token: the JSON object with -o json/yaml, else the token on
// stdout alone and a note on stderr.
func printToken(f *cmdutil.Factory, c Created, sites []string) error {
	switch f.OutputFormat() {
	case "json", "jsonl", "yaml":
		enc := json.NewEncoder(f.IOStreams.Out)
		if f.OutputFormat() == "json" {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(c)
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "Token of %s (%s, sites %s); it is shown this once:\n", c.Name, c.Role, strings.Join(sites, ","))
	fmt.Fprintln(f.IOStreams.Out, c.Token)
	return nil
}

func newAdd(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	var (
		role  string
		sites []string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|analyst [--site SITE]...",
		Short: "Add a user and print its bearer token (once)",
		Example: `  vtsoar user add alice --role admin
  vtsoar user add soc-paris --role analyst --site paris -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != store.RoleAdmin && role != store.RoleAnalyst {
				return cmdutil.Usagef("--role must be admin or analyst")
			}
			st, err := e.OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			tok, err := auth.CreateUser(cmd.Context(), st, args[0], role, sites)
			if errors.Is(err, store.ErrExists) {
				return cmdutil.Usagef("a user named %q exists already (new token: vtsoar user token %s)", args[0], args[0])
			}
			if err != nil {
				return &cmdutil.UsageError{Err: err}
			}
			if len(sites) == 0 {
				sites = []string{store.AllSites}
			}
			return printToken(f, Created{Name: args[0], Role: role, Token: tok}, sites)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin (connections, users) or analyst (commands, events)")
	cmd.Flags().StringArrayVar(&sites, "site", nil, `a site (tenant) the user belongs to; repeat for several (default "*": every site)`)
	return cmd
}

// View is a user as listed: never the token.
type View struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Sites     []string  `json:"sites"`
	CreatedAt time.Time `json:"created_at"`
}

func newList(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the users (never their tokens)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := e.OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			users, err := st.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			views := []View{}
			var rows [][]string
			for _, u := range users {
				views = append(views, View{Name: u.Name, Role: u.Role, Sites: append([]string{}, u.Sites...), CreatedAt: u.CreatedAt})
				rows = append(rows, []string{u.Name, u.Role, strings.Join(u.Sites, ","), storecli.FormatTime(u.CreatedAt)})
			}
			return storecli.Print(f, views, []string{"NAME", "ROLE", "SITES", "CREATED"}, rows)
		},
	}
}

func newRemove(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return storecli.NewRemoveCmd(f, e, "user", "Remove a user; its token stops working at once", store.Store.DeleteUser)
}

func newToken(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "token NAME",
		Short: "Replace a user's token with a new one and print it (once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := e.OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := st.GetUser(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return cmdutil.Usagef("no user named %q", args[0])
			}
			if err != nil {
				return err
			}
			tok, err := auth.ReissueToken(cmd.Context(), st, u.Name)
			if err != nil {
				return err
			}
			return printToken(f, Created{Name: u.Name, Role: u.Role, Token: tok}, u.Sites)
		},
	}
}
