// Package serve implements `vtsoar serve`: the REST API (package server) with the
// background enrichment service, until SIGINT or SIGTERM.
//
// The service's flags, which demo shares, are Flags and NotifyFlags, and what a
// serving command opens is Deps.Open's *Opened.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/server/console"
	"github.com/vtsoar/vtsoar/internal/store"
)

// Flags are the flags of the service, of serve and of demo, which runs the same service.
type Flags struct {
	// Addr is the address to listen on.
	Addr string
	// DataDir holds uploaded files (default: the database's directory).
	DataDir string
	// MaxFileSize bounds an upload.
	MaxFileSize int64
	// Grace is how long requests in flight get to finish on shutdown.
	Grace time.Duration
	// MaxConnections bounds the client connections held open at once.
	MaxConnections int
	// SessionIdle and SessionMaxAge bound the console's sessions.
	SessionIdle, SessionMaxAge time.Duration
	// GatewayRecheck is --gateway-recheck (server.Config.GatewayRecheck).
	GatewayRecheck time.Duration
	// CookieSecure makes the console's cookies Secure on every request.
	CookieSecure bool
	// TrustedProxies are --trusted-proxy: addresses or CIDR prefixes of the proxies
	// whose X-Forwarded-Proto is believed.
	TrustedProxies []string
	// LogFormat is "text" or "json"; LogLevel "debug", "info", "warn" or "error".
	LogFormat, LogLevel string
	// MetricsTokenRef is --metrics-token: a reference (env:NAME or file:PATH) to the
	// bearer token a Prometheus scraper reads GET /metrics with, besides admins.
	MetricsTokenRef string
	// RunRetention is how long runs (Prefer: respond-async) and their results are
	// kept.
	RunRetention time.Duration
	// Notify configures the notifications of health changes.
	Notify NotifyFlags
	// AllowSecretRefs are --allow-secret-ref: the patterns of the secret references
	// a connection may be given over the API (none: no reference is taken).
	AllowSecretRefs []string
	// SecretCacheTTL is --secret-cache-ttl: how long a connection's key reference
	// (and its webhook's secret) keeps what it resolved to.
	SecretCacheTTL time.Duration
}

// minMetricsToken is the shortest metrics token taken, in bytes.
const minMetricsToken = 16

// trustedProxies parses --trusted-proxy: CIDR prefixes, or addresses (one host each).
func (o *Flags) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range o.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, cmdutil.Usagef("--trusted-proxy %q: want an IP address or a CIDR prefix (10.0.0.0/8)", s)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// MetricsToken resolves --metrics-token ("" when it is not given).
func (o *Flags) MetricsToken() (string, error) {
	if o.MetricsTokenRef == "" {
		return "", nil
	}
	if !secret.IsReference(o.MetricsTokenRef) {
		return "", cmdutil.Usagef("--metrics-token takes a reference, env:NAME or file:PATH (a token on the command line would show in ps)")
	}
	tok, err := secret.Resolve(o.MetricsTokenRef)
	if err != nil {
		return "", cmdutil.Usagef("--metrics-token: %v", err)
	}
	tok = strings.TrimSpace(tok)
	if err := store.CheckAPIKey(tok); err != nil || len(tok) < minMetricsToken {
		return "", cmdutil.Usagef("--metrics-token: the token must be at least %d characters, without white space or control characters", minMetricsToken)
	}
	return tok, nil
}

// NotifyFlags configure the e-mail and webhook notifications of connection health
// changes. Secrets are given as references (env:NAME or file:PATH).
type NotifyFlags struct {
	SMTPHost, SMTPUser, SMTPPasswordRef, SMTPFrom string
	SMTPPort                                      int
	SMTPStartTLS                                  bool
	SMTPTo                                        []string
	WebhookURL, WebhookSecretRef                  string
}

// AddFlags registers the service's flags.
func (o *Flags) AddFlags(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&o.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&o.DataDir, "data-dir", "", "directory of uploaded files (default: the database's directory)")
	fl.Int64Var(&o.MaxFileSize, "max-file-size", server.DefaultMaxFileSize, "largest file upload in bytes")
	fl.DurationVar(&o.Grace, "grace", 15*time.Second, "time requests in flight get to finish on SIGINT/SIGTERM")
	fl.IntVar(&o.MaxConnections, "max-connections", server.DefaultMaxConnections, "client connections held open at once; more wait until one closes")
	fl.DurationVar(&o.GatewayRecheck, "gateway-recheck", server.DefaultGatewayRecheck, "how long the VirusTotal gateway answers a cached GET with a key and an answer the database confirmed, without reading it again; changes made through another process count after it (0: read it on every request)")
	fl.DurationVar(&o.SessionIdle, "session-idle", console.DefaultSessionIdle, "a console session unused for this long ends")
	fl.DurationVar(&o.SessionMaxAge, "session-max-age", console.DefaultSessionMaxAge, "a console session ends this long after sign-in")
	fl.BoolVar(&o.CookieSecure, "cookie-secure", false, "mark the console's cookies Secure on every request (the service is reached over HTTPS only)")
	fl.StringArrayVar(&o.TrustedProxies, "trusted-proxy", nil, "address or CIDR of a proxy whose X-Forwarded-Proto is believed (repeatable)")
	fl.StringVar(&o.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fl.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&o.MetricsTokenRef, "metrics-token", "", "bearer token that may read /metrics besides admins (a scraper's), as env:NAME or file:PATH")
	fl.StringArrayVar(&o.AllowSecretRefs, "allow-secret-ref", nil,
		"a pattern of the secret references a connection's key may be given as over the API, e.g. 'env:VT_*' or 'file:/run/secrets/*' (repeatable; none: no reference; exec: never)")
	fl.DurationVar(&o.SecretCacheTTL, "secret-cache-ttl", secret.DefaultCacheTTL, "how long what a connection's key reference resolved to is used before it is resolved again")
	fl.DurationVar(&o.RunRetention, "run-retention", enrich.DefaultRunRetention, "how long runs (commands asked with Prefer: respond-async) and their results are kept")
	n := &o.Notify
	fl.StringVar(&n.SMTPHost, "smtp-host", "", "SMTP server for health notifications (none: no e-mail)")
	fl.IntVar(&n.SMTPPort, "smtp-port", 587, "SMTP port")
	fl.BoolVar(&n.SMTPStartTLS, "smtp-starttls", true, "require STARTTLS")
	fl.StringVar(&n.SMTPUser, "smtp-user", "", "SMTP user (PLAIN auth)")
	fl.StringVar(&n.SMTPPasswordRef, "smtp-password", "", "SMTP password as a reference: env:NAME or file:PATH")
	fl.StringVar(&n.SMTPFrom, "smtp-from", "", "sender of notification e-mails")
	fl.StringArrayVar(&n.SMTPTo, "smtp-to", nil, "recipient of notification e-mails (repeat for several)")
	fl.StringVar(&n.WebhookURL, "webhook-url", "", "URL that receives health notifications as JSON POSTs")
	fl.StringVar(&n.WebhookSecretRef, "webhook-secret", "", "HMAC-SHA256 key signing webhook bodies, as env:NAME or file:PATH")
}

// Logger returns the service's logger on w.
func (o *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(o.LogLevel)); err != nil {
		return nil, cmdutil.Usagef("--log-level %q: want debug, info, warn or error", o.LogLevel)
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch o.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	}
	return nil, cmdutil.Usagef("--log-format %q: want text or json", o.LogFormat)
}

// Deps are what a serving command (serve, demo) takes from the factory.
type Deps struct {
	IO          *iostreams.IOStreams
	DBPath      func() (string, error)
	OpenDB      func(ctx context.Context, dsn string, log *slog.Logger) (store.Store, error)
	Cipher      func(dsn string) (*secret.Cipher, error)
	QuotaConfig func() (quota.Config, error)
	// Version is the binary's version (in the User-Agent sent to VirusTotal).
	Version string
	// Verbose is -v: the log at debug level, River's routine lines too.
	Verbose bool
}

// NewDeps returns the dependencies of a serving command from f; Verbose is filled in
// when the command runs (FillGlobal).
func NewDeps(f *cmdutil.Factory) Deps {
	return Deps{IO: f.IOStreams, DBPath: f.DBPath, OpenDB: f.OpenDB, Cipher: f.Cipher, QuotaConfig: f.QuotaConfig, Version: f.Version}
}

// FillGlobal copies the global flags a serving command reads from f, once cobra has
// parsed them.
func (d *Deps) FillGlobal(f *cmdutil.Factory) { d.Verbose = f.Options.Verbose }

// Options are what serve runs with.
type Options struct {
	Deps
	// DBGiven reports --db: the hint to make the first admin then names the database.
	DBGiven bool
	// Flags are the service's flags.
	Flags Flags
}

// NewCmdServe returns the serve command; runF, when not nil, runs in place of serving
// (tests).
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Deps: NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the REST API and run the background enrichment",
		Long: `Serve the REST API (/api/v1: commands, runs, connections, events, files, jobs; its
OpenAPI document at /api/v1/openapi.json; /metrics; /healthz) on --addr, and run the
durable background work: runs (commands asked with Prefer: respond-async), event
enrichment and scheduled connection health checks with their notifications. Every API call takes a bearer token: make the first admin with
` + "`vtsoar user add NAME --role admin`" + `. SIGINT or SIGTERM stops accepting requests, lets
those in flight finish (--grace) and stops the background work, which resumes on the
next start.`,
		Example: `  vtsoar user add alice --role admin
  vtsoar serve --addr 127.0.0.1:8080 --db /var/lib/vtsoar/vtsoar.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.FillGlobal(f)
			opts.DBGiven = f.Options.DB != ""
			return cmdutil.Run(cmd, opts, runF, serveRun)
		},
	}
	opts.Flags.AddFlags(cmd)
	return cmd
}

func serveRun(ctx context.Context, opts *Options) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	op, err := opts.Open(ctx, &opts.Flags)
	if err != nil {
		return err
	}
	defer op.Close()
	if err := FirstAdminHint(ctx, op.Store, opts.IO.ErrOut, op.DBPath, opts.DBGiven); err != nil {
		return err
	}
	qcfg, err := opts.QuotaConfig() // test-only shortened quota minute
	if err != nil {
		return err
	}
	env := Env{Store: op.Store, Cipher: op.Cipher, Log: op.Log, Out: opts.IO.ErrOut, UserAgent: "vtsoar/" + opts.Version, Quota: qcfg}
	return Run(ctx, env, opts.Flags, nil)
}

// Opened is what a serving command opens before it serves (Deps.Open).
type Opened struct {
	// Log is the service's logger, on stderr.
	Log *slog.Logger
	// Store is the database; the caller closes it.
	Store store.Store
	// Cipher opens the stored API keys.
	Cipher *secret.Cipher
	// DBPath names the database (a SQLite file's path or a postgres:// URL).
	DBPath string
}

// Close closes the database, logging what it could not write (the cache answers it
// kept while the database refused them, see store.Caches.CacheBacklog).
func (o *Opened) Close() {
	if err := o.Store.Close(); err != nil {
		o.Log.Error("closing the database", "error", err)
	}
}

// Open prepares what a serving command needs, as serve and demo share it: the logger
// on stderr, the database of d.DBPath, the cipher of its stored keys, and the
// directory of uploaded files (flags.DataDir, defaulted beside the database).
func (d Deps) Open(ctx context.Context, flags *Flags) (*Opened, error) {
	if d.Verbose {
		flags.LogLevel = "debug" // -v: everything, River's routine lines too
	}
	log, err := flags.Logger(d.IO.ErrOut)
	if err != nil {
		return nil, err
	}
	dbPath, err := d.DBPath()
	if err != nil {
		return nil, err
	}
	st, err := d.OpenDB(ctx, dbPath, log)
	if err != nil {
		return nil, err
	}
	cipher, err := d.Cipher(dbPath)
	if err != nil {
		st.Close()
		return nil, err
	}
	if flags.DataDir == "" {
		flags.DataDir = DefaultDataDir(dbPath)
	}
	return &Opened{Log: log, Store: st, Cipher: cipher, DBPath: dbPath}, nil
}

// DefaultDataDir is the directory of uploaded files for a database: beside a SQLite
// file, under the default data directory for PostgreSQL.
func DefaultDataDir(dbPath string) string {
	if store.IsPostgres(dbPath) {
		if p, err := store.DefaultPath(); err == nil {
			return filepath.Dir(p)
		}
	}
	return filepath.Dir(dbPath)
}

// FirstAdminHint prints how to make the first admin when there are no users.
func FirstAdminHint(ctx context.Context, st store.Users, w io.Writer, dbPath string, dbFlag bool) error {
	users, err := st.ListUsers(ctx)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return nil
	}
	db := ""
	if dbFlag {
		db = " --db " + cmdutil.ShellQuote(dbPath)
	}
	fmt.Fprintf(w, "No users yet: every API call will be refused. Make the first admin with\n\n    %s user add admin --role admin%s\n\nwhich prints its bearer token once.\n\n", cmdutil.SelfCommand(), db)
	return nil
}

// Env is what Run serves with.
type Env struct {
	Store  store.Store
	Cipher *secret.Cipher
	Log    *slog.Logger
	// Out receives the "listening" banner.
	Out io.Writer
	// UserAgent is sent to VirusTotal.
	UserAgent string
	// Quota configures the connections' limiters (zero value: right for VirusTotal;
	// tests shorten the minute).
	Quota quota.Config
}

// Run serves the API and runs the background service until ctx ends. ready, when not
// nil, is called with the base URL once the listener is open.
func Run(ctx context.Context, env Env, o Flags, ready func(baseURL string)) error {
	metricsToken, err := o.MetricsToken()
	if err != nil {
		return err
	}
	if o.MaxConnections < 1 {
		return cmdutil.Usagef("--max-connections must be at least 1")
	}
	if o.SessionIdle <= 0 || o.SessionMaxAge <= 0 {
		return cmdutil.Usagef("--session-idle and --session-max-age must be positive")
	}
	if o.RunRetention <= 0 {
		return cmdutil.Usagef("--run-retention must be positive")
	}
	proxies, err := o.trustedProxies()
	if err != nil {
		return err
	}
	for _, p := range o.AllowSecretRefs {
		if err := secret.CheckRefPattern(p); err != nil {
			return &cmdutil.UsageError{Err: err}
		}
	}
	if o.SecretCacheTTL < 0 {
		return cmdutil.Usagef("--secret-cache-ttl must not be negative")
	}
	if o.GatewayRecheck < 0 || o.GatewayRecheck > time.Minute {
		return cmdutil.Usagef("--gateway-recheck must be between 0 and 1m")
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln = server.LimitListener(ln, o.MaxConnections)
	metrics := server.NewMetrics()
	enr, clients, stopEnrich, err := startEnrich(ctx, env, o, metrics)
	if err != nil {
		ln.Close()
		return err
	}
	defer stopEnrich()
	srv, err := server.New(server.Config{
		Store: env.Store, Cipher: env.Cipher, DataDir: o.DataDir, MaxFileSize: o.MaxFileSize,
		Enrich: enr, Logger: env.Log, Clients: clients, Metrics: metrics, MetricsToken: metricsToken,
		SessionIdle: o.SessionIdle, SessionMaxAge: o.SessionMaxAge, CookieSecure: o.CookieSecure, TrustedProxies: proxies,
		AllowSecretRefs: o.AllowSecretRefs, GatewayRecheck: o.GatewayRecheck,
	})
	if err != nil {
		ln.Close()
		return err
	}
	base := "http://" + ln.Addr().String()
	env.Log.InfoContext(ctx, "serving", "url", base, "api", base+"/api/v1", "openapi", base+"/api/v1/openapi.json", "data_dir", o.DataDir)
	if ready != nil {
		ready(base)
	} else {
		fmt.Fprintf(env.Out, "vtsoar serving on %s (API %s/api/v1, OpenAPI %s/api/v1/openapi.json); Ctrl-C stops.\n", base, base, base)
	}
	err = server.Serve(ctx, ln, server.HTTPServer(o.Addr, srv, env.Log), o.Grace)
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serve: %w", err)
	}
	env.Log.InfoContext(ctx, "stopped")
	return nil
}
