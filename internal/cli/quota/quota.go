// Package quota implements `vtsoar quota`: the units used and left in each window of
// a budget, as every process on the key has spent them.
package quota

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/store"
)

// WindowView is one window of a budget as shown.
type WindowView struct {
	Window string `json:"window"`
	// Limit is 0 for a window without a limit, and Left is then -1.
	Limit  int        `json:"limit"`
	Used   int        `json:"used"`
	Left   int        `json:"left"`
	Resets *time.Time `json:"resets,omitempty"`
}

// View is a budget as shown.
type View struct {
	Connection string       `json:"connection,omitempty"`
	ServerURL  string       `json:"server_url"`
	Quota      string       `json:"quota"`
	Windows    []WindowView `json:"windows"`
	HeldUntil  *time.Time   `json:"held_until,omitempty"`
	// Requesters are who spent the budget this month (gateway keys, REST users, the
	// enrichment, health checks, the CLI), by name.
	Requesters []quota.RequesterUsage `json:"requesters"`
	// Waiting are who wait for a request of the budget now, and since when, in every
	// process on the database (a CLI run, a REST user's command or run, the
	// enrichment...), most urgent first.
	Waiting []quota.Waiting `json:"waiting"`
}

// Options are what the quota command runs with.
type Options struct {
	IO          *iostreams.IOStreams
	OpenStore   func(context.Context) (store.Store, error)
	Resolve     func(ctx context.Context, st store.Store, connection string) (connclient.Target, error)
	QuotaConfig func() (quota.Config, error)
	// Output is the output format (-o, or its default).
	Output string
	// Connection is --connection; KeyGiven reports --api-key or VT_API_KEY. Without
	// either every stored connection is shown.
	Connection string
	KeyGiven   bool
	// ByRequester is --by-requester: the table and CSV list the requesters.
	ByRequester bool
}

// NewCmdQuota returns the quota command; runF, when not nil, runs in place of showing
// the budgets (tests).
func NewCmdQuota(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, OpenStore: f.OpenStore, Resolve: f.Resolve, QuotaConfig: f.QuotaConfig}
	cmd := &cobra.Command{
		Use:   "quota",
		Short: "Show the request budget used and left per window, and who spent it",
		Long: `Show, for the connection (--connection NAME, or the key of --api-key / VT_API_KEY), or
for every stored connection when neither is given, the requests spent and left in the
sliding minute, the UTC day and the UTC month, as recorded by every vtsoar process
sharing the database. A budget held after a 429 answer shows until when, and who
waits for a request of it now (WAITING), since when.

Each request is recorded with its requester: a gateway key (gateway:NAME), a user of
the REST API or the console (user:NAME), the enrichment, a scheduled health check
(health-check) or the CLI (cli). JSON and YAML list them under "requesters" with what
each spent in each window, and those waiting under "waiting"; --by-requester lists
them in the table and CSV instead of the windows.`,
		Example: `  vtsoar quota --connection prod
  vtsoar quota --by-requester`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output, opts.Connection = f.OutputFormat(), f.Options.Connection
			opts.KeyGiven = f.Resolved(f.Options.APIKey, "VT_API_KEY", "") != ""
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().BoolVar(&opts.ByRequester, "by-requester", false, "list who spent each budget (table and CSV)")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var targets []connclient.Target
	if opts.Connection == "" && !opts.KeyGiven {
		conns, err := st.ListConnections(ctx)
		if err != nil {
			return err
		}
		if len(conns) == 0 {
			return cmdutil.Usagef("no stored connection and no API key: give --connection NAME or --api-key")
		}
		for _, c := range conns {
			t, err := opts.Resolve(ctx, st, c.Name)
			if err != nil {
				return err
			}
			targets = append(targets, t)
		}
	} else {
		t, err := opts.Resolve(ctx, st, opts.Connection)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	cfg, err := opts.QuotaConfig()
	if err != nil {
		return err
	}
	views := []View{}
	var rows, byRequester [][]string
	for _, t := range targets {
		u, err := quota.New(st, t.Budget(), t.Spec, cfg).Usage(ctx)
		if err != nil {
			return err
		}
		v := View{Connection: t.Name, ServerURL: store.NormalizeServerURL(t.ServerURL), Quota: t.Spec.String(),
			Requesters: []quota.RequesterUsage{}, Waiting: []quota.Waiting{}}
		waitingSince := map[string]time.Time{}
		var waiting []string
		for _, w := range u.Waiting {
			v.Waiting = append(v.Waiting, w)
			if _, ok := waitingSince[w.Requester]; !ok {
				waitingSince[w.Requester] = w.Since
			}
			waiting = append(waiting, fmt.Sprintf("%s since %s", storecli.OrDash(w.Requester), storecli.FormatTime(w.Since)))
		}
		listed := map[string]bool{}
		for _, r := range u.Requesters {
			v.Requesters = append(v.Requesters, r)
			listed[r.Requester] = true
			byRequester = append(byRequester, []string{storecli.OrDash(t.Name), v.ServerURL, storecli.OrDash(r.Requester),
				strconv.Itoa(r.Minute), strconv.Itoa(r.Day), strconv.Itoa(r.Month), formatSince(waitingSince, r.Requester)})
		}
		for _, w := range u.Waiting {
			if !listed[w.Requester] {
				listed[w.Requester] = true
				byRequester = append(byRequester, []string{storecli.OrDash(t.Name), v.ServerURL, storecli.OrDash(w.Requester),
					"0", "0", "0", formatSince(waitingSince, w.Requester)})
			}
		}
		if !u.HeldUntil.IsZero() {
			h := u.HeldUntil
			v.HeldUntil = &h
		}
		for _, w := range u.Windows {
			wv := WindowView{Window: w.Window, Limit: w.Limit, Used: w.Used, Left: w.Left}
			if !w.Resets.IsZero() {
				r := w.Resets
				wv.Resets = &r
			}
			v.Windows = append(v.Windows, wv)
			limit, left := "-", "-"
			if w.Limit > 0 {
				limit, left = strconv.Itoa(w.Limit), strconv.Itoa(w.Left)
			}
			held := "-"
			if v.HeldUntil != nil {
				held = storecli.FormatTime(*v.HeldUntil)
			}
			who := "-"
			if w.Window == "minute" && len(waiting) > 0 {
				who = strings.Join(waiting, "; ")
			}
			rows = append(rows, []string{storecli.OrDash(t.Name), v.ServerURL, w.Window, limit,
				strconv.Itoa(w.Used), left, storecli.FormatTime(w.Resets), held, who})
		}
		views = append(views, v)
	}
	if opts.ByRequester {
		return storecli.Print(opts.IO, opts.Output, views, []string{"CONNECTION", "SERVER", "REQUESTER", "MINUTE", "DAY", "MONTH", "WAITING_SINCE"}, byRequester)
	}
	return storecli.Print(opts.IO, opts.Output, views, []string{"CONNECTION", "SERVER", "WINDOW", "LIMIT", "USED", "LEFT", "RESETS", "HELD_UNTIL", "WAITING"}, rows)
}

// formatSince is when requester began to wait, or "-" when it does not wait.
func formatSince(since map[string]time.Time, requester string) string {
	t, ok := since[requester]
	if !ok {
		return "-"
	}
	return storecli.FormatTime(t)
}
