package enrich

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/quota"
	"github.com/vtsoar/vtsoar/internal/risk"
	"github.com/vtsoar/vtsoar/internal/store"
	"github.com/vtsoar/vtsoar/ioc"
	"github.com/vtsoar/vtsoar/vt"
)

// enrichArgs names one artifact of an event. It holds no key: River stores it in
// clear.
type enrichArgs struct {
	Event    string `json:"event"`
	Artifact int    `json:"artifact"`
}

// Kind implements river.JobArgs.
func (enrichArgs) Kind() string { return "vtsoar.enrich_artifact" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (enrichArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueEnrich, MaxAttempts: 10}
}

type enrichWorker struct {
	river.WorkerDefaults[enrichArgs]
	s *Service
}

// jobNote collects, through the context, what the limiter saw during one job.
type jobNote struct {
	mu        sync.Mutex
	exhausted *quota.ExhaustedError
	waitLong  bool
	// unbounded leaves the job's waits for the budget as long as the limiter says
	// (a run's job, which bounds them itself with quota.WithWaitLimit).
	unbounded bool
}

type noteKey struct{}

// noteLimiter wraps a connection's limiter: it records spent budgets in the job's
// note, and bounds the wait for a unit so that the request itself keeps the rest of
// the job's time (a job that waited too long snoozes instead of being cut off
// mid-request, which could lose an answer VirusTotal already counted).
type noteLimiter struct {
	*quota.Limiter
	maxWait time.Duration
}

var errWaitedTooLong = errors.New("waited too long for a quota unit")

func (l noteLimiter) Wait(ctx context.Context, r vt.Request) error {
	note, _ := ctx.Value(noteKey{}).(*jobNote)
	if note == nil || l.maxWait <= 0 || note.unbounded {
		err := l.Limiter.Wait(ctx, r)
		if ex := (*quota.ExhaustedError)(nil); note != nil && errors.As(err, &ex) {
			note.mu.Lock()
			note.exhausted = ex
			note.mu.Unlock()
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, l.maxWait)
	defer cancel()
	err := l.Limiter.Wait(wctx, r)
	var ex *quota.ExhaustedError
	switch {
	case err == nil:
	case errors.As(err, &ex):
		note.mu.Lock()
		note.exhausted = ex
		note.mu.Unlock()
	case ctx.Err() == nil && wctx.Err() != nil:
		note.mu.Lock()
		note.waitLong = true
		note.mu.Unlock()
		return errWaitedTooLong
	}
	return err
}

// Timeout implements river.Worker.
func (w *enrichWorker) Timeout(*river.Job[enrichArgs]) time.Duration { return w.s.opts.JobTimeout }

// Work implements river.Worker.
func (w *enrichWorker) Work(ctx context.Context, job *river.Job[enrichArgs]) error {
	s := w.s
	ev, art, err := s.st.GetArtifact(ctx, job.Args.Event, job.Args.Artifact)
	if errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "enrichment job for a missing artifact", "event", job.Args.Event, "artifact", job.Args.Artifact)
		return nil
	}
	if err != nil {
		return err
	}
	if art.Final() {
		return nil // done before (this job ran again after a crash): nothing to ask
	}
	if ev.Status == store.EventPending {
		if err := s.st.StartEvent(ctx, ev.ID); err != nil {
			return err
		}
	}
	res, retry := s.enrichArtifact(ctx, ev, art)
	if retry != nil {
		var snooze *river.JobSnoozeError
		if errors.As(retry, &snooze) || job.Attempt < job.MaxAttempts {
			return retry
		}
		res = store.Artifact{Status: store.ArtifactError, RiskLevelCode: risk.NA.Code(), Error: retry.Error()}
	}
	res.Index = art.Index
	return s.finishArtifact(ctx, ev.ID, res)
}

// Waits for a store that is briefly unavailable, between two tries.
const (
	storeWaitMin = 100 * time.Millisecond
	storeWaitMax = 2 * time.Second
)

// finishArtifact records an artifact's result. While the store is unavailable (a
// PostgreSQL restart), it tries again for as long as the job may run: the verdict is
// in hand, and a job that failed now would be run again, perhaps by another replica,
// which might have to ask VirusTotal again for an answer whose write the store
// has not taken yet.
func (s *Service) finishArtifact(ctx context.Context, eventID string, res store.Artifact) error {
	wait := storeWaitMin
	for {
		_, _, err := s.st.FinishArtifact(context.WithoutCancel(ctx), eventID, res, eventRisk)
		if err == nil || !store.IsUnavailable(err) {
			return err
		}
		s.log.WarnContext(ctx, "the store is unavailable; the artifact's result waits for it", "event", eventID,
			"artifact", res.Index, "retry_in", wait, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, storeWaitMax)
	}
}

// enrichArtifact enriches one artifact: the final result, or an error to retry (a
// river snooze error when the budgets are spent or busy).
func (s *Service) enrichArtifact(ctx context.Context, ev store.Event, art store.Artifact) (store.Artifact, error) {
	na := risk.NA.Code()
	obs, err := ioc.ParseAs(art.Type, art.Value)
	if err != nil {
		return store.Artifact{Status: store.ArtifactError, RiskLevelCode: na, RiskReason: "invalid " + string(art.Type),
			Error: err.Error()}, nil
	}
	conns, err := s.enrichers(ctx, art.Type, ev.Site)
	if err != nil {
		return store.Artifact{}, err
	}
	// A private, reserved, loopback, link-local or documentation address or name is
	// sent to VirusTotal only by the connections that include them (the commands'
	// rule); with none, it is done, N/A, spending nothing.
	if scope, reason := ioc.Classify(obs); scope == ioc.NonPublic {
		conns = slices.DeleteFunc(conns, func(c store.Connection) bool { return !c.IncludePrivate })
		if len(conns) == 0 {
			return skippedArtifact(reason), nil
		}
	}
	if len(conns) == 0 {
		return store.Artifact{Status: store.ArtifactError, RiskLevelCode: na,
			Error: fmt.Sprintf("no connection has the %s reputation check switched on for site %q", art.Type, ev.Site)}, nil
	}
	// The artifact's reputation check, on each connection in turn until one answers.
	p, err := command.Prepare(command.Request{Command: command.ReputationCheck(art.Type).Name, Inputs: []string{obs.Input},
		Run: command.RunOptions{Concurrency: 1, MaxAge: s.opts.MaxAge}})
	if err != nil {
		return store.Artifact{}, err
	}
	var (
		lastErr  error
		resetAt  time.Time
		busy     bool
		failures []string
	)
	for _, c := range conns {
		conn, err := s.clients.Get(ctx, c)
		if err != nil {
			lastErr = err
			failures = append(failures, err.Error())
			continue
		}
		note := &jobNote{}
		rctx := context.WithValue(vt.WithPriority(quota.WithRequester(ctx, quota.RequesterEnrichment), vt.PriorityEnrichment), noteKey{}, note)
		env, err := command.Run(rctx, conn.Deps(), p)
		if err != nil {
			return store.Artifact{}, err
		}
		entry := env.ContextData[0]
		if entry.Status == command.StatusSkipped {
			return skippedArtifact(entry.SkipReason), nil
		}
		if entry.Status == command.StatusOK {
			return store.Artifact{Status: store.ArtifactDone, RiskLevelCode: entry.RiskLevelCode, RiskReason: entry.RiskReason,
				Connection: c.Name, ObjectID: entry.ID}, nil
		}
		fail := env.Errors[0]
		switch {
		case fail.StatusCode == 404:
			reason := entry.RiskReason
			if reason == "" {
				reason = fail.Message + " VirusTotal does not know it."
			}
			return store.Artifact{Status: store.ArtifactDone, RiskLevelCode: na, RiskReason: reason, Connection: c.Name}, nil
		case fail.StatusCode == 400:
			return store.Artifact{Status: store.ArtifactError, RiskLevelCode: na, Error: conn.Redact(fail.Message), Connection: c.Name}, nil
		}
		note.mu.Lock()
		ex, long := note.exhausted, note.waitLong
		note.mu.Unlock()
		if ex == nil && fail.Code == vt.CodeQuotaExceeded && conn.Limiter != nil {
			ex = spentWindow(ctx, conn.Limiter)
		}
		switch {
		case ex != nil:
			if resetAt.IsZero() || ex.Reset.Before(resetAt) {
				resetAt = ex.Reset
			}
		case long:
			busy = true
		default:
			msg := conn.Redact(fmt.Sprintf("%s: %s", c.Name, fail.Message))
			failures = append(failures, msg)
			lastErr = errors.New(msg)
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case busy:
		return store.Artifact{}, river.JobSnooze(time.Second)
	case !resetAt.IsZero() && lastErr == nil:
		d := resetAt.Sub(s.now()) + time.Second
		s.log.InfoContext(ctx, "quota spent: enrichment deferred", "event", ev.ID, "artifact", art.Index, "until", resetAt)
		return store.Artifact{}, river.JobSnooze(max(d, time.Second))
	}
	switch {
	case len(failures) > 1: // every connection tried says why it failed
		lastErr = errors.New(strings.Join(failures, "; "))
	case lastErr == nil:
		lastErr = errors.New("no connection answered")
	}
	s.log.WarnContext(ctx, "enrichment failed", "event", ev.ID, "artifact", art.Index, "error", lastErr)
	return store.Artifact{}, fmt.Errorf("enrich %s %d: %w", ev.ID, art.Index, lastErr)
}

// skippedArtifact is the result of an artifact nothing was sent for, and why.
func skippedArtifact(reason string) store.Artifact {
	return store.Artifact{Status: store.ArtifactDone, RiskLevelCode: risk.NA.Code(),
		RiskReason: "Not sent to VirusTotal: " + reason + "."}
}

// spentWindow returns the spent day or month window of a budget, if any (for clients
// built without the note limiter).
func spentWindow(ctx context.Context, l *quota.Limiter) *quota.ExhaustedError {
	u, err := l.Usage(ctx)
	if err != nil {
		return nil
	}
	for _, w := range u.Windows {
		if w.Window != "minute" && w.Limit > 0 && w.Left == 0 {
			return &quota.ExhaustedError{Window: w.Window, Limit: w.Limit, Reset: w.Resets}
		}
	}
	return nil
}
