package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A release may add a migration in a lower number range (0100-0199, say) than one a
// database already has (0200): it must still be applied, and a database that has a
// migration this binary does not know must be refused.
func TestMigrateAppliesLowerNumberedMigrationAddedLater(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	first := []migration{
		{version: 1, name: "0001_a.sql", sql: `CREATE TABLE a (x INTEGER)`},
		{version: 200, name: "0200_c.sql", sql: `CREATE TABLE c (x INTEGER)`},
	}
	if err := migrate(ctx, db, first, time.Now); err != nil {
		t.Fatal(err)
	}
	later := []migration{first[0],
		{version: 100, name: "0100_b.sql", sql: `CREATE TABLE b (x INTEGER)`},
		first[1]}
	if err := migrate(ctx, db, later, time.Now); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO b (x) VALUES (1)`); err != nil {
		t.Fatalf("migration 0100 added after 0200 was not applied: %v", err)
	}
	var n int
	db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if n != 3 {
		t.Fatalf("schema_migrations has %d rows, want 3", n)
	}

	err = migrate(ctx, db, first, time.Now) // an older binary: does not know 0100
	if err == nil || !strings.Contains(err.Error(), "upgrade vtsoar") {
		t.Fatalf("older binary on a newer database: err = %v, want a refusal asking to upgrade", err)
	}
}
