// Package store persists what vtsoar shares between runs and processes: stored
// connections (with their API keys sealed by internal/secret), the quota ledger that
// every process on one key consults before spending a request, and the cache of
// VirusTotal answers.
//
// Store is one interface made of narrow parts (Connections, Ledger, Caches) so that a
// package depends only on what it uses. The embedded default is SQLite (OpenSQLite,
// through modernc.org/sqlite, no cgo) at DefaultPath; it is safe for several processes
// at once: WAL journal, a busy timeout, and write transactions that take the write lock
// when they begin (BEGIN IMMEDIATE), so that a read-then-write such as taking a quota
// unit is atomic across processes. OpenPostgres (a postgres:// URL) opens the same store
// on PostgreSQL for replicas that share one database: it runs the same portable SQL (ON
// CONFLICT upserts, integer timestamps in Unix microseconds, ? placeholders rebound to
// $n), so keep new SQL portable and add each migration to both migrations/sqlite and
// migrations/postgres. The behaviour every implementation must have is the test suite
// in package storetest, which runs on both.
//
// Schema changes are versioned migrations embedded in the binary and applied when a
// store is opened, each in its own transaction, recorded in schema_migrations.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/ioc"
)

// Store is the persistence of vtsoar. Implementations are safe for concurrent use by
// several goroutines and several processes.
type Store interface {
	Connections
	Ledger
	Caches
	Users
	Files
	Events
	HealthChecks
	// Close releases the store (flushing cache statistics).
	Close() error
}

// Errors callers branch on.
var (
	// ErrNotFound is returned when the named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating a record whose name is taken.
	ErrExists = errors.New("already exists")
)

// Connection is a stored VirusTotal connection: an API key and how to use it.
type Connection struct {
	// Name identifies the connection (--connection NAME).
	Name string
	// SealedAPIKey is the API key sealed by secret.Cipher.Seal; the store never holds
	// the key in clear.
	SealedAPIKey []byte
	// ServerURL is the VirusTotal server (empty: the default).
	ServerURL string
	// Quota is the budget spec ("public", "premium" or "N/min,N/day,N/month").
	Quota string
	// Proxy is the URL of an HTTP proxy, if any.
	Proxy string
	// ReputationChecks are the observable kinds this connection enriches events with
	// (the System Reputation Check).
	ReputationChecks []ioc.Kind
	// HealthCheckMinutes is the interval of scheduled connection tests (0: none).
	HealthCheckMinutes int
	// Sites are the sites whose events the connection enriches (empty: all).
	Sites []string
	// Users are the users allowed to run the connection (empty: all).
	Users []string
	// RiskPolicy derives the risk levels of the connection's results (zero value:
	// risk.DefaultPolicy()).
	RiskPolicy risk.Policy
	// CreatedAt and UpdatedAt are set by the store.
	CreatedAt, UpdatedAt time.Time
}

// Connections stores connections.
type Connections interface {
	// CreateConnection stores a new connection; ErrExists if the name is taken.
	CreateConnection(ctx context.Context, c Connection) error
	// UpdateConnection replaces a connection (all fields but Name and CreatedAt);
	// ErrNotFound if there is none by that name.
	UpdateConnection(ctx context.Context, c Connection) error
	// GetConnection returns a connection; ErrNotFound if there is none.
	GetConnection(ctx context.Context, name string) (Connection, error)
	// ListConnections returns every connection, by name.
	ListConnections(ctx context.Context) ([]Connection, error)
	// DeleteConnection removes a connection; ErrNotFound if there is none.
	DeleteConnection(ctx context.Context, name string) error
}

// Window is one budget window of a TakeUnit or LedgerUsage call: the units recorded at
// or after Since count against Limit.
type Window struct {
	// Since is the start of the window (inclusive).
	Since time.Time
	// Limit is the number of units the window allows; 0 or less means no limit (the
	// window is counted but never full).
	Limit int
	// Span is the length of a sliding window (Since = now - Span); when the window is
	// full the store reports when its oldest counted unit ages out. Zero for a
	// calendar window, whose reset the caller knows.
	Span time.Duration
}

// Waiter registers, across processes, that a process waits for a unit of a budget at
// some priority, so that other processes with less urgent work let it go first.
type Waiter struct {
	// ID identifies the waiting process (or limiter) and is unique to it.
	ID string
	// Priority orders waiters: lower values go first.
	Priority int
	// Expires is when the registration lapses unless renewed; a process that dies
	// stops holding others back at this time.
	Expires time.Time
}

// TakeRequest asks for one unit of a budget.
type TakeRequest struct {
	// Budget identifies the budget (one per API key and server).
	Budget string
	// Clock returns the current time (nil: time.Now). The store reads it once it holds
	// the write lock, so that a granted unit is recorded at the moment it is granted
	// and not when the request began to wait for the lock.
	Clock func() time.Time
	// Windows returns the windows at now; all of them are checked before the unit is
	// granted.
	Windows func(now time.Time) []Window
	// Waiter, if set, is the requester: the unit is not granted while another
	// registered waiter of a lower Priority has not expired, and when the unit is not
	// granted Waiter is registered (or renewed).
	Waiter *Waiter
	// Then replaces the requester's registration after a grant (the requester has
	// more work waiting); nil removes it.
	Then *Waiter
}

// TakeResult is the answer of TakeUnit.
type TakeResult struct {
	// Granted reports that one unit was recorded at Now.
	Granted bool
	// Now is the time the store read from the clock (the unit's time if granted).
	Now time.Time
	// Counts are the units in each window, the granted one included; -1 for a window
	// without a limit (not counted, to keep unlimited budgets cheap).
	Counts []int
	// HeldUntil is set when the budget is held (after a 429) until then.
	HeldUntil time.Time
	// Exhausted reports that the hold records a budget spent at the provider
	// (ExhaustBudget), not a wait for its minute to turn.
	Exhausted bool
	// HoldEnded is, when the budget's last ordinary hold (HoldBudget) has ended, the
	// time it ended; zero when there was none or it was an exhausted one.
	HoldEnded time.Time
	// Deferred reports that the windows have room but a registered waiter of a lower
	// priority value goes first.
	Deferred bool
	// Full is the index of the first full window, or -1.
	Full int
	// FreeAt is, for a full sliding window, when enough of its units age out for one
	// more to fit.
	FreeAt time.Time
}

// WindowUsage is the use of one window.
type WindowUsage struct {
	// Count is the number of units recorded in the window.
	Count int
	// Oldest is the time of the oldest of them (zero when Count is 0).
	Oldest time.Time
}

// Ledger records the units of request budgets. Every unit is taken in one atomic step
// that checks the windows and records the unit, so that several processes sharing a
// budget never exceed it.
type Ledger interface {
	// TakeUnit checks, in one atomic step, the budget's hold, its windows and the
	// registered waiters, and records one unit if all allow.
	TakeUnit(ctx context.Context, r TakeRequest) (TakeResult, error)
	// HoldBudget stops every grant of the budget until until (a later hold wins).
	HoldBudget(ctx context.Context, budget string, until time.Time) error
	// ExhaustBudget is HoldBudget for a budget spent at the provider until until:
	// TakeUnit reports the hold as Exhausted (if it is the later one).
	ExhaustBudget(ctx context.Context, budget string, until time.Time) error
	// BudgetUsage returns the use of each window and the hold, if any, at now.
	BudgetUsage(ctx context.Context, budget string, now time.Time, windows []Window) ([]WindowUsage, time.Time, error)
	// RemoveWaiter removes a waiter's registration.
	RemoveWaiter(ctx context.Context, budget, waiterID string) error
	// PruneLedger forgets units recorded before before and, judged at now (the
	// caller's clock, the one its windows are computed with), holds that ended more
	// than an hour before now and waiter registrations expired by now.
	PruneLedger(ctx context.Context, now, before time.Time) error
}

// Caches gives the cache of answers of one VirusTotal server.
type Caches interface {
	// Cache returns the cache of answers from the server at serverURL. Answers from
	// different servers (VirusTotal and an emulator, say) never mix. The URL is
	// normalised (case of scheme and host, trailing slash).
	Cache(serverURL string) Cache
	// CacheNoWait is Cache(serverURL) with puts that return before their answer is
	// written: a shared transaction writes it within 10 ms with the others, and the
	// store's Close writes what is left (and reports a put that failed). For a
	// process to which its cache is a saving across runs and nothing more, on a key
	// whose requests are not scarce: killed, it loses the answers of its last 10 ms
	// or so, which a later run asks again. Not for the enrichment, whose resumption
	// after a kill counts on an answer it received being stored.
	CacheNoWait(serverURL string) Cache
	// CacheServers lists the servers that have cached answers.
	CacheServers(ctx context.Context) ([]string, error)
}

// Cache is the cache of one server's answers.
type Cache interface {
	cache.Cache
	// A process may keep answers decoded in memory and check them with Current.
	cache.Validator
	// Stats returns the cache's size and its hits and misses (recorded by every
	// process).
	Stats(ctx context.Context) (CacheStats, error)
	// Clear removes every entry and resets the statistics; it returns the number of
	// entries removed.
	Clear(ctx context.Context) (int, error)
	// Prune removes entries fetched before before; it returns their number.
	Prune(ctx context.Context, before time.Time) (int, error)
}

// CacheStats describes a server's cache.
type CacheStats struct {
	// Server is the normalised server URL.
	Server string
	// Entries is the number of cached answers, NotFound the number of them that
	// record a not-found answer, Aliases the number of ids that lead to them.
	Entries, NotFound, Aliases int
	// Bytes is the size of the cached bodies as stored (compressed, see
	// migrations/*/0210_cache_body_encoding.sql).
	Bytes int64
	// Hits and Misses count Get calls that found a usable entry or did not.
	Hits, Misses int64
	// Oldest and Newest are the fetch times of the oldest and newest entries.
	Oldest, Newest time.Time
}
