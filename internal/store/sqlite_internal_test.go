package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/ioc"
)

func TestSQLiteFileModeWALAndMigrations(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "vtsoar.db")
	s, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, filepath.Dir(path)} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if info.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", p, info.Mode().Perm(), want)
		}
	}
	db := s.(*sqliteStore).db
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	// The ledger's commits are synced (FULL = 2), the others at checkpoints (NORMAL = 1).
	var syncMain, syncLedger int
	db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncMain)
	s.(*sqliteStore).ledger.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncLedger)
	if syncMain != 1 || syncLedger != 2 {
		t.Fatalf("synchronous = %d for the store, %d for the ledger; want NORMAL (1) and FULL (2)", syncMain, syncLedger)
	}
	var fk, busy int
	db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk)
	db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy)
	if fk != 1 || busy < 1000 {
		t.Fatalf("foreign_keys = %d, busy_timeout = %d", fk, busy)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations has %d rows, %v", n, err)
	}
	ms, _ := loadMigrations(sqliteMigrations, "migrations/sqlite")
	if n != len(ms) {
		t.Fatalf("%d migrations recorded, %d embedded", n, len(ms))
	}
	// The WAL file is private too.
	s.CreateConnection(ctx, Connection{Name: "x", SealedAPIKey: []byte{1}})
	if info, err := os.Stat(path + "-wal"); err == nil && info.Mode().Perm()&0o077 != 0 {
		t.Errorf("WAL file mode %#o", info.Mode().Perm())
	}
}

func TestSQLiteConcurrentOpenOfNewDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := OpenSQLite(context.Background(), path, Options{})
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestSQLiteRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := OpenSQLite(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.(*sqliteStore).db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenSQLite(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// Open dispatches a postgres:// URL to PostgreSQL: an unreachable server is reported as
// a PostgreSQL error, not as a SQLite file named "postgres:".
func TestOpenPostgresURLUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://u:secret-pw@127.0.0.1:1/db?connect_timeout=2", Options{})
	if err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "secret-pw") {
		t.Fatalf("the password is in the error: %v", err)
	}
}

func TestOpenRejectsQueryInPath(t *testing.T) {
	if _, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "a?mode=ro"), Options{}); err == nil {
		t.Fatal("path with '?' accepted")
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/xdg/data")
	if p, err := DefaultPath(); err != nil || p != "/xdg/data/vtsoar/vtsoar.db" {
		t.Fatalf("DefaultPath = %q, %v", p, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative/ignored")
	t.Setenv("HOME", "/home/ana")
	if p, err := DefaultPath(); err != nil || p != "/home/ana/.local/share/vtsoar/vtsoar.db" {
		t.Fatalf("DefaultPath = %q, %v", p, err)
	}
}

func TestNormalizeServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "https://www.virustotal.com",
		"https://www.virustotal.com/":     "https://www.virustotal.com",
		"HTTPS://WWW.VIRUSTOTAL.COM":      "https://www.virustotal.com",
		"http://127.0.0.1:8089":           "http://127.0.0.1:8089",
		"http://user:pw@Host:1/base/?q#f": "http://host:1/base",
	} {
		if got := NormalizeServerURL(in); got != want {
			t.Errorf("NormalizeServerURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteWithEveryOtherConnectionTaken: a write whose statement is not prepared yet
// goes through while every other connection of the pool is taken (on a busy service,
// by readers and River waiting for SQLite's write lock that the write holds): it
// prepares the statement on its own transaction's connection instead of waiting for a
// second one, which would wait for ever.
func TestWriteWithEveryOtherConnectionTaken(t *testing.T) {
	ctx := context.Background()
	st, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "v.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*sqliteStore)
	var held []*sql.Conn
	for range sqliteConns() - 1 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := st.Cache("https://vt.example").Put(wctx, cache.Entry{Kind: ioc.KindFile, ID: "abc", Body: []byte(`{}`)}); err != nil {
		t.Fatalf("the write waited for a connection: %v", err)
	}
	if err := st.PutRunResult(wctx, "r", RunResult{Index: 0, Data: []byte(`{}`)}); err != nil {
		t.Fatalf("the write waited for a connection: %v", err)
	}
}
