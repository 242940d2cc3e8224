package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/ioc"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c >= ?`, `SELECT a FROM t WHERE b = $1 AND c >= $2`},
		{`INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b`,
			`INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a) DO UPDATE SET b = excluded.b`},
		{`SELECT '?', "a?b", ? -- what?` + "\n" + `FROM t WHERE x = ?`,
			`SELECT '?', "a?b", $1 -- what?` + "\n" + `FROM t WHERE x = $2`},
		{`SELECT 'it''s ?' , ?`, `SELECT 'it''s ?' , $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`SELECT a - ? FROM t`, `SELECT a - $1 FROM t`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestPGErrorUniqueViolationIsErrExists(t *testing.T) {
	unique := fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505", Message: "duplicate key value", Detail: "Key (token_hash)=(\\xdeadbeef) already exists."})
	err := pgError(unique)
	if !errors.Is(err, ErrExists) {
		t.Fatalf("%v is not ErrExists", err)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("%v lost the PgError", err)
	}
	if s := err.Error(); !strings.Contains(s, "duplicate key") || strings.Contains(s, "deadbeef") {
		t.Fatalf("message %q: want the server's message without the row's values", s)
	}
	for _, other := range []error{nil, errors.New("x"), &pgconn.PgError{Code: "23503"}} {
		if errors.Is(pgError(other), ErrExists) || errors.Is(pgError(other), driver.ErrBadConn) {
			t.Errorf("pgError(%v) is ErrExists or ErrBadConn", other)
		}
	}
	// A connection the server terminated: database/sql retries on another.
	gone := pgError(&pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
	if !errors.Is(gone, driver.ErrBadConn) || errors.Is(gone, ErrExists) {
		t.Errorf("pgError(57P01) = %v, want driver.ErrBadConn", gone)
	}
}

// TestPostgresMigrationsMatchSQLite: every SQLite migration has a PostgreSQL twin of the
// same version and name, so that both backends have one schema history.
func TestPostgresMigrationsMatchSQLite(t *testing.T) {
	lite, err := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := loadMigrations(postgresMigrations, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	if !reflect.DeepEqual(names(lite), names(pg)) {
		t.Fatalf("migrations differ:\nsqlite:   %v\npostgres: %v\n(add the PostgreSQL twin in migrations/postgres)", names(lite), names(pg))
	}
}

// TestPostgresKeyedWritesLockTheirKeysOnly holds one event's write transaction open on
// one replica: another replica finishes an artifact of another event, and writes a
// connection, meanwhile; finishing an artifact of the held event waits for the
// event's lock until the transaction ends, and then counts it.
func TestPostgresKeyedWritesLockTheirKeysOnly(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	open := func() *postgresStore {
		s, err := OpenPostgres(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.(*postgresStore)
	}
	a, b := open(), open()
	for _, id := range []string{"held", "free"} {
		if _, err := a.CreateEvent(ctx, Event{ID: id, Artifacts: []Artifact{{Type: ioc.KindIP, Value: "192.0.2.1"}}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	held, release, heldDone := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		heldDone <- a.writeKeyed(ctx, eventKeys("held"), func(tx *sql.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()

	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	done := Artifact{Index: 0, Status: ArtifactDone, RiskLevelCode: 3}
	if ev, _, err := b.FinishArtifact(tctx, "free", done, nil); err != nil || ev.Status != EventDone {
		t.Fatalf("another event, while one is held: %+v, %v", ev, err)
	}
	if err := b.CreateConnection(tctx, Connection{Name: "c", SealedAPIKey: []byte{1}}); err != nil {
		t.Fatalf("a write without keys, while an event is held: %v", err)
	}

	finished := make(chan error, 1)
	go func() {
		_, _, err := b.FinishArtifact(tctx, "held", done, nil)
		finished <- err
	}()
	// Wait until the finishing transaction is seen waiting for an advisory lock.
	mon, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	for {
		var waiting int
		if err := mon.QueryRowContext(tctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
AND classid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, keySpace).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-finished:
			t.Fatalf("finished an artifact of the held event while it was held (err %v)", err)
		case <-tctx.Done():
			t.Fatal("the finishing transaction never waited for the event's lock")
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(release)
	released = true
	if err := <-heldDone; err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	ev, err := a.GetEvent(ctx, "held")
	if err != nil || ev.FinishedCount != 1 || ev.Status != EventDone {
		t.Fatalf("held event after release: %+v, %v", ev, err)
	}
}

func TestKeyLocksSortedUnique(t *testing.T) {
	got := keyLocks([]string{"b", "a", "b", "c"})
	if len(got) != 3 || !slices.IsSorted(got) {
		t.Fatalf("keyLocks = %v, want 3 sorted locks", got)
	}
	if again := keyLocks([]string{"c", "a", "b"}); !slices.Equal(got, again) {
		t.Fatalf("keyLocks depends on the order of its keys: %v, %v", got, again)
	}
}
