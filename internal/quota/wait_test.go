package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// recordingObserver records what it is told, with the bubble's time.
type recordingObserver struct {
	mu     sync.Mutex
	events []string
	waits  []Wait
}

func (o *recordingObserver) Waiting(w Wait) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, fmt.Sprintf("waiting %s until +%s used %d", w.Requester, w.Until.Sub(w.Since).Round(time.Second), w.Used))
	o.waits = append(o.waits, w)
}

func (o *recordingObserver) Resumed(w Wait) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, "resumed "+w.Requester)
}

func (o *recordingObserver) got() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.events...)
}

// TestObserverToldOncePerWait: a run of 6 requests on a budget of 4 a minute, 4 at a
// time, tells its observer once that the 5th and 6th wait (with the minute's use and
// when the next unit comes free), not at every look at the ledger, and that they
// resumed; a request that waits in the queue behind the head is told too.
func TestObserverToldOncePerWait(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Public, Config{})
		obs := &recordingObserver{}
		ctx := WithObserver(WithRequester(context.Background(), RequesterCLI), obs)
		start := time.Now()
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if err := l.Wait(ctx, vt.Request{}); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		got := obs.got()
		if len(got) != 2 || got[0] != "waiting cli until +1m1s used 4" || got[1] != "waiting cli until +1m1s used 4" {
			t.Fatalf("told while the minute is full: %q", got)
		}
		if w := obs.waits[0]; !w.Since.Equal(start) || w.Spec != Public || w.Held || !w.Until.After(start.Add(time.Minute)) {
			t.Fatalf("wait = %+v", w)
		}
		wg.Wait()
		got = obs.got()
		if len(got) != 4 || got[2] != "resumed cli" || got[3] != "resumed cli" {
			t.Fatalf("told %q", got)
		}
		if d := time.Since(start); d < time.Minute || d > time.Minute+2*time.Second {
			t.Fatalf("the 6th request waited %v", d)
		}
	})
}

// TestWaitLimitGivesUpAtOnce: a request whose budget has no unit before its limit
// does not wait: it fails at once with a *WaitError saying when the budget frees
// (a 429 QuotaExceededError), the head of the queue and those queued behind it alike,
// and the WaitLimit keeps the first. A request whose limit is later waits.
func TestWaitLimitGivesUpAtOnce(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Public, Config{})
		fill(t, l, 4)
		start := time.Now()
		ctx, lim := WithWaitLimit(context.Background(), start.Add(10*time.Second))
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- l.Wait(ctx, vt.Request{}) }()
		}
		for range 3 {
			err := <-errs
			var we *WaitError
			if !errors.As(err, &we) || !vt.IsQuotaExceeded(err) {
				t.Fatalf("err = %v, want a *WaitError", err)
			}
			if d := we.Wait.Until.Sub(start); d < time.Minute || d > time.Minute+2*time.Second {
				t.Fatalf("the error says the budget frees in %v", d)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("gave up after %v, want at once", time.Since(start))
		}
		if lim.Err() == nil || lim.Err().Error() == "" {
			t.Fatal("the WaitLimit kept no error")
		}
		// A limit past the next free unit waits for it.
		ctx, lim = WithWaitLimit(context.Background(), start.Add(2*time.Minute))
		if err := l.Wait(ctx, vt.Request{}); err != nil || lim.Err() != nil {
			t.Fatalf("err = %v, limit %v", err, lim.Err())
		}
		if d := time.Since(start); d < time.Minute {
			t.Fatalf("granted after %v", d)
		}
	})
}

// TestUsageShowsWhoWaits: who waits for a budget, and since when, is seen by another
// process (another limiter on another handle of the database), and is gone once they
// got their unit.
func TestUsageShowsWhoWaits(t *testing.T) {
	inBubbleOnEachBackend(t, func(t *testing.T, dsn string, s store.Store) {
		l := New(s, "b", Public, Config{})
		fill(t, l, 4)
		start := time.Now()
		done := make(chan error)
		go func() {
			done <- l.Wait(WithRequester(context.Background(), UserRequester("alice")), vt.Request{})
		}()
		synctest.Wait()
		time.Sleep(10 * time.Second)
		other := New(openStore(t, dsn), "b", Public, Config{})
		u, err := other.Usage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Waiting) != 1 || u.Waiting[0].Requester != "user:alice" || u.Waiting[0].Priority != "interactive" ||
			!u.Waiting[0].Since.Equal(start.UTC()) {
			t.Fatalf("Waiting = %+v, want user:alice since %v", u.Waiting, start.UTC())
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if u, _ := other.Usage(context.Background()); len(u.Waiting) != 0 {
			t.Fatalf("still waiting once served: %+v", u.Waiting)
		}
	})
}
