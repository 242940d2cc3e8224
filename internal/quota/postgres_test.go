package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/vt"
)

// pgReplicas opens n stores on one fresh PostgreSQL database: n replicas of the service,
// each with its own connection pool.
func pgReplicas(t *testing.T, n int) (string, []store.Store) {
	t.Helper()
	dsn := pgtest.DSN(t)
	var out []store.Store
	for i := 0; i < n; i++ {
		s, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return dsn, out
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
func TestPostgresReplicasShareOneBudget(t *testing.T) {
	dsn, stores := pgReplicas(t, 3)
	const R, win = 4, 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*win)
	defer cancel()
	var granted atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stores {
		l := New(s, "shared", Spec{PerMinute: R}, Config{Minute: win})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if err := l.Wait(ctx, vt.Request{Priority: vt.PriorityEnrichment}); err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Error(err)
						}
						return
					}
					granted.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	times := pgLedgerTimes(t, dsn, "shared")
	if len(times) != int(granted.Load()) {
		t.Fatalf("%d grants but %d ledger units", granted.Load(), len(times))
	}
	if m := maxInWindow(times, win); m > R {
		t.Fatalf("%d units within one %v window across replicas, budget %d", m, win, R)
	}
	if g := granted.Load(); g < 4*R {
		t.Fatalf("only %d units granted across replicas in 5 windows of %d", g, R)
	}
	t.Logf("3 replicas, %d units granted in %v with %d per %v", granted.Load(), 5*win, R, win)
}

// TestPostgresPriorityAcrossReplicas: an interactive request on one replica goes before
// the background work another replica was already waiting with.
func TestPostgresPriorityAcrossReplicas(t *testing.T) {
	_, stores := pgReplicas(t, 2)
	const win = 200 * time.Millisecond
	hi := New(stores[0], "b", Spec{PerMinute: 1}, Config{Minute: win})
	lo := New(stores[1], "b", Spec{PerMinute: 1}, Config{Minute: win})
	fill(t, lo, 1)
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	run := func(l *Limiter, name string, p vt.Priority) {
		defer wg.Done()
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
	wg.Add(2)
	go run(lo, "lo", vt.PriorityBackground)
	time.Sleep(30 * time.Millisecond) // the background replica waits first
	go run(hi, "hi", vt.PriorityInteractive)
	wg.Wait()
	if got, want := fmt.Sprint(order), "[hi hi lo lo]"; got != want {
		t.Fatalf("grant order %s, want %s", got, want)
	}
}
