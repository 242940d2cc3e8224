package scaletest

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// SampleWaits samples, every 5 ms until the returned function is called, the
// PostgreSQL sessions of the replicas (application_name vtsoar) on dsn's database, and
// then prints to w how many sessions were, on average, in each state: running, waiting
// for a lock (by the statement that waits), idle in a transaction.
func SampleWaits(ctx context.Context, dsn string, w io.Writer) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	counts := map[string]int{}
	samples := 0
	go func() {
		defer close(done)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			fmt.Fprintln(os.Stderr, "waits:", err)
			return
		}
		defer conn.Close(context.Background())
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, `SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''), left(regexp_replace(query, '\s+', ' ', 'g'), 70)
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'vtsoar' AND state <> 'idle'`)
			if err != nil {
				return
			}
			samples++
			for rows.Next() {
				var state, wtype, wevent, query string
				if rows.Scan(&state, &wtype, &wevent, &query) != nil {
					continue
				}
				key := state
				switch {
				case wtype == "Lock":
					key = "waiting for " + wtype + ":" + wevent + ": " + query
				case wtype == "Client" && state == "active":
					key = "active, client wait: " + query
				case state == "active":
					key = "active " + wtype + ":" + wevent + ": " + query
				}
				counts[key]++
			}
			rows.Close()
		}
	}()
	return func() {
		cancel()
		<-done
		type kv struct {
			k string
			v int
		}
		var all []kv
		for k, v := range counts {
			all = append(all, kv{k, v})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
		fmt.Fprintf(w, "sessions per sample over %d samples (busy ones only):\n", samples)
		for _, e := range all[:min(len(all), 15)] {
			fmt.Fprintf(w, "  %6.2f  %s\n", float64(e.v)/float64(max(samples, 1)), e.k)
		}
	}
}
