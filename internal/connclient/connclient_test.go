package connclient_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/secret"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

func newCipher(t *testing.T) *secret.Cipher {
	t.Helper()
	c, err := secret.NewCipher(make([]byte, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSealOpenBindsName(t *testing.T) {
	c := newCipher(t)
	sealed, err := connclient.SealKey(c, "prod", "the-key")
	if err != nil {
		t.Fatal(err)
	}
	got, err := connclient.OpenKey(c, store.Connection{Name: "prod", SealedAPIKey: sealed})
	if err != nil || got != "the-key" {
		t.Fatalf("OpenKey = %q, %v", got, err)
	}
	_, err = connclient.OpenKey(c, store.Connection{Name: "other", SealedAPIKey: sealed})
	if !errors.Is(err, secret.ErrCorrupt) {
		t.Fatalf("OpenKey under another name: err = %v, want ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), "the-key") {
		t.Fatalf("error reveals the key: %v", err)
	}
}

func TestBuildRunsCommandsThroughCacheAndBudget(t *testing.T) {
	ctx := context.Background()
	sim := vtsim.MustNew(vtsim.Options{})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := newCipher(t)
	sealed, _ := connclient.SealKey(c, "sim", "k1")
	conn := store.Connection{Name: "sim", SealedAPIKey: sealed, ServerURL: srv.URL, Quota: "premium"}
	a, err := connclient.Build(ctx, st, c, conn, connclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	req := command.Request{Command: "check-file-reputation", Inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}}
	for i := 0; i < 2; i++ { // the second run is answered by the store's cache
		env, err := command.Run(ctx, a.Deps(), req)
		if err != nil {
			t.Fatal(err)
		}
		if env.ContextData[0].RiskLevel != "High" {
			t.Fatalf("EICAR risk = %q", env.ContextData[0].RiskLevel)
		}
	}
	if n := sim.Stats().ByEndpoint["GET /files/{id}"]; n != 1 {
		t.Fatalf("file fetches = %d, want 1 (second run from the cache)", n)
	}
	conn2 := conn
	conn2.Name = "sim-copy"
	conn2.SealedAPIKey, _ = connclient.SealKey(c, "sim-copy", "k1")
	b, err := connclient.Build(ctx, st, c, conn2, connclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Budget() != b.Budget() {
		t.Fatal("two connections with one key on one server must share a budget")
	}
	if _, err := connclient.Build(ctx, st, c, store.Connection{Name: "bad", SealedAPIKey: sealed, Quota: "3/fortnight"}, connclient.Options{}); err == nil {
		t.Fatal("Build with a key sealed for another name succeeded")
	}
}
