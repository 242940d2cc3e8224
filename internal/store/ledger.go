package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Window is one budget window of a TakeUnit or LedgerUsage call: the units recorded at
// or after Since count against Limit.
type Window struct {
	// Since is the start of the window (inclusive).
	Since time.Time
	// Limit is the number of units the window allows; 0 or less means no limit (the
	// window is counted but never full).
	Limit int
	// Span is the length of a sliding window (Since = now - Span); when the window is
	// full the store reports when its oldest counted unit ages out. Zero for a
	// calendar window, whose reset the caller knows.
	Span time.Duration
}

// Waiter registers, across processes, that a process waits for a unit of a budget at
// some priority, so that other processes with less urgent work let it go first.
type Waiter struct {
	// ID identifies the waiting process (or limiter) and is unique to it.
	ID string
	// Priority orders waiters: lower values go first.
	Priority int
	// Expires is when the registration lapses unless renewed; a process that dies
	// stops holding others back at this time.
	Expires time.Time
	// Requester is who waits (see TakeRequest.Requester), and Since since when, for
	// those who look at the budget (Waiters).
	Requester string
	Since     time.Time
}

// TakeRequest asks for one unit of a budget.
type TakeRequest struct {
	// Budget identifies the budget (one per API key and server).
	Budget string
	// Clock returns the current time (nil: time.Now). The store reads it once it holds
	// the write lock, so that a granted unit is recorded at the moment it is granted
	// and not when the request began to wait for the lock.
	Clock func() time.Time
	// Windows returns the windows at now; all of them are checked before the unit is
	// granted.
	Windows func(now time.Time) []Window
	// Waiter, if set, is the requester: the unit is not granted while another
	// registered waiter of a lower Priority has not expired, and when the unit is not
	// granted Waiter is registered (or renewed).
	Waiter *Waiter
	// Then replaces the requester's registration after a grant (the requester has
	// more work waiting); nil removes it.
	Then *Waiter
	// Requester is who the unit is spent for, recorded with it (RequesterUsage):
	// "gateway:NAME", "user:NAME", "enrichment", "cli"...; empty when unknown.
	Requester string
}

// TakeResult is the answer of TakeUnit.
type TakeResult struct {
	// Granted reports that one unit was recorded at Now.
	Granted bool
	// Now is the time the store read from the clock (the unit's time if granted).
	Now time.Time
	// Counts are the units in each window, the granted one included; -1 for a window
	// without a limit (not counted, to keep unlimited budgets cheap).
	Counts []int
	// HeldUntil is set when the budget is held (after a 429) until then.
	HeldUntil time.Time
	// Exhausted reports that the hold records a budget spent at the provider
	// (ExhaustBudget), not a wait for its minute to turn.
	Exhausted bool
	// HoldEnded is, when the budget's last ordinary hold (HoldBudget) has ended, the
	// time it ended; zero when there was none or it was an exhausted one.
	HoldEnded time.Time
	// Deferred reports that the windows have room but a registered waiter of a lower
	// priority value goes first.
	Deferred bool
	// Full is the index of the first full window, or -1.
	Full int
	// FreeAt is, for a full sliding window, when enough of its units age out for one
	// more to fit.
	FreeAt time.Time
}

// WindowUsage is the use of one window.
type WindowUsage struct {
	// Count is the number of units recorded in the window.
	Count int
	// Oldest is the time of the oldest of them (zero when Count is 0).
	Oldest time.Time
}

// Ledger records the units of request budgets. Every unit is taken in one atomic step
// that checks the windows and records the unit, so that several processes sharing a
// budget never exceed it.
type Ledger interface {
	// TakeUnit checks, in one atomic step, the budget's hold, its windows and the
	// registered waiters, and records one unit if all allow.
	TakeUnit(ctx context.Context, r TakeRequest) (TakeResult, error)
	// HoldBudget stops every grant of the budget until until (a later hold wins).
	HoldBudget(ctx context.Context, budget string, until time.Time) error
	// ExhaustBudget is HoldBudget for a budget spent at the provider until until:
	// TakeUnit reports the hold as Exhausted (if it is the later one).
	ExhaustBudget(ctx context.Context, budget string, until time.Time) error
	// BudgetUsage returns the use of each window and the hold, if any, at now.
	BudgetUsage(ctx context.Context, budget string, now time.Time, windows []Window) ([]WindowUsage, time.Time, error)
	// RemoveWaiter removes a waiter's registration.
	RemoveWaiter(ctx context.Context, budget, waiterID string) error
	// PruneLedger forgets units recorded before before and, judged at now (the
	// caller's clock, the one its windows are computed with), holds that ended more
	// than an hour before now and waiter registrations expired by now.
	PruneLedger(ctx context.Context, now, before time.Time) error
	// PutWaiter registers (or renews) a waiter of a budget without asking for a unit:
	// work that waits elsewhere than in a limiter (a run deferred to when its
	// budget allows it) keeps its place so.
	PutWaiter(ctx context.Context, budget string, w Waiter) error
	// Waiters returns the registrations of a budget alive at now, most urgent first,
	// then oldest first.
	Waiters(ctx context.Context, budget string, now time.Time) ([]Waiter, error)
	// RequesterUsage returns, for each requester that spent units of the budget in
	// one of windows (their Since; Limit and Span are not read), the units it spent
	// in each, by requester name.
	RequesterUsage(ctx context.Context, budget string, windows []Window) ([]RequesterCounts, error)
}

// RequesterCounts is what one requester spent of a budget.
type RequesterCounts struct {
	// Requester is TakeRequest.Requester ("" for units recorded without one).
	Requester string
	// Counts are the units in each window asked for, in their order.
	Counts []int
}

// TakeUnit implements Ledger.
func (s *sqlStore) TakeUnit(ctx context.Context, r TakeRequest) (TakeResult, error) {
	if r.Budget == "" {
		return TakeResult{}, errors.New("store: TakeUnit: empty budget")
	}
	clock := r.Clock
	if clock == nil {
		clock = s.opts.now
	}
	if res, ok, err := s.takeUnlimited(ctx, r, clock); ok || err != nil {
		return res, err
	}
	// Units of this handle still in the batcher count too.
	if err := s.batch.settle(ctx); err != nil {
		return TakeResult{}, fmt.Errorf("store: quota ledger: %w", err)
	}
	res, err := s.dialect.takeLimited(ctx, r, clock)
	if err != nil {
		return TakeResult{}, fmt.Errorf("store: quota ledger: %w", err)
	}
	return res, nil
}

// The statements of takeUnlimited.
const (
	ledgerHoldSQL   = `SELECT until, exhausted FROM quota_holds WHERE budget = ?`
	ledgerInsertSQL = `INSERT INTO quota_ledger (budget, at, requester) VALUES (?, ?, ?)`
)

// takeUnlimited grants a unit of a budget none of whose windows has a limit, unless
// the budget is held: nothing can be refused on its counts, so the unit is granted
// after one read (the hold), without the write lock, and recorded by the batcher
// with others, within lazyDelay (50 ms; BudgetUsage and TakeUnit on this handle wait
// for it). Registrations are neither consulted nor
// changed: with no limit nobody waits for room, and a registration left from a hold
// lapses by itself. ok is false when the budget has a limit or is held: the caller
// then takes the unit in a write transaction (takeUnit).
//
// A process killed at the wrong moment loses the units of its last batch. That is
// harmless: they are never the reason for a refusal (the windows have no limit), and
// what they are shown for, the use of the budget, is short of them by at most
// lazyDelay's worth.
func (s *sqlStore) takeUnlimited(ctx context.Context, r TakeRequest, clock func() time.Time) (TakeResult, bool, error) {
	now := clock()
	var windows []Window
	if r.Windows != nil {
		windows = r.Windows(now)
	}
	for _, w := range windows {
		if w.Limit > 0 {
			return TakeResult{}, false, nil
		}
	}
	if err := s.batch.takeAsyncErr(); err != nil {
		return TakeResult{}, false, fmt.Errorf("store: quota ledger: recording units: %w", err)
	}
	hold, err := s.stmt(ctx, ledgerHoldSQL)
	if err != nil {
		return TakeResult{}, false, fmt.Errorf("store: quota ledger: %w", err)
	}
	res := TakeResult{Now: now, Full: -1, Counts: make([]int, len(windows)), Granted: true}
	for i := range res.Counts {
		res.Counts[i] = -1
	}
	var until, exhausted int64
	switch err := hold.QueryRowContext(ctx, r.Budget).Scan(&until, &exhausted); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return TakeResult{}, false, fmt.Errorf("store: quota ledger: %w", err)
	case until > micros(now):
		return TakeResult{}, false, nil
	case exhausted == 0:
		res.HoldEnded = fromMicros(until)
	}
	budget, at, requester := r.Budget, micros(now), r.Requester
	s.batch.submit(&batchOp{budget: budget, size: len(budget) + len(requester) + 8, lazy: true, apply: func(ctx context.Context, tx *sql.Tx) error {
		ins, err := s.txStmt(ctx, tx, ledgerInsertSQL)
		if err != nil {
			return err
		}
		_, err = ins.ExecContext(ctx, budget, at, requester)
		return err
	}})
	return res, true, nil
}

func takeUnit(ctx context.Context, tx *sql.Tx, r TakeRequest, now time.Time) (TakeResult, error) {
	res := TakeResult{Now: now, Full: -1}
	nowUS := micros(now)
	register := func() error {
		if r.Waiter == nil {
			return nil
		}
		return upsertWaiter(ctx, tx, r.Budget, *r.Waiter)
	}

	var until, exhausted int64
	switch err := tx.QueryRowContext(ctx, `SELECT until, exhausted FROM quota_holds WHERE budget = ?`, r.Budget).Scan(&until, &exhausted); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return res, err
	case until > nowUS:
		res.HeldUntil, res.Exhausted = fromMicros(until), exhausted != 0
		return res, register()
	case exhausted == 0:
		res.HoldEnded = fromMicros(until)
	}

	var windows []Window
	if r.Windows != nil {
		windows = r.Windows(now)
	}
	counts, err := countWindows(ctx, tx, r.Budget, windows, true)
	if err != nil {
		return res, err
	}
	res.Counts = counts
	for i, w := range windows {
		if w.Limit <= 0 || counts[i] < w.Limit {
			continue
		}
		res.Full = i
		if w.Span > 0 {
			// The (count-limit+1)-th oldest unit must age out for one more to fit.
			var at int64
			if err := tx.QueryRowContext(ctx, `SELECT at FROM quota_ledger WHERE budget = ? AND at >= ?
ORDER BY at LIMIT 1 OFFSET ?`, r.Budget, micros(w.Since), counts[i]-w.Limit).Scan(&at); err != nil {
				return res, err
			}
			res.FreeAt = fromMicros(at).Add(w.Span + time.Microsecond)
		}
		return res, register()
	}

	// The windows have room; a more urgent waiter elsewhere goes first.
	if r.Waiter != nil {
		var best sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MIN(priority) FROM quota_waiters
WHERE budget = ? AND waiter <> ? AND expires_at > ?`, r.Budget, r.Waiter.ID, nowUS).Scan(&best); err != nil {
			return res, err
		}
		if best.Valid && int(best.Int64) < r.Waiter.Priority {
			res.Deferred = true
			return res, register()
		}
	}

	if _, err := tx.ExecContext(ctx, ledgerInsertSQL, r.Budget, nowUS, r.Requester); err != nil {
		return res, err
	}
	for i := range res.Counts {
		if res.Counts[i] >= 0 {
			res.Counts[i]++
		}
	}
	res.Granted = true
	switch {
	case r.Then != nil:
		err = upsertWaiter(ctx, tx, r.Budget, *r.Then)
	case r.Waiter != nil:
		_, err = tx.ExecContext(ctx, `DELETE FROM quota_waiters WHERE budget = ? AND waiter = ?`, r.Budget, r.Waiter.ID)
	}
	return res, err
}

func upsertWaiter(ctx context.Context, tx *sql.Tx, budget string, w Waiter) error {
	var since int64
	if !w.Since.IsZero() {
		since = micros(w.Since)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO quota_waiters (budget, waiter, priority, expires_at, requester, since)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (budget, waiter) DO UPDATE SET priority = excluded.priority, expires_at = excluded.expires_at,
requester = excluded.requester, since = excluded.since`,
		budget, w.ID, w.Priority, micros(w.Expires), w.Requester, since)
	return err
}

// PutWaiter implements Ledger.
func (s *sqlStore) PutWaiter(ctx context.Context, budget string, w Waiter) error {
	err := s.dialect.ledgerTx(ctx, func(tx *sql.Tx) error { return upsertWaiter(ctx, tx, budget, w) })
	if err != nil {
		return fmt.Errorf("store: quota waiter: %w", err)
	}
	return nil
}

// Waiters implements Ledger.
func (s *sqlStore) Waiters(ctx context.Context, budget string, now time.Time) ([]Waiter, error) {
	out, err := queryAll(ctx, s.db, func(r rowScanner) (Waiter, error) {
		var (
			w              Waiter
			expires, since int64
		)
		if err := r.Scan(&w.ID, &w.Priority, &expires, &w.Requester, &since); err != nil {
			return w, err
		}
		w.Expires = fromMicros(expires)
		if since != 0 {
			w.Since = fromMicros(since)
		}
		return w, nil
	}, `SELECT waiter, priority, expires_at, requester, since FROM quota_waiters WHERE budget = ? AND expires_at > ?
ORDER BY priority, since, waiter`, budget, micros(now))
	if err != nil {
		return nil, fmt.Errorf("store: quota waiters: %w", err)
	}
	return out, nil
}

// countWindows counts the units of each window in one scan. With limitedOnly, windows
// without a limit are not counted (-1).
func countWindows(ctx context.Context, q queryer, budget string, windows []Window, limitedOnly bool) ([]int, error) {
	counts := make([]int, len(windows))
	var (
		cols  []string
		args  []any
		idx   []int
		since int64
	)
	for i, w := range windows {
		if limitedOnly && w.Limit <= 0 {
			counts[i] = -1
			continue
		}
		s := micros(w.Since)
		if len(idx) == 0 || s < since {
			since = s
		}
		cols = append(cols, `COALESCE(SUM(CASE WHEN at >= ? THEN 1 ELSE 0 END), 0)`)
		args = append(args, s)
		idx = append(idx, i)
	}
	if len(idx) == 0 {
		return counts, nil
	}
	args = append(args, budget, since)
	vals := make([]int64, len(idx))
	dest := make([]any, len(idx))
	for i := range vals {
		dest[i] = &vals[i]
	}
	if err := q.QueryRowContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM quota_ledger WHERE budget = ? AND at >= ?`,
		args...).Scan(dest...); err != nil {
		return nil, err
	}
	for j, i := range idx {
		counts[i] = int(vals[j])
	}
	return counts, nil
}

// RequesterUsage implements Ledger.
func (s *sqlStore) RequesterUsage(ctx context.Context, budget string, windows []Window) ([]RequesterCounts, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	if err := s.batch.settle(ctx); err != nil {
		return nil, fmt.Errorf("store: quota usage: %w", err)
	}
	cols := make([]string, len(windows))
	args := make([]any, 0, len(windows)+2)
	since := micros(windows[0].Since)
	for i, w := range windows {
		cols[i] = `COALESCE(SUM(CASE WHEN at >= ? THEN 1 ELSE 0 END), 0)`
		args = append(args, micros(w.Since))
		since = min(since, micros(w.Since))
	}
	args = append(args, budget, since)
	out, err := queryAll(ctx, s.db, func(r rowScanner) (RequesterCounts, error) {
		rc := RequesterCounts{Counts: make([]int, len(windows))}
		vals := make([]int64, len(windows))
		dest := []any{&rc.Requester}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := r.Scan(dest...); err != nil {
			return rc, err
		}
		for i, v := range vals {
			rc.Counts[i] = int(v)
		}
		return rc, nil
	}, `SELECT requester, `+strings.Join(cols, ", ")+` FROM quota_ledger WHERE budget = ? AND at >= ?
GROUP BY requester ORDER BY requester`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: quota usage: %w", err)
	}
	return out, nil
}

// HoldBudget implements Ledger.
func (s *sqlStore) HoldBudget(ctx context.Context, budget string, until time.Time) error {
	if err := s.hold(ctx, budget, until, false); err != nil {
		return fmt.Errorf("store: quota hold: %w", err)
	}
	return nil
}

// ExhaustBudget implements Ledger.
func (s *sqlStore) ExhaustBudget(ctx context.Context, budget string, until time.Time) error {
	if err := s.hold(ctx, budget, until, true); err != nil {
		return fmt.Errorf("store: quota exhausted: %w", err)
	}
	return nil
}

// hold records a hold; the later hold wins, with its kind.
func (s *sqlStore) hold(ctx context.Context, budget string, until time.Time, exhausted bool) error {
	kind := 0
	if exhausted {
		kind = 1
	}
	return s.dialect.ledgerTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO quota_holds (budget, until, exhausted) VALUES (?, ?, ?)
ON CONFLICT (budget) DO UPDATE SET
until = CASE WHEN excluded.until > quota_holds.until THEN excluded.until ELSE quota_holds.until END,
exhausted = CASE WHEN excluded.until > quota_holds.until THEN excluded.exhausted ELSE quota_holds.exhausted END`,
			budget, micros(until), kind)
		return err
	})
}

// BudgetUsage implements Ledger.
func (s *sqlStore) BudgetUsage(ctx context.Context, budget string, now time.Time, windows []Window) ([]WindowUsage, time.Time, error) {
	if err := s.batch.settle(ctx); err != nil {
		return nil, time.Time{}, fmt.Errorf("store: quota usage: %w", err)
	}
	counts, err := countWindows(ctx, s.db, budget, windows, false)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("store: quota usage: %w", err)
	}
	out := make([]WindowUsage, len(windows))
	for i, w := range windows {
		out[i].Count = counts[i]
		if counts[i] == 0 {
			continue
		}
		var at int64
		if err := s.queryRow(ctx, `SELECT MIN(at) FROM quota_ledger WHERE budget = ? AND at >= ?`,
			budget, micros(w.Since)).Scan(&at); err != nil {
			return nil, time.Time{}, fmt.Errorf("store: quota usage: %w", err)
		}
		out[i].Oldest = fromMicros(at)
	}
	var held time.Time
	var until int64
	switch err := s.queryRow(ctx, `SELECT until FROM quota_holds WHERE budget = ?`, budget).Scan(&until); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, time.Time{}, fmt.Errorf("store: quota usage: %w", err)
	case until > micros(now):
		held = fromMicros(until)
	}
	return out, held, nil
}

// RemoveWaiter implements Ledger.
func (s *sqlStore) RemoveWaiter(ctx context.Context, budget, waiterID string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM quota_waiters WHERE budget = ? AND waiter = ?`, budget, waiterID)
		return err
	})
}

// PruneLedger implements Ledger.
func (s *sqlStore) PruneLedger(ctx context.Context, now, before time.Time) error {
	b := micros(before)
	nowUS := micros(now)
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM quota_ledger WHERE at < ?`, b); err != nil {
			return err
		}
		// An ended hold is kept a while: a 429 right after it ended tells a spent
		// budget from a full minute (see TakeResult.HoldEnded).
		if _, err := tx.ExecContext(ctx, `DELETE FROM quota_holds WHERE until < ?`, nowUS-time.Hour.Microseconds()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM quota_waiters WHERE expires_at < ?`, nowUS)
		return err
	})
}
