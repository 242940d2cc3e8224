package storetest

import (
	"context"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
)

func sliding(span time.Duration, limit int) func(time.Time) []store.Window {
	return func(now time.Time) []store.Window {
		return []store.Window{{Since: now.Add(-span), Limit: limit, Span: span}}
	}
}

func testLedgerWindows(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "ledger", store.Options{})
	clk := NewClock(t0)
	day := t0.Truncate(24 * time.Hour)
	windows := func(now time.Time) []store.Window {
		return []store.Window{
			{Since: now.Add(-time.Minute), Limit: 3, Span: time.Minute},
			{Since: day, Limit: 5},
		}
	}
	take := func() store.TakeResult {
		t.Helper()
		r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "b1", Clock: clk.Now, Windows: windows})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for i := 1; i <= 3; i++ {
		r := take()
		if !r.Granted || r.Full != -1 || !reflect.DeepEqual(r.Counts, []int{i, i}) || !r.Now.Equal(clk.Now()) {
			t.Fatalf("take %d: %+v", i, r)
		}
		clk.Advance(10 * time.Second)
	}
	// 3 units at t0, t0+10s, t0+20s; now t0+30s: the minute is full until t0+60s.
	r := take()
	if r.Granted || r.Full != 0 || !reflect.DeepEqual(r.Counts, []int{3, 3}) {
		t.Fatalf("4th take in a minute: %+v", r)
	}
	if want := t0.Add(time.Minute); r.FreeAt.Before(want) || r.FreeAt.After(want.Add(time.Millisecond)) {
		t.Fatalf("FreeAt = %v, want just after %v", r.FreeAt, want)
	}
	// Another budget is independent.
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b2", Clock: clk.Now, Windows: windows}); !r.Granted {
		t.Fatalf("other budget: %+v", r)
	}
	clk.Advance(r.FreeAt.Sub(clk.Now()))
	if r := take(); !r.Granted || !reflect.DeepEqual(r.Counts, []int{3, 4}) {
		t.Fatalf("after the oldest unit aged out: %+v", r)
	}
	clk.Advance(2 * time.Minute)
	if r := take(); !r.Granted || !reflect.DeepEqual(r.Counts, []int{1, 5}) {
		t.Fatalf("5th of the day: %+v", r)
	}
	r = take()
	if r.Granted || r.Full != 1 || !r.FreeAt.IsZero() {
		t.Fatalf("6th of a 5-a-day budget: %+v", r)
	}
	// The next day resets the calendar window.
	clk.Advance(24 * time.Hour)
	next := func(now time.Time) []store.Window {
		return []store.Window{{Since: now.Add(-time.Minute), Limit: 3, Span: time.Minute}, {Since: day.Add(24 * time.Hour), Limit: 5}}
	}
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b1", Clock: clk.Now, Windows: next}); !r.Granted || !reflect.DeepEqual(r.Counts, []int{1, 1}) {
		t.Fatalf("next day: %+v", r)
	}
}

func testLedgerUnlimited(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "unlimited", store.Options{Now: clk.Now})
	w := func(now time.Time) []store.Window {
		return []store.Window{{Since: now.Add(-time.Minute), Span: time.Minute}, {Since: now.Add(-24 * time.Hour)}}
	}
	for i := 0; i < 20; i++ {
		r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "p", Windows: w})
		if err != nil || !r.Granted || !reflect.DeepEqual(r.Counts, []int{-1, -1}) {
			t.Fatalf("unlimited take %d: %+v, %v", i, r, err)
		}
	}
	// Nil windows: always granted, still recorded.
	if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "p"}); err != nil || !r.Granted {
		t.Fatalf("no windows: %+v, %v", r, err)
	}
	u, _, err := s.BudgetUsage(ctx, "p", clk.Now(), w(clk.Now()))
	if err != nil || u[0].Count != 21 || u[1].Count != 21 {
		t.Fatalf("usage of an unlimited budget = %+v, %v", u, err)
	}
	// Units are recorded with others, a little later: a handle that closes has
	// written them all, for every other handle to count.
	other := open(t, "unlimited", store.Options{})
	for i := 0; i < 5; i++ {
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "p", Windows: w}); err != nil || !r.Granted {
			t.Fatalf("unlimited take: %+v, %v", r, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	u, _, err = other.BudgetUsage(ctx, "p", time.Now(), w(time.Now()))
	if err != nil || u[0].Count != 26 {
		t.Fatalf("usage seen by another handle after a close = %+v, %v; want 26 units", u, err)
	}
}

func testLedgerHold(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "hold", store.Options{})
	clk := NewClock(t0)
	req := store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 100)}
	if err := s.HoldBudget(ctx, "b", t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// An earlier hold does not shorten a later one.
	if err := s.HoldBudget(ctx, "b", t0.Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	r, err := s.TakeUnit(ctx, req)
	if err != nil || r.Granted || !r.HeldUntil.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("held budget: %+v, %v", r, err)
	}
	// Another handle (another process) sees the hold.
	other := open(t, "hold", store.Options{})
	if r, _ := other.TakeUnit(ctx, req); r.Granted {
		t.Fatal("a hold set by one handle does not stop another")
	}
	if _, held, _ := other.BudgetUsage(ctx, "b", clk.Now(), nil); !held.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("BudgetUsage hold = %v", held)
	}
	// Other budgets are not held.
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "c", Clock: clk.Now}); !r.Granted {
		t.Fatal("a hold on one budget stopped another")
	}
	clk.Advance(30*time.Second + time.Microsecond)
	if r, _ := s.TakeUnit(ctx, req); !r.Granted || r.Exhausted || !r.HoldEnded.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after the hold: %+v (want granted, and when the hold ended)", r)
	}
	if _, held, _ := s.BudgetUsage(ctx, "b", clk.Now(), nil); !held.IsZero() {
		t.Fatalf("hold reported after it ended: %v", held)
	}
	// A budget spent at the provider: held and marked for every handle; an ordinary
	// hold ending earlier neither shortens nor unmarks it.
	reset := t0.Add(10 * time.Minute)
	if err := s.ExhaustBudget(ctx, "b", reset); err != nil {
		t.Fatal(err)
	}
	if err := other.HoldBudget(ctx, "b", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []store.Store{s, other} {
		if r, err := h.TakeUnit(ctx, req); err != nil || r.Granted || !r.Exhausted || !r.HeldUntil.Equal(reset) {
			t.Fatalf("exhausted budget: %+v, %v", r, err)
		}
	}
	if _, held, _ := other.BudgetUsage(ctx, "b", clk.Now(), nil); !held.Equal(reset) {
		t.Fatalf("BudgetUsage of an exhausted budget: hold %v", held)
	}
	// Once the reset passes, the budget serves again, and the ended hold is not an
	// ordinary one (HoldEnded zero).
	clk.Advance(reset.Sub(clk.Now()) + time.Microsecond)
	if r, _ := s.TakeUnit(ctx, req); !r.Granted || r.Exhausted || !r.HoldEnded.IsZero() {
		t.Fatalf("after the reset: %+v", r)
	}
	// A later ordinary hold replaces an exhausted one, mark included.
	if err := s.ExhaustBudget(ctx, "b", clk.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.HoldBudget(ctx, "b", clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.TakeUnit(ctx, req); r.Granted || r.Exhausted || !r.HeldUntil.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("ordinary hold after a shorter exhausted one: %+v", r)
	}
}

func testLedgerWaiters(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "waiters", store.Options{})
	other := open(t, "waiters", store.Options{})
	clk := NewClock(t0)
	w := sliding(time.Minute, 1)
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w}); !r.Granted {
		t.Fatal("first unit refused")
	}
	// High priority (0) in one process and low (2) in another both wait.
	hi := &store.Waiter{ID: "proc-hi", Priority: 0, Expires: t0.Add(2 * time.Minute)}
	lo := &store.Waiter{ID: "proc-lo", Priority: 2, Expires: t0.Add(2 * time.Minute)}
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w, Waiter: hi}); r.Granted || r.Full != 0 {
		t.Fatalf("hi while full: %+v", r)
	}
	clk.Advance(time.Minute + time.Second)
	// The window has room, but the high-priority waiter goes first.
	r, err := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w, Waiter: lo})
	if err != nil || r.Granted || !r.Deferred {
		t.Fatalf("lo while hi waits: %+v, %v", r, err)
	}
	// hi does not defer to a lower priority.
	r, _ = s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w, Waiter: hi})
	if !r.Granted {
		t.Fatalf("hi: %+v", r)
	}
	// hi's registration is gone: lo goes next when there is room.
	clk.Advance(time.Minute + time.Second)
	if r, _ := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: w, Waiter: lo}); !r.Granted {
		t.Fatalf("lo after hi was served: %+v", r)
	}

	// Then keeps a registration after a grant; expiry releases it.
	clk.Advance(time.Minute + time.Second)
	then := &store.Waiter{ID: "proc-hi", Priority: 1, Expires: clk.Now().Add(10 * time.Second)}
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: hi, Then: then}); !r.Granted {
		t.Fatal("grant with Then refused")
	}
	if r, _ := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: lo}); !r.Deferred {
		t.Fatalf("Then registration not honoured: %+v", r)
	}
	// Equal priority does not defer.
	eq := &store.Waiter{ID: "proc-eq", Priority: 1, Expires: clk.Now().Add(time.Second)}
	if r, _ := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: eq}); !r.Granted {
		t.Fatalf("equal priority deferred: %+v", r)
	}
	clk.Advance(11 * time.Second)
	if r, _ := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: lo}); !r.Granted {
		t.Fatalf("expired registration still defers: %+v", r)
	}
	// RemoveWaiter releases at once.
	if r, _ := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: hi,
		Then: &store.Waiter{ID: "proc-hi", Priority: 0, Expires: clk.Now().Add(time.Hour)}}); !r.Granted {
		t.Fatal("grant refused")
	}
	if err := s.RemoveWaiter(ctx, "b", "proc-hi"); err != nil {
		t.Fatal(err)
	}
	if r, _ := other.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now, Windows: sliding(time.Minute, 5), Waiter: lo}); !r.Granted {
		t.Fatalf("removed registration still defers: %+v", r)
	}
}

func testLedgerUsage(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "usage", store.Options{})
	clk := NewClock(t0)
	for i := 0; i < 4; i++ {
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: "b", Clock: clk.Now}); err != nil || !r.Granted {
			t.Fatal(r, err)
		}
		clk.Advance(time.Hour)
	}
	now := clk.Now() // t0+4h; units at t0, +1h, +2h, +3h
	u, held, err := s.BudgetUsage(ctx, "b", now, []store.Window{
		{Since: now.Add(-90 * time.Minute), Limit: 10},
		{Since: now.Add(-24 * time.Hour)},
		{Since: now},
	})
	if err != nil || !held.IsZero() {
		t.Fatal(err, held)
	}
	want := []store.WindowUsage{{Count: 1, Oldest: t0.Add(3 * time.Hour)}, {Count: 4, Oldest: t0}, {}}
	if !reflect.DeepEqual(u, want) {
		t.Fatalf("usage = %+v, want %+v", u, want)
	}
	if err := s.PruneLedger(ctx, now, t0.Add(150*time.Minute)); err != nil {
		t.Fatal(err)
	}
	u, _, _ = s.BudgetUsage(ctx, "b", now, []store.Window{{Since: t0.Add(-time.Hour)}})
	if u[0].Count != 1 {
		t.Fatalf("after prune: %+v, want 1 unit left", u)
	}
}

// testLedgerPruneClock prunes holds and waiters by the time the caller gives, which
// need not be the wall clock (a limiter's own clock): a hold that ended 30 minutes
// before the caller's now is kept, whatever the wall clock says, and one that ended
// two hours before is dropped; so are waiters that expired by then.
func testLedgerPruneClock(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "prune-clock", store.Options{})
	for _, now := range []time.Time{t0.AddDate(1, 0, 0), t0.AddDate(-1, 0, 0)} {
		budget := func(name string) string { return name + now.Format("2006") }
		if err := s.HoldBudget(ctx, budget("recent"), now.Add(-30*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.HoldBudget(ctx, budget("old"), now.Add(-2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		hi := store.Waiter{ID: "hi", Priority: 0, Expires: now.Add(-time.Second)}
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget("w"), Clock: func() time.Time { return now.Add(-time.Hour) },
			Windows: sliding(time.Minute, 1), Waiter: &hi}); err != nil || !r.Granted {
			t.Fatal(r, err)
		}
		// Not granted (the window is full): "hi" stays registered until now-1s.
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget("w"), Clock: func() time.Time { return now.Add(-time.Hour) },
			Windows: sliding(time.Minute, 1), Waiter: &hi}); err != nil || r.Granted {
			t.Fatal(r, err)
		}
		if err := s.PruneLedger(ctx, now, now.AddDate(0, -2, 0)); err != nil {
			t.Fatal(err)
		}
		at := func() time.Time { return now }
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget("recent"), Clock: at}); err != nil || !r.HoldEnded.Equal(now.Add(-30*time.Minute)) {
			t.Fatalf("now %v: a hold ended 30 minutes before was pruned: %+v, %v", now, r, err)
		}
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget("old"), Clock: at}); err != nil || !r.HoldEnded.IsZero() {
			t.Fatalf("now %v: a hold ended two hours before was kept: %+v, %v", now, r, err)
		}
		// The expired registration is gone: a less urgent waiter is not deferred even
		// when judged at a time before it expired.
		lo := store.Waiter{ID: "lo", Priority: 2, Expires: now.Add(time.Hour)}
		if r, err := s.TakeUnit(ctx, store.TakeRequest{Budget: budget("w"), Clock: func() time.Time { return now.Add(-10 * time.Second) },
			Windows: sliding(time.Minute, 1), Waiter: &lo}); err != nil || r.Deferred || !r.Granted {
			t.Fatalf("now %v: an expired waiter was not pruned: %+v, %v", now, r, err)
		}
	}
}

// testLedgerConcurrent has many goroutines on two handles race for a budget: exactly
// the limit is granted.
func testLedgerConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	handles := []store.Store{open(t, "race", store.Options{}), open(t, "race", store.Options{})}
	const limit, workers, tries = 25, 16, 6
	w := func(time.Time) []store.Window { return []store.Window{{Since: t0, Limit: limit}} }
	var granted atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := handles[i%2]
			for j := 0; j < tries; j++ {
				r, err := h.TakeUnit(ctx, store.TakeRequest{Budget: "shared", Windows: w})
				if err != nil {
					errs <- err
					return
				}
				if r.Granted {
					granted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if g := granted.Load(); g != limit {
		t.Fatalf("%d units granted from a budget of %d", g, limit)
	}
}
