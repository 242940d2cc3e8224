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
	"github.com/vtsoar/vtsoar/internal/cli/storecli"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewCmd returns the cache command group.
func NewCmd(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cache <command>",
		Short: "Show or clear the cache of VirusTotal answers",
		Long: `Commands keep VirusTotal's answers in the database, per server, under the object's id
and every alias (md5, sha1 and sha256 of a file; a URL's ids), and reuse them while
they are younger than --max-age (--fresh asks again). Not-found answers are kept for
a short while; errors never.`,
	}
	cmd.AddCommand(newStats(f, e), newClear(f, e))
	return cmd
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

// server is the server of the invocation: --server-url, the connection's, VT_SERVER_URL
// or VirusTotal's.
func server(ctx context.Context, f *cmdutil.Factory, e *storecli.Env, st store.Store) (string, error) {
	if e.Connection != "" {
		c, err := st.GetConnection(ctx, e.Connection)
		if err != nil {
			return "", cmdutil.Usagef("connection %q: %v", e.Connection, err)
		}
		if f.Options.ServerURL == "" {
			return c.ServerURL, nil
		}
	}
	return f.Resolved(f.Options.ServerURL, "VT_SERVER_URL", ""), nil
}

func newStats(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	return &cobra.Command{
		Use:   "stats",
		Short: "Show entries, size, hits and misses per server",
		Long: `Show the cache of every server that has cached answers, or of one server when
--server-url or --connection is given. Hits and misses are counted by every process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := e.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var servers []string
			if e.Connection != "" || f.Options.ServerURL != "" {
				s, err := server(ctx, f, e, st)
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
			return storecli.Print(f, views, []string{"SERVER", "ENTRIES", "NOT_FOUND", "ALIASES", "BYTES", "HITS", "MISSES", "OLDEST", "NEWEST"}, rows)
		},
	}
}

func newClear(f *cmdutil.Factory, e *storecli.Env) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:   "clear",
		Short: "Remove the cached answers of a server (or of all with --all)",
		Long: `Remove the cached answers of the server of --server-url or --connection (VirusTotal's
by default), or of every server with --all, and reset their hit and miss counts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := e.OpenStore(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			var servers []string
			if all {
				if servers, err = st.CacheServers(ctx); err != nil {
					return err
				}
			} else {
				s, err := server(ctx, f, e, st)
				if err != nil {
					return err
				}
				servers = []string{s}
			}
			for _, s := range servers {
				c := st.Cache(s)
				n, err := c.Clear(ctx)
				if err != nil {
					return err
				}
				fmt.Fprintf(f.IOStreams.ErrOut, "Removed %d cached answers of %s.\n", n, store.NormalizeServerURL(s))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "clear the caches of every server")
	return cmd
}
