package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/vt"
)

// pgReplicasOn opens n stores on the PostgreSQL database dsn: n replicas of the
// service, each with its own connection pool.
func pgReplicasOn(t *testing.T, dsn string, n int) []store.Store {
	t.Helper()
	var out []store.Store
	for i := 0; i < n; i++ {
		s, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}

// pgLedgerTimes reads the units of budget straight from the database.
func pgLedgerTimes(t *testing.T, dsn, budget string) []time.Time {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT at FROM quota_ledger WHERE budget = $1 ORDER BY at`, budget)
	if err != nil {
		t.Fatal(err)
	}
	us, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	out := make([]time.Time, len(us))
	for i, v := range us {
		out[i] = time.UnixMicro(v)
	}
	return out
}

// TestPostgresReplicasShareOneBudget floods one budget of R a window from three
// replicas on one PostgreSQL, four goroutines each: no window ever holds more than R
// units, every grant is one ledger unit, and the budget is used.
//
// It runs in a synctest bubble: five minutes of fake time, in which the limiters sleep
// while PostgreSQL answers in real time.
func TestPostgresReplicasShareOneBudget(t *testing.T) {
	dsn := pgtest.DSN(t)
	synctest.Test(t, func(t *testing.T) {
		stores := pgReplicasOn(t, dsn, 3)
		const R = 4
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var granted atomic.Int64
		var wg sync.WaitGroup
		for _, s := range stores {
			l := New(s, "shared", Spec{PerMinute: R}, Config{})
			for g := 0; g < 4; g++ {
				wg.Go(func() {
					for {
						if err := l.Wait(ctx, vt.Request{Priority: vt.PriorityEnrichment}); err != nil {
							if !errors.Is(err, context.DeadlineExceeded) {
								t.Error(err)
							}
							return
						}
						granted.Add(1)
					}
				})
			}
		}
		wg.Wait()
		times := pgLedgerTimes(t, dsn, "shared")
		if len(times) != int(granted.Load()) {
			t.Fatalf("%d grants but %d ledger units", granted.Load(), len(times))
		}
		if m := maxInWindow(times, time.Minute+time.Second); m > R {
			t.Fatalf("%d units within one minute and its margin across replicas, budget %d", m, R)
		}
		// Five minutes of 61 s: five bursts of R.
		if g := granted.Load(); g != 5*R {
			t.Fatalf("%d units granted across replicas in 5 minutes of %d", g, R)
		}
	})
}

// TestPostgresPriorityAcrossReplicas: an interactive request on one replica goes before
// the background work another replica was already waiting with.
func TestPostgresPriorityAcrossReplicas(t *testing.T) {
	dsn := pgtest.DSN(t)
	synctest.Test(t, func(t *testing.T) {
		stores := pgReplicasOn(t, dsn, 2)
		hi := New(stores[0], "b", Spec{PerMinute: 1}, Config{})
		lo := New(stores[1], "b", Spec{PerMinute: 1}, Config{})
		fill(t, lo, 1)
		var mu sync.Mutex
		var order []string
		var wg sync.WaitGroup
		run := func(l *Limiter, name string, p vt.Priority) {
			for i := 0; i < 2; i++ {
				if err := l.Wait(context.Background(), vt.Request{Priority: p}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, name)
				mu.Unlock()
			}
		}
		wg.Go(func() { run(lo, "lo", vt.PriorityBackground) })
		synctest.Wait() // the background replica waits first (its registration is stored)
		wg.Go(func() { run(hi, "hi", vt.PriorityInteractive) })
		wg.Wait()
		if got, want := fmt.Sprint(order), "[hi hi lo lo]"; got != want {
			t.Fatalf("grant order %s, want %s", got, want)
		}
	})
}
