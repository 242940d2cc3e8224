package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// sqliteStore is the store on SQLite: the SQL core (sqlStore) on a database file, and
// its dialect.
//
// A write transaction takes SQLite's write lock when it begins (BEGIN IMMEDIATE,
// through _txlock), so that it excludes every other, across processes: a
// read-then-write, such as taking a quota unit, is atomic. Keys are not needed.
type sqliteStore struct {
	*sqlStore
	// ledger is the database with synchronous=FULL, for the ledger's writes
	// (ledgerTx, takeLimited).
	ledger *sql.DB
}

var (
	_ Store   = (*sqliteStore)(nil)
	_ SQLDB   = (*sqliteStore)(nil)
	_ dialect = (*sqliteStore)(nil)
)

// OpenSQLite opens (creating it with mode 0600, in a directory created with mode 0700,
// if needed) the SQLite database at path and applies pending migrations.
func OpenSQLite(ctx context.Context, path string, opts Options) (Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store: database path %q must not contain '?' or '#'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Create the file ourselves so it is private from the start; SQLite gives the WAL
	// and shared-memory files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// A few connections serve every reader and writer, and are kept (with their
	// prepared statements) instead of database/sql's two idle ones. More would not read
	// faster: a connection's page cache starts empty and is emptied by every commit of
	// another, each one prepares every statement again, and SQLite does the work on as
	// many cores as there are. At --concurrency 50, one connection per input in flight
	// cost a third more CPU per answer looked up and stored than four.
	conns := sqliteConns()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	// The ledger's units are written through connections of their own that sync the
	// journal at every commit (synchronous=FULL): a unit granted is never lost, even
	// to a power cut, so that a budget shared by several processes is never exceeded.
	// Everything else (the cache above all) is synced at checkpoints (NORMAL): a
	// power cut may lose the last commits, never the database; a killed process loses
	// nothing.
	q.Set("_synchronous", "FULL")
	ledger, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	ledger.SetMaxIdleConns(2)
	s := &sqliteStore{ledger: ledger}
	s.sqlStore = newSQLStore(db, s, path, opts)
	// WAL is a property of the file, set once. Switching to it needs a moment alone
	// with the file, which SQLite reports as busy (without waiting) while another
	// process opens the same new database: retry for the busy timeout.
	if err := retryBusy(ctx, busy, func() error {
		var mode string
		return db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
	}); err != nil {
		db.Close()
		ledger.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	ms, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		db.Close()
		ledger.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := migrate(ctx, db, ms, opts.now); err != nil {
		db.Close()
		ledger.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// sqliteConns is how many connections a SQLite store's pool opens at most: two per
// core the process may use, and at least four.
func sqliteConns() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// DB implements SQLDB: the store's pool, for River's riversqlite driver.
func (s *sqliteStore) DB() *sql.DB { return s.db }

// keyedTx implements dialect: every write transaction excludes every other (BEGIN
// IMMEDIATE), so keys are not needed.
func (s *sqliteStore) keyedTx(ctx context.Context, _ []string, fn func(tx *sql.Tx) error) error {
	return s.writeExclusive(ctx, s.db, fn)
}

// ledgerTx implements dialect: through the connections that sync every commit
// (ledger).
func (s *sqliteStore) ledgerTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.writeExclusive(ctx, s.ledger, fn)
}

// takeLimited implements dialect: the ledger's write transaction excludes every
// other.
func (s *sqliteStore) takeLimited(ctx context.Context, r TakeRequest, clock func() time.Time) (TakeResult, error) {
	var res TakeResult
	err := s.ledgerTx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = takeUnit(ctx, tx, r, clock())
		return err
	})
	return res, err
}

// batchTx implements dialect: a write transaction as any other, synced at
// checkpoints (synchronous=NORMAL).
func (s *sqliteStore) batchTx(ctx context.Context, keys, _ []string, fn func(tx *sql.Tx) error) error {
	return s.keyedTx(ctx, keys, fn)
}

// cacheCurrentSQLite is cacheCurrentSQL reading the fetch time from the index
// cache_entries_stamp alone: the row's fetch time comes after its body, in its last
// overflow page. SQLite's planner prefers the primary key's index, which does not hold
// it, and is told.
const cacheCurrentSQLite = `SELECT e.fetched_at FROM cache_aliases a JOIN cache_entries e INDEXED BY cache_entries_stamp
ON e.server = a.server AND e.kind = a.kind AND e.id = a.id
WHERE a.server = ? AND a.kind = ? AND a.alias = ?`

// cacheCurrentSQL implements dialect.
func (s *sqliteStore) cacheCurrentSQL() string { return cacheCurrentSQLite }

// lookupCtx implements dialect: ctx without its end. Such a read takes microseconds
// and waits for no writer (WAL), so that its end could not shorten it, and the
// driver watches a statement's context that can end with a goroutine of its own,
// which cost a cached GET of the gateway 4 to 6 µs (BenchmarkGatewayHitReads).
func (s *sqliteStore) lookupCtx(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// release implements dialect.
func (s *sqliteStore) release() error { return s.ledger.Close() }

// isBusy reports whether err is SQLite's SQLITE_BUSY or SQLITE_LOCKED.
func isBusy(err error) bool {
	var e interface{ Code() int }
	if !errors.As(err, &e) {
		return false
	}
	c := e.Code() & 0xff
	return c == 5 || c == 6
}

// retryBusy runs fn until it does not fail with a busy error, for up to d.
func retryBusy(ctx context.Context, d time.Duration, fn func() error) error {
	deadline := time.Now().Add(d)
	wait := 5 * time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait + time.Duration(rand.Int64N(int64(wait)))):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}
