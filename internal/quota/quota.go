// Package quota spends request budgets: per connection (an API key on a server), per
// minute, per day and per month, shared through the ledger in the store by every
// process that uses the key, so that together they never exceed the budget.
//
// # Windows
//
//   - Minute: a sliding window. A unit is granted only if fewer than PerMinute units
//     were granted in the last minute plus a margin (Config.Margin, default 1s for a
//     real minute). Whatever way the provider counts (calendar minute or sliding 60s),
//     requests granted so never exceed it, even when the delay between the ledger
//     and the provider's clock varies by up to the margin. The length of the minute
//     is Config.Minute, shortened by tests and benchmarks.
//   - Day: the calendar day in UTC, resetting at 00:00 UTC.
//   - Month: the calendar month in UTC, resetting on the 1st at 00:00 UTC.
//
// # Waiting and priorities
//
// Limiter.Wait (the vt.Limiter hook) blocks until a unit is granted. Every unit is
// taken in one write transaction of the store that checks the windows and records
// the unit. When the minute is full the limiter sleeps until the store says a unit
// ages out; a spent day or month fails at once with an *ExhaustedError (which wraps a
// *vt.Error with status 429 and code QuotaExceededError, and carries the reset time).
//
// Within a process, waiters queue by vt.Priority (interactive before enrichment
// before background, first come first served within one priority) and only the head
// of the queue consults the ledger. A budget without limits (premium) has nothing to
// queue for while it is not held: each Wait asks the ledger at once, and joins the
// queue only when the budget is held. Across processes, a limiter that waits registers
// its best waiting priority in the store; while a registration of a more urgent
// priority from another process is alive, a unit that comes free is left to it. A
// registration lapses shortly after its owner's next planned look at the ledger, so a
// process that dies holds nobody back for long. Priorities across processes are
// therefore honoured whenever the urgent process is waiting, at the cost of one
// short poll for the less urgent one; between processes of one priority the order
// is whoever reaches the ledger first.
//
// # Who waits, and how long a request may
//
// A request waits as its context says: WithObserver has the limiter tell an Observer
// when the request begins to wait for a unit (with the minute's use and when the next
// unit comes free) and when it gets one, once per wait, whether it waits at the head
// of the queue or behind it; WithWaitLimit has it give up at once, with a *WaitError
// saying when the budget frees, when no unit comes free before its limit, instead of
// sleeping until then. The registrations in the store say who waits (the requester)
// and since when, for every process (Usage.Waiting).
//
// # 429
//
// Throttled (called by the vt client when VirusTotal answers 429) holds the whole
// budget, in the store, so every process holds: until Retry-After when the server
// gave one, else for one minute window, by which time any provider's minute has
// turned.
//
// VirusTotal answers 429 QuotaExceededError, without Retry-After, both when the
// minute is full and when the day is spent. The two are told apart by the retry: a 429
// without Retry-After that arrives within one minute window (with its margin) after
// the end of such a minute hold, that is, for a request sent once the provider's
// minute had turned, means the day is spent at VirusTotal. Throttled then records the
// budget as exhausted until the next 00:00 UTC (Ledger.ExhaustBudget) and every Wait,
// in every process and at every priority, fails at once with an *ExhaustedError
// carrying that reset, instead of holding a minute per remaining request. Queued
// work (enrichment) snoozes to the reset on that error. The conclusion can be wrong
// when something outside the ledger spends the same key's minute (another program,
// or a budget configured larger than the key's): the budget then stays refused until
// 00:00 UTC, which `vtsoar quota` shows as held.
//
// A hold that ends later than the current minute window with its margin (a long
// Retry-After) makes an interactive Wait (vt.PriorityInteractive) fail at once with an
// *ExhaustedError (Window "hold", Reset the hold's end): a person waiting on a
// synchronous command gets the answer now rather than after minutes. Enrichment and
// background waits sleep through it, as queued work can (their callers bound the
// wait).
package quota

import (
	"container/heap"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/vt"
)

// Config tunes a Limiter. The zero value is right for VirusTotal.
type Config struct {
	// Minute is the length of the minute window (0: time.Minute). Tests shorten it.
	Minute time.Duration
	// Margin is added to the minute window (0: Minute/60, that is 1s for a real
	// minute; negative: none).
	Margin time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MaxPoll is the longest sleep between two looks at the ledger (0: 5s).
	MaxPoll time.Duration
	// DeferPoll is the sleep while a more urgent process takes a free unit (0: 20ms).
	DeferPoll time.Duration
	// Logger receives holds and errors (nil: discard).
	Logger *slog.Logger
}

func (c Config) minute() time.Duration {
	if c.Minute > 0 {
		return c.Minute
	}
	return time.Minute
}

// span is the sliding minute window with its margin.
func (c Config) span() time.Duration {
	switch {
	case c.Margin > 0:
		return c.minute() + c.Margin
	case c.Margin < 0:
		return c.minute()
	}
	return c.minute() + c.minute()/60
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c Config) maxPoll() time.Duration {
	if c.MaxPoll > 0 {
		return c.MaxPoll
	}
	return 5 * time.Second
}

func (c Config) deferPoll() time.Duration {
	if c.DeferPoll > 0 {
		return c.DeferPoll
	}
	return 20 * time.Millisecond
}

// registrationGrace is how long a waiter's registration outlives its planned next look
// at the ledger.
const registrationGrace = time.Second

// BudgetID returns the ledger name of the budget of apiKey on serverURL. Two
// connections with one key on one server share a budget, as VirusTotal counts per key.
// The name is a truncated SHA-256 of the server and key: it identifies the key
// without revealing it (VirusTotal keys are 256-bit random values).
func BudgetID(serverURL, apiKey string) string {
	h := sha256.Sum256([]byte("vtsoar budget v1\x00" + store.NormalizeServerURL(serverURL) + "\x00" + apiKey))
	return "key:" + hex.EncodeToString(h[:16])
}

// Window indexes, in the order passed to the ledger: a spent month or day is found
// before a full minute.
const (
	winMonth = iota
	winDay
	winMinute
)

// Limiter spends one budget. It implements vt.Limiter and is safe for concurrent use.
type Limiter struct {
	ledger store.Ledger
	budget string
	spec   Spec
	cfg    Config
	id     string // this limiter's waiter id in the ledger
	log    *slog.Logger

	// pruned is set by the first Wait, which prunes the ledger; the others do not
	// wait for it (pruning forgets only what no window counts any more), so that none
	// waits on a lock while the prune waits for the database.
	pruned atomic.Bool

	mu    sync.Mutex
	queue waitQueue
	busy  bool // a waiter holds the turn (consults the ledger)
	seq   uint64
	// current is the wait the head of the queue was last told of, until a unit is
	// granted (nil: none known).
	current *Wait

	holdMu    sync.Mutex
	holdEnded time.Time // end of the budget's last minute hold, as the ledger reported it
}

var _ vt.Limiter = (*Limiter)(nil)

// New returns a Limiter spending the budget called budget (see BudgetID) in ledger.
func New(ledger store.Ledger, budget string, spec Spec, cfg Config) *Limiter {
	var b [8]byte
	rand.Read(b[:])
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{ledger: ledger, budget: budget, spec: spec, cfg: cfg, id: hex.EncodeToString(b[:]), log: log}
}

// Spec returns the limiter's budget.
func (l *Limiter) Spec() Spec { return l.spec }

// windows returns the ledger windows at now, indexed by winMonth, winDay, winMinute.
func (l *Limiter) windows(now time.Time) []store.Window {
	span := l.cfg.span()
	return []store.Window{
		winMonth:  {Since: monthStart(now), Limit: l.spec.PerMonth},
		winDay:    {Since: dayStart(now), Limit: l.spec.PerDay},
		winMinute: {Since: now.Add(-span), Limit: l.spec.PerMinute, Span: span},
	}
}

func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func monthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// Wait blocks until one unit of the budget is granted, ctx ends (ctx.Err()), the day
// or month budget is spent (an *ExhaustedError) or the ledger fails. The unit is
// recorded as spent for the requester ctx carries (WithRequester).
func (l *Limiter) Wait(ctx context.Context, r vt.Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if l.pruned.CompareAndSwap(false, true) {
		// Units older than the previous month are no longer shown or counted.
		now := l.cfg.now()
		before := monthStart(monthStart(now).Add(-time.Hour))
		if err := l.ledger.PruneLedger(ctx, now, before); err != nil {
			l.log.WarnContext(ctx, "quota: pruning the ledger failed", slog.String("error", err.Error()))
		}
	}
	if l.spec.Unlimited() {
		// Nothing to queue for while the budget is not held: the store grants a unit
		// of an unlimited budget after one read, side by side with other Waits. A
		// refusal (a hold) sends the request through the queue as any other.
		res, err := l.ledger.TakeUnit(ctx, store.TakeRequest{Budget: l.budget, Clock: l.cfg.now, Windows: l.windows,
			Requester: RequesterFrom(ctx)})
		if err == nil && res.Granted {
			l.noteHoldEnded(res.HoldEnded)
			return nil
		}
	}
	w, ready := l.enqueue(ctx, r.Priority)
	for {
		select {
		case <-ready:
		case <-ctx.Done():
			if !l.dequeue(w) {
				l.release()
			}
			return ctx.Err()
		}
		if err := l.gaveUp(w); err != nil {
			return err // taken out of the queue: its limit is before the next free unit
		}
		// w holds the turn.
		granted, err := l.attempt(ctx, w)
		if granted || err != nil {
			l.release()
			return err
		}
		// Not granted and ctx alive: attempt slept; a more urgent waiter may have
		// queued meanwhile.
		if ready = l.yield(w); ready == nil {
			ready = closedChan
		}
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// attempt asks the ledger once for a unit; when none is free it sleeps until one may
// be and returns false. It returns an error for a spent budget, a dead ctx or a
// failing ledger.
func (l *Limiter) attempt(ctx context.Context, w *waiter) (bool, error) {
	wake := l.cfg.now().Add(l.cfg.maxPoll())
	req := store.TakeRequest{
		Budget:  l.budget,
		Clock:   l.cfg.now,
		Windows: l.windows,
		Waiter: &store.Waiter{ID: l.id, Priority: int(w.prio), Expires: wake.Add(registrationGrace),
			Requester: w.requester, Since: w.since},
		Requester: w.requester,
	}
	if next, ok := l.nextQueued(); ok {
		req.Then = &store.Waiter{ID: l.id, Priority: int(next.prio), Expires: l.cfg.now().Add(l.cfg.maxPoll() + registrationGrace),
			Requester: next.requester, Since: next.since}
	}
	res, err := l.ledger.TakeUnit(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("quota: %w", err)
	}
	l.noteHoldEnded(res.HoldEnded)
	if res.Granted {
		l.mu.Lock()
		l.current = nil
		l.mu.Unlock()
		if !w.reported.IsZero() && w.obs != nil {
			w.obs.Resumed(l.waitOf(w, w.reported, stateOf(res)))
		}
		return true, nil
	}
	switch {
	case !res.HeldUntil.IsZero() && res.Exhausted:
		l.forget(ctx)
		return false, l.spentUpstream(res.HeldUntil)
	case !res.HeldUntil.IsZero() && w.prio <= vt.PriorityInteractive && res.HeldUntil.After(res.Now.Add(l.cfg.span())):
		l.forget(ctx)
		return false, l.longHold(res.HeldUntil)
	case !res.HeldUntil.IsZero():
		wake = res.HeldUntil
	case res.Full == winMonth || res.Full == winDay:
		l.forget(ctx)
		return false, l.exhausted(res.Full, res.Now)
	case res.Full == winMinute:
		wake = res.FreeAt
	case res.Deferred:
		wake = res.Now.Add(l.cfg.deferPoll())
	}
	if !res.Deferred {
		// The budget has no unit before wake: a request whose limit is earlier gives
		// up now, the others are told that they wait.
		if err := l.waiting(ctx, w, l.waitOf(w, wake, stateOf(res))); err != nil {
			l.forget(ctx)
			return false, err
		}
	}
	if limit := res.Now.Add(l.cfg.maxPoll()); wake.After(limit) {
		wake = limit
	}
	if err := sleepUntil(ctx, wake.Sub(res.Now)); err != nil {
		l.forget(ctx)
		return false, err
	}
	return false, nil
}

// noteHoldEnded records when the budget's last minute hold ended, as the ledger
// reported it (zero: none).
func (l *Limiter) noteHoldEnded(ended time.Time) {
	if ended.IsZero() {
		return
	}
	l.holdMu.Lock()
	if ended.After(l.holdEnded) {
		l.holdEnded = ended
	}
	l.holdMu.Unlock()
}

// forget removes this limiter's registration when nobody else in the process waits.
func (l *Limiter) forget(ctx context.Context) {
	if _, ok := l.nextQueued(); ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.ledger.RemoveWaiter(ctx, l.budget, l.id); err != nil {
		l.log.WarnContext(ctx, "quota: removing a waiter failed", slog.String("error", err.Error()))
	}
}

func sleepUntil(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Throttled implements vt.Limiter: VirusTotal answered 429, so the budget holds,
// for every process, until retryAfter if given, else for one minute window; or, when
// the 429 (without Retry-After) follows the end of such a minute hold by less than a
// minute window, the budget is recorded as spent until the next 00:00 UTC (see the
// package doc).
func (l *Limiter) Throttled(ctx context.Context, r vt.Request, retryAfter time.Duration) {
	now := l.cfg.now()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if retryAfter <= 0 && l.refusedAfterHold(now) {
		reset := dayStart(now).AddDate(0, 0, 1)
		if err := l.ledger.ExhaustBudget(ctx, l.budget, reset); err != nil {
			l.log.ErrorContext(ctx, "quota: recording a spent daily quota failed", slog.String("error", err.Error()))
			return
		}
		l.log.WarnContext(ctx, "quota: VirusTotal answered 429 again after a minute's hold; its daily quota is spent",
			slog.String("endpoint", r.Endpoint), slog.Time("reset", reset))
		return
	}
	d := retryAfter
	if d <= 0 {
		d = l.cfg.span()
	}
	until := now.Add(d)
	if err := l.ledger.HoldBudget(ctx, l.budget, until); err != nil {
		l.log.ErrorContext(ctx, "quota: recording a 429 hold failed", slog.String("error", err.Error()))
		return
	}
	l.log.WarnContext(ctx, "quota: VirusTotal answered 429; holding the connection",
		slog.String("endpoint", r.Endpoint), slog.Time("until", until))
}

// refusedAfterHold reports whether a 429 at now comes within one minute window after
// the end of the budget's last minute hold.
func (l *Limiter) refusedAfterHold(now time.Time) bool {
	l.holdMu.Lock()
	ended := l.holdEnded
	l.holdMu.Unlock()
	return !ended.IsZero() && !now.Before(ended) && now.Sub(ended) <= l.cfg.span()
}

// waiter is one Wait call in the in-process queue.
type waiter struct {
	prio  vt.Priority
	seq   uint64
	ready chan struct{}
	index int // in the heap; -1 once popped

	// requester and since are who waits and since when (the ledger's record of
	// waiters); obs and limit are the Observer and the WaitLimit of its context.
	requester string
	since     time.Time
	obs       Observer
	limit     *WaitLimit
	// reported is the end of the wait obs was last told of (zero: none).
	reported time.Time
	// err is set when the waiter gave up while queued (its limit is before the next
	// free unit), before its ready channel is closed.
	err error
}

type waitQueue []*waiter

func (q waitQueue) Len() int { return len(q) }
func (q waitQueue) Less(i, j int) bool {
	if q[i].prio != q[j].prio {
		return q[i].prio < q[j].prio
	}
	return q[i].seq < q[j].seq
}
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}
func (q *waitQueue) Pop() any {
	old := *q
	w := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	w.index = -1
	return w
}

// enqueue queues a waiter; it returns the waiter and the channel closed when it holds
// the turn.
func (l *Limiter) enqueue(ctx context.Context, p vt.Priority) (*waiter, chan struct{}) {
	obs, _ := ctx.Value(observerKey{}).(Observer)
	limit, _ := ctx.Value(waitLimitKey{}).(*WaitLimit)
	now := l.cfg.now()
	l.mu.Lock()
	l.seq++
	w := &waiter{prio: p, seq: l.seq, ready: make(chan struct{}), requester: RequesterFrom(ctx), since: now, obs: obs, limit: limit}
	// While the budget is known to grant nothing before a time (the head waits for
	// it), a request that joins the queue waits as long: it gives up at once when its
	// limit is earlier, and is told at once that it waits.
	var told *Wait
	if cur := l.current; cur != nil && cur.Until.After(now) {
		wt := *cur
		wt.Requester, wt.Priority, wt.Since = w.requester, w.prio, w.since
		if limit != nil && wt.Until.After(limit.At) {
			w.err, w.index = limit.fail(wt), -1
			close(w.ready)
			l.mu.Unlock()
			return w, w.ready
		}
		if obs != nil {
			w.reported, told = wt.Until, &wt
		}
	}
	heap.Push(&l.queue, w)
	if !l.busy {
		l.handOver()
	}
	l.mu.Unlock()
	if told != nil {
		obs.Waiting(*told)
	}
	return w, w.ready
}

// handOver gives the turn to the head of the queue, or marks the limiter idle.
// l.mu must be held.
func (l *Limiter) handOver() {
	if l.queue.Len() == 0 {
		l.busy = false
		return
	}
	l.busy = true
	next := heap.Pop(&l.queue).(*waiter)
	close(next.ready)
}

// release passes the turn on.
func (l *Limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handOver()
}

// dequeue removes a waiter that gave up; false if it already holds the turn.
func (l *Limiter) dequeue(w *waiter) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.index < 0 {
		return w.err != nil // out of the queue for its limit: it never held the turn
	}
	heap.Remove(&l.queue, w.index)
	return true
}

// yield gives the turn to a more urgent queued waiter, requeueing w (with its place
// among its priority); it returns the channel w waits on, or nil if w keeps the turn.
func (l *Limiter) yield(w *waiter) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.queue.Len() == 0 || l.queue[0].prio >= w.prio {
		return nil
	}
	w.ready = make(chan struct{})
	heap.Push(&l.queue, w)
	l.handOver()
	return w.ready
}

// queuedWaiter is what the ledger's registration says of a queued waiter.
type queuedWaiter struct {
	prio      vt.Priority
	requester string
	since     time.Time
}

// nextQueued returns the most urgent queued waiter.
func (l *Limiter) nextQueued() (queuedWaiter, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.queue.Len() == 0 {
		return queuedWaiter{}, false
	}
	w := l.queue[0]
	return queuedWaiter{prio: w.prio, requester: w.requester, since: w.since}, true
}
