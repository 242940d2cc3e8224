package storetest

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// minCode is the event risk used by these tests: the lowest code of the final
// artifacts (what risk.Highest computes), 4 with none.
func minCode(states []store.ArtifactState) int {
	code := 4
	for i, s := range states {
		if i == 0 || s.RiskLevelCode < code {
			code = s.RiskLevelCode
		}
	}
	return code
}

func testEvents(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "events", store.Options{Now: clk.Now})
	if _, err := s.GetEvent(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetEvent(missing) err = %v, want ErrNotFound", err)
	}
	hookCalled := false
	ev, err := s.CreateEvent(ctx, store.Event{ID: "e1", Site: "paris", Artifacts: []store.Artifact{
		{Type: ioc.KindFile, Value: "44d88612fea8a8f36de82e1278abb02f"},
		{Type: ioc.KindIP, Value: "8.8.8.8"},
		{Type: ioc.KindDomain, Value: "example.com"},
	}}, func(ctx context.Context, tx *sql.Tx) error {
		// The hook runs in the transaction that writes the event: it sees the event.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM events WHERE id = ?`, "e1").Scan(&n); err != nil {
			return err
		}
		hookCalled = n == 1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !hookCalled {
		t.Fatal("CreateEvent did not call the hook with its transaction")
	}
	if ev.Status != store.EventPending || ev.ArtifactCount != 3 || ev.RiskLevelCode != 4 {
		t.Fatalf("created event = %+v", ev)
	}
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e1"}, nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateEvent(taken id) err = %v, want ErrExists", err)
	}
	// A failing hook rolls the event back.
	boom := errors.New("queue refused")
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e-rollback", Artifacts: []store.Artifact{{Type: ioc.KindIP, Value: "1.1.1.1"}}},
		func(context.Context, *sql.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("CreateEvent with failing hook err = %v", err)
	}
	if _, err := s.GetEvent(ctx, "e-rollback"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("event of a failed hook was kept: %v", err)
	}

	if err := s.StartEvent(ctx, "e1"); err != nil {
		t.Fatal(err)
	}
	if err := s.StartEvent(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StartEvent(missing) err = %v", err)
	}
	got, a, err := s.GetArtifact(ctx, "e1", 1)
	if err != nil || got.Status != store.EventEnriching || a.Value != "8.8.8.8" || a.Status != store.ArtifactPending {
		t.Fatalf("GetArtifact = %+v %+v %v", got, a, err)
	}
	if _, _, err := s.GetArtifact(ctx, "e1", 7); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetArtifact(missing index) err = %v", err)
	}
	if _, _, err := s.FinishArtifact(ctx, "e1", store.Artifact{Index: 0, Status: store.ArtifactPending}, minCode); err == nil {
		t.Fatal("FinishArtifact accepted a non-final status")
	}

	finish := []store.Artifact{
		{Index: 1, Status: store.ArtifactDone, RiskLevelCode: 5, RiskReason: "clean", Connection: "c", ObjectID: "8.8.8.8"},
		{Index: 0, Status: store.ArtifactDone, RiskLevelCode: 1, RiskReason: "62 of 70", Connection: "c", ObjectID: "275a"},
		{Index: 2, Status: store.ArtifactError, RiskLevelCode: 4, Error: "no connection"},
	}
	wantRisk := []int{5, 1, 1}
	for i, f := range finish {
		ev, changed, err := s.FinishArtifact(ctx, "e1", f, minCode)
		if err != nil || !changed {
			t.Fatalf("FinishArtifact(%d) = %v, %v", f.Index, changed, err)
		}
		if ev.FinishedCount != i+1 || ev.RiskLevelCode != wantRisk[i] {
			t.Fatalf("after %d finished: %+v", i+1, ev)
		}
		wantStatus := store.EventEnriching
		if i == len(finish)-1 {
			wantStatus = store.EventDone
		}
		if ev.Status != wantStatus {
			t.Fatalf("after %d finished: status %s, want %s", i+1, ev.Status, wantStatus)
		}
	}
	// Finishing again changes nothing: the first result stays.
	ev, changed, err := s.FinishArtifact(ctx, "e1", store.Artifact{Index: 0, Status: store.ArtifactDone, RiskLevelCode: 5}, minCode)
	if err != nil || changed || ev.RiskLevelCode != 1 {
		t.Fatalf("second FinishArtifact = %+v, %v, %v", ev, changed, err)
	}
	if _, _, err := s.FinishArtifact(ctx, "e1", store.Artifact{Index: 9, Status: store.ArtifactDone}, minCode); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FinishArtifact(missing index) err = %v", err)
	}
	full, err := s.GetEvent(ctx, "e1")
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Artifacts) != 3 || full.Artifacts[0].RiskReason != "62 of 70" || full.Artifacts[0].ObjectID != "275a" ||
		full.Artifacts[2].Error != "no connection" || full.Artifacts[1].Type != ioc.KindIP || full.Status != store.EventDone {
		t.Fatalf("GetEvent = %+v", full)
	}

	// Listing: newest first, by site.
	clk.Advance(time.Second)
	if _, err := s.CreateEvent(ctx, store.Event{ID: "e2", Site: "lyon"}, nil); err != nil {
		t.Fatal(err)
	}
	all, err := s.ListEvents(ctx, store.EventFilter{}, store.Page{})
	if err != nil || len(all) != 2 || all[0].ID != "e2" || all[1].ID != "e1" || all[0].Artifacts != nil {
		t.Fatalf("ListEvents(all) = %+v, %v", all, err)
	}
	paris, err := s.ListEvents(ctx, store.EventFilter{Sites: []string{"paris"}}, store.Page{Limit: 10})
	if err != nil || len(paris) != 1 || paris[0].ID != "e1" {
		t.Fatalf("ListEvents(paris) = %+v, %v", paris, err)
	}
	if none, err := s.ListEvents(ctx, store.EventFilter{Sites: []string{}}, store.Page{Limit: 10}); err != nil || len(none) != 0 {
		t.Fatalf("ListEvents(no site) = %+v, %v", none, err)
	}
	one, err := s.ListEvents(ctx, store.EventFilter{}, store.Page{Limit: 1})
	if err != nil || len(one) != 1 || one[0].ID != "e2" {
		t.Fatalf("ListEvents(limit 1) = %+v, %v", one, err)
	}
	// The next page starts after the last event of the previous one.
	next, err := s.ListEvents(ctx, store.EventFilter{}, store.Page{Limit: 1, After: one[0].Cursor()})
	if err != nil || len(next) != 1 || next[0].ID != "e1" {
		t.Fatalf("ListEvents(after e2) = %+v, %v", next, err)
	}
}

func testEventsConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	const n = 40
	arts := make([]store.Artifact, n)
	for i := range arts {
		arts[i] = store.Artifact{Type: ioc.KindIP, Value: "10.0.0.1"}
	}
	if _, err := open(t, "evc", store.Options{}).CreateEvent(ctx, store.Event{ID: "e", Artifacts: arts}, nil); err != nil {
		t.Fatal(err)
	}
	// Two handles (two processes) finish every artifact twice, concurrently: each is
	// recorded once and the event ends done with the right count.
	handles := []store.Store{open(t, "evc", store.Options{}), open(t, "evc", store.Options{})}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		changes int
	)
	for _, h := range handles {
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(h store.Store, i int) {
				defer wg.Done()
				_, changed, err := h.FinishArtifact(ctx, "e", store.Artifact{Index: i, Status: store.ArtifactDone, RiskLevelCode: 2 + i%3}, minCode)
				if err != nil {
					t.Error(err)
				}
				if changed {
					mu.Lock()
					changes++
					mu.Unlock()
				}
			}(h, i)
		}
	}
	wg.Wait()
	ev, err := handles[0].GetEvent(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	if changes != n || ev.FinishedCount != n || ev.Status != store.EventDone || ev.RiskLevelCode != 2 {
		t.Fatalf("changes %d, event %+v", changes, ev)
	}
}
