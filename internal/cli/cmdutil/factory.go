// Package cmdutil holds what every vtsoar CLI command shares: the Factory (streams,
// global options, and the functions through which a command opens the database,
// resolves a connection and gets its client and cache), exit codes and input reading.
//
// A command is made as in cli/cli: NewCmdX(f, runF) returns the cobra command, whose
// XOptions struct carries what the run needs, taken from the factory (streams, the
// store opener, the resolution of connections...) and from the flags; RunE fills the
// options and calls runF when it is not nil (tests), else the command's own run
// function. The factory's functions are set in one place, factory.Wire, which the
// root command calls.
package cmdutil

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Output formats of -o/--output.
var OutputFormats = []string{"json", "jsonl", "yaml", "table", "csv", "stix", "misp"}

// Environment variables of the global flags.
const (
	EnvDB        = "VTSOAR_DB"
	EnvQuota     = "VTSOAR_QUOTA"
	EnvServerURL = "VT_SERVER_URL"
)

// GlobalOptions are the flags every command takes (but the risk policy's, which
// package factory registers and reads: Factory.Policy).
type GlobalOptions struct {
	APIKey     string
	ServerURL  string
	APIVersion string
	Output     string
	Retries    int
	Verbose    bool
	// DB, Connection and Quota are --db, --connection and --quota.
	DB, Connection, Quota string
	// Run are the run's options (--concurrency, --max-age, --fresh).
	Run command.RunOptions
}

// Factory is shared by the commands of one invocation: its streams, its global flags
// and the functions through which a command reaches the database and VirusTotal. The
// functions are set by factory.Wire; a test may replace any of them.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment (os.Getenv by default; tests replace it).
	Getenv func(string) string
	// Options are the global flags, filled in by cobra.
	Options GlobalOptions
	// Version is the binary's version.
	Version string

	// DBPath returns the invocation's database: --db, else VTSOAR_DB, else
	// store.DefaultPath.
	DBPath func() (string, error)
	// OpenDB opens the database dsn names (a SQLite file's path or a postgres:// URL),
	// applying its pending migrations; the store logs to log (nil: nowhere).
	OpenDB func(ctx context.Context, dsn string, log *slog.Logger) (store.Store, error)
	// Cipher returns the cipher of the API keys stored in the database dsn names:
	// VTSOAR_MASTER_KEY, else the key file beside it (created on first use).
	Cipher func(dsn string) (*secret.Cipher, error)
	// Resolve returns what a command runs against: the stored connection named
	// connection, else (connection empty) --api-key or VT_API_KEY. Flags win over the
	// connection, which wins over environment variables (--server-url, --quota).
	Resolve func(ctx context.Context, st store.Store, connection string) (connclient.Target, error)
	// Conn builds what t needs to run commands on st: its client (with the global
	// options and the connection's proxy), its limiter and the store's cache of its
	// server, through connclient.
	Conn func(ctx context.Context, st store.Store, t connclient.Target) (*connclient.Conn, error)
	// Executor opens the database and returns what an integration command runs with
	// on the invocation's target (client, cache, risk policy), and a function that
	// releases it (closing the database).
	Executor func(ctx context.Context) (command.Deps, func(), error)
	// QuotaConfig returns the limiters' configuration (with the multi-process tests'
	// knobs in a binary built with them, see package testknobs).
	QuotaConfig func() (quota.Config, error)
	// Policy returns the risk policy of the run: base (a stored connection's, zero
	// for the default one) with the risk flags that were given applied on top.
	Policy func(base risk.Policy) (risk.Policy, error)
}

// New returns a factory on the given streams and the process environment. Its
// functions are nil until factory.Wire sets them (the root command does).
func New(io *iostreams.IOStreams, version string) *Factory {
	return &Factory{IOStreams: io, Getenv: os.Getenv, Version: version}
}

// AddGlobalFlags registers the global flags on fs (the root's persistent flags).
func (f *Factory) AddGlobalFlags(fs *pflag.FlagSet) {
	o := &f.Options
	fs.StringVar(&o.DB, "db", "", "database: a SQLite file path or a postgres:// URL (env "+EnvDB+"; default $XDG_DATA_HOME/vtsoar/vtsoar.db)")
	fs.StringVar(&o.Connection, "connection", "", "use the stored connection `NAME` (see vtsoar connection list)")
	fs.StringVar(&o.Quota, "quota", "", "request budget: public (4/min,500/day,15500/month), premium, or N/min,N/day,N/month (env "+EnvQuota+"; default: the connection's, else public)")
	fs.StringVar(&o.APIKey, "api-key", "", "VirusTotal API key (env VT_API_KEY)")
	fs.StringVar(&o.ServerURL, "server-url", "", "VirusTotal server (env VT_SERVER_URL; default "+vt.DefaultServerURL+")")
	fs.StringVar(&o.APIVersion, "api-version", "", "VirusTotal API version, only v3 (env VT_API_VERSION)")
	fs.StringVarP(&o.Output, "output", "o", "", "output format: json, jsonl, yaml, table, csv, or stix (a STIX 2.1 bundle) or misp (a MISP event) for reputation results (default table on a terminal, json otherwise)")
	o.Run = command.RunOptions{Concurrency: command.DefaultConcurrency, MaxAge: command.DefaultMaxAge}
	AddOptionFlags(fs, o.Run.Fields())
	fs.IntVar(&o.Retries, "retries", vt.DefaultRetryPolicy.MaxAttempts-1, RetriesUsage())
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "log requests and decisions on stderr (never the API key)")
}

// RetriesUsage is the help of --retries, from the statuses the client retries
// (vt.RetriedStatuses): "retries of a request answered 429, 502, 503, 504 or not at
// all (a POST only on 429 and 503)".
func RetriesUsage() string {
	return fmt.Sprintf("retries of a request answered %s or not at all (a POST only on %s)",
		statusList(vt.RetriedStatuses(http.MethodGet), ", "), statusList(vt.RetriedStatuses(http.MethodPost), " and "))
}

// statusList writes statuses separated by sep.
func statusList(statuses []int, sep string) string {
	s := make([]string, len(statuses))
	for i, st := range statuses {
		s[i] = strconv.Itoa(st)
	}
	return strings.Join(s, sep)
}

// Env returns the value of the environment variable name.
func (f *Factory) Env(name string) string {
	if f.Getenv == nil {
		return os.Getenv(name)
	}
	return f.Getenv(name)
}

// Resolved returns flag, else the environment variable, else def.
func (f *Factory) Resolved(flag, env, def string) string {
	if flag != "" {
		return flag
	}
	if v := f.Env(env); v != "" {
		return v
	}
	return def
}

// APIVersion is the API version asked for (v3 unless told otherwise).
func (f *Factory) APIVersion() string {
	return f.Resolved(f.Options.APIVersion, "VT_API_VERSION", vt.APIVersion)
}

// CheckGlobal validates the global options that every command depends on.
func (f *Factory) CheckGlobal() error {
	if v := f.APIVersion(); v != vt.APIVersion {
		return Usagef("unsupported API version %q: vtsoar speaks VirusTotal API v3 only (--api-version / VT_API_VERSION)", v)
	}
	if f.Options.Output != "" && !contains(OutputFormats, f.Options.Output) {
		return Usagef("unknown output format %q (want %s)", f.Options.Output, strings.Join(OutputFormats, ", "))
	}
	if f.Options.Run.Concurrency < 1 {
		return Usagef("--concurrency must be at least 1, got %d", f.Options.Run.Concurrency)
	}
	if f.Options.Retries < 0 {
		return Usagef("--retries must not be negative")
	}
	return nil
}

// OutputFormat is the chosen output format: -o, else table on a terminal and json
// otherwise.
func (f *Factory) OutputFormat() string {
	if f.Options.Output != "" {
		return f.Options.Output
	}
	if f.IOStreams.IsStdoutTTY() {
		return "table"
	}
	return "json"
}

// Logger logs to stderr with -v, else nowhere.
func (f *Factory) Logger() *slog.Logger {
	if f.Options.Verbose {
		return slog.New(slog.NewTextHandler(f.IOStreams.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// OpenStore opens the invocation's database (DBPath, OpenDB).
func (f *Factory) OpenStore(ctx context.Context) (store.Store, error) {
	path, err := f.DBPath()
	if err != nil {
		return nil, err
	}
	return f.OpenDB(ctx, path, f.Logger())
}

// NoAPIKey is the error of an invocation with no API key: it says where a key comes
// from, and how to try vtsoar offline when no server is given either.
func NoAPIKey(server string) error {
	if server == "" {
		return Usagef("no VirusTotal API key: give --connection NAME, --api-key or set VT_API_KEY (to try vtsoar offline, run `vtsoar emulate` and pass --server-url http://127.0.0.1:8089 with any key)")
	}
	return Usagef("no API key for %s: give --connection NAME, --api-key or set VT_API_KEY (the emulator takes any non-empty key)", server)
}

// IdleConns is how many idle connections to VirusTotal a client keeps: one per input
// in flight (--concurrency), plus two for the requests an input makes after its first.
func (f *Factory) IdleConns() int {
	return max(f.Options.Run.Concurrency, 1) + 2
}

// ReadInputs returns the inputs of a command: its arguments, where "-" stands for the
// lines of in. Blank lines and lines starting with '#' are skipped; spaces around an
// input are trimmed.
func ReadInputs(args []string, in io.Reader) ([]string, error) {
	return readArgs(args, in, func(in io.Reader) ([]string, error) {
		var out []string
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			out = append(out, line)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading inputs from stdin: %w", err)
		}
		return out, nil
	})
}

// maxText bounds the text read for --extract from stdin.
const maxText = 64 << 20

// ReadTexts returns the texts of a command that extracts observables from free text:
// its arguments, where "-" stands for all of in.
func ReadTexts(args []string, in io.Reader) ([]string, error) {
	return readArgs(args, in, func(in io.Reader) ([]string, error) {
		b, err := io.ReadAll(io.LimitReader(in, maxText+1))
		if err != nil {
			return nil, fmt.Errorf("reading the text from stdin: %w", err)
		}
		if len(b) > maxText {
			return nil, Usagef("the text on stdin is larger than %d MiB", maxText>>20)
		}
		if strings.TrimSpace(string(b)) == "" {
			return nil, nil
		}
		return []string{string(b)}, nil
	})
}

// readArgs returns the arguments in order, the first "-" replaced by what stdin reads
// from in (a later "-" names the same stdin, already read, and adds nothing).
func readArgs(args []string, in io.Reader, stdin func(io.Reader) ([]string, error)) ([]string, error) {
	var out []string
	stdinRead := false
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		if stdinRead {
			continue
		}
		stdinRead = true
		more, err := stdin(in)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Run is what the RunE of a command made by NewCmdX(f, runF) ends with, once it has
// filled opts from the arguments and the global flags: runF when it is not nil (a
// test's), else the command's own run function.
func Run[O any](cmd *cobra.Command, opts *O, runF, run func(context.Context, *O) error) error {
	if runF != nil {
		return runF(cmd.Context(), opts)
	}
	return run(cmd.Context(), opts)
}
