// Package pgtest gives tests a fresh PostgreSQL database of their own on the server that
// VTSOAR_TEST_POSTGRES names (.ci/pg-start starts one and prints the variable).
//
// DSN gives a test a database of its own. Creating a database takes PostgreSQL a
// fraction of a second (it copies a template), so a test that needs many empty
// databases, such as a suite with a store per subtest, takes one with DSN and an empty
// schema in it for each with Schema (a thousandth of the time).
//
// Without the variable a test that needs PostgreSQL is skipped, except under CI=true,
// where it fails: CI must never pass by skipping the PostgreSQL tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the variable holding the base DSN: a postgres:// URL of a role that may
// create databases.
const EnvVar = "VTSOAR_TEST_POSTGRES"

// BaseDSN returns the base DSN from EnvVar. Without it, it skips t, or fails it when
// the CI variable is "true".
func BaseDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvVar)
	if dsn != "" {
		return dsn
	}
	const msg = "PostgreSQL tests need " + EnvVar + "=postgres://...; .ci/run sets it (eval \"$(.ci/pg-start)\" starts a server)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + ": under CI=true this is a failure, not a skip")
		return ""
	}
	t.Skip(msg)
	return ""
}

// DSN creates an empty database named vtsoar_test_<random> on the server of BaseDSN
// and returns its DSN; the database is dropped when the test ends (after the cleanups
// registered later, such as closing the stores opened on it).
func DSN(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	u, err := url.Parse(base)
	if err != nil {
		// The URL is not echoed: it holds a password.
		t.Fatalf("%s is not a URL", EnvVar)
	}
	name := randomName()
	if err := admin(base, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := admin(base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

// Schema creates an empty schema named vtsoar_test_<random> in the database of dsn (from
// DSN) and returns a DSN whose connections find their tables there (search_path): to
// a store, an empty database of its own, but for advisory locks, which it shares with
// the other schemas of the database. The schema is dropped when the test ends.
func Schema(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: Schema: not a URL")
	}
	name := randomName()
	if err := admin(dsn, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := admin(dsn, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Down makes the database of dsn (from DSN) unavailable as a restart of the server
// does, and no other database of the server: it takes no new connection
// (ALLOW_CONNECTIONS false, which a connection attempt meets as an error) and its
// sessions are terminated. The function it returns makes it available again; it runs
// at the latest when the test ends.
func Down(t testing.TB, dsn string) (up func()) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("pgtest: Down: not a URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(name, "vtsoar_test_") {
		t.Fatalf("pgtest: Down takes a database made by DSN, not %q", name)
	}
	base := BaseDSN(t)
	if err := admin(base, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS false"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := admin(base, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"' AND pid <> pg_backend_pid()"); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	up = sync.OnceFunc(func() {
		if err := admin(base, "ALTER DATABASE "+name+" ALLOW_CONNECTIONS true"); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	t.Cleanup(up)
	return up
}

func randomName() string {
	var b [8]byte
	rand.Read(b[:])
	return "vtsoar_test_" + hex.EncodeToString(b[:])
}

// admin runs one statement on the database of dsn.
func admin(dsn, stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}
