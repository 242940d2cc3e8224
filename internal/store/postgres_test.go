package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/pgtest"
	"github.com/vtsoar/vtsoar/internal/store/storetest"
	"github.com/vtsoar/vtsoar/ioc"
)

// pgDSNs gives each test one DSN per name, so that two opens of one name within a
// test are two handles (two replicas) on one database.
var pgDSNs sync.Map // *testing.T -> *sync.Map (name -> DSN)

// pgDSN returns the DSN of name in t, made by fresh the first time.
func pgDSN(t *testing.T, name string, fresh func() string) string {
	t.Helper()
	m, _ := pgDSNs.LoadOrStore(t, &sync.Map{})
	if dsn, ok := m.(*sync.Map).Load(name); ok {
		return dsn.(string)
	}
	dsn := fresh()
	m.(*sync.Map).Store(name, dsn)
	return dsn
}

func openDSN(t *testing.T, dsn string, opts store.Options) store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPostgres opens the database called name in t, a database of its own.
func openPostgres(t *testing.T, name string, opts store.Options) store.Store {
	t.Helper()
	return openDSN(t, pgDSN(t, name, func() string { return pgtest.DSN(t) }), opts)
}

func TestPostgresSuite(t *testing.T) {
	// One database for the suite, and in it a schema for each name of each subtest.
	db := pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T, name string, opts store.Options) store.Store {
		t.Helper()
		return openDSN(t, pgDSN(t, name, func() string { return pgtest.Schema(t, db) }), opts)
	})
}

// TestPostgresReplicasOpenTogether has several replicas open a new database at once:
// every one opens it, the migrations are applied once, and all see one schema.
func TestPostgresReplicasOpenTogether(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	const replicas = 4
	stores := make([]store.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = store.OpenPostgres(ctx, dsn, store.Options{})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var applied, distinct int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations`).Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied == 0 || applied != distinct {
		t.Fatalf("schema_migrations has %d rows for %d versions", applied, distinct)
	}
	// A record one replica writes, another reads.
	c := store.Connection{Name: "shared", SealedAPIKey: []byte{1, 2, 3}}
	if err := stores[0].CreateConnection(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[replicas-1].GetConnection(ctx, "shared"); err != nil || !bytes.Equal(got.SealedAPIKey, c.SealedAPIKey) {
		t.Fatalf("other replica reads %+v, %v", got, err)
	}
}

// TestPostgresCreateRace has replicas create one connection name at once: one
// succeeds and the others get ErrExists, not a raw constraint error.
func TestPostgresCreateRace(t *testing.T) {
	ctx := context.Background()
	handles := []store.Store{openPostgres(t, "race", store.Options{}), openPostgres(t, "race", store.Options{})}
	const tries = 8
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = handles[i%2].CreateConnection(ctx, store.Connection{Name: "once", SealedAPIKey: []byte{byte(i + 1)}})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrExists):
			t.Errorf("CreateConnection: %v, want nil or ErrExists", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creations of one name succeeded", ok)
	}
}

// TestPostgresOpenErrorHidesPassword: a server that refuses the login gives an error
// that names the server but not the password.
func TestPostgresOpenErrorHidesPassword(t *testing.T) {
	base := pgtest.BaseDSN(t)
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	const password = "not-the-password-5b1e"
	dsn := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", cfg.User, password, cfg.Host, cfg.Port, cfg.Database)
	s, err := store.Open(context.Background(), dsn, store.Options{})
	if err == nil {
		s.Close()
		t.Fatal("opened with a wrong password")
	}
	if strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), cfg.Host) {
		t.Fatalf("error %q: want the host and not the password", err)
	}
}

// TestPostgresAPIKeyNeverInClear stores a connection and spends its budget, then reads
// every text, binary and JSON column of every table, as a dump would: the key appears
// in none of them, in any usual encoding, and the sealed key still opens.
func TestPostgresAPIKeyNeverInClear(t *testing.T) {
	t.Setenv(secret.EnvMasterKey, "")
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	apiKey := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	c, err := secret.LoadMaster(secret.KeyFilePath(t.TempDir() + "/vtsoar.db"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	needles := storeKey(t, s, c, apiKey)

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
WHERE table_schema = current_schema() AND data_type IN ('text', 'bytea', 'character varying', 'json', 'jsonb')
ORDER BY table_name, column_name`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Table, Column, Type string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) < 5 {
		t.Fatalf("only %d text or binary columns found: %v", len(cols), cols)
	}
	var values int
	for _, col := range cols {
		// Both the column's bytes and its text form (bytea as \x hex) are searched.
		raw := "convert_to(%[1]s::text, 'UTF8')"
		if col.Type == "bytea" {
			raw = "%[1]s"
		}
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT "+raw+", %[1]s::text FROM %[2]s WHERE %[1]s IS NOT NULL",
			pgx.Identifier{col.Column}.Sanitize(), pgx.Identifier{col.Table}.Sanitize()))
		if err != nil {
			t.Fatalf("%s.%s: %v", col.Table, col.Column, err)
		}
		for rows.Next() {
			var raw []byte
			var text string
			if err := rows.Scan(&raw, &text); err != nil {
				t.Fatal(err)
			}
			values++
			for _, n := range needles {
				if bytes.Contains(raw, n) || strings.Contains(strings.ToLower(text), strings.ToLower(string(n))) {
					t.Fatalf("the API key is in %s.%s", col.Table, col.Column)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if values < 3 {
		t.Fatalf("only %d values read: the connection and the ledger unit should be there", values)
	}
	got, err := s.GetConnection(ctx, "vt-prod")
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := c.Open(got.SealedAPIKey, []byte("vt-prod")); err != nil || string(plain) != apiKey {
		t.Fatalf("stored key does not open: %v", err)
	}
}

// TestPostgresReplicasFinishEvents has replicas finish the artifacts of many
// two-artifact events at once, one artifact each, so that the two transactions that
// recount an event overlap: every event ends done with both counted.
func TestPostgresReplicasFinishEvents(t *testing.T) {
	ctx := context.Background()
	const events = 60
	a, b := openPostgres(t, "events", store.Options{}), openPostgres(t, "events", store.Options{})
	arts := []store.Artifact{{Type: ioc.KindIP, Value: "192.0.2.1"}, {Type: ioc.KindIP, Value: "192.0.2.2"}}
	for e := range events {
		if _, err := a.CreateEvent(ctx, store.Event{ID: fmt.Sprint(e), Artifacts: arts}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for idx, h := range []store.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range events {
				if _, _, err := h.FinishArtifact(ctx, fmt.Sprint(e), store.Artifact{Index: idx, Status: store.ArtifactDone, RiskLevelCode: 3}, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for e := range events {
		ev, err := b.GetEvent(ctx, fmt.Sprint(e))
		if err != nil {
			t.Fatal(err)
		}
		if ev.FinishedCount != 2 || ev.Status != store.EventDone {
			t.Fatalf("event %d: finished_count %d, status %s after both artifacts finished", e, ev.FinishedCount, ev.Status)
		}
	}
}

// TestPostgresReconnects drops every connection of the store, as a server restart does:
// the next reads, ledger units and writes succeed on new connections, without an error.
func TestPostgresReconnects(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := openDSN(t, dsn, store.Options{})
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for round := range 3 {
		// Use several connections at once, so that the pool holds more than one.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.TakeUnit(ctx, store.TakeRequest{Budget: fmt.Sprint("b", i)}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var killed int
		if err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed); err != nil {
			t.Fatal(err)
		}
		if killed == 0 {
			t.Fatal("the store held no connection to drop")
		}
		name := fmt.Sprint("after-", round)
		if err := s.CreateConnection(ctx, store.Connection{Name: name, SealedAPIKey: []byte{1}}); err != nil {
			t.Fatalf("round %d, %d connections dropped: create: %v", round, killed, err)
		}
		if _, err := s.GetConnection(ctx, name); err != nil {
			t.Fatalf("round %d: get: %v", round, err)
		}
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "b0"}); err != nil || !r.Granted {
			t.Fatalf("round %d: take: %+v, %v", round, r, err)
		}
	}
}

// TestPostgresAnalyzesNewTables: the tables of a new database are analyzed by the
// store once they hold rows, without waiting for autovacuum (off here), so that an
// answer's names are looked up by the whole key. Without statistics the planner took
// the (server, kind) prefix for one row and filtered every alias of the server, each
// lookup slower with every answer cached.
func TestPostgresAnalyzesNewTables(t *testing.T) {
	ctx := context.Background()
	s := openDSN(t, pgtest.DSN(t), store.Options{})
	db := s.(store.SQLDB).DB()
	for _, table := range []string{"cache_aliases", "cache_entries"} {
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
	c := s.Cache("https://www.virustotal.com")
	for i := range 300 {
		if err := c.Put(ctx, benchEntry(i, nil)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_user_tables
WHERE relname IN ('cache_aliases', 'cache_entries') AND last_analyze IS NOT NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the cache's 2 tables analyzed after 30 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var server string
	if err := db.QueryRowContext(ctx, `SELECT server FROM cache_aliases LIMIT 1`).Scan(&server); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `EXPLAIN SELECT id FROM cache_aliases WHERE server = $1 AND kind = 'file' AND alias IN ($2, $3)`,
		server, fmt.Sprintf("%032x", 7), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		rows.Scan(&line)
		plan = append(plan, line)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "Index Cond") || !strings.Contains(p, "alias = ANY") || strings.Contains(p, "Filter") {
		t.Fatalf("the alias lookup's plan:\n%s", p)
	}
}
