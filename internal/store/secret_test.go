package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// TestAPIKeyNeverInDatabaseFiles stores a connection and spends its budget, then reads
// every file of the database (main file, WAL, shared memory) while the store is open
// and after it is closed: the key appears in none of them, in any usual encoding.
func TestAPIKeyNeverInDatabaseFiles(t *testing.T) {
	t.Setenv(secret.EnvMasterKey, "")
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "vtsoar.db")
	apiKey := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	c, err := secret.LoadMaster(secret.KeyFilePath(path))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	needles := storeKey(t, s, c, apiKey)
	check := func(when string) {
		files, _ := filepath.Glob(path + "*")
		if len(files) < 2 && when == "open" {
			t.Fatalf("expected the WAL beside the database, found %v", files)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Fatalf("%s (%s): the API key is in %s", when, n, filepath.Base(f))
				}
			}
		}
	}
	check("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
	// The sealed key opens again with the master key.
	s2, err := store.OpenSQLite(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.GetConnection(ctx, "vt-prod")
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := secret.LoadMaster(secret.KeyFilePath(path))
	plain, err := c2.Open(got.SealedAPIKey, []byte("vt-prod"))
	if err != nil || string(plain) != apiKey {
		t.Fatalf("stored key does not open: %v", err)
	}
}

// storeKey stores apiKey, sealed by c, as the connection vt-prod's and spends a unit
// of its budget; it returns the key's usual encodings, none of which the database may
// hold.
func storeKey(t *testing.T, s store.Store, c *secret.Cipher, apiKey string) (needles [][]byte) {
	t.Helper()
	ctx := context.Background()
	sealed, err := c.Seal([]byte(apiKey), []byte("vt-prod"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "vt-prod", SealedAPIKey: sealed, Quota: "public"}); err != nil {
		t.Fatal(err)
	}
	l := quota.New(s, quota.BudgetID("", apiKey), quota.Public, quota.Config{})
	if err := l.Wait(ctx, vt.Request{}); err != nil {
		t.Fatal(err)
	}
	return [][]byte{
		[]byte(apiKey),
		[]byte(strings.ToUpper(apiKey)),
		[]byte(base64.StdEncoding.EncodeToString([]byte(apiKey))),
		mustHex(apiKey), // the key's bytes, were it stored decoded
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
