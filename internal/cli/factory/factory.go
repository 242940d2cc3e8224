// Package factory wires the CLI's factory (cmdutil.Factory), as cli/cli's factory
// package does: Wire fills in the factory's functions, the opening of the database and
// of the master key, the resolution of a stored connection (or of --api-key) into a
// key, a server and a budget, the risk policy of the run (whose flags it registers),
// and the command dependencies (client with the quota limiter, cache of the store)
// that every integration command runs with.
package factory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/testknobs"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// env is the store side of one invocation: the factory and the risk flags.
type env struct {
	f    *cmdutil.Factory
	risk riskFlags
	fs   *pflag.FlagSet
}

// Wire registers the risk policy's global flags on fs and sets the factory's
// functions (DBPath, OpenDB, Cipher, Resolve, Conn, Executor, QuotaConfig, Policy), so
// that every command of f runs with the database of --db, the store's cache and the
// quota limiter.
func Wire(f *cmdutil.Factory, fs *pflag.FlagSet) {
	e := &env{f: f, fs: fs}
	e.risk.addFlags(fs)
	f.DBPath = e.dbPath
	f.OpenDB = e.openDB
	f.Cipher = cipher
	f.Resolve = e.resolve
	f.Conn = e.conn
	f.Executor = e.executor
	f.QuotaConfig = e.quotaConfig
	f.Policy = e.policy
}

// dbPath implements cmdutil.Factory.DBPath.
func (e *env) dbPath() (string, error) {
	if p := e.f.Resolved(e.f.Options.DB, cmdutil.EnvDB, ""); p != "" {
		return p, nil
	}
	p, err := store.DefaultPath()
	if err != nil {
		return "", &cmdutil.UsageError{Err: err}
	}
	return p, nil
}

// openDB implements cmdutil.Factory.OpenDB. It seals the proxy passwords that a
// database made before proxies were sealed keeps in clear (connclient.SealProxies),
// with the master key of dsn; when that fails it says so and goes on.
func (e *env) openDB(ctx context.Context, dsn string, log *slog.Logger) (store.Store, error) {
	s, err := store.Open(ctx, dsn, store.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w (choose another database with --db or %s)", err, cmdutil.EnvDB)
	}
	if n, err := connclient.SealProxies(ctx, s, func() (*secret.Cipher, error) { return e.f.Cipher(dsn) }); err != nil {
		fmt.Fprintf(e.f.IOStreams.ErrOut, "warning: proxy passwords stored in clear were not sealed: %v\n", err)
	} else if n > 0 {
		e.f.Logger().InfoContext(ctx, "sealed proxy passwords stored in clear", "connections", n)
	}
	return s, nil
}

// cipher implements cmdutil.Factory.Cipher: VTSOAR_MASTER_KEY, else the key file
// beside the database (beside the default SQLite path for PostgreSQL).
func cipher(dsn string) (*secret.Cipher, error) {
	keyFile := secret.KeyFilePath(dsn)
	if store.IsPostgres(dsn) {
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

// resolve implements cmdutil.Factory.Resolve: the stored connection's target (its key
// and proxy opened), with --server-url and --quota on top, or the target of --api-key
// (or VT_API_KEY) on --server-url (or VT_SERVER_URL).
func (e *env) resolve(ctx context.Context, st store.Store, connection string) (connclient.Target, error) {
	f := e.f
	var t connclient.Target
	specText := f.Options.Quota
	if connection != "" {
		if f.Options.APIKey != "" {
			return t, cmdutil.Usagef("give --connection or --api-key, not both")
		}
		conn, err := st.GetConnection(ctx, connection)
		if errors.Is(err, store.ErrNotFound) {
			return t, cmdutil.Usagef("no connection named %q (see `vtsoar connection list`)", connection)
		}
		if err != nil {
			return t, err
		}
		path, err := f.DBPath()
		if err != nil {
			return t, err
		}
		c, err := f.Cipher(path)
		if err != nil {
			return t, err
		}
		// A key stored as a reference is resolved now, for this run (an exec: one runs
		// its command); an inactive connection is refused before anything is sent.
		if t, err = connclient.TargetOf(ctx, c, &secret.Resolver{}, conn); err != nil {
			return t, &cmdutil.UsageError{Err: err}
		}
		if f.Options.ServerURL != "" {
			t.ServerURL = f.Options.ServerURL
		}
		if specText == "" && conn.Quota == "" {
			specText = f.Resolved("", cmdutil.EnvQuota, "")
		}
	} else {
		t.APIKey = strings.TrimSpace(f.Resolved(f.Options.APIKey, "VT_API_KEY", ""))
		t.ServerURL = f.Resolved(f.Options.ServerURL, "VT_SERVER_URL", "")
		if t.APIKey == "" {
			return t, cmdutil.NoAPIKey(t.ServerURL)
		}
		if err := store.CheckAPIKey(t.APIKey); err != nil {
			return t, cmdutil.Usagef("--api-key or VT_API_KEY: %v", err)
		}
		if specText == "" {
			specText = f.Resolved("", cmdutil.EnvQuota, "public")
		}
	}
	if specText != "" {
		spec, err := quota.ParseSpec(specText)
		if err != nil {
			return t, &cmdutil.UsageError{Err: fmt.Errorf("--quota: %w", err)}
		}
		t.Spec = spec
	}
	return t, nil
}

// quotaConfig implements cmdutil.Factory.QuotaConfig.
func (e *env) quotaConfig() (quota.Config, error) {
	cfg := quota.Config{Logger: e.f.Logger()}
	k, err := testknobs.Load(e.f.Env)
	if err != nil {
		return quota.Config{}, cmdutil.Usagef("%v", err)
	}
	k.Quota(&cfg)
	return cfg, nil
}

// conn implements cmdutil.Factory.Conn: the client of t (its policy with the risk
// flags on top) keeps the global options and an HTTP client with one idle connection
// per input in flight. It goes through connclient, as the server and the enrichment
// do.
func (e *env) conn(ctx context.Context, st store.Store, t connclient.Target) (*connclient.Conn, error) {
	f := e.f
	cfg, err := f.QuotaConfig()
	if err != nil {
		return nil, err
	}
	if t.Policy, err = f.Policy(t.Policy); err != nil {
		return nil, err
	}
	c, err := connclient.Build(ctx, st, t, connclient.Options{
		Quota:       cfg,
		UserAgent:   "vtsoar/" + f.Version,
		Retry:       vt.RetryPolicy{MaxAttempts: f.Options.Retries + 1},
		Concurrency: f.IdleConns(),
		Logger:      f.Logger(),
	})
	if err != nil {
		return nil, &cmdutil.UsageError{Err: err}
	}
	return c, nil
}

// executor implements cmdutil.Factory.Executor: the client of the resolved target
// with its quota limiter, and the store's cache of the target's server. The release
// function closes the store (recording the cache's hit and miss counts).
func (e *env) executor(ctx context.Context) (command.Deps, func(), error) {
	f := e.f
	st, err := f.OpenStore(ctx)
	if err != nil {
		return command.Deps{}, nil, err
	}
	deps, err := e.deps(ctx, st)
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

// deps returns the command dependencies of the invocation's target on st.
func (e *env) deps(ctx context.Context, st store.Store) (command.Deps, error) {
	t, err := e.f.Resolve(ctx, st, e.f.Options.Connection)
	if err != nil {
		return command.Deps{}, err
	}
	c, err := e.f.Conn(ctx, st, t)
	if err != nil {
		return command.Deps{}, err
	}
	return c.Deps(), nil
}
