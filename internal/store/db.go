package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// sqlStore is the store on database/sql that SQLite and PostgreSQL share: its write
// transactions, its prepared statements and the portable SQL of every area
// (connections.go, ledger.go, cache.go, users.go, files.go, events.go, health.go).
// What the two databases do differently is its dialect: sqliteStore (sqlite.go) and
// postgresStore (postgres.go), each of which embeds the sqlStore it is the dialect of.
//
// The SQL is written once for both: ON CONFLICT upserts, integer timestamps in Unix
// microseconds (micros), ? placeholders (which PostgreSQL's connections rebind to $n).
type sqlStore struct {
	db *sql.DB
	// dialect is what this database does its own way (sqliteStore, postgresStore).
	dialect dialect
	// where names the database in errors (a path, or the PostgreSQL server without
	// its credentials).
	where string
	opts  Options
	// keyStampSQL is GatewayKeyCacheStamp's statement in the dialect.
	keyStampSQL string

	// writeSem, a semaphore of one, serialises this process's write transactions that
	// exclude every other (write; on SQLite all of them), so that they queue in Go
	// instead of in the database's lock (SQLite's busy handler sleeps in coarse
	// steps); the database's lock then only arbitrates between processes. It is a
	// channel and not a mutex so that a write waiting for it gives up when its
	// context ends, and so that, in a testing/synctest bubble, waiting for it is
	// durable: a bubble in which one handle's write sleeps in SQLite's busy handler
	// (another handle holds the lock) while its other writes wait here can still let
	// the fake time of that sleep pass.
	writeSem chan struct{}

	mu     sync.Mutex
	caches map[string]*sqlCache
	stmts  map[string]*sql.Stmt // prepared once (stmt)
	// preparing are the statements being prepared on the database for txStmt.
	preparing map[string]bool
	// preparers are txStmt's goroutines preparing statements on the database; close
	// waits for them (closing stops new ones) before it closes the database.
	preparers sync.WaitGroup
	closing   bool

	// batch groups cache puts and the units of unlimited budgets into shared
	// transactions (batch.go).
	batch batcher
	// backlog keeps the cache puts whose write failed until they are written
	// (backlog.go).
	backlog backlog

	closeOnce sync.Once
	closeErr  error
}

// dialect is what the SQL core leaves to the database it runs on.
type dialect interface {
	// keyedTx runs fn in a write transaction, committing if it returns nil, that
	// excludes at least every other write transaction naming one of keys: fn's reads
	// and writes of the records the keys stand for (such as "event\x00"+id) are
	// atomic against theirs. With no key it excludes every other write transaction.
	keyedTx(ctx context.Context, keys []string, fn func(tx *sql.Tx) error) error
	// ledgerTx runs fn, a write of the quota ledger's holds, in a write transaction.
	ledgerTx(ctx context.Context, fn func(tx *sql.Tx) error) error
	// takeLimited takes a unit of a budget that has a limit: takeUnit in one write
	// transaction that excludes every other taking a unit of r.Budget, the clock read
	// once it does (see TakeRequest.Clock).
	takeLimited(ctx context.Context, r TakeRequest, clock func() time.Time) (TakeResult, error)
	// batchTx runs fn, the writes of a batch (batch.go), in one write transaction
	// that names keys and records units of budgets.
	batchTx(ctx context.Context, keys, budgets []string, fn func(tx *sql.Tx) error) error
	// cacheCurrentSQL is the statement of Cache.Current (see cacheCurrentSQL).
	cacheCurrentSQL() string
	// lookupCtx is the context of a read of a few rows by their keys on a request's
	// path (GatewayKeyCacheStamp), made from the request's ctx.
	lookupCtx(ctx context.Context) context.Context
	// release releases what the dialect holds beside the core's db, once the core
	// has closed it.
	release() error
}

func newSQLStore(db *sql.DB, d dialect, where string, opts Options) *sqlStore {
	s := &sqlStore{db: db, dialect: d, where: where, opts: opts, caches: map[string]*sqlCache{}, writeSem: make(chan struct{}, 1)}
	s.batch.s = s
	s.backlog.s = s
	s.keyStampSQL = gatewayKeyCacheStampSQL(d.cacheCurrentSQL())
	return s
}

// runTx runs fn in a transaction begun on db, committing if it returns nil.
func runTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
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
// excludes every other write transaction of the database.
func (s *sqlStore) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.wrote(s.dialect.keyedTx(ctx, nil, fn))
}

// writeKeyed runs fn in a write transaction that excludes at least every other write
// transaction naming one of keys (see dialect.keyedTx). Every transaction that
// reads and then writes the records of a key must name it.
func (s *sqlStore) writeKeyed(ctx context.Context, keys []string, fn func(tx *sql.Tx) error) error {
	return s.wrote(s.dialect.keyedTx(ctx, keys, fn))
}

// wrote passes on the outcome of a write transaction; one that committed tells the
// cache's backlog that the database answers again.
func (s *sqlStore) wrote(err error) error {
	if err == nil {
		s.backlog.poke()
	}
	return err
}

// writeExclusive runs fn in a write transaction begun on db once this process's
// other such transactions are over (writeSem): the transactions that exclude every
// other, on both databases.
func (s *sqlStore) writeExclusive(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	select {
	case s.writeSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writeSem }()
	return runTx(ctx, db, fn)
}

// stmt returns the statement query prepared on the store's database, preparing it on
// first use; tx.StmtContext then reuses it on the transaction's connection. The
// statement is prepared without holding mu, which the other statements' lookups take.
func (s *sqlStore) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[query]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing a statement: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if have, ok := s.stmts[query]; ok {
		st.Close() // prepared meanwhile by another goroutine
		return have, nil
	}
	if s.stmts == nil {
		s.stmts = make(map[string]*sql.Stmt)
	}
	s.stmts[query] = st
	return st, nil
}

// txStmt is stmt bound to tx. A statement not prepared yet is prepared on tx's own
// connection for this transaction (and on the database for the next ones, once a
// connection is free): preparing it on the database would need a second connection
// while tx holds one and, on SQLite, the write lock, which every other connection of
// the pool may be waiting for.
func (s *sqlStore) txStmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	st, ok := s.stmts[query]
	prepare := !ok && !s.preparing[query] && !s.closing
	if prepare {
		if s.preparing == nil {
			s.preparing = map[string]bool{}
		}
		s.preparing[query] = true
		s.preparers.Add(1)
	}
	s.mu.Unlock()
	if ok {
		return tx.StmtContext(ctx, st), nil
	}
	if prepare {
		go func() {
			defer s.preparers.Done()
			s.stmt(context.WithoutCancel(ctx), query)
			s.mu.Lock()
			delete(s.preparing, query)
			s.mu.Unlock()
		}()
	}
	st, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("preparing a statement: %w", err)
	}
	return st, nil
}

// queryRow is db.QueryRowContext through the statement prepared once (stmt).
func (s *sqlStore) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return s.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// queryer is what reads one row: the store's *sql.DB or a *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier is what queryAll runs a query on: the store's *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query and returns every row, each read by scan.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// deleteNamed deletes the row of table whose name is name, in a write transaction;
// ErrNotFound (as "noun name: not found") when there is none.
func (s *sqlStore) deleteNamed(ctx context.Context, table, noun, name string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE name = ?`, name)
		if err != nil {
			return err
		}
		return oneRow(res, noun, name)
	})
}

// oneRow checks that a statement changed a row: ErrNotFound (as "noun name: not
// found") when it changed none.
func oneRow(res sql.Result, noun, name string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", noun, name, ErrNotFound)
	}
	return nil
}

// Close implements Store. Closing twice is harmless.
func (s *sqlStore) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *sqlStore) close() error {
	var errs []error
	if err := s.batch.flush(context.Background()); err != nil {
		errs = append(errs, err)
	}
	// After the flush, so that the asynchronous puts that failed are kept too.
	if err := s.backlog.close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.batch.takePutErr(); err != nil {
		errs = append(errs, fmt.Errorf("store: cache put: %w", err))
	}
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.preparers.Wait()
	s.mu.Lock()
	caches := make([]*sqlCache, 0, len(s.caches))
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
	errs = append(errs, s.db.Close(), s.dialect.release())
	return errors.Join(errs...)
}

// micros is how the store writes a time: Unix microseconds, an integer on both
// databases.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reads a time written by micros, in UTC.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }
