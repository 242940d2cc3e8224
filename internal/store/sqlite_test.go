package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/internal/store/storetest"
)

// testDirs gives each test one directory, so that openSQLite with one name within a
// test opens one database file.
var testDirs sync.Map // *testing.T -> string

func dbPath(t *testing.T, name string) string {
	d, ok := testDirs.Load(t)
	if !ok {
		d, _ = testDirs.LoadOrStore(t, t.TempDir())
	}
	return filepath.Join(d.(string), name+".db")
}

func openSQLite(t *testing.T, name string, opts store.Options) store.Store {
	t.Helper()
	s, err := store.OpenSQLite(context.Background(), dbPath(t, name), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLiteSuite(t *testing.T) {
	storetest.Run(t, openSQLite)
}
