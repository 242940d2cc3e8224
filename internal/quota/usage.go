package quota

import (
	"context"
	"fmt"
	"time"

	"github.com/vtsoar/vtsoar/vt"
)

// ExhaustedError reports a spent day or month budget (the ledger's, or VirusTotal's
// daily quota found spent by a 429 after a minute's hold), or, for an interactive
// request, a hold longer than the minute window. It wraps a *vt.Error with status 429
// and code vt.CodeQuotaExceeded, so callers that branch on VirusTotal's errors
// (errors.As, vt.IsQuotaExceeded) treat it like VirusTotal's own refusal.
type ExhaustedError struct {
	// Window is "day" or "month", or "hold" for a long hold.
	Window string
	// Limit is the window's budget (0 when VirusTotal's quota, not the ledger's, is
	// spent, and for a hold).
	Limit int
	// Reset is when the window resets (00:00 UTC; the 1st of the month), or when the
	// hold ends.
	Reset time.Time
	// Upstream reports that VirusTotal refused (its quota is spent, or it asked to
	// wait), rather than the local budget.
	Upstream bool
	// Err is the equivalent VirusTotal error.
	Err *vt.Error
}

// Error returns for example "daily budget of 500 requests spent; resets at
// 2026-11-26T00:00:00Z".
func (e *ExhaustedError) Error() string { return e.Err.Message }

// Unwrap returns the *vt.Error.
func (e *ExhaustedError) Unwrap() error { return e.Err }

func (l *Limiter) exhausted(win int, now time.Time) *ExhaustedError {
	e := &ExhaustedError{}
	adj := ""
	switch win {
	case winDay:
		e.Window, e.Limit, e.Reset, adj = "day", l.spec.PerDay, dayStart(now).AddDate(0, 0, 1), "daily"
	default:
		e.Window, e.Limit, e.Reset, adj = "month", l.spec.PerMonth, monthStart(now).AddDate(0, 1, 0), "monthly"
	}
	e.Err = &vt.Error{
		StatusCode: 429,
		Code:       vt.CodeQuotaExceeded,
		Message:    fmt.Sprintf("%s budget of %d requests spent; resets at %s", adj, e.Limit, e.Reset.Format(time.RFC3339)),
	}
	return e
}

// spentUpstream is the error of a budget VirusTotal found spent, until reset.
func (l *Limiter) spentUpstream(reset time.Time) *ExhaustedError {
	return &ExhaustedError{Window: "day", Reset: reset.UTC(), Upstream: true, Err: &vt.Error{
		StatusCode: 429,
		Code:       vt.CodeQuotaExceeded,
		Message: fmt.Sprintf("VirusTotal's daily quota is spent (it refused again after a minute's hold); resets at %s",
			reset.UTC().Format(time.RFC3339)),
	}}
}

// longHold is the error of an interactive request during a hold that outlasts the
// minute window.
func (l *Limiter) longHold(until time.Time) *ExhaustedError {
	return &ExhaustedError{Window: "hold", Reset: until.UTC(), Upstream: true, Err: &vt.Error{
		StatusCode: 429,
		Code:       vt.CodeQuotaExceeded,
		Message:    fmt.Sprintf("VirusTotal asked to wait until %s; not waiting that long", until.UTC().Format(time.RFC3339)),
	}}
}

// WindowUsage is the use of one window of a budget.
type WindowUsage struct {
	// Window is "minute", "day" or "month".
	Window string
	// Limit is the window's budget; 0 means no limit.
	Limit int
	// Used is the units spent in the window.
	Used int
	// Left is Limit - Used (never negative), or -1 without a limit.
	Left int
	// Resets is when the window resets (day, month), or, for the sliding minute, when
	// its oldest unit ages out (zero when it holds none).
	Resets time.Time
}

// Usage is the state of a budget.
type Usage struct {
	// Budget is the ledger name of the budget.
	Budget string
	// Spec is the budget.
	Spec Spec
	// Windows are the minute, day and month, in that order.
	Windows []WindowUsage
	// HeldUntil is set while the budget holds after a 429.
	HeldUntil time.Time
	// Requesters are who spent the units of the day and of the month (see
	// WithRequester), by name.
	Requesters []RequesterUsage
	// Waiting are who waits for a unit now, in every process that shares the ledger,
	// most urgent first.
	Waiting []Waiting
}

// Waiting is a requester waiting for a unit of a budget, as the ledger's record of
// waiters has it: each waiting process (or each run deferred to its budget) names
// its most urgent waiter.
type Waiting struct {
	// Requester is who waits (see RequesterUsage.Requester).
	Requester string `json:"requester"`
	// Priority is its priority: "interactive", "enrichment" or "background".
	Priority string `json:"priority"`
	// Since is when it began to wait.
	Since time.Time `json:"since"`
}

// RequesterUsage is what one requester spent of a budget.
type RequesterUsage struct {
	// Requester is "gateway:NAME", "user:NAME", RequesterCLI, RequesterEnrichment,
	// RequesterHealthCheck, or "" for units recorded without a requester.
	Requester string `json:"requester"`
	// Minute, Day and Month are the units it spent in each window.
	Minute int `json:"minute"`
	Day    int `json:"day"`
	Month  int `json:"month"`
}

// Usage returns the units used and left in each window of the budget, as the ledger
// has them (all processes included), and who spent them.
func (l *Limiter) Usage(ctx context.Context) (Usage, error) {
	now := l.cfg.now()
	ws := l.windows(now)
	used, held, err := l.ledger.BudgetUsage(ctx, l.budget, now, ws)
	if err != nil {
		return Usage{}, fmt.Errorf("quota: %w", err)
	}
	u := Usage{Budget: l.budget, Spec: l.spec, HeldUntil: held}
	for _, i := range []int{winMinute, winDay, winMonth} {
		wu := WindowUsage{Limit: ws[i].Limit, Used: used[i].Count, Left: -1}
		if wu.Limit > 0 {
			wu.Left = max(wu.Limit-wu.Used, 0)
		}
		switch i {
		case winMinute:
			wu.Window = "minute"
			if used[i].Count > 0 {
				wu.Resets = used[i].Oldest.Add(ws[i].Span)
			}
		case winDay:
			wu.Window, wu.Resets = "day", dayStart(now).AddDate(0, 0, 1)
		case winMonth:
			wu.Window, wu.Resets = "month", monthStart(now).AddDate(0, 1, 0)
		}
		u.Windows = append(u.Windows, wu)
	}
	by, err := l.ledger.RequesterUsage(ctx, l.budget, ws)
	if err != nil {
		return Usage{}, fmt.Errorf("quota: %w", err)
	}
	for _, r := range by {
		ru := RequesterUsage{Requester: r.Requester, Minute: r.Counts[winMinute], Day: r.Counts[winDay], Month: r.Counts[winMonth]}
		if ru.Month > 0 {
			u.Requesters = append(u.Requesters, ru)
		}
	}
	waiters, err := l.ledger.Waiters(ctx, l.budget, now)
	if err != nil {
		return Usage{}, fmt.Errorf("quota: %w", err)
	}
	for _, w := range waiters {
		u.Waiting = append(u.Waiting, Waiting{Requester: w.Requester, Priority: vt.Priority(w.Priority).String(), Since: w.Since})
	}
	return u, nil
}
