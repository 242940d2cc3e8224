package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vtsoar/vtsoar/ioc"
)

// Priorities of a gateway key's requests for its connection's budget.
const (
	// GatewayInteractive requests wait for the budget as a person does (the limiter's
	// interactive priority, before enrichment and background work).
	GatewayInteractive = "interactive"
	// GatewayBatch requests wait behind everything else (the limiter's background
	// priority, with scheduled health checks).
	GatewayBatch = "batch"
)

// GatewayKey is a key of the VirusTotal gateway: a client sends it as its VirusTotal
// API key, and the gateway answers with the connection's budget and cache.
type GatewayKey struct {
	// Name identifies the key (in the ledger's requesters, the metrics and the log).
	Name string
	// KeyHash is the SHA-256 of the key; the key itself is never stored.
	KeyHash []byte
	// Connection is the stored connection whose key, budget and cache the key uses.
	Connection string
	// Priority is GatewayInteractive or GatewayBatch.
	Priority string
	// MaxWait bounds how long a request waits for a unit of the budget.
	MaxWait time.Duration
	// MaxAge is the age of the oldest cached answer a request is served.
	MaxAge time.Duration
	// CreatedAt is set by the store.
	CreatedAt time.Time
}

// GatewayKeys stores the gateway's keys.
type GatewayKeys interface {
	// CreateGatewayKey stores a new key; ErrExists if the name or the hash is taken,
	// ErrNotFound if its connection does not exist.
	CreateGatewayKey(ctx context.Context, k GatewayKey) error
	// GatewayKeyByHash returns the key whose hash is hash; ErrNotFound if none.
	GatewayKeyByHash(ctx context.Context, hash []byte) (GatewayKey, error)
	// GatewayKeyConnection returns, in one read, the key whose hash is hash and the
	// stamp of its connection (what tells whether it changed): ErrNotFound (as "gateway
	// key: not found") if there is no such key, and the key with ErrNotFound (as
	// "connection NAME: not found") if its connection no longer exists.
	GatewayKeyConnection(ctx context.Context, hash []byte) (GatewayKey, ConnectionStamp, error)
	// GatewayKeyCacheStamp is GatewayKeyConnection reading, in the same statement,
	// the stamp of the entry id of kind in the cache of server (a server URL, as
	// Caches.Cache takes it), when server is the key's connection's: a request with
	// the key that a process answers from memory, once Current has checked the
	// answer against the store (CacheStamp.Context), then reads the store once.
	GatewayKeyCacheStamp(ctx context.Context, hash []byte, server string, kind ioc.Kind, id string) (GatewayKey, ConnectionStamp, CacheStamp, error)
	// GetGatewayKey returns a key by name; ErrNotFound if none.
	GetGatewayKey(ctx context.Context, name string) (GatewayKey, error)
	// ListGatewayKeys returns every key, by name.
	ListGatewayKeys(ctx context.Context) ([]GatewayKey, error)
	// DeleteGatewayKey removes a key; ErrNotFound if there is none. Every process
	// refuses it from then on: keys are read from the store on each request.
	DeleteGatewayKey(ctx context.Context, name string) error
}

const gatewayKeyColumns = `name, key_hash, connection, priority, max_wait, max_age, created_at`

func validGatewayKey(k GatewayKey) error {
	if err := CheckGatewayKeyName(k.Name); err != nil {
		return err
	}
	switch {
	case len(k.KeyHash) == 0:
		return fmt.Errorf("gateway key %s: no key hash", k.Name)
	case k.Connection == "":
		return fmt.Errorf("gateway key %s: no connection", k.Name)
	case k.Priority != GatewayInteractive && k.Priority != GatewayBatch:
		return fmt.Errorf("gateway key %s: priority %q is neither %s nor %s", k.Name, k.Priority, GatewayInteractive, GatewayBatch)
	case k.MaxWait < 0 || k.MaxAge < 0:
		return fmt.Errorf("gateway key %s: negative max wait or max age", k.Name)
	}
	return nil
}

// CreateGatewayKey implements GatewayKeys.
func (s *sqlStore) CreateGatewayKey(ctx context.Context, k GatewayKey) error {
	if err := validGatewayKey(k); err != nil {
		return err
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM connections WHERE name = ?`, k.Connection).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("connection %s: %w", k.Connection, ErrNotFound)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM gateway_keys WHERE name = ? OR key_hash = ?`,
			k.Name, k.KeyHash).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("gateway key %s: %w", k.Name, ErrExists)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO gateway_keys (`+gatewayKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.Name, k.KeyHash, k.Connection, k.Priority, k.MaxWait.Microseconds(), k.MaxAge.Microseconds(), micros(s.opts.now()))
		return err
	})
}

func scanGatewayKey(r rowScanner) (GatewayKey, error) {
	var (
		k                    GatewayKey
		wait, age, createdAt int64
	)
	if err := r.Scan(&k.Name, &k.KeyHash, &k.Connection, &k.Priority, &wait, &age, &createdAt); err != nil {
		return GatewayKey{}, err
	}
	k.MaxWait, k.MaxAge = time.Duration(wait)*time.Microsecond, time.Duration(age)*time.Microsecond
	k.CreatedAt = fromMicros(createdAt)
	return k, nil
}

// GatewayKeyByHash implements GatewayKeys.
func (s *sqlStore) GatewayKeyByHash(ctx context.Context, hash []byte) (GatewayKey, error) {
	k, err := scanGatewayKey(s.queryRow(ctx, `SELECT `+gatewayKeyColumns+` FROM gateway_keys WHERE key_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return GatewayKey{}, fmt.Errorf("gateway key: %w", ErrNotFound)
	}
	if err != nil {
		return GatewayKey{}, fmt.Errorf("store: gateway key: %w", err)
	}
	return k, nil
}

// ConnectionStamp tells whether a stored connection changed: its name, when it was
// last updated and its sealed key (a process keeps what it built from a connection
// while the stamp is the same).
type ConnectionStamp struct {
	Name         string
	UpdatedAt    time.Time
	SealedAPIKey []byte
}

// gatewayKeyConnectionSQL reads a key and its connection's stamp.
var gatewayKeyConnectionSQL = `SELECT ` + qualified("k", gatewayKeyColumns) + `, c.name, c.updated_at, c.sealed_api_key
FROM gateway_keys k JOIN connections c ON c.name = k.connection WHERE k.key_hash = ?`

// qualified prefixes each column of a list with table.
func qualified(table, columns string) string {
	cols := strings.Split(strings.ReplaceAll(columns, "\n", " "), ",")
	for i, c := range cols {
		cols[i] = table + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// GatewayKeyConnection implements GatewayKeys.
func (s *sqlStore) GatewayKeyConnection(ctx context.Context, hash []byte) (GatewayKey, ConnectionStamp, error) {
	var (
		cs      ConnectionStamp
		updated int64
	)
	k, err := scanGatewayKey(prefixedRow{r: s.queryRow(ctx, gatewayKeyConnectionSQL, hash), rest: []any{&cs.Name, &updated, &cs.SealedAPIKey}})
	if errors.Is(err, sql.ErrNoRows) {
		// No key, or a key whose connection is gone.
		if k, err = s.GatewayKeyByHash(ctx, hash); err != nil {
			return GatewayKey{}, ConnectionStamp{}, err
		}
		return k, ConnectionStamp{}, fmt.Errorf("connection %s: %w", k.Connection, ErrNotFound)
	}
	if err != nil {
		return GatewayKey{}, ConnectionStamp{}, fmt.Errorf("store: gateway key: %w", err)
	}
	cs.UpdatedAt = fromMicros(updated)
	return k, cs, nil
}

// gatewayKeyCacheStampSQL is gatewayKeyConnectionSQL that also reads the
// connection's server and, by currentSQL (the dialect's cacheCurrentSQL), an entry's
// fetch time: its parameters are currentSQL's, then the key's hash.
func gatewayKeyCacheStampSQL(currentSQL string) string {
	return `SELECT ` + qualified("k", gatewayKeyColumns) + `, c.name, c.updated_at, c.sealed_api_key, c.server_url, (` +
		currentSQL + `)
FROM gateway_keys k JOIN connections c ON c.name = k.connection WHERE k.key_hash = ?`
}

// GatewayKeyCacheStamp implements GatewayKeys.
func (s *sqlStore) GatewayKeyCacheStamp(ctx context.Context, hash []byte, server string, kind ioc.Kind, id string) (GatewayKey, ConnectionStamp, CacheStamp, error) {
	var (
		cs        ConnectionStamp
		updated   int64
		serverURL string
		fetched   sql.NullInt64
	)
	norm := NormalizeServerURL(server)
	k, err := scanGatewayKey(prefixedRow{r: s.queryRow(s.dialect.lookupCtx(ctx), s.keyStampSQL, norm, string(kind), id, hash),
		rest: []any{&cs.Name, &updated, &cs.SealedAPIKey, &serverURL, &fetched}})
	if errors.Is(err, sql.ErrNoRows) {
		k, cs, err := s.GatewayKeyConnection(ctx, hash)
		return k, cs, CacheStamp{}, err
	}
	if err != nil {
		return GatewayKey{}, ConnectionStamp{}, CacheStamp{}, fmt.Errorf("store: gateway key: %w", err)
	}
	cs.UpdatedAt = fromMicros(updated)
	if serverURL != server && NormalizeServerURL(serverURL) != norm {
		return k, cs, CacheStamp{}, nil // another server's cache: not the one read
	}
	return k, cs, CacheStamp{server: norm, kind: kind, id: id, fetched: fetched.Int64, found: fetched.Valid}, nil
}

// prefixedRow scans a row's last columns into rest, and the first ones into what Scan
// is given: one row read by two scanners.
type prefixedRow struct {
	r    rowScanner
	rest []any
}

func (p prefixedRow) Scan(dest ...any) error { return p.r.Scan(append(dest, p.rest...)...) }

// GetGatewayKey implements GatewayKeys.
func (s *sqlStore) GetGatewayKey(ctx context.Context, name string) (GatewayKey, error) {
	k, err := scanGatewayKey(s.queryRow(ctx, `SELECT `+gatewayKeyColumns+` FROM gateway_keys WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return GatewayKey{}, fmt.Errorf("gateway key %s: %w", name, ErrNotFound)
	}
	return k, err
}

// ListGatewayKeys implements GatewayKeys.
func (s *sqlStore) ListGatewayKeys(ctx context.Context) ([]GatewayKey, error) {
	return queryAll(ctx, s.db, scanGatewayKey, `SELECT `+gatewayKeyColumns+` FROM gateway_keys ORDER BY name`)
}

// DeleteGatewayKey implements GatewayKeys.
func (s *sqlStore) DeleteGatewayKey(ctx context.Context, name string) error {
	return s.deleteNamed(ctx, "gateway_keys", "gateway key", name)
}

// GatewayKeyView is a gateway key as people and API clients see it: never the key nor
// its hash. The REST API, the console and `vtsoar gateway-key list` all show this.
type GatewayKeyView struct {
	Name       string `json:"name"`
	Connection string `json:"connection"`
	Priority   string `json:"priority"`
	// MaxWait and MaxAge are Go durations ("1m30s").
	MaxWait   string    `json:"max_wait"`
	MaxAge    string    `json:"max_age"`
	CreatedAt time.Time `json:"created_at"`
}

// View returns the key as shown.
func (k GatewayKey) View() GatewayKeyView {
	return GatewayKeyView{Name: k.Name, Connection: k.Connection, Priority: k.Priority,
		MaxWait: k.MaxWait.String(), MaxAge: k.MaxAge.String(), CreatedAt: k.CreatedAt}
}
