package enrich

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vtsoar/vtsoar/internal/command"
	"github.com/vtsoar/vtsoar/internal/store"
)

// NewRun is a command to run in the background for a user.
type NewRun struct {
	// User is who asks: the run is theirs (and admins').
	User string
	// Connection is the stored connection it runs on (which the caller checked the
	// user may use).
	Connection string
	// Prepared is the command's request, checked.
	Prepared *command.Prepared
	// FileSource, for a command that takes files, limits the files it sees to those
	// of that source (store.ParseFileSource's; "": every source). The files are
	// those of the stored file store that the user's sites see when the run works.
	FileSource string
	// Site, for a command that keeps files, is the site of the playbook files it
	// keeps (which the caller checked the user belongs to).
	Site string
}

// runDoor is what a run keeps of its REST request beside the command's: the members
// "file_source" and "site" of its JSON form.
type runDoor struct {
	FileSource string
	Site       string
}

// Defaults of the runs' options.
const (
	// DefaultRunRetention is how long runs and their results are kept.
	DefaultRunRetention = 7 * 24 * time.Hour
	// runPruneInterval is how often the runs older than the retention are pruned.
	runPruneInterval = time.Hour
	// cancelAckWait bounds how long CancelRun waits for the worker holding the run
	// to let it go.
	cancelAckWait = 5 * time.Second
	// runPoll is how often a worker looks whether its run was cancelled, besides
	// the queue's own cancellation (which another process's SQLite queue sees only
	// every two seconds).
	runPoll = 250 * time.Millisecond
	// runMaxAttempts bounds the tries of a run's job that fail (a crash rescued, a
	// store that does not answer); snoozes for the budget do not count.
	runMaxAttempts = 25
)

func newRunID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "run_" + hex.EncodeToString(b[:])
}

// SubmitRun stores a run of r.Prepared on r.Connection for r.User and queues its job,
// in one transaction; it returns at once, the run queued.
func (s *Service) SubmitRun(ctx context.Context, r NewRun) (store.Run, error) {
	req, err := runRequest(r)
	if err != nil {
		return store.Run{}, fmt.Errorf("enrich: submit run: %w", err)
	}
	rec := store.Run{ID: newRunID(), User: r.User, Command: r.Prepared.Command().Name, Connection: r.Connection,
		Request: req, InputsTotal: r.Prepared.Len()}
	run, err := s.st.CreateRun(ctx, rec, func(ctx context.Context, tx *sql.Tx) (int64, error) {
		args := runArgs{Run: rec.ID}
		if t := r.Prepared.AnalysisTimeout(); t > 0 {
			args.Follow = t + time.Minute
		}
		res, err := s.river.InsertTx(ctx, tx, args, nil)
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("enrich: submit run: %w", err)
	}
	s.log.InfoContext(ctx, "run submitted", "run", run.ID, "command", run.Command, "connection", run.Connection,
		"user", run.User, "inputs", run.InputsTotal)
	return run, nil
}

// GetRun returns a run; an error wrapping store.ErrNotFound when there is none.
func (s *Service) GetRun(ctx context.Context, id string) (store.Run, error) {
	return s.st.GetRun(ctx, id)
}

// ListRuns returns a page of the runs f selects, newest first.
func (s *Service) ListRuns(ctx context.Context, f store.RunFilter, p store.Page) ([]store.Run, error) {
	return s.st.ListRuns(ctx, f, p)
}

// RunEnvelope returns the envelope of the inputs of run finished so far, in input
// order: the synchronous answer's shape, whole once the run is done.
func (s *Service) RunEnvelope(ctx context.Context, run store.Run) (*command.Envelope, error) {
	p, _, err := prepareRun(run)
	if err != nil {
		return nil, err
	}
	kept, err := s.st.RunResults(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	results := make([]command.Result, 0, len(kept))
	for _, k := range kept {
		res, err := p.Command().DecodeResult(k.Data)
		if err != nil {
			return nil, fmt.Errorf("enrich: run %s: input %d: %w", run.ID, k.Index, err)
		}
		results = append(results, res)
	}
	slices.SortFunc(results, func(a, b command.Result) int { return a.Index - b.Index })
	return p.Envelope(results), nil
}

// runRequest is the JSON form of r's request that the run keeps: the prepared
// request's, with "file_source" and "site" when r has them.
func runRequest(r NewRun) ([]byte, error) {
	req, err := json.Marshal(r.Prepared)
	if err != nil || (r.FileSource == "" && r.Site == "") {
		return req, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(req, &m); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"file_source": r.FileSource, "site": r.Site} {
		if v != "" {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			m[name] = b
		}
	}
	return json.Marshal(m)
}

// prepareRun prepares a run's request again from its JSON form (runRequest's), and
// returns what it keeps of the REST request beside it.
func prepareRun(run store.Run) (*command.Prepared, runDoor, error) {
	var req command.Request
	var door runDoor
	if err := json.Unmarshal(run.Request, &req); err != nil {
		return nil, door, fmt.Errorf("enrich: run %s: its request: %w", run.ID, err)
	}
	req.Command = run.Command
	if _, err := req.Take("file_source", &door.FileSource); err != nil {
		return nil, door, fmt.Errorf("enrich: run %s: its request: %w", run.ID, err)
	}
	if _, err := req.Take("site", &door.Site); err != nil {
		return nil, door, fmt.Errorf("enrich: run %s: its request: %w", run.ID, err)
	}
	p, err := command.Prepare(req)
	if err != nil {
		return nil, door, fmt.Errorf("enrich: run %s: its request: %w", run.ID, err)
	}
	return p, door, nil
}

// CancelRun cancels a run that is not over: its job is cancelled, and the worker that
// holds it, on whichever replica, stops before its next request. CancelRun returns
// once that worker has let the run go (or after cancelAckWait, when it died), so that
// nothing is sent for the run after it returns; what the run had done stays. A run
// already over is returned as it is.
func (s *Service) CancelRun(ctx context.Context, id string) (store.Run, error) {
	run, err := s.st.CancelRun(ctx, id)
	if err != nil || run.State != store.RunCancelled {
		return run, err
	}
	if run.JobID != 0 {
		if _, err := s.river.JobCancel(ctx, run.JobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
			s.log.WarnContext(ctx, "cancelling a run's job", "run", id, "error", err)
		}
	}
	deadline := time.Now().Add(cancelAckWait)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for run.Worker != "" && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-poll.C:
		}
		if run, err = s.st.GetRun(ctx, id); err != nil {
			return run, err
		}
	}
	if run.Worker != "" {
		s.log.WarnContext(ctx, "run cancelled; its worker did not let it go in time (it died?)", "run", id, "worker", run.Worker)
	}
	s.log.InfoContext(ctx, "run cancelled", "run", id, "inputs_done", run.InputsDone, "inputs_total", run.InputsTotal)
	return run, nil
}

// WaitRun waits until run id is over or until deadline, and returns it as it is then.
// A run worked in this process is seen over at once; one worked by another replica
// is looked at every few hundred milliseconds.
func (s *Service) WaitRun(ctx context.Context, id string, deadline time.Time) (store.Run, error) {
	ch := s.runDone.watch(id)
	defer s.runDone.unwatch(id, ch)
	poll := 20 * time.Millisecond
	for {
		run, err := s.st.GetRun(ctx, id)
		if err != nil || run.Final() {
			return run, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return run, nil
		}
		t := time.NewTimer(min(poll, left))
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return run, ctx.Err()
		}
		t.Stop()
		poll = min(2*poll, 250*time.Millisecond)
	}
}

// runWatchers tells those waiting in this process (WaitRun) that a run is over.
type runWatchers struct {
	mu sync.Mutex
	by map[string][]chan struct{}
}

func (w *runWatchers) watch(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.by == nil {
		w.by = map[string][]chan struct{}{}
	}
	w.by[id] = append(w.by[id], ch)
	return ch
}

func (w *runWatchers) unwatch(id string, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.by[id] = slices.DeleteFunc(w.by[id], func(c chan struct{}) bool { return c == ch })
	if len(w.by[id]) == 0 {
		delete(w.by, id)
	}
}

func (w *runWatchers) over(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.by[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// pruneRunsArgs is the periodic job that deletes the runs older than the retention.
type pruneRunsArgs struct{}

// Kind implements river.JobArgs.
func (pruneRunsArgs) Kind() string { return "vtsoar.prune_runs" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (pruneRunsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueMaintenance, MaxAttempts: 1}
}

type pruneRunsWorker struct {
	river.WorkerDefaults[pruneRunsArgs]
	s *Service
}

// Work implements river.Worker.
func (w *pruneRunsWorker) Work(ctx context.Context, _ *river.Job[pruneRunsArgs]) error {
	n, err := w.s.st.PruneRuns(ctx, w.s.now().Add(-w.s.opts.RunRetention))
	if err != nil {
		return err
	}
	if n > 0 {
		w.s.log.InfoContext(ctx, "runs pruned", "runs", n, "retention", w.s.opts.RunRetention)
	}
	return nil
}
