// Package storetest is the behaviour every store.Store implementation must have, as a
// test suite that an implementation's tests run with Run.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vtsoar/vtsoar/internal/cache"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
)

// Opener opens the database called name (creating it empty the first time a test uses
// that name) with opts. Two calls with one name within a test give two independent
// handles on the same data, as two processes would have. The opener closes what it
// opened when the test ends.
type Opener func(t *testing.T, name string, opts store.Options) store.Store

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	t.Run("Connections", func(t *testing.T) { testConnections(t, open) })
	t.Run("LedgerWindows", func(t *testing.T) { testLedgerWindows(t, open) })
	t.Run("LedgerUnlimited", func(t *testing.T) { testLedgerUnlimited(t, open) })
	t.Run("LedgerHold", func(t *testing.T) { testLedgerHold(t, open) })
	t.Run("LedgerWaiters", func(t *testing.T) { testLedgerWaiters(t, open) })
	t.Run("LedgerUsageAndPrune", func(t *testing.T) { testLedgerUsage(t, open) })
	t.Run("LedgerPruneByTheCallersClock", func(t *testing.T) { testLedgerPruneClock(t, open) })
	t.Run("LedgerConcurrentHandles", func(t *testing.T) { testLedgerConcurrent(t, open) })
	t.Run("CacheAliases", func(t *testing.T) { testCacheAliases(t, open) })
	t.Run("CacheMaxAgeAndNegativeTTL", func(t *testing.T) { testCacheTTL(t, open) })
	t.Run("CacheServerScope", func(t *testing.T) { testCacheScope(t, open) })
	t.Run("CacheReplace", func(t *testing.T) { testCacheReplace(t, open) })
	t.Run("CacheCurrent", func(t *testing.T) { testCacheCurrent(t, open) })
	t.Run("CacheLargeBodies", func(t *testing.T) { testCacheLargeBodies(t, open) })
	t.Run("CacheAsyncPuts", func(t *testing.T) { testCacheAsyncPuts(t, open) })
	t.Run("CacheStatsClearPrune", func(t *testing.T) { testCacheStats(t, open) })
	t.Run("CacheConcurrent", func(t *testing.T) { testCacheConcurrent(t, open) })
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Files", func(t *testing.T) { testFiles(t, open) })
	t.Run("Events", func(t *testing.T) { testEvents(t, open) })
	t.Run("EventsConcurrent", func(t *testing.T) { testEventsConcurrent(t, open) })
	t.Run("HealthChecks", func(t *testing.T) { testHealthChecks(t, open) })
}

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// t0 is the suite's starting time: the moment the run began, so that nothing here
// depends on a calendar date that will pass.
var t0 = time.Now().UTC().Truncate(time.Second)

func testConnections(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "conn", store.Options{Now: clk.Now})
	if _, err := s.GetConnection(ctx, "none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(missing) err = %v, want ErrNotFound", err)
	}
	if list, err := s.ListConnections(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List on empty store = %v, %v", list, err)
	}
	full := store.Connection{
		Name:               "vt-prod",
		SealedAPIKey:       []byte{1, 0xde, 0xad, 0, 0xbe, 0xef},
		ServerURL:          "https://vt.example",
		Quota:              "4/min,500/day",
		Proxy:              "http://proxy:3128",
		ReputationChecks:   []ioc.Kind{ioc.KindFile, ioc.KindURL},
		HealthCheckMinutes: 15,
		Sites:              []string{"paris", "lyon"},
		Users:              []string{"alice"},
		RiskPolicy:         testPolicy(),
	}
	bad := full
	bad.Name, bad.RiskPolicy.PreferredVendorsThreshold = "bad-policy", 3
	if err := s.CreateConnection(ctx, bad); err == nil {
		t.Fatal("a connection with an invalid risk policy was stored")
	}
	if err := s.CreateConnection(ctx, full); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "vt-prod", SealedAPIKey: []byte{1}}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate Create err = %v, want ErrExists", err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "a-min", SealedAPIKey: []byte{2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateConnection(ctx, store.Connection{Name: "nokey"}); err == nil {
		t.Fatal("a connection without a sealed key was stored")
	}
	got, err := s.GetConnection(ctx, "vt-prod")
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t0) {
		t.Errorf("timestamps created=%v updated=%v", got.CreatedAt, got.UpdatedAt)
	}
	want := full
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %+v\nwant %+v", got, want)
	}
	min, err := s.GetConnection(ctx, "a-min")
	if err != nil {
		t.Fatal(err)
	}
	if min.ReputationChecks != nil || min.Sites != nil || min.Users != nil || min.HealthCheckMinutes != 0 || !min.RiskPolicy.IsZero() {
		t.Errorf("minimal connection came back as %+v", min)
	}

	upd := full
	upd.Quota, upd.Sites, upd.ReputationChecks, upd.SealedAPIKey = "premium", nil, []ioc.Kind{ioc.KindIP}, []byte{9, 9}
	upd.RiskPolicy = risk.Policy{}
	clk.Advance(time.Minute)
	if err := s.UpdateConnection(ctx, upd); err != nil {
		t.Fatal(err)
	}
	got2, _ := s.GetConnection(ctx, "vt-prod")
	if got2.Quota != "premium" || got2.Sites != nil || !reflect.DeepEqual(got2.ReputationChecks, []ioc.Kind{ioc.KindIP}) ||
		!bytes.Equal(got2.SealedAPIKey, []byte{9, 9}) || !got2.RiskPolicy.IsZero() {
		t.Errorf("after Update: %+v", got2)
	}
	if !got2.CreatedAt.Equal(t0) || !got2.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Update timestamps: created %v->%v updated %v->%v", got.CreatedAt, got2.CreatedAt, got.UpdatedAt, got2.UpdatedAt)
	}
	if err := s.UpdateConnection(ctx, store.Connection{Name: "ghost", SealedAPIKey: []byte{1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update(missing) err = %v", err)
	}

	list, err := s.ListConnections(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "a-min" || list[1].Name != "vt-prod" {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if err := s.DeleteConnection(ctx, "a-min"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, "a-min"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete err = %v", err)
	}
	if list, _ := s.ListConnections(ctx); len(list) != 1 {
		t.Fatalf("after Delete, List = %+v", list)
	}
	// Another handle sees the same data.
	other := open(t, "conn", store.Options{})
	if c, err := other.GetConnection(ctx, "vt-prod"); err != nil || c.Quota != "premium" {
		t.Fatalf("second handle: %+v, %v", c, err)
	}
}

// testPolicy uses every option of a risk policy, with its defaults written out (as
// the store gives policies back).
func testPolicy() risk.Policy {
	def := risk.DefaultThresholds()
	def.Suspicious = 3
	url := def
	url.HighMalicious, url.Suspicious = 5, 0
	return risk.Policy{Default: def, ByKind: map[ioc.Kind]risk.Thresholds{ioc.KindURL: url},
		PreferredVendors: []string{"Kaspersky", "ESET-NOD32"}, PreferredVendorsThreshold: 1,
		Crowdsourced: &risk.Crowdsourced{YARA: 1, Sigma: 2, IDS: 0}}
}

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

func fileEntry(sha256, md5, sha1, body string, at time.Time) cache.Entry {
	return cache.Entry{Kind: ioc.KindFile, ID: sha256, Aliases: []string{md5, sha1}, Body: []byte(body), FetchedAt: at}
}

const (
	eicarSHA256 = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
	eicarMD5    = "44d88612fea8a8f36de82e1278abb02f"
	eicarSHA1   = "3395856ce81f2b7382dee72602f798b642f14140"
	serverVT    = "https://www.virustotal.com"
)

func mustGet(t *testing.T, c cache.Cache, kind ioc.Kind, id string, maxAge time.Duration) (cache.Entry, bool) {
	t.Helper()
	e, ok, err := c.Get(context.Background(), kind, id, maxAge)
	if err != nil {
		t.Fatal(err)
	}
	return e, ok
}

func testCacheAliases(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "aliases", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0); ok {
		t.Fatal("hit in an empty cache")
	}
	body := `{"data":{"id":"` + eicarSHA256 + `","type":"file"}}`
	if err := c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, body, t0)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{eicarSHA256, eicarMD5, eicarSHA1} {
		e, ok := mustGet(t, c, ioc.KindFile, id, 0)
		if !ok {
			t.Fatalf("miss by %s", id)
		}
		if e.ID != eicarSHA256 || string(e.Body) != body || e.Kind != ioc.KindFile || e.NotFound || !e.FetchedAt.Equal(t0) ||
			!reflect.DeepEqual(e.Aliases, []string{eicarMD5, eicarSHA1}) {
			t.Fatalf("Get(%s) = %+v", id, e)
		}
	}
	// Kinds do not mix: a domain called like the hash is not the file.
	if _, ok := mustGet(t, c, ioc.KindDomain, eicarMD5, 0); ok {
		t.Fatal("file entry returned for a domain lookup")
	}
	// Another handle (another process) hits too.
	other := open(t, "aliases", store.Options{Now: clk.Now})
	if _, ok := mustGet(t, other.Cache(serverVT), ioc.KindFile, eicarSHA1, 0); !ok {
		t.Fatal("second handle misses")
	}
	// URL: the base64url id and the sha256 id form.
	u := cache.Entry{Kind: ioc.KindURL, ID: "aHR0cDovL2V4YW1wbGUuY29tLw", Aliases: []string{"0f115db062b7c0dd030b16878c99dea5c354b49dc37b38eb8846179c7783e9d7"},
		Body: []byte(`{"data":{}}`), FetchedAt: t0}
	if err := c.Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	if e, ok := mustGet(t, c, ioc.KindURL, u.Aliases[0], 0); !ok || e.ID != u.ID {
		t.Fatalf("URL by sha256 id: %+v %v", e, ok)
	}
}

func testCacheTTL(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "ttl", store.Options{Now: clk.Now, NegativeTTL: 2 * time.Minute})
	c := s.Cache(serverVT)
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"data":{}}`, t0))
	missing := "0000000000000000000000000000000000000000000000000000000000000000"
	if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: missing, NotFound: true, FetchedAt: t0}); err != nil {
		t.Fatal(err)
	}
	e, ok := mustGet(t, c, ioc.KindFile, missing, 0)
	if !ok || !e.NotFound || e.Body != nil {
		t.Fatalf("fresh not-found: %+v %v", e, ok)
	}
	clk.Advance(90 * time.Second)
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, time.Minute); ok {
		t.Fatal("hit older than maxAge")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 2*time.Minute); !ok {
		t.Fatal("miss younger than maxAge")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, missing, 0); !ok {
		t.Fatal("not-found entry expired before the negative TTL")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, missing, time.Minute); ok {
		t.Fatal("not-found entry older than maxAge returned")
	}
	clk.Advance(31 * time.Second) // 2m01s
	if _, ok := mustGet(t, c, ioc.KindFile, missing, 0); ok {
		t.Fatal("not-found entry outlived the negative TTL")
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarSHA256, 0); !ok {
		t.Fatal("positive entry expired with maxAge 0 (any age)")
	}
	// The default negative TTL applies when none is set.
	d := open(t, "ttl-default", store.Options{Now: clk.Now})
	dc := d.Cache(serverVT)
	dc.Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", NotFound: true, FetchedAt: clk.Now()})
	clk.Advance(cache.DefaultNegativeTTL - time.Second)
	if _, ok := mustGet(t, dc, ioc.KindIP, "192.0.2.1", 0); !ok {
		t.Fatal("not-found entry expired before cache.DefaultNegativeTTL")
	}
	clk.Advance(2 * time.Second)
	if _, ok := mustGet(t, dc, ioc.KindIP, "192.0.2.1", 0); ok {
		t.Fatal("not-found entry outlived cache.DefaultNegativeTTL")
	}
}

func testCacheScope(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "scope", store.Options{})
	vtc := s.Cache(serverVT)
	emu := s.Cache("http://127.0.0.1:8089")
	vtc.Put(ctx, cache.Entry{Kind: ioc.KindDomain, ID: "example.com", Body: []byte(`{"real":1}`)})
	if _, ok := mustGet(t, emu, ioc.KindDomain, "example.com", 0); ok {
		t.Fatal("the emulator's cache returned VirusTotal's answer")
	}
	emu.Put(ctx, cache.Entry{Kind: ioc.KindDomain, ID: "example.com", Body: []byte(`{"emulated":1}`)})
	e, _ := mustGet(t, vtc, ioc.KindDomain, "example.com", 0)
	if string(e.Body) != `{"real":1}` {
		t.Fatalf("VirusTotal's cache now holds %s", e.Body)
	}
	// Spelling variants of one server share a cache.
	if e, ok := mustGet(t, s.Cache("HTTPS://WWW.VirusTotal.com/"), ioc.KindDomain, "example.com", 0); !ok || string(e.Body) != `{"real":1}` {
		t.Fatal("normalised server URL misses")
	}
	if e, ok := mustGet(t, s.Cache(""), ioc.KindDomain, "example.com", 0); !ok || string(e.Body) != `{"real":1}` {
		t.Fatal("empty server URL is not VirusTotal's")
	}
	servers, err := s.CacheServers(ctx)
	if err != nil || !reflect.DeepEqual(servers, []string{"http://127.0.0.1:8089", serverVT}) {
		t.Fatalf("CacheServers = %v, %v", servers, err)
	}
}

func testCacheReplace(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "replace", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	// A not-found answer for an md5 is replaced when the file turns up under its sha256.
	c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: eicarMD5, NotFound: true})
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"found":1}`, clk.Now()))
	e, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0)
	if !ok || e.NotFound || e.ID != eicarSHA256 {
		t.Fatalf("md5 after the file was found: %+v %v", e, ok)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 1 || st.NotFound != 0 || st.Aliases != 3 {
		t.Fatalf("stale not-found entry left behind: %+v", st)
	}
	// A newer answer replaces the body.
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"found":2}`, clk.Now()))
	if e, _ := mustGet(t, c, ioc.KindFile, eicarSHA1, 0); string(e.Body) != `{"found":2}` {
		t.Fatalf("body not replaced: %s", e.Body)
	}
	if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile}); err == nil {
		t.Fatal("entry without id accepted")
	}
}

// Answers of VirusTotal's size come back byte for byte, from another handle too,
// however they are stored; Stats counts the bytes as stored.
func testCacheLargeBodies(t *testing.T, open Opener) {
	ctx := context.Background()
	s, other := open(t, "large", store.Options{}), open(t, "large", store.Options{})
	var big bytes.Buffer
	big.WriteString(`{"data": {"id": "x", "attributes": {"last_analysis_results": {`)
	for i := range 400 {
		fmt.Fprintf(&big, "%s\n    \"engine%d\": {\"category\": \"undetected\", \"result\": null, \"engine_version\": \"%d.%d\"}",
			map[bool]string{true: "", false: ","}[i == 0], i, i%7, i*31%1000)
	}
	big.WriteString("}}}}\n")
	noise := make([]byte, 3000) // incompressible
	for i := range noise {
		noise[i] = byte(i*7919 + i*i*31)
	}
	bodies := map[string][]byte{"compressible": big.Bytes(), "incompressible": noise, "small": []byte(`{"a": 1}`)}
	c := s.Cache(serverVT)
	total := 0
	for name, body := range bodies {
		if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: name, Body: body}); err != nil {
			t.Fatal(err)
		}
		total += len(body)
	}
	for name, body := range bodies {
		e, ok, err := other.Cache(serverVT).Get(ctx, ioc.KindFile, name, 0)
		if err != nil || !ok || !bytes.Equal(e.Body, body) {
			t.Fatalf("%s answer (%d bytes): got %d bytes back, %v %v", name, len(body), len(e.Body), ok, err)
		}
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Bytes <= 0 || st.Bytes >= int64(total) {
		t.Fatalf("stats %+v, %v: want the stored size, under the %d bytes of the answers", st, err, total)
	}
}

// A CacheNoWait put returns before it is written; the handle's Close writes every one
// of them, for any other handle to read.
func testCacheAsyncPuts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "async", store.Options{})
	body := bytes.Repeat([]byte(`{"k": "v"}, `), 500)
	for i := range 300 {
		id := fmt.Sprintf("%064x", i)
		if err := s.CacheNoWait(serverVT).Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{id[:32]}, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := open(t, "async", store.Options{})
	for i := range 300 {
		id := fmt.Sprintf("%064x", i)
		e, ok, err := other.Cache(serverVT).Get(ctx, ioc.KindFile, id[:32], 0)
		if err != nil || !ok || !bytes.Equal(e.Body, body) {
			t.Fatalf("answer %d after the close: %v %v (%d bytes)", i, ok, err, len(e.Body))
		}
	}
}

// Current tells whether an entry kept in memory is still the stored one, through any
// of its names and from any handle.
func testCacheCurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s, other := open(t, "current", store.Options{}), open(t, "current", store.Options{})
	c, oc := s.Cache(serverVT), other.Cache(serverVT)
	at := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	current := func(what, id string, fetched time.Time, want bool) {
		t.Helper()
		if got, err := c.Current(ctx, ioc.KindFile, id, fetched); err != nil || got != want {
			t.Fatalf("%s: Current = %v, %v; want %v", what, got, err, want)
		}
	}
	current("nothing stored", eicarSHA256, at, false)
	if err := c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":1}`, at)); err != nil {
		t.Fatal(err)
	}
	current("by sha256", eicarSHA256, at, true)
	current("by md5", eicarMD5, at, true)
	current("another fetch time", eicarSHA1, at.Add(time.Second), false)
	if err := oc.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, `{"v":2}`, at.Add(time.Second))); err != nil {
		t.Fatal(err)
	}
	current("replaced by another handle", eicarMD5, at, false)
	current("the replacement", eicarMD5, at.Add(time.Second), true)
	if _, err := oc.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	current("cleared by another handle", eicarSHA256, at.Add(time.Second), false)
}

func testCacheStats(t *testing.T, open Opener) {
	ctx := context.Background()
	clk := NewClock(t0)
	s := open(t, "stats", store.Options{Now: clk.Now})
	c := s.Cache(serverVT)
	c.Put(ctx, fileEntry(eicarSHA256, eicarMD5, eicarSHA1, "0123456789", t0))
	c.Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", NotFound: true, FetchedAt: t0.Add(time.Minute)})
	s.Cache("http://emu").Put(ctx, cache.Entry{Kind: ioc.KindIP, ID: "192.0.2.1", Body: []byte("x")})
	clk.Advance(2 * time.Second)
	mustGet(t, c, ioc.KindFile, eicarMD5, 0)           // hit
	mustGet(t, c, ioc.KindFile, eicarSHA256, 0)        // hit
	mustGet(t, c, ioc.KindFile, "ffff", 0)             // miss
	mustGet(t, c, ioc.KindFile, eicarMD5, time.Second) // miss (too old)
	// A second handle's lookups count too once it is closed (as a process exits).
	other := open(t, "stats", store.Options{Now: clk.Now})
	mustGet(t, other.Cache(serverVT), ioc.KindIP, "192.0.2.1", 0) // hit
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.CacheStats{Server: serverVT, Entries: 2, NotFound: 1, Aliases: 4, Bytes: 10, Hits: 3, Misses: 2,
		Oldest: t0, Newest: t0.Add(time.Minute)}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("Stats = %+v\nwant    %+v", st, want)
	}
	if n, err := c.Prune(ctx, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v", n, err)
	}
	if _, ok := mustGet(t, c, ioc.KindFile, eicarMD5, 0); ok {
		t.Fatal("pruned entry still found")
	}
	if st, _ := c.Stats(ctx); st.Entries != 1 || st.Aliases != 1 {
		t.Fatalf("after Prune: %+v", st)
	}
	n, err := c.Clear(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Clear = %d, %v", n, err)
	}
	if st, _ := c.Stats(ctx); st.Entries != 0 || st.Hits != 0 || st.Misses != 0 || st.Aliases != 0 {
		t.Fatalf("after Clear: %+v", st)
	}
	if _, ok := mustGet(t, s.Cache("http://emu"), ioc.KindIP, "192.0.2.1", 0); !ok {
		t.Fatal("Clear of one server emptied another")
	}
}

func testCacheConcurrent(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, "cache-race", store.Options{})
	c := s.Cache(serverVT)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := fmt.Sprintf("%064x", i)
				alias := fmt.Sprintf("%032x", i)
				if g%2 == 0 {
					if err := c.Put(ctx, cache.Entry{Kind: ioc.KindFile, ID: id, Aliases: []string{alias}, Body: []byte(id)}); err != nil {
						errs <- err
						return
					}
				} else if e, ok, err := c.Get(ctx, ioc.KindFile, alias, 0); err != nil {
					errs <- err
					return
				} else if ok && string(e.Body) != id {
					errs <- fmt.Errorf("alias %s gave body of %s", alias, e.Body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st, _ := c.Stats(ctx); st.Entries != 20 || st.Aliases != 40 {
		t.Fatalf("after concurrent puts: %+v", st)
	}
}
