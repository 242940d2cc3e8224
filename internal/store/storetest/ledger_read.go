package storetest

import (
	"database/sql"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/vtsoar/vtsoar/internal/store"
)

// LedgerTimes reads the units of budget (every budget's when it is empty) straight
// from the database dsn names (a SQLite file's path or a PostgreSQL URL), oldest
// first, past any store: what a test checks a budget's spending against.
func LedgerTimes(t testing.TB, dsn, budget string) []time.Time {
	t.Helper()
	driver, query := "sqlite", `SELECT at FROM quota_ledger WHERE budget = ? OR ? = '' ORDER BY at`
	if store.IsPostgres(dsn) {
		driver, query = "pgx", `SELECT at FROM quota_ledger WHERE budget = $1 OR $2 = '' ORDER BY at`
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query, budget, budget)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			t.Fatal(err)
		}
		out = append(out, time.UnixMicro(us))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
