package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// lockSpace is the first key of the two-key advisory locks the PostgreSQL store takes
// (the second is hashtext(budget) for the ledger, lockMigrations or lockWrites), so that
// they never meet a single-key advisory lock of another program on the same database.
// The locks of writeKeyed's keys have a first key of their own, keySpace.
const lockSpace = 0x76747361 // "vtsa"

// defaultPoolSize bounds the connections of one store unless the DSN sets
// pool_max_conns.
const defaultPoolSize = 10

// postgresStore is the store on PostgreSQL: the SQL core (sqlStore) on a database
// that several replicas share, and its dialect.
//
// The core's connections (db) rewrite its ? placeholders to PostgreSQL's $n
// (rebindConnector) and report unique violations as ErrExists.
//
// On SQLite every write transaction excludes every other (BEGIN IMMEDIATE), so that a
// read-then-write (finishing an artifact and recounting its event, recording a health
// check after the previous one, moving a cache alias) is atomic. Here a transaction
// begun on db takes the same role from a database-wide advisory lock (lockWrites),
// held until it commits, across replicas; reads take no lock. The transactions of the
// hot paths lock only what they read and write instead: takeLimited its budget
// (noWriteLock), and those of keyedTx (events and their artifacts, cache puts) an
// advisory lock per key under keySpace (lockKeys), taken in one order so that two of
// them never wait for each other's. A table written under keys is written under keys
// only (or by single statements that are atomic by themselves), so that the
// database-wide lock and the key locks never have to exclude each other.
// Transactions otherwise run at PostgreSQL's default READ COMMITTED isolation.
type postgresStore struct {
	*sqlStore
	pool *pgxpool.Pool
	// plain is a database/sql handle on pool without rebinding or write lock, for a
	// job queue that keeps its tables in the same database (DB).
	plain *sql.DB
	// stopAnalyze ends analyzeYoung, and analyzed is closed once it has.
	stopAnalyze context.CancelFunc
	analyzed    chan struct{}
}

var (
	_ Store   = (*postgresStore)(nil)
	_ SQLDB   = (*postgresStore)(nil)
	_ PGXPool = (*postgresStore)(nil)
	_ dialect = (*postgresStore)(nil)
)

// Advisory lock keys (second key under lockSpace).
const (
	lockMigrations = 0
	lockWrites     = 1
)

// noWriteLock marks the context of a transaction that takes a narrower lock of its own
// instead of the database-wide write lock.
type noWriteLock struct{}

// keySpace is the first key of the advisory locks of writeKeyed's keys, the second a
// 32-bit hash of the key: apart from lockSpace, so that a key never takes the lock of
// a budget, the migrations or the database-wide write lock.
const keySpace = 0x76747362 // "vtsb"

// lockKeys, in the context of a transaction, holds the keys (a []string) whose
// advisory locks the transaction takes instead of the database-wide write lock.
type lockKeys struct{}

// keyLocks returns the second keys of the advisory locks of keys, sorted and without
// repeats: every transaction takes its locks in this order, so that two transactions
// never hold one lock each of the other's pair.
func keyLocks(keys []string) []int32 {
	out := make([]int32, 0, len(keys))
	for _, k := range keys {
		h := fnv.New32a()
		h.Write([]byte(k))
		out = append(out, int32(h.Sum32()))
	}
	slices.Sort(out)
	return slices.Compact(out)
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
	// The store's own queries go through database/sql's pool, which keeps its idle
	// connections with their prepared statements; the pgx pool (which connects only
	// when used) serves a job queue.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", where, err)
	}
	db := sql.OpenDB(&rebindConnector{Connector: stdlib.GetConnector(*cfg.ConnConfig)})
	db.SetMaxOpenConns(int(cfg.MaxConns))
	db.SetMaxIdleConns(int(cfg.MaxConns))
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	s := &postgresStore{pool: pool, plain: stdlib.OpenDBFromPool(pool)}
	s.sqlStore = newSQLStore(db, s, where, opts)
	if err := s.migrate(ctx); err != nil {
		db.Close()
		s.plain.Close()
		pool.Close()
		return nil, fmt.Errorf("store: %s: %w", where, err)
	}
	actx, stop := context.WithCancel(context.Background())
	s.stopAnalyze, s.analyzed = stop, make(chan struct{})
	go func() {
		defer close(s.analyzed)
		analyzeYoung(actx, s.plain)
	}()
	return s, nil
}

// migrate applies the pending migrations while holding an advisory lock, so that
// replicas starting together apply each migration once.
func (s *postgresStore) migrate(ctx context.Context) error {
	ms, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		return err
	}
	conn, err := s.db.Conn(ctx) // the session that holds the lock
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(?, ?)`, lockSpace, lockMigrations); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(?, ?)`, lockSpace, lockMigrations)
	return migrate(ctx, s.db, ms, s.opts.now)
}

// keyedTx implements dialect: with keys, the transaction takes their advisory locks
// (lockKeys) and no other; without, the database-wide write lock.
func (s *postgresStore) keyedTx(ctx context.Context, keys []string, fn func(tx *sql.Tx) error) error {
	if len(keys) == 0 {
		return s.writeExclusive(ctx, s.db, fn)
	}
	return runTx(context.WithValue(ctx, lockKeys{}, keys), s.db, fn)
}

// ledgerTx implements dialect: a hold is written under the database-wide write lock.
func (s *postgresStore) ledgerTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.keyedTx(ctx, nil, fn)
}

// takeLimited implements dialect: the unit is taken under a transaction-scoped
// advisory lock on the budget, which every replica's takeLimited of that budget waits
// for.
func (s *postgresStore) takeLimited(ctx context.Context, r TakeRequest, clock func() time.Time) (TakeResult, error) {
	tx, err := s.db.BeginTx(context.WithValue(ctx, noWriteLock{}, true), nil)
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

// batchTx implements dialect: the transaction takes the locks of the keys and of the
// budgets (as takeLimited does); units only take the budgets' locks, not the
// database-wide one.
func (s *postgresStore) batchTx(ctx context.Context, keys, budgets []string, fn func(tx *sql.Tx) error) error {
	if len(keys) == 0 {
		ctx = context.WithValue(ctx, noWriteLock{}, true)
	}
	budgets = slices.Sorted(slices.Values(budgets))
	run := func(tx *sql.Tx) error {
		// The batch's commit does not wait for PostgreSQL's journal to reach the disk,
		// as SQLite's synchronous=NORMAL: a crash of the database server may lose its
		// last cached answers (asked again) and units of unlimited budgets (see
		// takeUnlimited), never anything else.
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit TO OFF`); err != nil {
			return err
		}
		for _, b := range budgets {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?, hashtext(?))`, lockSpace, b); err != nil {
				return err
			}
		}
		return fn(tx)
	}
	if len(keys) == 0 {
		return s.writeExclusive(ctx, s.db, run)
	}
	return runTx(context.WithValue(ctx, lockKeys{}, keys), s.db, run)
}

// cacheCurrentSQL implements dialect: PostgreSQL keeps large bodies out of the row
// and chooses the index for itself.
func (s *postgresStore) cacheCurrentSQL() string { return cacheCurrentSQL }

// lookupCtx implements dialect: ctx itself, so that a read held up on the network
// ends with its request.
func (s *postgresStore) lookupCtx(ctx context.Context) context.Context { return ctx }

// release implements dialect.
func (s *postgresStore) release() error {
	s.stopAnalyze()
	<-s.analyzed
	err := s.plain.Close()
	s.pool.Close()
	return err
}

// DB implements SQLDB: a database/sql handle on the store's pool that passes queries
// as they are (PostgreSQL's $n placeholders), for River's database/sql driver.
func (s *postgresStore) DB() *sql.DB { return s.plain }

// Pool returns the store's pgx pool, for River's pgx driver.
func (s *postgresStore) Pool() *pgxpool.Pool { return s.pool }

// rebindConnector gives database/sql connections that take the SQL core's ?
// placeholders.
type rebindConnector struct{ driver.Connector }

// Connect implements driver.Connector.
func (c *rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("store: pgx's connector made a %T, not a *stdlib.Conn", conn)
	}
	return &rebindConn{pc}, nil
}

// rebindConn is a pgx connection whose queries are rebound by rebind, whose unique
// violations are reported as ErrExists, and whose transactions take the write lock
// (see postgresStore). The methods it does not override (pings, session resets,
// argument checks) are pgx's.
//
// When the server said a statement was refused because the connection is going away
// (SQLSTATE class 57P: terminated, server shut down or restarting), the error is
// driver.ErrBadConn, which database/sql retries on another connection, and in the end
// on a new one: the statement was not executed, or its transaction not committed.
type rebindConn struct{ *stdlib.Conn }

// BeginTx implements driver.ConnBeginTx: a transaction that is not read-only and whose
// context is not marked noWriteLock waits for the advisory locks of the keys in its
// context (lockKeys), or, without keys, for the database-wide write lock.
func (c *rebindConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil || opts.ReadOnly || ctx.Value(noWriteLock{}) != nil {
		return tx, pgError(err)
	}
	keys, _ := ctx.Value(lockKeys{}).([]string)
	if len(keys) == 0 {
		if _, err := c.Conn.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, %d)`, lockSpace, lockWrites), nil); err != nil {
			tx.Rollback()
			return nil, fmt.Errorf("write lock: %w", pgError(err))
		}
		return tx, nil
	}
	if _, err := c.Conn.ExecContext(ctx, keyLocksSQL(keyLocks(keys)), nil); err != nil {
		tx.Rollback()
		return nil, fmt.Errorf("write lock: %w", pgError(err))
	}
	return tx, nil
}

// keyLocksSQL is the statement that takes the advisory locks of locks (keyLocks'), in
// their order, in one round trip: a batch of cache puts names a few keys each.
func keyLocksSQL(locks []int32) string {
	if len(locks) == 1 {
		return fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d, %d)`, keySpace, locks[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `SELECT count(pg_advisory_xact_lock(%d, k)) FROM unnest('{`, keySpace)
	for i, k := range locks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(k)))
	}
	b.WriteString(`}'::int4[]) AS k`)
	return b.String()
}

// Prepare implements driver.Conn.
func (c *rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext.
func (c *rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.PrepareContext(ctx, rebind(query))
	if err != nil {
		return nil, pgError(err)
	}
	ps, ok := st.(*stdlib.Stmt)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("store: pgx prepared a %T, not a *stdlib.Stmt", st)
	}
	return &rebindStmt{ps}, nil
}

// rebindStmt is a prepared statement of a rebindConn, whose errors are mapped as the
// connection's are (pgError), so that database/sql prepares it again on another
// connection when the server dropped this one.
type rebindStmt struct{ *stdlib.Stmt }

// ExecContext implements driver.StmtExecContext.
func (s *rebindStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := s.Stmt.ExecContext(ctx, args)
	return res, pgError(err)
}

// QueryContext implements driver.StmtQueryContext.
func (s *rebindStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := s.Stmt.QueryContext(ctx, args)
	return rows, pgError(err)
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
// between the check and the insert), driver.ErrBadConn around a refusal of class 57P
// (see rebindConn), and connLost around the I/O error of a connection that broke (see
// IsUnavailable). The error's text has no row values: pgx keeps them in the Detail
// field, which it does not print.
func pgError(err error) error {
	var pe *pgconn.PgError
	switch {
	case !errors.As(err, &pe):
		return markLost(err)
	case pe.Code == "23505":
		return fmt.Errorf("%w: %w", ErrExists, err)
	case strings.HasPrefix(pe.Code, "57P"):
		return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
	}
	return err
}

var dollarParam = regexp.MustCompile(`\$[0-9]`)

// rebind turns the ? placeholders of query into $1, $2... It leaves alone question marks
// in quoted strings and identifiers and in comments, and a query that already has $n
// placeholders (a job queue's, where ? is the jsonb key operator).
func rebind(query string) string {
	if !strings.Contains(query, "?") || dollarParam.MatchString(query) {
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
