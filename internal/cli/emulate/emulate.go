// Package emulate implements `vtsoar emulate`: the VirusTotal v3 emulator (package
// vtsim) served over HTTP until SIGINT or SIGTERM.
package emulate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/testknobs"
	"github.com/vtsoar/vtsoar/vtsim"
)

// shutdownGrace is how long in-flight requests get to finish on SIGINT/SIGTERM.
const shutdownGrace = 5 * time.Second

// Options are what emulate runs with.
type Options struct {
	IO *iostreams.IOStreams

	// Addr is --addr; FailMix is --fail-mix as given; Sim are the emulator's options
	// from the other flags (FailMix and FailRate folded into Sim.FailMix by RunE).
	Addr    string
	FailMix string
	Sim     vtsim.Options
}

// NewCmdEmulate returns the emulate command; runF, when not nil, runs in place of
// serving the emulator (tests).
func NewCmdEmulate(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	sim := &opts.Sim
	cmd := &cobra.Command{
		Use:   "emulate",
		Short: "Serve an offline VirusTotal v3 emulator",
		Long: `Serve an offline emulator of the VirusTotal API v3 (files, URLs, domains, IP
addresses, relationships, analyses, uploads, search, widgets, users) so that playbooks
and tests run without VirusTotal and without spending quota.

Any well-formed id exists unless the first hex digit of SHA-256 of its canonical form
is 0, it is an all-zero hash, or it is under .invalid; verdicts are drawn from the
same digest and the EICAR test file is High. Any API key works except "bad-key";
keys listed in --premium-keys may use premium-only relationships and searches.

--fail-mix answers a share of the requests with each failure as VirusTotal or a
proxy in front of it sends it: 503 TransientError, 504 DeadlineExceededError, 429
TooManyRequestsError and 404 NotFoundError as VirusTotal's JSON errors, 502html and
403html as a proxy's HTML "502 Bad Gateway" and "403 Forbidden" pages. A failure
spends no quota.

GET /_emulator/stats counts the requests (by endpoint, status, user and injected
failure); POST /_emulator/reset clears the counters and quotas (?all=true also forgets
uploads, scans, comments and votes).`,
		Example: `  vtsoar emulate --quota-minute 4 --quota-day 500 --analysis-time 5s
  vtsoar emulate --fail-mix 503=0.1,504=0.05,429=0.05,502html=0.05
  vtsoar check-file-reputation --server-url http://127.0.0.1:8089 44d88612fea8a8f36de82e1278abb02f`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if sim.FailRate < 0 || sim.FailRate > 1 {
				return fmt.Errorf("--fail-rate must be between 0 and 1, got %v", sim.FailRate)
			}
			mix, err := vtsim.ParseFailMix(opts.FailMix)
			if err != nil {
				return fmt.Errorf("--fail-mix: %w", err)
			}
			if _, ok := mix[vtsim.Fault503]; ok && cmd.Flags().Changed("fail-rate") {
				return errors.New("--fail-rate is the 503 share of --fail-mix: give it in one of them, not both")
			}
			if sim.FailRate > 0 {
				mix[vtsim.Fault503] = sim.FailRate
			}
			if err := mix.Validate(); err != nil {
				return fmt.Errorf("--fail-rate and --fail-mix: %w", err)
			}
			sim.FailMix, sim.FailRate = mix, 0
			if sim.QuotaMinute < 0 || sim.QuotaDay < 0 || sim.Latency < 0 || sim.Jitter < 0 || sim.AnalysisTime < 0 {
				return errors.New("quotas and durations must not be negative")
			}
			sim.Seed = uint64(time.Now().UnixNano())
			k, err := testknobs.Load(os.Getenv) // none in a binary built without them
			if err != nil {
				return cmdutil.Usagef("%v", err)
			}
			k.Emulator(sim)
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", "127.0.0.1:8089", "address to listen on (port 0 picks a free port)")
	fl.DurationVar(&sim.Latency, "latency", 0, "delay added to every API request")
	fl.DurationVar(&sim.Jitter, "jitter", 0, "random extra delay, up to this much")
	fl.IntVar(&sim.QuotaMinute, "quota-minute", 0, "requests per API key per minute (0: unlimited)")
	fl.IntVar(&sim.QuotaDay, "quota-day", 0, "requests per API key per UTC day (0: unlimited)")
	fl.Float64Var(&sim.FailRate, "fail-rate", 0, "share of requests answered 503 TransientError, 0 to 1 (the 503 share of --fail-mix)")
	fl.StringVar(&opts.FailMix, "fail-mix", "", "shares of requests answered with each failure, e.g. 503=0.1,504=0.05,429=0.05,502html=0.05\n"+
		"(503 TransientError, 504 DeadlineExceededError, 429 TooManyRequestsError, 404 NotFoundError;\n"+
		"502html and 403html a proxy's HTML pages)")
	fl.DurationVar(&sim.AnalysisTime, "analysis-time", 3*time.Second, "time an analysis takes from queued to completed")
	fl.StringVar(&sim.DataDir, "data", "", "directory of JSON files with real VirusTotal objects to serve as they are")
	fl.StringSliceVar(&sim.PremiumKeys, "premium-keys", nil, "API keys with premium (VT Enterprise) privileges, comma separated")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	sim, err := vtsim.New(opts.Sim)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("emulate: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(opts.IO.Out, "vtsim listening on http://%s (API at /api/v3)\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("emulate: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("emulate: shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("emulate: %w", err)
	}
	return nil
}
