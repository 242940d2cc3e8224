package quota

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/internal/store/storetest"
)

// backend is a database the limiter's tests run on: every test that needs a store
// runs on each (onEachBackend), so that a budget behaves the same on SQLite, shared by
// the processes of one machine, and on PostgreSQL, shared by replicas.
type backend struct {
	name string
	// newDB makes an empty database of t's own and returns what opens it (store.Open):
	// a SQLite file's path or a PostgreSQL URL. On PostgreSQL without
	// VTSOAR_TEST_POSTGRES it skips t (under CI=true it fails it: see pgtest).
	newDB func(t testing.TB) string
}

var (
	sqliteBackend = backend{"SQLite", func(t testing.TB) string {
		return filepath.Join(t.TempDir(), "vtsoar.db")
	}}
	postgresBackend = backend{"PostgreSQL", func(t testing.TB) string { return pgtest.DSN(t) }}
	backends        = []backend{sqliteBackend, postgresBackend}
)

// onEachBackend runs test as a subtest on each backend.
func onEachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Helper()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { test(t, b) })
	}
}

// inBubbleOnEachBackend runs test on each backend in a synctest bubble, with a new
// database (made outside the bubble) and a first handle on it (opened inside).
func inBubbleOnEachBackend(t *testing.T, test func(t *testing.T, dsn string, s store.Store)) {
	t.Helper()
	onEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDB(t)
		synctest.Test(t, func(t *testing.T) { test(t, dsn, openStore(t, dsn)) })
	})
}

// openStore opens a handle on the database of dsn (a process, or a replica, of its
// own), closed when the test ends.
func openStore(t testing.TB, dsn string) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore makes an empty database on b (outside any synctest bubble: PostgreSQL's is
// made and dropped by a connection of the test's own) and opens one handle on it.
func (b backend) newStore(t testing.TB) (string, store.Store) {
	t.Helper()
	dsn := b.newDB(t)
	return dsn, openStore(t, dsn)
}

// ledgerTimes reads the units of budget straight from the database of dsn.
func ledgerTimes(t testing.TB, dsn, budget string) []time.Time {
	t.Helper()
	return storetest.LedgerTimes(t, dsn, budget)
}

// maxInWindow returns the largest number of units within any interval shorter than w.
func maxInWindow(times []time.Time, w time.Duration) int {
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}
