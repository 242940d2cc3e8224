package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func testRuns(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "runs", store.Options{Now: clk.Now})
	if _, err := s.GetRun(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun(missing) err = %v, want ErrNotFound", err)
	}
	req := []byte(`{"command":"check-file-reputation","inputs":["a","b","c"]}`)
	hooked := false
	run, err := s.CreateRun(ctx, store.Run{ID: "r1", User: "alice", Command: "check-file-reputation", Connection: "prod",
		Request: req, InputsTotal: 3}, func(ctx context.Context, tx *sql.Tx) (int64, error) {
		// The hook runs in the transaction that writes the run (its job is queued
		// there): it sees what the transaction wrote and others do not.
		if _, err := tx.ExecContext(ctx, `UPDATE runs SET state = state WHERE id = ?`, "r1"); err != nil {
			return 0, fmt.Errorf("the hook's transaction: %v", err)
		}
		hooked = true
		return 42, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !hooked {
		t.Fatal("CreateRun did not call the hook")
	}
	if run.State != store.RunQueued || run.JobID != 42 || run.InputsDone != 0 || !run.CreatedAt.Equal(t0) || !run.FinishedAt.IsZero() {
		t.Fatalf("created run = %+v", run)
	}
	got, err := s.GetRun(ctx, "r1")
	if err != nil || got.JobID != 42 || string(got.Request) != string(req) || got.User != "alice" || got.Connection != "prod" {
		t.Fatalf("GetRun = %+v, %v", got, err)
	}
	if _, err := s.CreateRun(ctx, store.Run{ID: "r1"}, nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("CreateRun(taken id) err = %v, want ErrExists", err)
	}
	boom := errors.New("queue refused")
	if _, err := s.CreateRun(ctx, store.Run{ID: "r-rollback", User: "alice", InputsTotal: 1},
		func(context.Context, *sql.Tx) (int64, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Fatalf("CreateRun with a failing hook err = %v", err)
	}
	if _, err := s.GetRun(ctx, "r-rollback"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the run of a failed hook was kept: %v", err)
	}

	// A worker holds it, it waits, it runs; results count once each.
	clk.Advance(time.Second)
	if run, err = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunRunning, Hold: "w1"}); err != nil ||
		run.State != store.RunRunning || run.Worker != "w1" {
		t.Fatalf("start: %+v, %v", run, err)
	}
	big := []byte(`{"index":0,"context":{"input":"a"},"raw":"` + strings.Repeat("abcdef", 2000) + `"}`)
	for _, res := range []store.RunResult{{Index: 0, Data: big}, {Index: 2, Data: []byte(`{"index":2}`)}, {Index: 0, Data: []byte(`{"index":0,"again":true}`)}} {
		if err := s.PutRunResult(ctx, "r1", res); err != nil {
			t.Fatal(err)
		}
	}
	resumes := clk.Now().Add(61 * time.Second)
	if run, err = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunWaiting, ResumesAt: resumes}); err != nil ||
		run.State != store.RunWaiting || !run.ResumesAt.Equal(resumes) || run.InputsDone != 2 {
		t.Fatalf("wait: %+v, %v", run, err)
	}
	results, err := s.RunResults(ctx, "r1")
	if err != nil || len(results) != 2 || results[0].Index != 0 || string(results[0].Data) != string(big) ||
		results[1].Index != 2 || string(results[1].Data) != `{"index":2}` {
		t.Fatalf("RunResults = %d results, %v", len(results), err)
	}
	// Not every input has its result: done is refused, the state stays.
	if run, err = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunDone}); err != nil || run.State != store.RunWaiting {
		t.Fatalf("done with an input left: %+v, %v", run, err)
	}
	// Another worker takes it (the first died); the first's release changes nothing.
	if run, err = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunRunning, Hold: "w2"}); err != nil ||
		run.Worker != "w2" || !run.ResumesAt.IsZero() {
		t.Fatalf("second worker: %+v, %v", run, err)
	}
	if run, _ = s.UpdateRun(ctx, "r1", store.RunChange{Release: "w1"}); run.Worker != "w2" {
		t.Fatalf("a stale worker's release let the holder go: %+v", run)
	}
	if err := s.PutRunResult(ctx, "r1", store.RunResult{Index: 1, Data: []byte(`{"index":1}`)}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if run, err = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunDone, Release: "w2"}); err != nil ||
		run.State != store.RunDone || run.Worker != "" || run.InputsDone != 3 || !run.FinishedAt.Equal(clk.Now()) {
		t.Fatalf("done: %+v, %v", run, err)
	}
	// A final run keeps its state: neither a worker nor a cancel changes it.
	if run, _ = s.UpdateRun(ctx, "r1", store.RunChange{State: store.RunRunning}); run.State != store.RunDone {
		t.Fatalf("a done run was restarted: %+v", run)
	}
	if run, err = s.CancelRun(ctx, "r1"); err != nil || run.State != store.RunDone {
		t.Fatalf("cancel of a done run: %+v, %v", run, err)
	}

	// Cancel a waiting run; a failed run says why.
	for _, id := range []string{"r2", "r3"} {
		clk.Advance(time.Second)
		if _, err := s.CreateRun(ctx, store.Run{ID: id, User: "bob", Command: "search", Connection: "prod", InputsTotal: 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	s.UpdateRun(ctx, "r2", store.RunChange{State: store.RunWaiting, ResumesAt: clk.Now().Add(time.Minute)})
	if run, err = s.CancelRun(ctx, "r2"); err != nil || run.State != store.RunCancelled || !run.ResumesAt.IsZero() || run.FinishedAt.IsZero() {
		t.Fatalf("cancel: %+v, %v", run, err)
	}
	if run, _ = s.UpdateRun(ctx, "r2", store.RunChange{State: store.RunRunning, Hold: "w3"}); run.State != store.RunCancelled || run.Worker != "w3" {
		t.Fatalf("a worker restarted a cancelled run: %+v", run)
	}
	if run, _ = s.UpdateRun(ctx, "r3", store.RunChange{State: store.RunFailed, Error: "connection prod was removed"}); run.State != store.RunFailed ||
		run.Error != "connection prod was removed" {
		t.Fatalf("failed: %+v", run)
	}
	if _, err := s.CancelRun(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CancelRun(missing) err = %v", err)
	}
	if _, err := s.UpdateRun(ctx, "none", store.RunChange{State: store.RunRunning}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateRun(missing) err = %v", err)
	}

	// Newest first, per user, in pages.
	ids := func(rs []store.Run) string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return strings.Join(out, ",")
	}
	if all, err := s.ListRuns(ctx, store.RunFilter{}, store.Page{}); err != nil || ids(all) != "r3,r2,r1" {
		t.Fatalf("ListRuns = %s, %v", ids(all), err)
	}
	bobs, _ := s.ListRuns(ctx, store.RunFilter{User: "bob"}, store.Page{Limit: 1})
	if ids(bobs) != "r3" {
		t.Fatalf("bob's first page = %s", ids(bobs))
	}
	if next, _ := s.ListRuns(ctx, store.RunFilter{User: "bob"}, store.Page{Limit: 1, After: bobs[0].Cursor()}); ids(next) != "r2" {
		t.Fatalf("bob's next page = %s", ids(next))
	}
	if alices, _ := s.ListRuns(ctx, store.RunFilter{User: "alice"}, store.Page{}); ids(alices) != "r1" {
		t.Fatalf("alice's runs = %s", ids(alices))
	}

	// Pruning forgets runs created before the cut, with their results.
	n, err := s.PruneRuns(ctx, t0.Add(2*time.Second))
	if err != nil || n != 1 {
		t.Fatalf("PruneRuns = %d, %v", n, err)
	}
	if _, err := s.GetRun(ctx, "r1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a pruned run is still there: %v", err)
	}
	if rs, err := s.RunResults(ctx, "r1"); err != nil || len(rs) != 0 {
		t.Fatalf("a pruned run's results: %d, %v", len(rs), err)
	}
	if all, _ := s.ListRuns(ctx, store.RunFilter{}, store.Page{}); ids(all) != "r3,r2" {
		t.Fatalf("after pruning: %s", ids(all))
	}
}

// testLedgerWaitersRecord: who waits for a budget, and since when, is what the
// registrations say, from any handle.
func testLedgerWaitersRecord(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "waiters-record", store.Options{})
	other := open(t, "waiters-record", store.Options{})
	clk := NewClock(t0)
	w := sliding(time.Minute, 1)
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w}); !r.Granted {
		t.Fatal("first unit refused")
	}
	since := clk.Now()
	clk.Advance(time.Second)
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w, Requester: "cli",
		Waiter: &store.Waiter{ID: "proc-cli", Priority: 0, Expires: clk.Now().Add(5 * time.Second), Requester: "cli", Since: since}}); r.Granted {
		t.Fatal("granted while full")
	}
	if err := other.PutWaiter(ctx, "b", store.Waiter{ID: "run:r1", Priority: 0, Expires: clk.Now().Add(2 * time.Minute),
		Requester: "user:alice", Since: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := other.PutWaiter(ctx, "b", store.Waiter{ID: "gone", Priority: 2, Expires: clk.Now().Add(-time.Second),
		Requester: "enrichment", Since: since}); err != nil {
		t.Fatal(err)
	}
	ws, err := other.Waiters(ctx, "b", clk.Now())
	if err != nil || len(ws) != 2 {
		t.Fatalf("Waiters = %+v, %v", ws, err)
	}
	if ws[0].Requester != "cli" || !ws[0].Since.Equal(since) || ws[1].Requester != "user:alice" || ws[1].ID != "run:r1" {
		t.Fatalf("Waiters = %+v", ws)
	}
	// A waiter that gets its unit leaves the record.
	clk.Advance(time.Minute)
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w,
		Waiter: &store.Waiter{ID: "proc-cli", Priority: 0, Expires: clk.Now().Add(5 * time.Second), Requester: "cli", Since: since}}); !r.Granted {
		t.Fatalf("not granted: %+v", r)
	}
	if ws, _ := s.Waiters(ctx, "b", clk.Now()); len(ws) != 1 || ws[0].ID != "run:r1" {
		t.Fatalf("after the grant: %+v", ws)
	}
}
