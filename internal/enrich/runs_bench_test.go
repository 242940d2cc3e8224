package enrich_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/connclient"
	"github.com/vtsoar/vtsoar/internal/enrich"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vtsim"
)

// BenchmarkCachedRuns submits runs of one cached input and waits for them all: the
// work of a run in the service, for profiles (a diagnosis; the figures are
// bench/runs', over real sockets).
func BenchmarkCachedRuns(b *testing.B) {
	ctx := context.Background()
	sim := httptest.NewServer(vtsim.MustNew(vtsim.Options{}))
	defer sim.Close()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "vtsoar.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cipher := testCipher(b)
	sealed, _ := connclient.SealKey(cipher, "emu", "k")
	if err := st.CreateConnection(ctx, store.Connection{Name: "emu", SealedAPIKey: sealed, ServerURL: sim.URL, Quota: "premium"}); err != nil {
		b.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{Name: "u", Role: store.RoleAnalyst, Sites: []string{store.AllSites}, TokenHash: []byte("u")}); err != nil {
		b.Fatal(err)
	}
	s, err := enrich.New(ctx, st, enrich.Options{Cipher: cipher, FetchPollInterval: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(ctx)
	p, err := command.Prepare(command.Request{Command: "check-file-reputation", Inputs: []string{"44d88612fea8a8f36de82e1278abb02f"}})
	if err != nil {
		b.Fatal(err)
	}
	first, err := s.SubmitRun(ctx, enrich.NewRun{User: "u", Connection: "emu", Prepared: p})
	if err != nil {
		b.Fatal(err)
	}
	s.WaitRun(ctx, first.ID, time.Now().Add(10*time.Second))
	b.ResetTimer()
	var ids []string
	for range b.N {
		r, err := s.SubmitRun(ctx, enrich.NewRun{User: "u", Connection: "emu", Prepared: p})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	for _, id := range ids {
		if r, err := s.WaitRun(ctx, id, time.Now().Add(time.Minute)); err != nil || r.State != store.RunDone {
			b.Fatalf("%+v %v", r, err)
		}
	}
}
