package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// lockSpace is the first key of the two-key advisory locks the PostgreSQL store takes
// (the second is hashtext(budget) for the ledger, 0 for migrations), so that they
// never meet a single-key advisory lock of another program on the same database.
const lockSpace = 0x76747361 // "vtsa"

// defaultPoolSize bounds the connections of one store unless the DSN sets
// pool_max_conns.
const defaultPoolSize = 10

// postgresStore is the PostgreSQL implementation of Store.
//
// The SQLite implementation is written in portable SQL over database/sql, so its
// methods run unchanged on PostgreSQL: the connections of db rewrite its ? placeholders
// to PostgreSQL's $n (rebindConnector) and report unique violations as ErrExists.
// What differs is here: opening and migrating, and TakeUnit, which must be atomic
// across replicas, where SQLite's database-wide write lock is replaced by an advisory
// lock per budget.
//
// Transactions run at PostgreSQL's default READ COMMITTED isolation. Upserts use ON
// CONFLICT; a read-then-write that two replicas may race on either takes a lock first
// (TakeUnit, migrations) or is settled by a unique constraint (creating a record).
type postgresStore struct {
	*sqliteStore
	pool *pgxpool.Pool
}

// OpenPostgres connects to the PostgreSQL database that dsn (a postgres:// URL or a
// key=value connection string, as pgx reads it, with its pool_* settings) names and
// applies pending migrations. Several processes may open one database at once; the
// migrations are applied once.
//
// opts.BusyTimeout is PostgreSQL's lock_timeout (how long a statement waits for a
// lock another replica holds) unless the DSN sets one.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, fmt.Errorf("store: %w", err)
	}
	where := fmt.Sprintf("PostgreSQL at %s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = defaultPoolSize
	}
	// Migrating holds one connection for its lock and uses another.
	cfg.MaxConns = max(cfg.MaxConns, 2)
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 10 * time.Second
	}
	params := cfg.ConnConfig.RuntimeParams
	if _, ok := params["lock_timeout"]; !ok {
		params["lock_timeout"] = fmt.Sprint(busy.Milliseconds())
	}
	if _, ok := params["application_name"]; !ok {
		params["application_name"] = "vtsoar"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", where, err)
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetPoolConnector(pool)})
	db.SetMaxIdleConns(0) // the pgx pool keeps the idle connections
	s := &postgresStore{
		sqliteStore: &sqliteStore{db: db, path: where, opts: opts, caches: map[string]*sqliteCache{}},
		pool:        pool,
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", where, err)
	}
	return s, nil
}

// migrate applies the pending migrations while holding an advisory lock, so that
// replicas starting together apply each migration once.
func (s *postgresStore) migrate(ctx context.Context) error {
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, 0)`, lockSpace); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, 0)`, lockSpace)
	return migrate(ctx, s.db, s.begin, ms)
}

// TakeUnit implements Ledger: the unit is taken under a transaction-scoped advisory
// lock on the budget, which every replica's TakeUnit of that budget waits for.
func (s *postgresStore) TakeUnit(ctx context.Context, r TakeRequest) (TakeResult, error) {
	if r.Budget == "" {
		return TakeResult{}, errors.New("store: TakeUnit: empty budget")
	}
	clock := r.Clock
	if clock == nil {
		clock = time.Now
	}
	res, err := s.takeUnitLocked(ctx, r, clock)
	if err != nil {
		return TakeResult{}, fmt.Errorf("store: quota ledger: %w", err)
	}
	return res, nil
}

func (s *postgresStore) takeUnitLocked(ctx context.Context, r TakeRequest, clock func() time.Time) (TakeResult, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return TakeResult{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(?))`, lockSpace, r.Budget); err != nil {
		return TakeResult{}, err
	}
	// The clock is read once the lock is held (see TakeRequest.Clock); at READ
	// COMMITTED every later statement sees the units of the previous holder.
	res, err := takeUnit(ctx, tx, r, clock())
	if err != nil {
		return TakeResult{}, err
	}
	return res, tx.Commit()
}

// Close implements Store.
func (s *postgresStore) Close() error {
	err := s.sqliteStore.Close()
	s.pool.Close()
	return err
}

// rebindConnector gives database/sql connections that take the SQLite implementation's
// ? placeholders.
type rebindConnector struct{ driver.Connector }

// Connect implements driver.Connector.
func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rebindConn{conn.(*stdlib.Conn)}, nil
}

// rebindConn is a pgx connection whose queries are rebound by rebind, and whose unique
// violations are reported as ErrExists. The methods it does not override (transactions,
// pings, session resets, argument checks) are pgx's.
type rebindConn struct{ *stdlib.Conn }

// Prepare implements driver.Conn.
func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

// PrepareContext implements driver.ConnPrepareContext.
func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

// ExecContext implements driver.ExecerContext.
func (c *rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.ExecContext(ctx, rebind(query), args)
	return res, pgError(err)
}

// QueryContext implements driver.QueryerContext.
func (c *rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.QueryContext(ctx, rebind(query), args)
	return rows, pgError(err)
}

// pgError wraps ErrExists around a unique violation (another replica created the record
// between the check and the insert). The error's text has no row values: pgx keeps
// them in the Detail field, which it does not print.
func pgError(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrExists, err)
	}
	return err
}

// rebind turns the ? placeholders of query into $1, $2... It leaves alone question marks
// in quoted strings and identifiers and in comments.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		ch := query[i]
		switch {
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(query[i+1:], ch)
			if j < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case ch == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i
			}
			b.WriteString(query[i : i+end])
			i += end - 1
		case ch == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
