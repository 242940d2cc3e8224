// Package demo implements `vtsoar demo`: the VirusTotal emulator, the REST API and the
// background service in one process, with a seeded connection and admin, for trying
// vtsoar with nothing else installed.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/auth"
	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/serve"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/server"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vtsim"
)

// Names of what the demo seeds.
const (
	AdminName      = "demo-admin"
	EmulatorConn   = "emulator"
	VirusTotalConn = "virustotal"
	// emulatorKey is the API key of the emulator connection (the emulator takes any).
	emulatorKey = "demo-key"
)

// DefaultDBPath is the demo's own database, beside the default one, so that the demo
// never touches real connections: $XDG_DATA_HOME/vtsoar/demo/demo.db.
func DefaultDBPath() (string, error) {
	p, err := store.DefaultPath()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(p), "demo", "demo.db"), nil
}

// Options are what demo runs with.
type Options struct {
	serve.Deps
	// DB is --db: the database, when not the demo's own (DefaultDBPath).
	DB string
	// APIKey is VT_API_KEY: with it the demo runs on VirusTotal itself.
	APIKey string
	// Flags are the service's flags; EmulatorAddr and AnalysisTime the emulator's.
	Flags        serve.Flags
	EmulatorAddr string
	AnalysisTime time.Duration
	// Self is how the banner's commands run this program (cmdutil.SelfCommand).
	Self string
}

// NewCmdDemo returns the demo command; runF, when not nil, runs in place of the demo
// (tests).
func NewCmdDemo(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{Deps: serve.NewDeps(f)}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the emulator, the service and the console in one process",
		Long: `Run, in one process, an offline VirusTotal emulator on a loopback port, the REST API
and the background enrichment on --addr, with a connection "emulator" pointing at the
emulator (or "virustotal" at VirusTotal itself when VT_API_KEY is set) and an admin
"demo-admin" whose new token is printed at each start. The demo keeps its own
database ($XDG_DATA_HOME/vtsoar/demo/demo.db unless --db is given), apart from the
default one.`,
		Example: `  go run ./cmd/vtsoar demo
  curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
      -d '{"inputs":["44d88612fea8a8f36de82e1278abb02f"]}' http://127.0.0.1:8080/api/v1/commands/check-file-reputation`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.FillGlobal(f)
			opts.DB, opts.APIKey, opts.Self = f.Options.DB, f.Env("VT_API_KEY"), cmdutil.SelfCommand()
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	opts.Flags.AddFlags(cmd)
	// The demo's terminal shows what a newcomer needs; the log only warnings, unless
	// -v or --log-level asks for more.
	if fl := cmd.Flags().Lookup("log-level"); fl != nil {
		fl.DefValue = "warn"
		fl.Value.Set("warn")
	}
	cmd.Flags().StringVar(&opts.EmulatorAddr, "emulator-addr", "127.0.0.1:0", "address of the emulator (port 0 picks a free port)")
	cmd.Flags().DurationVar(&opts.AnalysisTime, "analysis-time", 3*time.Second, "time an emulated analysis takes")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.APIKey != "" {
		if err := store.CheckAPIKey(opts.APIKey); err != nil {
			return cmdutil.Usagef("VT_API_KEY: %v", err)
		}
	}
	db := opts.DB
	if db == "" {
		p, err := DefaultDBPath()
		if err != nil {
			return &cmdutil.UsageError{Err: err}
		}
		db = p
	}
	deps := opts.Deps
	deps.DBPath = func() (string, error) { return db, nil }
	flags := opts.Flags
	op, err := deps.Open(ctx, &flags)
	if err != nil {
		return err
	}
	defer op.Close()

	// The emulator, unless the demo runs on VirusTotal itself.
	var simURL string
	if opts.APIKey == "" {
		sim, err := vtsim.New(vtsim.Options{AnalysisTime: opts.AnalysisTime, Seed: uint64(time.Now().UnixNano())})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", opts.EmulatorAddr)
		if err != nil {
			return fmt.Errorf("demo: emulator: %w", err)
		}
		hs := server.HTTPServer(opts.EmulatorAddr, sim, op.Log)
		go hs.Serve(ln)
		defer hs.Close()
		simURL = "http://" + ln.Addr().String()
	}
	connName, err := seedConnection(ctx, op.Store, op.Cipher, simURL, opts.APIKey)
	if err != nil {
		return err
	}
	token, err := seedAdmin(ctx, op.Store)
	if err != nil {
		return err
	}
	env := serve.Env{Store: op.Store, Cipher: op.Cipher, Log: op.Log, Out: opts.IO.ErrOut, UserAgent: "vtsoar-demo/" + opts.Version}
	return serve.Run(ctx, env, flags, func(base string) {
		printBanner(opts.IO.Out, base, token, connName, simURL, db, flags.LogLevel, opts.Self)
	})
}

// printBanner prints where the demo is and what to try; its commands run as printed
// from the shell that started the demo, self being how to run vtsoar.
func printBanner(w io.Writer, base, token, conn, simURL, db, logLevel, self string) {
	target := "the emulator at " + simURL
	cli := fmt.Sprintf("VT_SERVER_URL=%s VT_API_KEY=%s VTSOAR_QUOTA=premium %s", simURL, emulatorKey, self)
	if simURL == "" {
		target = "VirusTotal (VT_API_KEY)"
		cli = self
	}
	logs := "warnings only (-v or --log-level info|debug for more)"
	if logLevel != "warn" {
		logs = logLevel + " and above"
	}
	fmt.Fprintf(w, `vtsoar demo is running.

  Console:     %s/
  Admin token: %s
  API:         %s/api/v1   (OpenAPI: %s/api/v1/openapi.json)
  Connection:  %q -> %s
  Database:    %s
  Log:         %s, on stderr

Try:
  1. Open the console, sign in with the token, and paste an incident on the Lookup
     page (an e-mail, a report, a log: defanged indicators are fine); download the
     verdicts as STIX 2.1 or a MISP event.
  2. From a shell:
       export TOKEN=%s
       curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
         -d '{"extract": true, "inputs": ["beacon to 45.61.136[.]22 from 10.0.0.5, dropped 44d88612fea8a8f36de82e1278abb02f"]}' \
         %s/api/v1/commands/lookup
       curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
         -d '{"inputs": ["44d88612fea8a8f36de82e1278abb02f"]}' '%s/api/v1/commands/lookup?format=stix'
       curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
         -d '{"artifacts": [{"type": "domain", "value": "example.com"}, {"type": "ip", "value": "8.8.8.8"}]}' %s/api/v1/events
  3. The CLI on the same VirusTotal:
       %s lookup 8.8.8.8 'hxxps://evil-login[.]net/index.php' -o table

Ctrl-C stops.
`, base, token, base, base, conn, target, db, logs, token, base, base, base, cli)
}

// seedConnection makes (or updates, the emulator's port changing between runs) the
// demo's connection and returns its name.
func seedConnection(ctx context.Context, st store.Store, cipher *secret.Cipher, simURL, realKey string) (string, error) {
	c := store.Connection{Name: EmulatorConn, ServerURL: simURL, Quota: quota.Premium.String(),
		ReputationChecks: ioc.Kinds(), HealthCheckMinutes: 5}
	key := emulatorKey
	if simURL == "" {
		c.Name, c.Quota, key = VirusTotalConn, quota.Public.String(), realKey
	}
	sealed, err := connclient.SealKey(cipher, c.Name, key)
	if err != nil {
		return "", err
	}
	c.SealedAPIKey = sealed
	err = st.CreateConnection(ctx, c)
	if errors.Is(err, store.ErrExists) {
		err = st.UpdateConnection(ctx, c)
	}
	return c.Name, err
}

// seedAdmin makes the demo's admin, or gives it a new token, and returns the token.
func seedAdmin(ctx context.Context, st store.Store) (string, error) {
	tok, err := auth.CreateUser(ctx, st, AdminName, store.RoleAdmin, nil)
	if errors.Is(err, store.ErrExists) {
		return auth.ReissueToken(ctx, st, AdminName)
	}
	return tok, err
}
