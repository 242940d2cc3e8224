// Package store persists what vtsoar shares between runs and processes: stored
// connections (with their API keys sealed by internal/secret), the quota ledger that
// every process on one key consults before spending a request, the cache of
// VirusTotal answers, and the service's users, uploaded files, incidents, events and
// connection health checks.
//
// Store is one interface made of narrow parts (Connections, Ledger, Caches, Users,
// Sessions, Files, Incidents, Events, HealthChecks, GatewayKeys, Runs) so that a
// package depends only on what it uses. Each part is in a file of its own, with its
// types and its SQL: connections.go, ledger.go, cache.go, users.go, sessions.go,
// files.go, incidents.go, events.go, health.go, gatewaykeys.go and runs.go; page.go
// holds the paging of the lists that grow (events, incidents, files).
//
// The SQL is written once, in portable SQL over database/sql (ON CONFLICT upserts,
// integer timestamps in Unix microseconds, ? placeholders), and runs on two
// databases; what they do differently (how a write transaction excludes the others,
// the few statements that are not portable, opening and migrating) is in sqlite.go
// and postgres.go. The embedded default is SQLite (OpenSQLite, through
// modernc.org/sqlite, no cgo) at DefaultPath; it is safe for several processes at
// once: WAL journal, a busy timeout, and write transactions that take the write lock
// when they begin (BEGIN IMMEDIATE), so that a read-then-write such as taking a quota
// unit is atomic across processes. OpenPostgres (a postgres:// URL) opens the same
// store on PostgreSQL for replicas that share one database, where advisory locks take
// the place of SQLite's write lock. Keep new SQL portable and add each migration to
// both migrations/sqlite and migrations/postgres (a test checks that they pair up).
// The behaviour every implementation must have is the test suite in package
// storetest, which runs on both.
//
// The transaction of CreateEvent, CreateRun and RecordHealthCheck is handed to their callback as
// a *sql.Tx on the database that SQLDB's DB opens, so that
// a job queue keeping its tables there commits its jobs together with the store's
// records.
//
// Schema changes are versioned migrations embedded in the binary and applied when a
// store is opened, each in its own transaction, recorded in schema_migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the persistence of vtsoar. Implementations are safe for concurrent use by
// several goroutines and several processes.
type Store interface {
	Connections
	Ledger
	Caches
	Users
	Sessions
	Files
	Incidents
	Events
	HealthChecks
	GatewayKeys
	Runs
	// Close releases the store (flushing cache statistics).
	Close() error
}

// SQLDB is implemented by every Store that Open returns: DB returns a database/sql
// handle on its database, for a job queue that keeps its tables there (River's
// riversqlite driver on SQLite, its database/sql driver on PostgreSQL). Callers
// type-assert a Store to it.
type SQLDB interface {
	DB() *sql.DB
}

// PGXPool is implemented by the PostgreSQL store: Pool returns its pgx connection
// pool (for River's pgx listener). Callers type-assert a Store to it.
type PGXPool interface {
	Pool() *pgxpool.Pool
}

// Errors callers branch on.
var (
	// ErrNotFound is returned when the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating a record whose name is taken.
	ErrExists = errors.New("already exists")
)

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
	// Logger receives what the store does on its own: cache answers kept in memory
	// while the database does not answer, written later or dropped (nil: discard).
	Logger *slog.Logger
}

func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.New(slog.DiscardHandler)
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
