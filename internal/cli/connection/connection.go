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
			[]string{"NAME", "ACTIVE", "DESCRIPTION", "SERVER", "KEY", "QUOTA", "PROXY", "CHECKS", "HEALTH_MIN", "SITES", "USERS", "RISK_POLICY", "UPDATED"},
			listConnections, nil),
		NewCmdTest(f, nil),
		NewCmdActivate(f, true, nil),
		NewCmdActivate(f, false, nil),
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
	// --server-url, else VT_SERVER_URL (else VirusTotal's); APIVersion is
	// --api-version, else VT_API_VERSION (else v3); IncludePrivate is the global
	// --include-private.
	Quota, ServerURL, APIVersion string
	IncludePrivate               bool

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
	Description string
	Inactive    bool
	// NotifyEmails, NotifyWebhookURL and NotifyWebhookSecret (a secret reference) are
	// the connection's own health notification recipients.
	NotifyEmails        []string
	NotifyWebhookURL    string
	NotifyWebhookSecret string
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
// --api-key (a secret reference, returned as ref: it is stored, and resolved at each
// use; it is resolved here once, to check that it gives a key).
func readKey(ctx context.Context, in io.Reader, o *AddOptions) (key, ref string, err error) {
	n := 0
	for _, set := range []bool{o.KeyStdin, o.KeyFile != "", o.KeyRef != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", "", cmdutil.Usagef("give the API key with exactly one of --api-key-stdin, --api-key-file PATH or --api-key env:NAME|file:PATH|exec:COMMAND")
	}
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
		if !secret.IsKeyReference(o.KeyRef) {
			return "", "", cmdutil.Usagef("--api-key of `connection add` takes a reference, env:NAME, file:PATH or exec:COMMAND; a key written on the command line would stay in the shell history and show in ps (use --api-key-stdin)")
		}
		ref = o.KeyRef
		key, err = (&secret.Resolver{}).Resolve(ctx, ref)
	}
	if err != nil {
		return "", "", &cmdutil.UsageError{Err: err}
	}
	key = strings.TrimSpace(key)
	if err := store.CheckAPIKey(key); err != nil {
		return "", "", &cmdutil.UsageError{Err: err}
	}
	return key, ref, nil
}

// NewCmdAdd returns `connection add`; runF, when not nil, runs in place of storing
// the connection (tests).
func NewCmdAdd(f *cmdutil.Factory, runF func(context.Context, *AddOptions) error) *cobra.Command {
	o := &AddOptions{IO: f.IOStreams, DBPath: f.DBPath, OpenDB: f.OpenDB, Cipher: f.Cipher, Policy: f.Policy}
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Store a connection",
		Long: `Store a connection. The API key is read from stdin (--api-key-stdin) or from a file
(--api-key-file PATH, trailing newline ignored) and stored encrypted, or given as a
secret reference that is stored instead and resolved at each use: --api-key env:NAME,
file:PATH, or exec:COMMAND (a password vault's client, run without a shell, its output
trimmed is the key: exec:'vault kv get -field=key secret/vt'). Never the key itself on
the command line. A reference is resolved once now, to check that it gives a key.
--server-url (else VT_SERVER_URL), --quota (else VTSOAR_QUOTA), --api-version,
--include-private and the risk policy flags (--suspicious-threshold,
--preferred-vendors, --preferred-vendors-threshold, --crowdsourced, --risk-policy;
global flags) are stored with the connection. --notify-email and --notify-webhook-url
with --notify-webhook-secret are the connection's own recipients of its health
notifications, instead of those of vtsoar serve.`,
		Example: `  printf '%s' "$VT_API_KEY" | vtsoar connection add prod --api-key-stdin --quota public --description "SOC, Paris"
  vtsoar connection add emu --api-key env:EMU_KEY --server-url http://127.0.0.1:8089 --reputation-checks file,url
  vtsoar connection add vault --api-key exec:'vault kv get -field=key secret/vt' --notify-email soc@example.org
  vtsoar connection add soc --api-key env:VT_KEY --suspicious-threshold 3 --preferred-vendors Kaspersky,ESET-NOD32 --crowdsourced`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			o.Quota = f.Resolved(f.Options.Quota, cmdutil.EnvQuota, "public")
			o.ServerURL = f.Resolved(f.Options.ServerURL, cmdutil.EnvServerURL, "")
			o.APIVersion, o.IncludePrivate = f.APIVersion(), f.Options.Run.IncludePrivate
			return cmdutil.Run(cmd, o, runF, addRun)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.KeyStdin, "api-key-stdin", false, "read the API key from stdin")
	fl.StringVar(&o.KeyFile, "api-key-file", "", "read the API key from the file at PATH")
	fl.StringVar(&o.KeyRef, "api-key", "", "the API key as a secret reference resolved at each use: env:NAME, file:PATH or exec:COMMAND")
	fl.StringVar(&o.Proxy, "proxy", "", "HTTP proxy URL for this connection")
	kinds := kindNames()
	fl.StringVar(&o.Checks, "reputation-checks", kinds, "observable types enriched automatically: any of "+kinds+", or all, or none")
	fl.IntVar(&o.HealthEvery, "health-check-minutes", 0, "minutes between scheduled connection tests (0: none)")
	fl.StringSliceVar(&o.Sites, "site", nil, "sites whose events the connection enriches (repeatable; default all)")
	fl.StringSliceVar(&o.Users, "user", nil, "users allowed to run the connection (repeatable; default all)")
	fl.BoolVar(&o.Replace, "replace", false, "replace an existing connection of that name")
	fl.StringVar(&o.Description, "description", "", "free text about the connection")
	fl.BoolVar(&o.Inactive, "inactive", false, "store it inactive: it runs nothing until `vtsoar connection activate NAME`")
	fl.StringSliceVar(&o.NotifyEmails, "notify-email", nil, "e-mail address told of the connection's health changes, instead of serve's --smtp-to (repeatable)")
	fl.StringVar(&o.NotifyWebhookURL, "notify-webhook-url", "", "URL told of the connection's health changes, instead of serve's --webhook-url")
	fl.StringVar(&o.NotifyWebhookSecret, "notify-webhook-secret", "", "the HMAC key of --notify-webhook-url, as env:NAME, file:PATH or exec:COMMAND")
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
	if err := store.CheckDescription(o.Description); err != nil {
		return cmdutil.Usagef("--description: %v", err)
	}
	if err := store.CheckAPIVersion(o.APIVersion); err != nil {
		return cmdutil.Usagef("--api-version: %v", err)
	}
	if err := store.CheckNotifyEmails(o.NotifyEmails); err != nil {
		return cmdutil.Usagef("--notify-email: %v", err)
	}
	if (o.NotifyWebhookURL == "") != (o.NotifyWebhookSecret == "") {
		return cmdutil.Usagef("give --notify-webhook-url and --notify-webhook-secret together")
	}
	if o.NotifyWebhookURL != "" {
		if err := store.CheckWebhookURL(o.NotifyWebhookURL); err != nil {
			return cmdutil.Usagef("--notify-webhook-url: %v", err)
		}
		if !secret.IsKeyReference(o.NotifyWebhookSecret) {
			return cmdutil.Usagef("--notify-webhook-secret takes a reference, env:NAME, file:PATH or exec:COMMAND")
		}
	}
	policy, err := o.Policy(risk.Policy{})
	if err != nil {
		return err
	}
	key, ref, err := readKey(ctx, o.IO.In, o)
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
	conn := store.Connection{
		Name: name, ServerURL: server, Quota: spec.String(),
		ReputationChecks: checks, HealthCheckMinutes: o.HealthEvery, Sites: sites, Users: users,
		RiskPolicy: policy, Description: o.Description, Inactive: o.Inactive, APIVersion: o.APIVersion,
		IncludePrivate: o.IncludePrivate, NotifyEmails: o.NotifyEmails, NotifyWebhookURL: o.NotifyWebhookURL,
	}
	if ref != "" {
		conn.SealedAPIKeyRef, err = connclient.SealKeyRef(c, name, ref)
	} else {
		conn.SealedAPIKey, err = connclient.SealKey(c, name, key)
	}
	if err != nil {
		return err
	}
	if o.NotifyWebhookSecret != "" {
		if conn.SealedNotifyWebhookSecretRef, err = connclient.SealWebhookSecretRef(c, name, o.NotifyWebhookSecret); err != nil {
			return err
		}
	}
	st, err := o.OpenDB(ctx, path, nil)
	if err != nil {
		return err
	}
	defer st.Close()
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
	how := "its key is encrypted"
	if ref != "" {
		how = "its key's reference is encrypted and resolved at each use"
	}
	state := ""
	if o.Inactive {
		state = ", inactive"
	}
	fmt.Fprintf(o.IO.ErrOut, "Stored connection %s (%s, quota %s, risk policy: %s%s); %s.\n",
		name, store.NormalizeServerURL(server), spec, policy.Summary(), state, how)
	return nil
}

// ActivateOptions are what `connection activate` and `deactivate` run with.
type ActivateOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Name is the argument; Active what the connection becomes.
	Name   string
	Active bool
}

// NewCmdActivate returns `connection activate` (active) or `connection deactivate`;
// runF, when not nil, runs in place of the change (tests).
func NewCmdActivate(f *cmdutil.Factory, active bool, runF func(context.Context, *ActivateOptions) error) *cobra.Command {
	o := &ActivateOptions{IO: f.IOStreams, OpenStore: f.OpenStore, Active: active}
	use, short := "deactivate NAME", "Make a connection inactive: it runs no command, health check or enrichment"
	if active {
		use, short = "activate NAME", "Make an inactive connection active again"
	}
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return cmdutil.Run(cmd, o, runF, activateRun)
		},
	}
}

func activateRun(ctx context.Context, o *ActivateOptions) error {
	st, err := o.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.GetConnection(ctx, o.Name)
	if errors.Is(err, store.ErrNotFound) {
		return cmdutil.Usagef("no connection named %q (see `vtsoar connection list`)", o.Name)
	}
	if err != nil {
		return err
	}
	c.Inactive = !o.Active
	if err := st.UpdateConnection(ctx, c); err != nil {
		return err
	}
	state := "inactive: it runs nothing"
	if o.Active {
		state = "active"
	}
	fmt.Fprintf(o.IO.ErrOut, "Connection %s is %s.\n", c.Name, state)
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
		key := "stored"
		if v.APIKeyRefSet {
			key = "reference"
		}
		rows = append(rows, []string{v.Name, strconv.FormatBool(v.Active), storecli.OrDash(v.Description), v.ServerURL, key, v.Quota, storecli.OrDash(v.Proxy),
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
