package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// recorder is a testing.TB that records Fatal and Skip instead of ending the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                      {}
func (r *recorder) Fatal(args ...any)            { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)             { r.skip = fmt.Sprint(args...) }
func (r *recorder) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }

func TestBaseDSNWithoutServer(t *testing.T) {
	t.Setenv(EnvVar, "")

	t.Setenv("CI", "")
	r := &recorder{TB: t}
	BaseDSN(r)
	if r.skip == "" || r.fatal != "" || !strings.Contains(r.skip, EnvVar) {
		t.Errorf("outside CI: skip %q, fatal %q; want a skip that names %s", r.skip, r.fatal, EnvVar)
	}

	t.Setenv("CI", "true")
	r = &recorder{TB: t}
	BaseDSN(r)
	if r.fatal == "" || r.skip != "" {
		t.Errorf("under CI=true: skip %q, fatal %q; want a failure", r.skip, r.fatal)
	}
}

func TestDSNFreshDatabaseDroppedAtCleanup(t *testing.T) {
	base := BaseDSN(t)
	ctx := context.Background()
	var names []string
	t.Run("use", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			conn, err := pgx.Connect(ctx, DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			var name string
			var tables int
			if err := conn.QueryRow(ctx, `SELECT current_database(),
(SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public')`).Scan(&name, &tables); err != nil {
				t.Fatal(err)
			}
			conn.Close(ctx)
			if !strings.HasPrefix(name, "vtsoar_test_") || tables != 0 {
				t.Fatalf("database %q with %d tables, want a fresh vtsoar_test_*", name, tables)
			}
			names = append(names, name)
		}
		if names[0] == names[1] {
			t.Fatalf("two calls gave one database %s", names[0])
		}
	})
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = ANY($1)`, names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d of the databases %v remain after the test", left, names)
	}
}

func TestSchemaIsolatesAndIsDropped(t *testing.T) {
	db := DSN(t)
	ctx := context.Background()
	var names []string
	t.Run("use", func(t *testing.T) {
		a, b := Schema(t, db), Schema(t, db)
		ca, err := pgx.Connect(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		defer ca.Close(ctx)
		cb, err := pgx.Connect(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		defer cb.Close(ctx)
		if _, err := ca.Exec(ctx, `CREATE TABLE things (x int)`); err != nil {
			t.Fatal(err)
		}
		if _, err := cb.Exec(ctx, `CREATE TABLE things (x int)`); err != nil {
			t.Fatalf("a table of the same name in the second schema: %v", err)
		}
		for _, c := range []*pgx.Conn{ca, cb} {
			var name string
			if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
		if names[0] == names[1] || !strings.HasPrefix(names[0], "vtsoar_test_") {
			t.Fatalf("schemas %v", names)
		}
	})
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM pg_namespace WHERE nspname = ANY($1)`, names).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d of the schemas %v remain after the test", left, names)
	}
}
