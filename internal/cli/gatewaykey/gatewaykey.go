// Package gatewaykey implements `vtsoar gateway-key add|list|remove`: the keys that
// VirusTotal's own clients send to the VirusTotal gateway of `vtsoar serve`
// (/api/v3) in place of a connection's real key. Package auth makes them.
package gatewaykey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewCmdGatewayKey returns the gateway-key command group.
func NewCmdGatewayKey(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gateway-key <command>",
		Short: "Manage the keys of the VirusTotal gateway (vtsoar serve's /api/v3)",
		Long: `vtsoar serve answers VirusTotal's API v3 under /api/v3 for VirusTotal's own clients
(vt-cli, vt-py, vt-go, MISP, Cortex, OpenCTI, XSOAR): each is given a gateway key in
place of the real key, and all of them spend the connection's one budget and share
its cache. A key is shown once, when it is made, and only its SHA-256 is stored; a
removed key sends nothing more to VirusTotal, and every replica refuses it within
serve's --gateway-recheck (a second).`,
	}
	cmd.AddCommand(
		NewCmdAdd(f, nil),
		storecli.NewCmdList(f, "List the gateway keys (never the keys themselves)",
			[]string{"NAME", "CONNECTION", "PRIORITY", "MAX_WAIT", "MAX_AGE", "CREATED"}, listKeys, nil),
		storecli.NewCmdRemove(f, "gateway key", "Remove a gateway key; every replica refuses it within a second", deleteKey, nil),
	)
	return cmd
}

func deleteKey(ctx context.Context, st store.Store, name string) error {
	return st.DeleteGatewayKey(ctx, name)
}

// Created is what `gateway-key add` prints with -o json.
type Created struct {
	Name       string `json:"name"`
	Connection string `json:"connection"`
	Key        string `json:"key"`
}

// AddOptions are what `gateway-key add` runs with.
type AddOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Output is the output format (-o, or its default).
	Output string

	// Name is the argument; Connection and MaxAge the global --connection and
	// --max-age; Priority and MaxWait this command's flags.
	Name       string
	Connection string
	Priority   string
	MaxWait    time.Duration
	MaxAge     time.Duration
}

// NewCmdAdd returns `gateway-key add`; runF, when not nil, runs in place of adding the
// key (tests).
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	opts := &AddOptions{IO: f.IOStreams, OpenStore: f.OpenStore}
	cmd := &cobra.Command{
		Use:   "add NAME --connection CONNECTION [--priority interactive|batch] [--max-wait 90s] [--max-age 24h]",
		Short: "Add a gateway key and print it (once)",
		Long: `Add a key of the VirusTotal gateway for the stored connection --connection and print it
once: 64 hex digits, as VirusTotal's keys are. A client sends it as its VirusTotal
API key (x-apikey) to vtsoar serve's /api/v3.

--priority says how its requests wait for the connection's budget: interactive (as a
person waits, before the enrichment) or batch (behind everything else). --max-wait
bounds that wait (1s to 24h); a request that gets no unit of the budget within it is
answered VirusTotal's 429 QuotaExceededError with Retry-After. --max-age (the global
flag) is the oldest cached answer the key's requests are served (Cache-Control:
no-cache in a request asks VirusTotal again).`,
		Example: `  vtsoar gateway-key add misp --connection prod --priority batch
  vtsoar gateway-key add analysts --connection prod --max-wait 10s --max-age 1h -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Output = args[0], f.OutputFormat()
			opts.Connection, opts.MaxAge = f.Options.Connection, f.Options.Run.MaxAge
			return cmdutil.Run(cmd, opts, runF, addRun)
		},
	}
	cmd.Flags().StringVar(&opts.Priority, "priority", store.GatewayInteractive, "how requests wait for the budget: interactive or batch")
	cmd.Flags().DurationVar(&opts.MaxWait, "max-wait", auth.DefaultGatewayMaxWait, "longest wait for the budget before a 429 (1s to 24h)")
	return cmd
}

func addRun(ctx context.Context, opts *AddOptions) error {
	if opts.Connection == "" {
		return cmdutil.Usagef("--connection is required: the stored connection the key uses (see vtsoar connection list)")
	}
	if opts.Priority != store.GatewayInteractive && opts.Priority != store.GatewayBatch {
		return cmdutil.Usagef("--priority must be %s or %s", store.GatewayInteractive, store.GatewayBatch)
	}
	if opts.MaxWait < auth.MinGatewayMaxWait || opts.MaxWait > auth.MaxGatewayMaxWait {
		return cmdutil.Usagef("--max-wait must be between %s and %s", auth.MinGatewayMaxWait, auth.MaxGatewayMaxWait)
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	key, k, err := auth.CreateGatewayKey(ctx, st, auth.GatewayKeyOptions{Name: opts.Name, Connection: opts.Connection,
		Priority: opts.Priority, MaxWait: opts.MaxWait, MaxAge: opts.MaxAge})
	switch {
	case errors.Is(err, store.ErrExists):
		return cmdutil.Usagef("a gateway key named %q exists already (remove it first: vtsoar gateway-key remove %s)", opts.Name, opts.Name)
	case errors.Is(err, store.ErrNotFound):
		return cmdutil.Usagef("no connection named %q (see vtsoar connection list)", opts.Connection)
	case err != nil:
		return &cmdutil.UsageError{Err: err}
	}
	c := Created{Name: k.Name, Connection: k.Connection, Key: key}
	switch opts.Output {
	case "json", "jsonl", "yaml":
		enc := json.NewEncoder(opts.IO.Out)
		if opts.Output == "json" {
			enc.SetIndent("", "  ")
		}
		return enc.Encode(c)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Gateway key %s (connection %s, %s, max wait %s, max age %s); it is shown this once:\n",
		k.Name, k.Connection, k.Priority, k.MaxWait, k.MaxAge)
	fmt.Fprintln(opts.IO.Out, key)
	return nil
}

// listKeys reads the keys as `gateway-key list` shows them.
func listKeys(ctx context.Context, st store.Store) (any, [][]string, error) {
	keys, err := st.ListGatewayKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	views := []store.GatewayKeyView{}
	var rows [][]string
	for _, k := range keys {
		v := k.View()
		views = append(views, v)
		rows = append(rows, []string{v.Name, v.Connection, v.Priority, v.MaxWait, v.MaxAge, storecli.FormatTime(v.CreatedAt)})
	}
	return views, rows, nil
}
