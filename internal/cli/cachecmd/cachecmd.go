// Package cachecmd implements `vtsoar cache stats|clear`: the answers cached in the
// database, per VirusTotal server.
package cachecmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/vtsoar/vtsoar/internal/cli/cmdutil"
	"github.com/vtsoar/vtsoar/internal/cli/iostreams"
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewCmdCache returns the cache command group.
func NewCmdCache(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache <command>",
		Short: "Show or clear the cache of VirusTotal answers",
		Long: `Commands keep VirusTotal's answers in the database, per server, under the object's id
and every alias (md5, sha1 and sha256 of a file; a URL's ids), and reuse them while
they are younger than --max-age (--fresh asks again). Not-found answers are kept for
a short while; errors never.`,
	}
	cmd.AddCommand(NewCmdStats(f, nil), NewCmdClear(f, nil))
	return cmd
}

// Scope is which server's cache a cache command is about: that of --server-url, else
// of --connection, else of VT_SERVER_URL, else VirusTotal's.
type Scope struct {
	// Connection is --connection; ServerURL is --server-url; EnvServerURL is
	// VT_SERVER_URL.
	Connection, ServerURL, EnvServerURL string
}

func scopeOf(f *cmdutil.Factory) Scope {
	return Scope{Connection: f.Options.Connection, ServerURL: f.Options.ServerURL, EnvServerURL: f.Env("VT_SERVER_URL")}
}

// StatsView is one server's cache as shown.
type StatsView struct {
	Server   string     `json:"server_url"`
	Entries  int        `json:"entries"`
	NotFound int        `json:"not_found"`
	Aliases  int        `json:"aliases"`
	Bytes    int64      `json:"bytes"`
	Hits     int64      `json:"hits"`
	Misses   int64      `json:"misses"`
	Oldest   *time.Time `json:"oldest,omitempty"`
	Newest   *time.Time `json:"newest,omitempty"`
}

// server is the server of the scope: --server-url, the connection's, VT_SERVER_URL or
// VirusTotal's (empty).
func (sc Scope) server(ctx context.Context, st store.Store) (string, error) {
	if sc.Connection != "" {
		c, err := st.GetConnection(ctx, sc.Connection)
		if err != nil {
			return "", cmdutil.Usagef("connection %q: %v", sc.Connection, err)
		}
		if sc.ServerURL == "" {
			return c.ServerURL, nil
		}
	}
	if sc.ServerURL != "" {
		return sc.ServerURL, nil
	}
	return sc.EnvServerURL, nil
}

// StatsOptions are what `cache stats` runs with.
type StatsOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	// Output is the output format (-o, or its default).
	Output string
	Scope  Scope
}

// NewCmdStats returns `cache stats`; runF, when not nil, runs in place of showing the
// statistics (tests).
func NewCmdStats(f *cmdutil.Factory, runF func(context.Context, *StatsOptions) error) *cobra.Command {
	opts := &StatsOptions{IO: f.IOStreams, OpenStore: f.OpenStore}
	return &cobra.Command{
		Use:   "stats",
		Short: "Show entries, size, hits and misses per server",
		Long: `Show the cache of every server that has cached answers, or of one server when
--server-url or --connection is given. Hits and misses are counted by every process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Output, opts.Scope = f.OutputFormat(), scopeOf(f)
			return cmdutil.Run(cmd, opts, runF, statsRun)
		},
	}
}

func statsRun(ctx context.Context, opts *StatsOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var servers []string
	if opts.Scope.Connection != "" || opts.Scope.ServerURL != "" {
		s, err := opts.Scope.server(ctx, st)
		if err != nil {
			return err
		}
		servers = []string{s}
	} else if servers, err = st.CacheServers(ctx); err != nil {
		return err
	}
	views := []StatsView{}
	var rows [][]string
	for _, s := range servers {
		cs, err := st.Cache(s).Stats(ctx)
		if err != nil {
			return err
		}
		v := StatsView{Server: cs.Server, Entries: cs.Entries, NotFound: cs.NotFound, Aliases: cs.Aliases,
			Bytes: cs.Bytes, Hits: cs.Hits, Misses: cs.Misses}
		if !cs.Oldest.IsZero() {
			v.Oldest, v.Newest = &cs.Oldest, &cs.Newest
		}
		views = append(views, v)
		rows = append(rows, []string{v.Server, strconv.Itoa(v.Entries), strconv.Itoa(v.NotFound),
			strconv.Itoa(v.Aliases), strconv.FormatInt(v.Bytes, 10), strconv.FormatInt(v.Hits, 10),
			strconv.FormatInt(v.Misses, 10), storecli.FormatTime(cs.Oldest), storecli.FormatTime(cs.Newest)})
	}
	return storecli.Print(opts.IO, opts.Output, views, []string{"SERVER", "ENTRIES", "NOT_FOUND", "ALIASES", "BYTES", "HITS", "MISSES", "OLDEST", "NEWEST"}, rows)
}

// ClearOptions are what `cache clear` runs with.
type ClearOptions struct {
	IO        *iostreams.IOStreams
	OpenStore func(context.Context) (store.Store, error)
	Scope     Scope

	// All is --all: every server's cache.
	All bool
}

// NewCmdClear returns `cache clear`; runF, when not nil, runs in place of clearing
// (tests).
func NewCmdClear(f *cmdutil.Factory, runF func(context.Context, *ClearOptions) error) *cobra.Command {
	opts := &ClearOptions{IO: f.IOStreams, OpenStore: f.OpenStore}
	cmd := &cobra.Command{
		Use:   "clear",
		Short: "Remove the cached answers of a server (or of all with --all)",
		Long: `Remove the cached answers of the server of --server-url or --connection (VirusTotal's
by default), or of every server with --all, and reset their hit and miss counts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Scope = scopeOf(f)
			return cmdutil.Run(cmd, opts, runF, clearRun)
		},
	}
	cmd.Flags().BoolVar(&opts.All, "all", false, "clear the caches of every server")
	return cmd
}

func clearRun(ctx context.Context, opts *ClearOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var servers []string
	if opts.All {
		if servers, err = st.CacheServers(ctx); err != nil {
			return err
		}
	} else {
		s, err := opts.Scope.server(ctx, st)
		if err != nil {
			return err
		}
		servers = []string{s}
	}
	for _, s := range servers {
		n, err := st.Cache(s).Clear(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.ErrOut, "Removed %d cached answers of %s.\n", n, store.NormalizeServerURL(s))
	}
	return nil
}
