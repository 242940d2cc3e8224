// Package connection implements `vtsoar connection add|list|test|remove`: stored
// VirusTotal connections whose API keys are sealed under the master key.
package connection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/output"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// NewCmdConnection returns the connection command group.
func NewCmdConnection(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "connection <command>",
		Short: "Manage stored VirusTotal connections (API keys encrypted at rest)",
		Long: `A connection is a VirusTotal API key stored in the database, encrypted with AES-256-GCM
under the master key (VTSOAR_MASTER_KEY, else the key file master.key beside the
database, created with mode 0600 on first use), with its server, quota, proxy and the
observable types it checks automatically. Use one with --connection NAME on any command.`,
	}
	cmd.AddCommand(
		NewCmdAdd(f, nil),
		storecli.NewCmdList(f, "List stored connections (never their keys)",
			[]string{"NAME", "SERVER", "QUOTA", "PROXY", "CHECKS", "HEALTH_MIN", "SITES", "USERS", "RISK_POLICY", "UPDATED"},
			listConnections, nil),
		NewCmdTest(f, nil),
		storecli.NewCmdRemove(f, "connection", "Remove a stored connection", deleteConnection, nil),
	)
	return cmd
}

func deleteConnection(ctx context.Context, st store.Store, name string) error {
	return st.DeleteConnection(ctx, name)
}

// AddOptions are what `connection add` runs with.
type AddOptions struct {
	IO     *iostreams.IOStreams
	DBPath func() (string, error)
	OpenDB func(ctx context.Context, dsn string, log *slog.Logger) (store.Store, error)
	Cipher func(dsn string) (*secret.Cipher, error)
	Policy func(base risk.Policy) (risk.Policy, error)
	// Quota is the budget (--quota, else VTSOAR_QUOTA, else public); ServerURL is
	// --server-url, else VT_SERVER_URL (else VirusTotal's).
	Quota, ServerURL string

	// Name is the argument; the others are the command's flags.
	Name        string
	KeyStdin    bool
	KeyFile     string
	KeyRef      string
	Proxy       string
	Checks      string
	HealthEvery int
	Sites       []string
	Users       []string
	Replace     bool
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
func readKey(in io.Reader, o *AddOptions) (string, error) {
	n := 0
	for _, set := range []bool{o.KeyStdin, o.KeyFile != "", o.KeyRef != ""} {
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
	case o.KeyStdin:
		var b []byte
		b, err = io.ReadAll(io.LimitReader(in, 64<<10))
		key = strings.TrimSpace(string(b))
		if err == nil && key == "" {
			err = errors.New("--api-key-stdin: stdin held no key")
		}
	case o.KeyFile != "":
		key, err = secret.ReadSecretFile(o.KeyFile)
	default:
		if !secret.IsReference(o.KeyRef) {
			return "", cmdutil.Usagef("--api-key of `connection add` takes a reference, env:NAME or file:PATH; a key written on the command line would stay in the shell history and show in ps (use --api-key-stdin)")
		}
		key, err = secret.Resolve(o.KeyRef)
	}
	if err != nil {
		return "", &cmdutil.UsageError{Err: err}
	}
	key = strings.TrimSpace(key)
	if err := store.CheckAPIKey(key); err != nil {
		return "", &cmdutil.UsageError{Err: err}
	}
	return key, nil
}

// NewCmdAdd returns `connection add`; runF, when not nil, runs in place of storing
// the connection (tests).
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	o := &AddOptions{IO: f.IOStreams, DBPath: f.DBPath, OpenDB: f.OpenDB, Cipher: f.Cipher, Policy: f.Policy}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Store a connection",
		Long: `Store a connection. The API key is read from stdin (--api-key-stdin), from a file
(--api-key-file PATH, trailing newline ignored) or from a secret reference
(--api-key env:NAME or --api-key file:PATH), never from the command line itself.
--server-url (else VT_SERVER_URL), --quota (else VTSOAR_QUOTA) and the risk policy
flags (--suspicious-threshold, --preferred-vendors, --preferred-vendors-threshold,
--crowdsourced, --risk-policy; global flags) are stored with the connection.`,
		Example: `  printf '%s' "$VT_API_KEY" | vtsoar connection add prod --api-key-stdin --quota public
  vtsoar connection add emu --api-key env:EMU_KEY --server-url http://127.0.0.1:8089 --reputation-checks file,url
  vtsoar connection add soc --api-key env:VT_KEY --suspicious-threshold 3 --preferred-vendors Kaspersky,ESET-NOD32 --crowdsourced`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.Quota = f.Resolved(f.Options.Quota, cmdutil.EnvQuota, "public")
			o.ServerURL = f.Resolved(f.Options.ServerURL, cmdutil.EnvServerURL, "")
			return cmdutil.Run(cmd, o, runF, addRun)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.KeyStdin, "api-key-stdin", false, "read the API key from stdin")
	fl.StringVar(&o.KeyFile, "api-key-file", "", "read the API key from the file at PATH")
	fl.StringVar(&o.KeyRef, "api-key", "", "the API key as a secret reference: env:NAME or file:PATH")
	fl.StringVar(&o.Proxy, "proxy", "", "HTTP proxy URL for this connection")
	kinds := kindNames()
	fl.StringVar(&o.Checks, "reputation-checks", kinds, "observable types enriched automatically: any of "+kinds+", or all, or none")
	fl.IntVar(&o.HealthEvery, "health-check-minutes", 0, "minutes between scheduled connection tests (0: none)")
	fl.StringSliceVar(&o.Sites, "site", nil, "sites whose events the connection enriches (repeatable; default all)")
	fl.StringSliceVar(&o.Users, "user", nil, "users allowed to run the connection (repeatable; default all)")
	fl.BoolVar(&o.Replace, "replace", false, "replace an existing connection of that name")
	return cmd
}

func addRun(ctx context.Context, o *AddOptions) error {
	name := strings.TrimSpace(o.Name)
	if err := store.CheckConnectionName(name); err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	sites, err := store.CleanSites(o.Sites)
	if err != nil {
		return cmdutil.Usagef("--site: %v", err)
	}
	if slices.Contains(sites, store.AllSites) {
		sites = nil // every site
	}
	users, err := store.CleanUsers(o.Users)
	if err != nil {
		return cmdutil.Usagef("--user: %v", err)
	}
	spec, err := quota.ParseSpec(o.Quota)
	if err != nil {
		return &cmdutil.UsageError{Err: fmt.Errorf("--quota: %w", err)}
	}
	checks, err := parseChecks(o.Checks)
	if err != nil {
		return &cmdutil.UsageError{Err: err}
	}
	if o.HealthEvery < 0 {
		return cmdutil.Usagef("--health-check-minutes must not be negative")
	}
	if o.Proxy != "" {
		if _, err := vt.ParseProxyURL(o.Proxy); err != nil {
			return cmdutil.Usagef("--proxy: %v", err)
		}
	}
	server := o.ServerURL
	if server != "" {
		if _, err := vt.ParseServerURL(server); err != nil {
			return cmdutil.Usagef("--server-url (or %s): %v", cmdutil.EnvServerURL, err)
		}
	}
	policy, err := o.Policy(risk.Policy{})
	if err != nil {
		return err
	}
	key, err := readKey(o.IO.In, o)
	if err != nil {
		return err
	}
	path, err := o.DBPath()
	if err != nil {
		return err
	}
	c, err := o.Cipher(path)
	if err != nil {
		return err
	}
	sealed, err := connclient.SealKey(c, name, key)
	if err != nil {
		return err
	}
	st, err := o.OpenDB(ctx, path, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	conn := store.Connection{
		Name: name, SealedAPIKey: sealed, ServerURL: server, Quota: spec.String(),
		ReputationChecks: checks, HealthCheckMinutes: o.HealthEvery, Sites: sites, Users: users,
		RiskPolicy: policy,
	}
	if err := connclient.SetProxy(c, &conn, o.Proxy); err != nil {
		return err
	}
	err = st.CreateConnection(ctx, conn)
	if errors.Is(err, store.ErrExists) && o.Replace {
		err = st.UpdateConnection(ctx, conn)
	}
	if errors.Is(err, store.ErrExists) {
		return cmdutil.Usagef("a connection named %q exists already (add --replace to replace it)", name)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "Stored connection %s (%s, quota %s, risk policy: %s); its key is encrypted.\n",
		name, store.NormalizeServerURL(server), spec, policy.Summary())
	return nil
}

// listConnections reads the stored connections as `connection list` shows them (never
// their keys).
func listConnections(ctx context.Context, st store.Store) (any, [][]string, error) {
	conns, err := st.ListConnections(ctx)
	if err != nil {
		return nil, nil, err
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
	return views, rows, nil
}

// TestOptions are what `connection test` runs with.
type TestOptions struct {
	IO          *iostreams.IOStreams
	CheckGlobal func() error
	OpenStore   func(context.Context) (store.Store, error)
	Resolve     func(ctx context.Context, st store.Store, connection string) (connclient.Target, error)
	Conn        func(ctx context.Context, st store.Store, t connclient.Target) (*connclient.Conn, error)

	// Name is the argument; Output the output format (-o, or its default).
	Name, Output string
}

// NewCmdTest returns `connection test`; runF, when not nil, runs in place of the test
// (tests).
func NewCmdTest(f *cmdutil.Factory, runF func(context.Context, *TestOptions) error) *cobra.Command {
	opts := &TestOptions{IO: f.IOStreams, CheckGlobal: f.CheckGlobal, OpenStore: f.OpenStore, Resolve: f.Resolve, Conn: f.Conn}
	return &cobra.Command{
		Use:   "test NAME",
		Short: "Test a stored connection (the test-connection command on it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Output = args[0], f.OutputFormat()
			return cmdutil.Run(cmd, opts, runF, testRun)
		},
	}
}

func testRun(ctx context.Context, opts *TestOptions) error {
	if err := opts.CheckGlobal(); err != nil {
		return err
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	t, err := opts.Resolve(ctx, st, opts.Name)
	if err != nil {
		return err
	}
	c, err := opts.Conn(ctx, st, t)
	if err != nil {
		return err
	}
	p, err := command.Prepare(command.Request{Command: command.TestConnection().Name})
	if err != nil {
		return err
	}
	env, err := command.Run(quota.WithRequester(ctx, quota.RequesterCLI), c.Deps(), p)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	switch opts.Output {
	case "yaml":
		err = output.YAML(out, env)
	case "table":
		err = output.Table(out, env, opts.IO.ColorEnabled())
	case "csv":
		err = output.CSV(out, env)
	default:
		err = output.JSON(out, env)
	}
	if err != nil {
		return err
	}
	if code := env.ExitCode(); code != 0 {
		return &cmdutil.ExitError{Code: code}
	}
	return nil
}
