// Package cmdutil holds what every vtsoar CLI command shares: the Factory (streams,
// global options, and the hook through which a command gets its client and cache),
// exit codes and input reading.
package cmdutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/vt"
)

// Output formats of -o/--output.
var OutputFormats = []string{"json", "jsonl", "yaml", "table", "csv", "stix", "misp"}

// GlobalOptions are the flags every command takes.
type GlobalOptions struct {
	APIKey      string
	ServerURL   string
	APIVersion  string
	Output      string
	Concurrency int
	MaxAge      time.Duration
	Fresh       bool
	Retries     int
	Verbose     bool
}

// Factory is shared by the commands of one invocation.
type Factory struct {
	IOStreams *iostreams.IOStreams
	// Getenv reads the environment (os.Getenv by default; tests replace it).
	Getenv func(string) string
	// Options are the global flags, filled in by cobra.
	Options GlobalOptions
	// Version is the binary's version.
	Version string

	// BuildDeps builds what Executor returns: the hook through which stored
	// connections, the persistent store (cache) and the quota ledger are wired in
	// (storecli.Wire sets it).
	BuildDeps func(ctx context.Context, f *Factory) (command.Deps, func(), error)
}

// New returns a factory on the given streams and the process environment.
func New(io *iostreams.IOStreams, version string) *Factory {
	return &Factory{IOStreams: io, Getenv: os.Getenv, Version: version}
}

// AddGlobalFlags registers the global flags on fs (the root's persistent flags).
func (f *Factory) AddGlobalFlags(fs *pflag.FlagSet) {
	o := &f.Options
	fs.StringVar(&o.APIKey, "api-key", "", "VirusTotal API key (env VT_API_KEY)")
	fs.StringVar(&o.ServerURL, "server-url", "", "VirusTotal server (env VT_SERVER_URL; default "+vt.DefaultServerURL+")")
	fs.StringVar(&o.APIVersion, "api-version", "", "VirusTotal API version, only v3 (env VT_API_VERSION)")
	fs.StringVarP(&o.Output, "output", "o", "", "output format: json, jsonl, yaml, table, csv, or stix (a STIX 2.1 bundle) or misp (a MISP event) for reputation results (default table on a terminal, json otherwise)")
	fs.IntVar(&o.Concurrency, "concurrency", command.DefaultConcurrency, "inputs in flight at once")
	fs.DurationVar(&o.MaxAge, "max-age", command.DefaultMaxAge, "use cached answers younger than this")
	fs.BoolVar(&o.Fresh, "fresh", false, "ask VirusTotal even when a cached answer is fresh")
	fs.IntVar(&o.Retries, "retries", vt.DefaultRetryPolicy.MaxAttempts-1, "retries of a request answered 429, 503, 504 or not at all")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "log requests and decisions on stderr (never the API key)")
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
	if f.Options.Concurrency < 1 {
		return Usagef("--concurrency must be at least 1, got %d", f.Options.Concurrency)
	}
	if f.Options.MaxAge < 0 {
		return Usagef("--max-age must not be negative")
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

// Executor returns what a command run needs (client, cache, policy) and a function
// that releases it, through BuildDeps.
func (f *Factory) Executor(ctx context.Context) (command.Deps, func(), error) {
	if f.BuildDeps == nil {
		return command.Deps{}, nil, errors.New("cmdutil: no BuildDeps: the command tree was not wired to the store")
	}
	return f.BuildDeps(ctx, f)
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
	return max(f.Options.Concurrency, 1) + 2
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
