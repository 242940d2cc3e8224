package quota

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Wait is one request's wait for a unit of a budget, as a Limiter tells its
// Observer and its WaitLimit.
type Wait struct {
	// Budget is the ledger name of the budget (BudgetID) and Spec its windows.
	Budget string
	Spec   Spec
	// Requester and Priority are the waiting request's (WithRequester,
	// vt.WithPriority).
	Requester string
	Priority  vt.Priority
	// Since is when the request began to wait for its unit.
	Since time.Time
	// Until is when the budget may next grant a unit: when enough units of the full
	// minute age out, or when VirusTotal's hold ends.
	Until time.Time
	// Held reports a hold after VirusTotal answered 429, rather than a full minute.
	Held bool
	// Used is the units of the minute window used when the wait began (0 when
	// Held), out of the minute's limit, Spec.PerMinute.
	Used int
}

// Observer is told of a request's waits for the budget (WithObserver): for the CLI's
// line on stderr and its progress bar, and for a run's state.
type Observer interface {
	// Waiting is called when the request begins to wait, and again when the end of
	// its wait moves (Until). It is called from the request's goroutine or the
	// limiter's, never with a lock of the limiter held.
	Waiting(w Wait)
	// Resumed is called when a request that was told it waits gets its unit.
	Resumed(w Wait)
}

type observerKey struct{}

// WithObserver returns a context whose requests tell o of their waits for the budget.
func WithObserver(ctx context.Context, o Observer) context.Context {
	return context.WithValue(ctx, observerKey{}, o)
}

// WaitLimit bounds the waits of the requests of a context (WithWaitLimit): a request
// whose budget has no unit free by At does not wait for one, and gives up at once
// with a *WaitError, the first of which the WaitLimit keeps.
type WaitLimit struct {
	// At is the latest time a request may wait until.
	At time.Time

	mu  sync.Mutex
	err *WaitError
}

type waitLimitKey struct{}

// WithWaitLimit returns a context whose requests wait for the budget only if a unit
// comes free by at (see WaitLimit), and the WaitLimit that records the first one that
// gave up.
func WithWaitLimit(ctx context.Context, at time.Time) (context.Context, *WaitLimit) {
	l := &WaitLimit{At: at}
	return context.WithValue(ctx, waitLimitKey{}, l), l
}

// Err returns the first wait that gave up, or nil.
func (l *WaitLimit) Err() *WaitError {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// fail records w, a wait past the limit, and returns its error.
func (l *WaitLimit) fail(w Wait) *WaitError {
	e := &WaitError{Wait: w, Err: &vt.Error{StatusCode: 429, Code: vt.CodeQuotaExceeded, Message: w.refusal()}}
	l.mu.Lock()
	if l.err == nil {
		l.err = e
	}
	l.mu.Unlock()
	return e
}

// WaitError is the refusal of a request whose budget has no unit free by its
// WaitLimit. It wraps a *vt.Error with status 429 and code vt.CodeQuotaExceeded.
type WaitError struct {
	Wait Wait
	Err  *vt.Error
}

// Error says when the budget has a unit free again.
func (e *WaitError) Error() string { return e.Err.Message }

// Unwrap returns the *vt.Error.
func (e *WaitError) Unwrap() error { return e.Err }

// Name is the budget's name in words: "public", "premium", or its windows
// ("10/min,1000/day").
func (s Spec) Name() string {
	if s == Public {
		return "public"
	}
	return s.String()
}

// refusal is the message of a request that will not wait for w.
func (w Wait) refusal() string {
	until := w.Until.UTC().Format(time.RFC3339)
	if w.Held {
		return fmt.Sprintf("the %s budget holds after VirusTotal answered 429; the next request may leave at %s", w.Spec.Name(), until)
	}
	return fmt.Sprintf("the %s budget has no request left before %s (%d of %d requests this minute used)",
		w.Spec.Name(), until, w.Used, w.Spec.PerMinute)
}

// waitOf is the wait of w until until, from the ledger's answer res.
func (l *Limiter) waitOf(w *waiter, until time.Time, res waitState) Wait {
	return Wait{Budget: l.budget, Spec: l.spec, Requester: w.requester, Priority: w.prio, Since: w.since,
		Until: until, Held: res.held, Used: res.used}
}

// waitState is what the ledger said of a budget that did not grant a unit.
type waitState struct {
	held bool
	used int
}

func stateOf(res store.TakeResult) waitState {
	st := waitState{held: !res.HeldUntil.IsZero()}
	if !st.held && len(res.Counts) > winMinute && res.Counts[winMinute] > 0 {
		st.used = res.Counts[winMinute]
	}
	return st
}

// waiting takes note that the budget grants no unit before wt.Until: w, the head of
// the queue, gives up (the error) when its limit is earlier; the queued waiters whose
// limit is earlier give up too; the others' observers (w's included) are told that
// they wait, once per wait.
func (l *Limiter) waiting(ctx context.Context, w *waiter, wt Wait) error {
	if w.limit != nil && wt.Until.After(w.limit.At) {
		return w.limit.fail(wt)
	}
	type note struct {
		obs  Observer
		wait Wait
	}
	var notes []note
	if !wt.Until.Equal(w.reported) {
		w.reported = wt.Until
		l.log.InfoContext(ctx, "quota: waiting for the budget", slog.String("budget", l.spec.Name()),
			slog.String("requester", w.requester), slog.String("priority", w.prio.String()),
			slog.Int("minute_used", wt.Used), slog.Bool("held", wt.Held), slog.Time("until", wt.Until))
		if w.obs != nil {
			notes = append(notes, note{w.obs, wt})
		}
	}
	l.mu.Lock()
	cur := wt
	l.current = &cur
	var out []*waiter
	for _, q := range l.queue {
		qw := wt
		qw.Requester, qw.Priority, qw.Since = q.requester, q.prio, q.since
		switch {
		case q.limit != nil && wt.Until.After(q.limit.At):
			q.err = q.limit.fail(qw)
			out = append(out, q)
		case q.obs != nil && !wt.Until.Equal(q.reported):
			q.reported = wt.Until
			notes = append(notes, note{q.obs, qw})
		}
	}
	for _, q := range out {
		heap.Remove(&l.queue, q.index)
		q.index = -1
		close(q.ready)
	}
	l.mu.Unlock()
	for _, n := range notes {
		n.obs.Waiting(n.wait)
	}
	return nil
}

// gaveUp returns the error of a waiter taken out of the queue because its limit is
// before the budget's next free unit, or nil when it holds the turn.
func (l *Limiter) gaveUp(w *waiter) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return w.err
}
