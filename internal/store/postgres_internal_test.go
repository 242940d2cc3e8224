package store

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
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
