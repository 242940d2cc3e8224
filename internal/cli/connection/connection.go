// Package connection implements `vtsoar connection add|list|test|remove`: stored
// VirusTotal connections whose API keys are sealed under the master key.
package connection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/output"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// NewCmd returns the connection command group.
func NewCmd(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connection <command>",
		Short: "Manage stored VirusTotal connections (API keys encrypted at rest)",
		Long: `A connection is a VirusTotal API key stored in the database, encrypted with AES-256-GCM
under the master key (VTSOAR_MASTER_KEY, else the key file master.key beside the
database, created with mode 0600 on first use), with its server, quota, proxy and the
observable types it checks automatically. Use one with --connection NAME on any command.`,
	}
	cmd.AddCommand(newAdd(f, e), newList(f, e), newTest(f, e), newRemove(f, e))
	return cmd
}

type addOptions struct {
	keyStdin    bool
	keyFile     string
	keyRef      string
	proxy       string
	checks      string
	healthEvery int
	sites       []string
	users       []string
	replace     bool
}

// kindNames are the observable kinds, comma-separated: "file,ip,url,domain".
func kindNames() string {
	var names []string
	for _, k := range ioc.Kinds() {
		names = append(names, string(k))
	}
	return strings.Join(names, ",")
}

func parseChecks(s string) ([]ioc.Kind, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "none" || s == "" {
		return nil, nil
	}
	if s == "all" {
		return ioc.Kinds(), nil
	}
	var out []ioc.Kind
	for _, p := range strings.Split(s, ",") {
		k, err := ioc.ParseKind(p)
		if err != nil {
			return nil, fmt.Errorf("--reputation-checks: %w; or all, or none", err)
		}
		for _, have := range out {
			if have == k {
				return nil, fmt.Errorf("--reputation-checks: %s given twice", k)
			}
		}
		out = append(out, k)
	}
	return out, nil
}

// readKey returns the API key from exactly one of --api-key-stdin, --api-key-file and
// --api-key (a secret reference).
func readKey(in io.Reader, o *addOptions) (string, error) {
	n := 0
	for _, set := range []bool{o.keyStdin, o.keyFile != "", o.keyRef != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", cmdutil.Usagef("give the API key with exactly one of --api-key-stdin, --api-key-file PATH or --api-key env:NAME|file:PATH")
	}
	var key string
	var err error
	switch {
	case o.keyStdin:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(in, 64<<10))
		key = strings.TrimSpace(string(b))
		if err == nil && key == "" {
			err = errors.New("--api-key-stdin: stdin held no key")
		}
	case o.keyFile != "":
		key, err = secret.ReadSecretFile(o.keyFile)
	default:
		if !secret.IsReference(o.keyRef) {
			return "", cmdutil.Usagef("--api-key of `connection add` takes a reference, env:NAME or file:PATH; a key written on the command line would stay in the shell history and show in ps (use --api-key-stdin)")
		}
		key, err = secret.Resolve(o.keyRef)
	}
	if err != nil {
		return "", &cmdutil.UsageError{Err: err}
	}
	key = strings.TrimSpace(key)
	if strings.ContainsAny(key, " \t\r\n") {
		return "", cmdutil.Usagef("the API key contains white space or several lines")
	}
	return key, nil
}

func newAdd(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	o := &addOptions{}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Store a connection",
		Long: `Store a connection. The API key is read from stdin (--api-key-stdin), from a file
(--api-key-file PATH, trailing newline ignored) or from a secret reference
(--api-key env:NAME or --api-key file:PATH), never from the command line itself.
--server-url, --quota and the risk policy flags (--suspicious-threshold,
--preferred-vendors, --preferred-vendors-threshold, --crowdsourced, --risk-policy;
global flags) are stored with the connection.`,
		Example: `  printf '%s' "$VT_KEY" | vtsoar connection add prod --api-key-stdin --quota public
  vtsoar connection add emu --api-key env:EMU_KEY --server-url http://127.0.0.1:8089 --reputation-checks file,url
  vtsoar connection add soc --api-key env:VT_KEY --suspicious-threshold 3 --preferred-vendors Kaspersky,ESET-NOD32 --crowdsourced`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAdd(cmd.Context(), f, e, o, args[0])
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.keyStdin, "api-key-stdin", false, "read the API key from stdin")
	fl.StringVar(&o.keyFile, "api-key-file", "", "read the API key from the file at PATH")
	fl.StringVar(&o.keyRef, "api-key", "", "the API key as a secret reference: env:NAME or file:PATH")
	fl.StringVar(&o.proxy, "proxy", "", "HTTP proxy URL for this connection")
	kinds := kindNames()
	fl.StringVar(&o.checks, "reputation-checks", kinds, "observable types enriched automatically: any of "+kinds+", or all, or none")
	fl.IntVar(&o.healthEvery, "health-check-minutes", 0, "minutes between scheduled connection tests (0: none)")
	fl.StringSliceVar(&o.sites, "site", nil, "sites whose events the connection enriches (repeatable; default all)")
	fl.StringSliceVar(&o.users, "user", nil, "users allowed to run the connection (repeatable; default all)")
	fl.BoolVar(&o.replace, "replace", false, "replace an existing connection of that name")
	return cmd
}

func runAdd(ctx context.Context, f *cmdutil.Factory, e *storecli.Env, o *addOptions, name string) error {
	name = strings.TrimSpace(name)
	if name == "" || strings.ContainsAny(name, " \t\r\n/") {
		return cmdutil.Usagef("connection name %q: use letters, digits, '-', '_' or '.'", name)
	}
	specText := e.Quota
	if specText == "" {
		specText = f.Resolved("", storecli.EnvQuota, "public")
	}
	spec, err := quota.ParseSpec(specText)
	if err != nil {
		return &cmdutil.UsageError{Err: fmt.Errorf("--quota: %w", err)}
	}
	checks, err := parseChecks(o.checks)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	if o.healthEvery < 0 {
		return cmdutil.Usagef("--health-check-minutes must not be negative")
	}
	if o.proxy != "" {
		if _, err := vt.ParseProxyURL(o.proxy); err != nil {
			return cmdutil.Usagef("--proxy: %v", err)
		}
	}
	server := f.Options.ServerURL
	if server != "" {
		if _, err := vt.ParseServerURL(server); err != nil {
			return cmdutil.Usagef("--server-url: %v", err)
		}
	}
	policy, err := e.Policy(risk.Policy{})
	if err != nil {
		return err
	}
	key, err := readKey(f.IOStreams.In, o)
	if err != nil {
		return err
	}
	c, err := e.Cipher()
	if err != nil {
		return err
	}
	sealed, err := storecli.SealKey(c, name, key)
	if err != nil {
		return err
	}
	st, err := e.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	conn := store.Connection{
		Name: name, SealedAPIKey: sealed, ServerURL: server, Quota: spec.String(), Proxy: o.proxy,
		ReputationChecks: checks, HealthCheckMinutes: o.healthEvery, Sites: o.sites, Users: o.users,
		RiskPolicy: policy,
	}
	err = st.CreateConnection(ctx, conn)
	if errors.Is(err, store.ErrExists) && o.replace {
		err = st.UpdateConnection(ctx, conn)
	}
	if errors.Is(err, store.ErrExists) {
		return cmdutil.Usagef("a connection named %q exists already (add --replace to replace it)", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(f.IOStreams.ErrOut, "Stored connection %s (%s, quota %s, risk policy: %s); its key is encrypted.\n",
		name, store.NormalizeServerURL(server), spec, policy.Summary())
	return nil
}

func newList(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List stored connections (never their keys)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := e.OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			conns, err := st.ListConnections(cmd.Context())
			if err != nil {
				return err
			}
			views := []store.ConnectionView{}
			var rows [][]string
			for _, c := range conns {
				v := c.View()
				views = append(views, v)
				rows = append(rows, []string{v.Name, v.ServerURL, v.Quota, storecli.OrDash(v.Proxy),
					storecli.OrDash(strings.Join(v.ReputationChecks, ",")), strconv.Itoa(v.HealthCheckMinutes),
					storecli.OrDash(strings.Join(v.Sites, ",")), storecli.OrDash(strings.Join(v.Users, ",")),
					c.RiskPolicy.Summary(), storecli.FormatTime(v.UpdatedAt)})
			}
			return storecli.Print(f, views, []string{"NAME", "SERVER", "QUOTA", "PROXY", "CHECKS", "HEALTH_MIN", "SITES", "USERS", "RISK_POLICY", "UPDATED"}, rows)
		},
	}
}

func newRemove(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return storecli.NewRemoveCmd(f, e, "connection", "Remove a stored connection", store.Store.DeleteConnection)
}

func newTest(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "test NAME",
		Short: "Test a stored connection (the test-connection command on it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := f.CheckGlobal(); err != nil {
				return err
			}
			st, err := e.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			named := *e
			named.Connection = args[0]
			deps, err := named.DepsFor(ctx, st)
			if err != nil {
				return err
			}
			env, err := command.Run(ctx, deps, command.Request{Command: "test-connection"})
			if err != nil {
				return err
			}
			switch f.OutputFormat() {
			case "yaml":
				err = output.YAML(f.IOStreams.Out, env)
			case "table":
				err = output.Table(f.IOStreams.Out, env, f.IOStreams.ColorEnabled())
			case "csv":
				err = output.CSV(f.IOStreams.Out, env)
			default:
				err = output.JSON(f.IOStreams.Out, env)
			}
			if err != nil {
				return err
			}
			if code := env.ExitCode(); code != 0 {
				return &cmdutil.ExitError{Code: code}
			}
			return nil
		},
	}
}
