package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/ioc"
)

// logBuffer is a log destination safe for the store's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// core returns the SQL core of a store that Open returned.
func core(t *testing.T, st Store) *sqlStore {
	t.Helper()
	switch s := st.(type) {
	case *sqliteStore:
		return s.sqlStore
	case *postgresStore:
		return s.sqlStore
	}
	t.Fatalf("store %T", st)
	return nil
}

// A blocker makes the database refuse the writes of the stores opened on it until the
// function it returns is called (at the latest when the test ends).
type blocker func(t *testing.T) (unblock func())

// once makes unblock run once, when called or when the test ends.
func once(t *testing.T, unblock func()) func() {
	f := sync.OnceFunc(unblock)
	t.Cleanup(f)
	return f
}

// sqliteWriteLock holds SQLite's write lock from a connection of its own, so that the
// store's writes fail once their busy timeout passes (a busy database, which is not
// unavailability).
func sqliteWriteLock(path string) blocker {
	return func(t *testing.T) func() {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
			t.Fatal(err)
		}
		return once(t, func() {
			conn.ExecContext(context.Background(), `ROLLBACK`)
			conn.Close()
			db.Close()
		})
	}
}

// postgresDown makes the store's PostgreSQL database unavailable, as a restart does.
func postgresDown(dsn string) blocker {
	return func(t *testing.T) func() { return pgtest.Down(t, dsn) }
}

// TestBacklogKeepsFailedCachePuts makes the database refuse writes while a store
// puts answers in its cache: the puts succeed, their answers are kept in memory and
// found by this process (by any id, and as current), the oldest are dropped past the
// bounds (logged and counted), and once the database answers they are written, where
// another process finds them, except one of them that the other process had fetched
// again meanwhile. Close writes what is kept, or says what it could not write.
func TestBacklogKeepsFailedCachePuts(t *testing.T) { withWritesRefused(t, testBacklog) }

// withWritesRefused runs test in a synctest bubble on SQLite and on PostgreSQL, with
// the database to open, the blocker that makes it refuse writes, and whether it is
// then unavailable (PostgreSQL) rather than locked (SQLite).
func withWritesRefused(t *testing.T, test func(t *testing.T, dsn string, block blocker, unavailable bool)) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vtsoar.db")
		synctest.Test(t, func(t *testing.T) { test(t, path, sqliteWriteLock(path), false) })
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		synctest.Test(t, func(t *testing.T) { test(t, dsn, postgresDown(dsn), true) })
	})
}

// openLogged opens dsn with a short busy timeout, logging to logs, closed at cleanup.
func openLogged(t *testing.T, dsn string, logs *logBuffer) Store {
	t.Helper()
	st, err := Open(context.Background(), dsn, Options{BusyTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testBacklog(t *testing.T, dsn string, block blocker, unavailable bool) {
	ctx := context.Background()
	var logs logBuffer
	st, other := openLogged(t, dsn, &logs), openLogged(t, dsn, &logs)
	s := core(t, st)
	s.backlog.maxPuts, s.backlog.maxBytes = 3, 6000
	const server = "https://www.virustotal.com"
	c, oc := st.Cache(server), other.Cache(server)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	entry := func(n, size int, at time.Time) cache.Entry {
		sum := sha256.Sum256([]byte(fmt.Sprint(n)))
		id := hex.EncodeToString(sum[:])
		body := fmt.Sprintf(`{"data": {"id": %q, "n": %d, "at": %q, "pad": %q}}`, id, n, at, strings.Repeat("x", size))
		return cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{id[:32]}, Body: []byte(body), FetchedAt: at}
	}
	get := func(c Cache, e cache.Entry) (cache.Entry, bool) {
		t.Helper()
		got, ok, err := c.Get(ctx, e.Kind, e.Aliases[0], 0)
		if err != nil && !unavailable {
			t.Fatalf("get %s: %v", e.ID[:8], err)
		}
		return got, ok
	}
	put := func(c Cache, e cache.Entry) {
		t.Helper()
		if err := c.Put(ctx, e); err != nil {
			t.Fatalf("put %s: %v", e.ID[:8], err)
		}
	}
	backlog := func(answers int, dropped, written int64) {
		t.Helper()
		if b := st.CacheBacklog(); b.Answers != answers || b.Dropped != dropped || b.Written != written || b.Bytes > 6000 {
			t.Fatalf("backlog %+v, want %d answers, %d dropped, %d written, at most 6000 bytes", b, answers, dropped, written)
		}
	}

	unblock := block(t)
	e1 := entry(1, 1000, t0)
	put(c, e1)
	backlog(1, 0, 0)
	if got, ok := get(c, e1); !ok || !bytes.Equal(got.Body, e1.Body) || !got.FetchedAt.Equal(t0) {
		t.Fatalf("the kept answer is not found by its alias: %v %+v", ok, got)
	}
	if cur, err := c.Current(ctx, e1.Kind, e1.ID, t0); err != nil || !cur {
		t.Fatalf("Current of the kept answer: %v %v", cur, err)
	}
	if cur, _ := c.Current(ctx, e1.Kind, e1.ID, t0.Add(-time.Second)); cur {
		t.Fatal("an older fetch is current")
	}
	s.backlog.mu.Lock()
	why := s.backlog.lastErr
	s.backlog.mu.Unlock()
	if IsUnavailable(why) != unavailable {
		t.Errorf("IsUnavailable(%v) = %v", why, !unavailable)
	}
	if !strings.Contains(logs.String(), "cache write failed; the answer is kept in memory") {
		t.Errorf("no log line says the answer is kept:\n%s", logs.String())
	}

	// The bounds: 3 answers, then 6000 bytes; the oldest go first.
	e2, e3, e4 := entry(2, 1000, t0), entry(3, 1000, t0), entry(4, 1000, t0)
	put(c, e2)
	put(c, e3)
	put(c, e4)
	backlog(3, 1, 0)
	if _, ok := get(c, e1); ok {
		t.Error("the dropped answer is still found")
	}
	e5 := entry(5, 4000, t0)
	put(c, e5) // e2 goes for the count, e3 for the bytes
	backlog(2, 3, 0)
	if !strings.Contains(logs.String(), "cache answer dropped") {
		t.Errorf("no log line says an answer was dropped:\n%s", logs.String())
	}

	// The database answers again; meanwhile another process fetched e4 again.
	unblock()
	e4again := entry(4, 100, t0.Add(time.Second))
	put(oc, e4again)
	for range 20 {
		if st.CacheBacklog().Answers == 0 {
			break
		}
		time.Sleep(backlogRetryMax)
	}
	backlog(0, 3, 2)
	if got, ok := get(oc, e5); !ok || !bytes.Equal(got.Body, e5.Body) {
		t.Errorf("the other process does not find the written answer: %v", ok)
	}
	if got, ok := get(oc, e4); !ok || !bytes.Equal(got.Body, e4again.Body) {
		t.Errorf("the kept answer replaced a later one: %v %s", ok, got.Body)
	}
	if _, ok := get(oc, e1); ok {
		t.Error("the dropped answer was written")
	}
	if !strings.Contains(logs.String(), "cache answers kept in memory are written") {
		t.Errorf("no log line says the answers were written:\n%s", logs.String())
	}

	// Close writes what is kept.
	unblock = block(t)
	e6 := entry(6, 10, t0)
	put(c, e6)
	unblock()
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, ok := get(oc, e6); !ok {
		t.Error("close did not write the kept answer")
	}
	// ... or says what it could not write.
	last := openLogged(t, dsn, &logs)
	unblock = block(t)
	put(last.Cache(server), entry(7, 10, t0))
	err := last.Close()
	unblock()
	if err == nil || !strings.Contains(err.Error(), "1 cache answers kept in memory could not be written") {
		t.Errorf("close with the database refusing: %v", err)
	}
}

// IsUnavailable tells a database out of reach from one that refuses a statement.
func TestIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = Open(context.Background(), "postgres://u:p@"+addr+"/db?connect_timeout=5", Options{})
	if err == nil || !IsUnavailable(err) {
		t.Errorf("connection refused: IsUnavailable(%v) = false", err)
	}
	for _, err := range []error{nil, errors.New("x"), context.Canceled, context.DeadlineExceeded, ErrNotFound, ErrExists,
		fmt.Errorf("read body: %w", &net.OpError{Op: "read", Err: errors.New("connection reset")})} {
		if IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
	}
	if !IsUnavailable(fmt.Errorf("store: %w", pgError(&net.OpError{Op: "read", Err: errors.New("connection reset")}))) {
		t.Error("a PostgreSQL connection that broke is not unavailability")
	}
}

// TestBacklogKeepsFailedRunResults makes the database refuse writes while a run's
// results are put: the puts succeed, the results are kept in memory and found by
// RunResults of this process (while the database reads), and once the database
// answers they are written and counted in the run's InputsDone, where another process
// finds them.
func TestBacklogKeepsFailedRunResults(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "vtsoar.db")
		synctest.Test(t, func(t *testing.T) { testBacklogResults(t, path, sqliteWriteLock(path)) })
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := pgtest.DSN(t)
		synctest.Test(t, func(t *testing.T) { testBacklogResults(t, dsn, postgresDown(dsn)) })
	})
}

func testBacklogResults(t *testing.T, dsn string, block blocker) {
	ctx := context.Background()
	open := func() Store {
		st, err := Open(ctx, dsn, Options{BusyTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st, other := open(), open()
	defer other.Close()
	if _, err := st.CreateRun(ctx, Run{ID: "r1", User: "alice", Command: "search", Connection: "c", InputsTotal: 2}, nil); err != nil {
		t.Fatal(err)
	}
	unblock := block(t)
	for i := range 2 {
		if err := st.PutRunResult(ctx, "r1", RunResult{Index: i, Data: []byte(fmt.Sprintf(`{"index":%d}`, i))}); err != nil {
			t.Fatalf("put while the database refuses writes: %v", err)
		}
	}
	if n := core(t, st).backlog.stats().Answers; n != 2 {
		t.Fatalf("%d results kept, want 2", n)
	}
	// A database that reads (SQLite busy) gives the kept results with the stored
	// ones; one out of reach (PostgreSQL down) says so, rather than a part.
	switch rs, err := st.RunResults(ctx, "r1"); {
	case err != nil && !IsUnavailable(err):
		t.Fatalf("RunResults of this process while kept: %v", err)
	case err == nil && (len(rs) != 2 || rs[1].Index != 1 || string(rs[1].Data) != `{"index":1}`):
		t.Fatalf("RunResults of this process while kept = %+v", rs)
	}
	unblock()
	deadline := time.Now().Add(time.Minute)
	for {
		run, err := other.GetRun(ctx, "r1")
		if err == nil && run.InputsDone == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the kept results were not written: %+v, %v", run, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rs, err := other.RunResults(ctx, "r1"); err != nil || len(rs) != 2 {
		t.Fatalf("another process reads %d results, %v", len(rs), err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCacheBehind puts answers to a cache written behind (Caches.CacheBehind): a put
// returns before its write ends, its answer found by this process (by any id, and as current)
// before it is written, even while the database refuses writes; a write that fails
// leaves the answer kept, and the backlog writes it once the database answers, where
// another process finds it. Close writes what is still queued.
func TestCacheBehind(t *testing.T) { withWritesRefused(t, testCacheBehind) }

func testCacheBehind(t *testing.T, dsn string, block blocker, unavailable bool) {
	ctx := context.Background()
	var logs logBuffer
	st, other := openLogged(t, dsn, &logs), openLogged(t, dsn, &logs)
	const server = "https://www.virustotal.com"
	c, oc := st.CacheBehind(server), other.Cache(server)
	t0 := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	entry := func(n int) cache.Entry {
		sum := sha256.Sum256([]byte(fmt.Sprint("behind-", n)))
		id := hex.EncodeToString(sum[:])
		body := fmt.Sprintf(`{"data": {"id": %q, "n": %d, "pad": %q}}`, id, n, strings.Repeat("x", 2000))
		return cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{id[:32]}, Body: []byte(body), FetchedAt: t0}
	}
	put := func(e cache.Entry) {
		t.Helper()
		if err := c.Put(ctx, e); err != nil {
			t.Fatalf("put %s: %v", e.ID[:8], err)
		}
	}
	found := func(c Cache, e cache.Entry) bool {
		t.Helper()
		got, ok, err := c.Get(ctx, e.Kind, e.Aliases[0], 0)
		if err != nil && !unavailable {
			t.Fatalf("get %s: %v", e.ID[:8], err)
		}
		return ok && bytes.Equal(got.Body, e.Body) && got.FetchedAt.Equal(e.FetchedAt)
	}
	// waitFor waits, in the bubble's time, until cond holds.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for range 50 {
			if cond() {
				return
			}
			time.Sleep(backlogRetryMin)
		}
		t.Fatalf("%s: not after 5s", what)
	}

	// The database takes the write: found here at once, there once written; nothing
	// counts as kept.
	e1 := entry(1)
	put(e1)
	if !found(c, e1) {
		t.Fatal("the answer put behind is not found by its alias in this process")
	}
	if cur, err := c.Current(ctx, e1.Kind, e1.ID, t0); err != nil || !cur {
		t.Fatalf("Current of the answer put behind: %v %v", cur, err)
	}
	waitFor("the other process finds the answer", func() bool { return found(oc, e1) })
	if b := st.CacheBacklog(); b.Answers != 0 || b.Written != 0 || b.Dropped != 0 {
		t.Fatalf("backlog %+v after a write that landed", b)
	}

	// The database refuses the write: the put returns at once all the same, the answer
	// is found here meanwhile, kept when its write fails, and written by the backlog
	// once the database answers.
	unblock := block(t)
	e2 := entry(2)
	put(e2)
	if !unavailable && st.CacheBacklog().Answers != 0 {
		// SQLite busy: the write waits 200 ms for the lock before it fails.
		t.Fatal("the put waited for its write to fail")
	}
	if !found(c, e2) {
		t.Fatal("the answer put behind is not found while the database refuses its write")
	}
	// A put replaces what the process holds of its object, whenever that was fetched,
	// as it replaces what is stored: a report made stale right after it was put.
	fresh, stale := entry(10), entry(10)
	fresh.FetchedAt, stale.FetchedAt = t0.Add(time.Second), t0
	put(fresh)
	put(stale)
	if !found(c, stale) {
		t.Fatal("the answer made stale is not what this process finds")
	}
	waitFor("the failed writes are kept", func() bool { return st.CacheBacklog().Answers == 2 })
	if !found(c, e2) || !found(c, stale) {
		t.Fatal("the kept answers are not found")
	}
	if !strings.Contains(logs.String(), "cache write failed; the answer is kept in memory") {
		t.Errorf("no log line says the answer is kept:\n%s", logs.String())
	}
	unblock()
	waitFor("the backlog writes the kept answers", func() bool { return st.CacheBacklog().Answers == 0 })
	if b := st.CacheBacklog(); b.Written != 2 || b.Dropped != 0 {
		t.Fatalf("backlog %+v, want the kept answers written", b)
	}
	if !found(oc, e2) || !found(oc, stale) {
		t.Fatal("the other process does not find the answers the backlog wrote")
	}

	// Close writes what is queued.
	e3 := entry(3)
	put(e3)
	if err := st.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if !found(oc, e3) {
		t.Fatal("close did not write the answer put behind")
	}
}
