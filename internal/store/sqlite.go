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
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// Options tune a store.
type Options struct {
	// NegativeTTL bounds the age of cached not-found answers (0:
	// cache.DefaultNegativeTTL).
	NegativeTTL time.Duration
	// Now is the store's clock (nil: time.Now): the time it records (created, updated,
	// fetched, queued) and the time it judges ages by (cache entries, the negative
	// TTL, a TakeRequest without a Clock of its own).
	Now func() time.Time
	// BusyTimeout is how long a write waits for another process's write lock (0: 10s).
	BusyTimeout time.Duration
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Open opens the store that dsn names: a postgres:// URL selects PostgreSQL
// (OpenPostgres), anything else is the path of a SQLite database file.
func Open(ctx context.Context, dsn string, opts Options) (Store, error) {
	if IsPostgres(dsn) {
		return OpenPostgres(ctx, dsn, opts)
	}
	return OpenSQLite(ctx, dsn, opts)
}

// sqliteStore is the SQLite implementation of Store.
type sqliteStore struct {
	db *sql.DB
	// ledger, on SQLite, is db with synchronous=FULL, for the ledger's writes
	// (writeLedger); nil on PostgreSQL.
	ledger *sql.DB
	path   string
	opts   Options

	// writeMu serialises this process's write transactions, so that they queue in Go
	// instead of in SQLite's busy handler, which sleeps in coarse steps; the busy
	// timeout then only arbitrates between processes.
	writeMu sync.Mutex
	// keyLocks is set on PostgreSQL, where the transactions of writeKeyed lock their
	// keys only (and do not take writeMu).
	keyLocks bool

	mu     sync.Mutex
	caches map[string]*sqliteCache
	stmts  map[string]*sql.Stmt // prepared once (stmt)

	// batch groups cache puts and the units of unlimited budgets into shared
	// transactions (batch.go).
	batch batcher

	closeOnce sync.Once
	closeErr  error
}

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
	// Connections are kept (with their prepared statements) for the readers that run
	// at once, instead of database/sql's two idle ones.
	db.SetMaxIdleConns(maxIdleConns)
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
	s := &sqliteStore{db: db, ledger: ledger, path: path, opts: opts, caches: map[string]*sqliteCache{}}
	s.batch.s = s
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
	if err := migrate(ctx, db, s.begin, ms, opts.now); err != nil {
		db.Close()
		ledger.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	return s, nil
}

// maxIdleConns is how many idle connections a SQLite store keeps.
const maxIdleConns = 16

// begin starts a write transaction (BEGIN IMMEDIATE, through _txlock).
func (s *sqliteStore) begin(ctx context.Context) (*sql.Tx, error) {
	return s.db.BeginTx(ctx, nil)
}

// writeLedger is write for the quota ledger's units and holds: on SQLite through the
// connections that sync every commit (ledger).
func (s *sqliteStore) writeLedger(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if s.ledger == nil {
		return s.write(ctx, fn)
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.ledger.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// write runs fn in a write transaction, committing if it returns nil. The transaction
// excludes every other write transaction of the database (see writeKeyed).
func (s *sqliteStore) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.writeKeyed(ctx, nil, fn)
}

// writeKeyed runs fn in a write transaction, committing if it returns nil, that
// excludes at least every other write transaction naming one of keys: fn's reads and
// writes of the records the keys stand for (such as "event\x00"+id) are atomic
// against theirs. Every transaction that reads and then writes those records must
// name them.
//
// On SQLite a write transaction excludes every other (BEGIN IMMEDIATE) and keys are
// ignored. On PostgreSQL (keyLocks) the transaction takes an advisory lock per key,
// and no other lock: it runs beside write transactions of other keys and beside
// those of write, which take the database-wide lock. With no key, writeKeyed is
// write.
func (s *sqliteStore) writeKeyed(ctx context.Context, keys []string, fn func(tx *sql.Tx) error) error {
	if s.keyLocks && len(keys) > 0 {
		ctx = context.WithValue(ctx, lockKeys{}, keys)
	} else {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Close implements Store. Closing twice is harmless.
func (s *sqliteStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *sqliteStore) close() error {
	var errs []error
	if err := s.batch.flush(context.Background()); err != nil {
		errs = append(errs, err)
	}
	if err := s.batch.takePutErr(); err != nil {
		errs = append(errs, fmt.Errorf("store: cache put: %w", err))
	}
	s.mu.Lock()
	caches := make([]*sqliteCache, 0, len(s.caches))
	for _, c := range s.caches {
		caches = append(caches, c)
	}
	stmts := s.stmts
	s.stmts = nil
	s.mu.Unlock()
	for _, c := range caches {
		if err := c.flush(context.Background()); err != nil {
			errs = append(errs, err)
		}
	}
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	errs = append(errs, s.db.Close())
	if s.ledger != nil {
		errs = append(errs, s.ledger.Close())
	}
	return errors.Join(errs...)
}

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

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
