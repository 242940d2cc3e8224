package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"
)

// A new database's tables have no statistics until autovacuum analyzes them, at its
// next visit (up to a minute by default) once enough of their rows changed. Until
// then PostgreSQL's planner takes every equality for a selective one: it looked an
// answer's names up by filtering every alias of the server (the (server, kind) prefix
// of an index, taken for one row) and joined entries by a scan of the server's, each
// lookup slower with every answer cached. While it is young, the store analyzes the
// tables that hold rows and were never analyzed, by itself or by autovacuum.
const (
	// youngAnalyzeEvery is how often the tables are looked at, for youngAnalyzeFor
	// after the store opens.
	youngAnalyzeEvery = 2 * time.Second
	youngAnalyzeFor   = 3 * time.Minute
	// youngAnalyzeRows is how many rows (live, or changed since) a table never
	// analyzed holds before it is.
	youngAnalyzeRows = 200
)

// neverAnalyzedSQL names the tables of the store's schema that were never analyzed
// and hold at least $1 rows.
const neverAnalyzedSQL = `SELECT relname FROM pg_stat_user_tables
WHERE schemaname = current_schema() AND last_analyze IS NULL AND last_autoanalyze IS NULL
AND n_live_tup + n_mod_since_analyze >= $1`

// analyzeYoung analyzes the tables neverAnalyzedSQL names, every youngAnalyzeEvery
// for youngAnalyzeFor or until ctx ends. A failure (the database out of reach, a role
// that may not analyze) is tried again at the next look: autovacuum does it later.
func analyzeYoung(ctx context.Context, db *sql.DB) {
	t := time.NewTicker(youngAnalyzeEvery)
	defer t.Stop()
	end := time.Now().Add(youngAnalyzeFor)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		tables, err := neverAnalyzed(ctx, db)
		if err != nil {
			continue
		}
		for _, name := range tables {
			db.ExecContext(ctx, `ANALYZE `+pgx.Identifier{name}.Sanitize())
		}
	}
}

func neverAnalyzed(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, neverAnalyzedSQL, youngAnalyzeRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	return out, rows.Err()
}
