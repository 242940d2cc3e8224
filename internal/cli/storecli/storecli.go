// Package storecli wires the store into the CLI: the --db, --connection and --quota
// global flags, the opening of the database and of the master key, the resolution of
// a stored connection (or of --api-key) into a key, a server and a budget, and the
// command dependencies (client with the quota limiter, cache of the store) that every
// integration command runs with.
package storecli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/testknobs"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Environment variables read by this package.
const (
	EnvDB    = "VTSOAR_DB"
	EnvQuota = "VTSOAR_QUOTA"
)

// Env is the store side of one invocation: its flags and the factory.
type Env struct {
	F *cmdutil.Factory
	// DB, Connection and Quota are the --db, --connection and --quota flags.
	DB, Connection, Quota string
	// Risk are the risk policy flags.
	Risk RiskFlags

	fs *pflag.FlagSet
}

// Wire registers the global flags on fs and makes every integration command of f run
// with the store's cache and the quota limiter.
func Wire(f *cmdutil.Factory, fs *pflag.FlagSet) *Env {
	e := &Env{F: f}
	fs.StringVar(&e.DB, "db", "", "database: a SQLite file path or a postgres:// URL (env "+EnvDB+"; default $XDG_DATA_HOME/vtsoar/vtsoar.db)")
	fs.StringVar(&e.Connection, "connection", "", "use the stored connection `NAME` (see vtsoar connection list)")
	fs.StringVar(&e.Quota, "quota", "", "request budget: public (4/min,500/day,15500/month), premium, or N/min,N/day,N/month (env "+EnvQuota+"; default: the connection's, else public)")
	e.Risk.addFlags(fs)
	e.fs = fs
	f.BuildDeps = e.BuildDeps
	return e
}

// DBPath returns the database to use: --db, else VTSOAR_DB, else store.DefaultPath.
func (e *Env) DBPath() (string, error) {
	if p := e.F.Resolved(e.DB, EnvDB, ""); p != "" {
		return p, nil
	}
	p, err := store.DefaultPath()
	if err != nil {
		return "", &cmdutil.UsageError{Err: err}
	}
	return p, nil
}

// OpenStore opens the database.
func (e *Env) OpenStore(ctx context.Context) (store.Store, error) {
	return e.openStore(ctx, store.Options{})
}

func (e *Env) openStore(ctx context.Context, opts store.Options) (store.Store, error) {
	path, err := e.DBPath()
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, path, opts)
	if err != nil {
		return nil, fmt.Errorf("%w (choose another database with --db or %s)", err, EnvDB)
	}
	return s, nil
}

// Cipher returns the master key's cipher: VTSOAR_MASTER_KEY, else the key file beside
// the database (created on first use).
func (e *Env) Cipher() (*secret.Cipher, error) {
	path, err := e.DBPath()
	if err != nil {
		return nil, err
	}
	keyFile := secret.KeyFilePath(path)
	if store.IsPostgres(path) {
		def, err := store.DefaultPath()
		if err != nil {
			return nil, err
		}
		keyFile = secret.KeyFilePath(def)
	}
	c, err := secret.LoadMaster(keyFile)
	if err != nil {
		return nil, &cmdutil.UsageError{Err: err}
	}
	return c, nil
}

// SealKey seals the API key of connection name (connclient.SealKey).
func SealKey(c *secret.Cipher, name, apiKey string) ([]byte, error) {
	return connclient.SealKey(c, name, apiKey)
}

// OpenKey opens the sealed API key of a stored connection (connclient.OpenKey).
func OpenKey(c *secret.Cipher, conn store.Connection) (string, error) {
	return connclient.OpenKey(c, conn)
}

// Target is what a command runs against: a key on a server with a budget.
type Target struct {
	// Connection is the stored connection's name, empty for --api-key.
	Connection string
	APIKey     string
	ServerURL  string // empty: VirusTotal's
	Proxy      string
	Spec       quota.Spec
	// Policy is the stored connection's risk policy (zero for --api-key).
	Policy risk.Policy
}

// Budget returns the ledger name of the target's budget.
func (t Target) Budget() string { return quota.BudgetID(t.ServerURL, t.APIKey) }

// Resolve returns the target of the invocation: the stored --connection, else
// --api-key or VT_API_KEY. Flags win over the connection, which wins over environment
// variables (--server-url, --quota).
func (e *Env) Resolve(ctx context.Context, st store.Store) (Target, error) {
	f := e.F
	var t Target
	specText := e.Quota
	if e.Connection != "" {
		if f.Options.APIKey != "" {
			return Target{}, cmdutil.Usagef("give --connection or --api-key, not both")
		}
		conn, err := st.GetConnection(ctx, e.Connection)
		if errors.Is(err, store.ErrNotFound) {
			return Target{}, cmdutil.Usagef("no connection named %q (see `vtsoar connection list`)", e.Connection)
		}
		if err != nil {
			return Target{}, err
		}
		c, err := e.Cipher()
		if err != nil {
			return Target{}, err
		}
		if t.APIKey, err = OpenKey(c, conn); err != nil {
			return Target{}, &cmdutil.UsageError{Err: err}
		}
		t.Connection, t.ServerURL, t.Proxy, t.Policy = conn.Name, conn.ServerURL, conn.Proxy, conn.RiskPolicy
		if f.Options.ServerURL != "" {
			t.ServerURL = f.Options.ServerURL
		}
		if specText == "" {
			specText = conn.Quota
		}
	} else {
		t.APIKey = f.Resolved(f.Options.APIKey, "VT_API_KEY", "")
		t.ServerURL = f.Resolved(f.Options.ServerURL, "VT_SERVER_URL", "")
		if strings.TrimSpace(t.APIKey) == "" {
			return Target{}, cmdutil.NoAPIKey(t.ServerURL)
		}
	}
	if specText == "" {
		specText = f.Resolved("", EnvQuota, "public")
	}
	spec, err := quota.ParseSpec(specText)
	if err != nil {
		return Target{}, &cmdutil.UsageError{Err: fmt.Errorf("--quota: %w", err)}
	}
	t.Spec = spec
	return t, nil
}

// QuotaConfig returns the limiter configuration (with the multi-process tests' knobs
// in a binary built with them, see package testknobs).
func (e *Env) QuotaConfig() (quota.Config, error) {
	cfg := quota.Config{Logger: e.F.Logger()}
	k, err := testknobs.Load(e.F.Env)
	if err != nil {
		return quota.Config{}, cmdutil.Usagef("%v", err)
	}
	k.Quota(&cfg)
	return cfg, nil
}

// Conn builds what t needs to run commands: its client (with the global options, the
// connection's proxy and an HTTP client keeping one idle connection per input in
// flight), its limiter and the store's cache of its server. It goes through
// connclient, as the server and the enrichment do.
func (e *Env) Conn(ctx context.Context, st store.Store, t Target) (*connclient.Conn, error) {
	f := e.F
	cfg, err := e.QuotaConfig()
	if err != nil {
		return nil, err
	}
	policy, err := e.Policy(t.Policy)
	if err != nil {
		return nil, err
	}
	opts := connclient.Options{
		Policy:      policy,
		Quota:       cfg,
		QuotaSpec:   t.Spec.String(),
		UserAgent:   "vtsoar/" + f.Version,
		Retry:       vt.RetryPolicy{MaxAttempts: f.Options.Retries + 1},
		Concurrency: f.IdleConns(),
		// A premium key's answers are saved without waiting for the write (a kill
		// loses its last 10 ms of them); a public key's, which cost its day, are not.
		CachePutsNoWait: true,
		Logger:          f.Logger(),
	}
	conn := store.Connection{Name: t.Connection, ServerURL: t.ServerURL, Proxy: t.Proxy}
	c, err := connclient.BuildWithKey(ctx, st, conn, t.APIKey, opts)
	if err != nil {
		return nil, &cmdutil.UsageError{Err: err}
	}
	return c, nil
}

// BuildDeps is the Factory hook: the client of the resolved target with its quota
// limiter, and the store's cache of the target's server. The release function closes
// the store (recording the cache's hit and miss counts).
func (e *Env) BuildDeps(ctx context.Context, f *cmdutil.Factory) (command.Deps, func(), error) {
	if err := f.CheckGlobal(); err != nil {
		return command.Deps{}, nil, err
	}
	st, err := e.openStore(ctx, store.Options{})
	if err != nil {
		return command.Deps{}, nil, err
	}
	deps, err := e.DepsFor(ctx, st)
	if err != nil {
		st.Close()
		return command.Deps{}, nil, err
	}
	log := f.Logger()
	return deps, func() {
		if err := st.Close(); err != nil {
			log.Warn("closing the database", "error", err)
		}
	}, nil
}

// DepsFor returns the command dependencies of the invocation's target on st.
func (e *Env) DepsFor(ctx context.Context, st store.Store) (command.Deps, error) {
	t, err := e.Resolve(ctx, st)
	if err != nil {
		return command.Deps{}, err
	}
	c, err := e.Conn(ctx, st, t)
	if err != nil {
		return command.Deps{}, err
	}
	return c.Deps(), nil
}

// NewRemoveCmd returns the "remove NAME" command of a group that stores things by name
// (connections, users): del deletes one; a name that is not stored is a usage error.
func NewRemoveCmd(f *cmdutil.Factory, e *Env, noun, short string, del func(store.Store, context.Context, string) error) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   short,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := e.OpenStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			err = del(st, cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return cmdutil.Usagef("no %s named %q", noun, args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(f.IOStreams.ErrOut, "Removed %s %s.\n", noun, args[0])
			return nil
		},
	}
}
